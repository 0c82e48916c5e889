//! Black-box tests of the administrative endpoints (users, groups,
//! authorization decisions, forward auth) against the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod authz;
mod groups;
mod matrix;
mod password;
mod users;
