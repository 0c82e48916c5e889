#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Black-box security tests against the real `plantdb-auth` binary: forged
//! tokens, hostile headers and bodies, enumeration, lockout and rate limits,
//! concurrency and crash safety. docs/security.md maps each protection to
//! its test. Every server is a child process with a known signing key
//! (`JWT_SECRET_KEY`), so tests can forge tokens exactly as the server signs.

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod audit_flood;
mod authorization;
mod bodies;
mod claims;
mod concurrency;
mod connections;
mod crash;
mod credentials;
mod enumeration;
mod fixture;
mod forge;
mod key_headers;
mod lockout;
mod races;
mod rate_limits;
mod tokens;
mod wire;
