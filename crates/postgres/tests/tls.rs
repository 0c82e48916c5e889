//! TLS to PostgreSQL: libpq's `sslmode` values and `sslrootcert`, against
//! the test cluster of `scripts/pg-test-cluster.sh`, which serves TLS with
//! a throw-away CA (`PLANTDB_TEST_POSTGRES_CA`; beside it `other-ca.crt`,
//! a CA that signed nothing). Skipped, saying so, without them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use plantdb_auth_postgres::testing::{execute_sql, test_url, TestSchema};
use plantdb_auth_postgres::PgStores;

const CA_VAR: &str = "PLANTDB_TEST_POSTGRES_CA";

/// The cluster's URL and CA, or `None` after saying why not.
fn tls_cluster(test: &str) -> Option<(String, PathBuf)> {
    let base = test_url(test)?;
    match std::env::var(CA_VAR) {
        Ok(ca) if !ca.is_empty() => Some((base, PathBuf::from(ca))),
        _ => {
            eprintln!(
                "{test}: skipped: set {CA_VAR} to the test cluster's CA (export {CA_VAR}=\"$(bash scripts/pg-test-cluster.sh ca)\")"
            );
            None
        }
    }
}

fn with(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

/// Whether a connection made with `url` is encrypted (pg_stat_ssl).
fn encrypted(url: &str) -> bool {
    let sql = "SELECT 1 FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl";
    execute_sql(url, sql).unwrap() == 1
}

fn open_error(url: &str) -> String {
    match PgStores::open_waiting(url, 1, Duration::ZERO) {
        Ok(_) => panic!("{url}: opened"),
        Err(e) => e.to_string(),
    }
}

/// `url` naming the server `name`, still reaching it at its address.
fn named(url: &str, name: &str) -> Option<String> {
    let (head, tail) = url.split_once("@127.0.0.1:")?;
    Some(with(&format!("{head}@{name}:{tail}"), "hostaddr=127.0.0.1"))
}

#[test]
fn verify_full_with_the_right_ca_connects_and_serves() {
    let Some((base, ca)) = tls_cluster("verify_full_with_the_right_ca_connects_and_serves") else {
        return;
    };
    let schema = TestSchema::create(&base).unwrap();
    let ca = ca.display();
    let url = with(
        &schema.url,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    assert!(encrypted(&url));
    // The pool and the listener both go through TLS.
    let pg = PgStores::open(&url, 2).unwrap();
    assert!(pg.signing_key().is_ok());
    let localhost = base.replace("@127.0.0.1:", "@localhost:");
    let by_name = with(&localhost, &format!("sslmode=verify-full&sslrootcert={ca}"));
    assert!(encrypted(&by_name), "the certificate names localhost too");
}

#[test]
fn verify_full_with_another_ca_is_refused_at_once() {
    let Some((base, ca)) = tls_cluster("verify_full_with_another_ca_is_refused_at_once") else {
        return;
    };
    let other = ca.with_file_name("other-ca.crt");
    let url = with(
        &base,
        &format!("sslmode=verify-full&sslrootcert={}", other.display()),
    );
    let start = Instant::now();
    let e = open_error(&url);
    assert!(e.contains("certificate was refused"), "{e}");
    assert!(
        e.contains("UnknownIssuer") && e.contains("sslrootcert"),
        "{e}"
    );
    assert!(start.elapsed() < Duration::from_secs(5), "no waiting: {e}");
    // require with a CA checks the chain, as libpq does.
    let require = url.replace("verify-full", "require");
    assert!(open_error(&require).contains("certificate was refused"));
}

#[test]
fn verify_full_checks_the_host_name_and_verify_ca_does_not() {
    let Some((base, ca)) = tls_cluster("verify_full_checks_the_host_name_and_verify_ca_does_not")
    else {
        return;
    };
    let Some(wrong) = named(&base, "not-the-server.invalid") else {
        eprintln!("skipped: {base} does not name 127.0.0.1");
        return;
    };
    let full = with(
        &wrong,
        &format!("sslmode=verify-full&sslrootcert={}", ca.display()),
    );
    let e = open_error(&full);
    assert!(e.contains("not valid for name"), "{e}");
    assert!(e.contains("sslmode=verify-ca"), "{e}");
    assert!(encrypted(&full.replace("verify-full", "verify-ca")));
}

#[test]
fn require_encrypts_without_a_ca_and_disable_does_not() {
    let Some((base, _)) = tls_cluster("require_encrypts_without_a_ca_and_disable_does_not") else {
        return;
    };
    assert!(encrypted(&with(&base, "sslmode=require")));
    assert!(encrypted(&with(&base, "sslmode=prefer")));
    assert!(!encrypted(&with(&base, "sslmode=disable")));
}

#[test]
fn bad_tls_settings_are_refused_with_what_to_do() {
    // No server needed: these fail before connecting.
    let base = "postgres://postgres:hunter2@127.0.0.1:1/postgres";
    let e = open_error(&with(base, "sslmode=verify-everything"));
    assert!(
        e.contains("sslmode=verify-everything is not a valid sslmode"),
        "{e}"
    );
    assert!(e.contains("verify-full") && !e.contains("hunter2"), "{e}");
    let e = open_error(&with(
        base,
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    ));
    assert!(
        e.contains("cannot read sslrootcert=/nonexistent/ca.pem"),
        "{e}"
    );
    assert!(!e.contains("hunter2"), "{e}");
}

#[test]
fn an_unreachable_server_is_waited_for_then_refused() {
    // Port 1 on loopback: nothing listens, connections are refused.
    let url = "postgres://postgres:hunter2@127.0.0.1:1/postgres";
    let start = Instant::now();
    let e = match PgStores::open_waiting(url, 1, Duration::from_secs(2)) {
        Ok(_) => panic!("opened"),
        Err(e) => e.to_string(),
    };
    let waited = start.elapsed();
    assert!(e.contains("127.0.0.1:1 cannot be reached"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(4),
        "waited {waited:?}: {e}"
    );
}
