//! plantdb-auth on PostgreSQL (`--store postgres://...`): several server
//! processes on one database, and `plantdb-auth migrate` both ways. Runs
//! when PLANTDB_TEST_POSTGRES names a server (`.ci/run` starts one), and
//! says "skipped" otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;
mod instances;
mod migrate;
