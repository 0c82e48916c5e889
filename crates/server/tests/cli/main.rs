//! The admin CLI (`plantdb-auth user|group|session|token ...`) against the
//! real binary on a temporary database: every command, its success and a
//! failure, passwords only from stdin, the refusal while a server holds the
//! database, and accounts made by the CLI logging in over HTTP afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

// The server side (start, stop, log in, mint) is the session tests' helper.
#[allow(dead_code)]
#[path = "../sessions/helpers.rs"]
mod server;

mod helpers;

mod groups;
mod lock;
mod tokens;
mod users;
