//! Session hygiene against the real binary: the session and API-token
//! endpoints, restarts, the concurrent-refresh race, a crash under load,
//! and storage that stays bounded under churn.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod churn;
mod crash;
mod endpoints;
mod restart;
mod reuse;
