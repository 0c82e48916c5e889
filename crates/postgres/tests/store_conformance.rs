//! The core crate's store conformance suite, run against PostgreSQL (its
//! memory and FSDB runs come along with the included file), then a second
//! instance on the same schema must see exactly what the first wrote.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../core/tests/store_conformance.rs"]
mod core_suite;

use plantdb_auth_core::store::{GroupStore, UserStore};
use plantdb_auth_postgres::testing::{test_url, TestSchema};
use plantdb_auth_postgres::PgStores;

#[test]
fn postgres_stores_conform_and_are_shared() {
    let Some(base) = test_url("postgres_stores_conform_and_are_shared") else {
        return;
    };
    let schema = TestSchema::create(&base).unwrap();
    let first = PgStores::open(&schema.url, 4).unwrap();
    core_suite::run_user_suite(first.users.as_ref());
    core_suite::run_group_suite(first.groups.as_ref());
    core_suite::concurrent_demotions_keep_an_admin(first.users.as_ref());
    let second = PgStores::open(&schema.url, 4).unwrap();
    assert_eq!(second.users.list().unwrap(), first.users.list().unwrap());
    assert_eq!(second.groups.list().unwrap(), first.groups.list().unwrap());
    drop(first);
    drop(second);
    // Opening again finds the schema at the current version.
    PgStores::open(&schema.url, 1).unwrap();
}
