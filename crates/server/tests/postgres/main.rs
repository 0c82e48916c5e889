//! plantdb-auth on PostgreSQL (`--store postgres://...`): several server
//! processes on one database, `plantdb-auth migrate` both ways, TLS and
//! readiness through an outage. Runs
//! when PLANTDB_TEST_POSTGRES names a server (`.ci/run` starts one), and
//! says "skipped" otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod connection;
mod helpers;
mod instances;
mod migrate;
