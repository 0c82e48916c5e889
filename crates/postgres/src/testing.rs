//! Helpers for tests that need a PostgreSQL server: they run when
//! `PLANTDB_TEST_POSTGRES` holds a connection URL and are skipped otherwise.
//! Each test gets its own schema, dropped when the guard goes.

use plantdb_auth_core::session::new_token_id;
use plantdb_auth_core::store::StoreError;

use crate::bridge::Bridge;
use crate::connect::Target;
use crate::db_error;

pub const TEST_URL_VAR: &str = "PLANTDB_TEST_POSTGRES";

/// The server to test against, or `None` after printing how to get one.
pub fn test_url(test: &str) -> Option<String> {
    match std::env::var(TEST_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "{test}: skipped: set {TEST_URL_VAR}=postgres://... (see docs/operations.md: running several instances)"
            );
            None
        }
    }
}

/// A fresh schema; `url` connects with it first in `search_path`.
pub struct TestSchema {
    pub name: String,
    pub url: String,
    base: String,
}

/// Runs `sql` (statements separated by `;`) and returns how many rows the
/// last statement produced.
async fn execute(base: String, sql: String) -> Result<usize, StoreError> {
    let target = Target::from_url(&base)?;
    let (client, connection) = target
        .config
        .connect(target.tls.clone())
        .await
        .map_err(db_error)?;
    tokio::spawn(connection);
    let messages = client.simple_query(&sql).await.map_err(db_error)?;
    let rows = messages
        .iter()
        .rev()
        .skip_while(|m| !matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .take_while(|m| matches!(m, tokio_postgres::SimpleQueryMessage::Row(_)))
        .count();
    Ok(rows)
}

/// Runs `sql` on a connection of its own; returns the number of rows of
/// its last result.
pub fn execute_sql(base: &str, sql: &str) -> Result<usize, StoreError> {
    Bridge::new(1)?.run(execute(base.to_string(), sql.to_string()))
}

/// `url` with `search_path` set to `schema` (URL or key=value form).
pub fn with_schema(url: &str, schema: &str) -> String {
    if crate::is_postgres_url(url) {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{schema}")
    } else {
        format!("{url} options='-csearch_path={schema}'")
    }
}

impl TestSchema {
    pub fn create(base: &str) -> Result<TestSchema, StoreError> {
        let suffix: String = new_token_id()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
            .to_ascii_lowercase();
        let name = format!("t_{suffix}");
        execute_sql(base, &format!("CREATE SCHEMA {name}"))?;
        Ok(TestSchema {
            url: with_schema(base, &name),
            name,
            base: base.to_string(),
        })
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        let _ = execute_sql(
            &self.base,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}
