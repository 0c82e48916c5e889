//! Versioned schema migrations, applied at startup under an advisory lock
//! so that instances starting together do not race.

use deadpool_postgres::Pool;
use plantdb_auth_core::store::StoreError;

use crate::db_error;

/// Migration N (1-based) takes the schema from version N-1 to N. Never edit
/// a released migration: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: users, groups, sessions (tokens), settings (the shared signing key).
    "CREATE SEQUENCE auth_change_seq;
    CREATE TABLE auth_users (
        username text PRIMARY KEY,
        fullname text NOT NULL,
        password_hash text NOT NULL,
        roles text[] NOT NULL,
        extra_permissions text[] NOT NULL,
        created_at timestamptz,
        last_login timestamptz,
        is_active boolean NOT NULL,
        failed_attempts integer NOT NULL,
        last_failed_attempt timestamptz,
        locked_until timestamptz,
        password_last_change timestamptz,
        extra jsonb NOT NULL,
        version bigint NOT NULL
    );
    CREATE TABLE auth_groups (
        name text PRIMARY KEY,
        users text[] NOT NULL,
        description text,
        created_at timestamptz,
        created_by text,
        extra jsonb NOT NULL,
        version bigint NOT NULL
    );
    CREATE TABLE auth_tokens (
        jti text PRIMARY KEY,
        kind text NOT NULL,
        username text NOT NULL,
        family text NOT NULL,
        started_at bigint NOT NULL,
        issued_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used boolean NOT NULL DEFAULT false,
        datasets text
    );
    CREATE INDEX auth_tokens_family ON auth_tokens (family);
    CREATE INDEX auth_tokens_expires ON auth_tokens (expires_at);
    CREATE TABLE auth_settings (
        name text PRIMARY KEY,
        value text NOT NULL
    );",
    // 2: the audit trail, shared by every instance.
    "CREATE TABLE auth_audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        event jsonb NOT NULL
    );
    CREATE INDEX auth_audit_at ON auth_audit (at);",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Brings the schema up to date; returns the schema's name.
pub(crate) async fn migrate(pool: Pool) -> Result<String, StoreError> {
    let mut client = pool.get().await.map_err(db_error)?;
    let tx = client.transaction().await.map_err(db_error)?;
    let schema: Option<String> = tx
        .query_one("SELECT current_schema()", &[])
        .await
        .map_err(db_error)?
        .get(0);
    let schema = schema.ok_or_else(|| {
        StoreError::Backend(
            "no schema to create tables in: the first schema of search_path does not exist (create it, or fix options=-csearch_path in the URL)".into(),
        )
    })?;
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.plantdb_auth_migrate'))",
        &[],
    )
    .await
    .map_err(db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS auth_schema_migrations (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now()
        )",
    )
    .await
    .map_err(db_error)?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM auth_schema_migrations",
            &[],
        )
        .await
        .map_err(db_error)?
        .get(0);
    if current > SCHEMA_VERSION {
        return Err(StoreError::Backend(format!(
            "the PostgreSQL schema '{schema}' is at version {current}, newer than this plantdb-auth ({SCHEMA_VERSION}): upgrade plantdb-auth"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i32 + 1;
        tx.batch_execute(sql).await.map_err(db_error)?;
        tx.execute(
            "INSERT INTO auth_schema_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db_error)?;
        tracing::info!(schema = %schema, version, "applied PostgreSQL schema migration");
    }
    tx.commit().await.map_err(db_error)?;
    Ok(schema)
}
