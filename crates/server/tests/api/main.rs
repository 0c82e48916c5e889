//! Black-box tests of the `plantdb-auth` HTTP API (contract §3), against the
//! real binary. Each feature has its own file; most tests run once per API
//! generation (`/api/v1/...` and the legacy root paths).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

#[macro_use]
mod helpers;

mod access_log;
mod api_token;
mod bad_input;
mod config_file;
mod cors;
mod forward_auth;
mod health;
mod lockout;
mod login;
mod logout;
mod metrics_access;
mod persistence;
mod rate_limits;
mod register;
mod routing;
mod sessions;
mod token_refresh;
mod token_validation;
