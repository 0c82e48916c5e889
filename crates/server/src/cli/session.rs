//! `plantdb-auth session ...` and `plantdb-auth token ...`: login sessions
//! and API tokens, through the same service functions as
//! `/api/v1/auth/sessions` and `/api/v1/auth/api-tokens`.

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand};
use plantdb_auth_service::admin;
use plantdb_auth_service::sessions::{self, ApiTokenEntry, SessionEntry};
use serde_json::{json, Value};

use super::admin::{answer, fail, table, Admin, DbArgs};

#[derive(Debug, Args)]
pub struct SessionArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: SessionCommand,
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List live login sessions, oldest first.
    List {
        /// Only this user's.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// End a login session (its access and refresh tokens die), every
    /// session of one user (--user), or every session (--all). API tokens
    /// stay: see `token revoke`.
    Revoke {
        // Ids are URL-safe base64 and may begin with '-'.
        #[arg(
            required_unless_present_any = ["user", "all"],
            conflicts_with_all = ["user", "all"],
            allow_hyphen_values = true
        )]
        id: Option<String>,
        /// Every session of this user.
        #[arg(long, value_name = "USER", conflicts_with = "all")]
        user: Option<String>,
        /// Every session of every user (everyone logs in again).
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// List live API tokens (never the tokens themselves).
    List {
        /// Only this user's.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// Revoke an API token.
    Revoke {
        // Ids are URL-safe base64 and may begin with '-'.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The stored name of `--user`, which must exist: a typo would otherwise
/// look like "no sessions".
fn owner_filter(admin: &Admin, user: Option<&str>) -> anyhow::Result<Option<String>> {
    let operator = admin.operator()?;
    user.map(|u| admin::get_user(admin.db(), &operator, u).map(|v| v.username))
        .transpose()
        .map_err(fail)
}

pub fn execute_sessions(admin: &Admin, command: SessionCommand) -> anyhow::Result<()> {
    match command {
        SessionCommand::List { user } => {
            let owner = owner_filter(admin, user.as_deref())?;
            let mut list = sessions::list_sessions(admin.db(), &admin.operator()?).map_err(fail)?;
            list.retain(|s| owner.as_ref().is_none_or(|o| &s.username == o));
            let value: Vec<Value> = list.iter().map(session_json).collect();
            answer(admin, json!(value), || sessions_table(&list));
            Ok(())
        }
        SessionCommand::Revoke { id: Some(id), .. } => {
            let owner =
                sessions::revoke_session(admin.db(), &admin.operator()?, &id).map_err(fail)?;
            let value = json!({"id": id, "username": owner, "revoked": true});
            answer(admin, value, || format!("Session {id} of {owner} revoked"));
            Ok(())
        }
        SessionCommand::Revoke { id: None, user, .. } => {
            let ended =
                sessions::revoke_sessions_of(admin.db(), &admin.operator()?, user.as_deref())
                    .map_err(fail)?;
            let whose = user.clone().unwrap_or_else(|| "every user".into());
            let value = json!({"username": user, "sessions_ended": ended});
            answer(admin, value, || {
                format!("{ended} session(s) of {whose} ended")
            });
            Ok(())
        }
    }
}

pub fn execute_tokens(admin: &Admin, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::List { user } => {
            let owner = owner_filter(admin, user.as_deref())?;
            let mut list =
                sessions::list_api_tokens(admin.db(), &admin.operator()?).map_err(fail)?;
            list.retain(|t| owner.as_ref().is_none_or(|o| &t.username == o));
            let value: Vec<Value> = list.iter().map(token_json).collect();
            answer(admin, json!(value), || tokens_table(&list));
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            let owner =
                sessions::revoke_api_token(admin.db(), &admin.operator()?, &id).map_err(fail)?;
            let value = json!({"id": id, "username": owner, "revoked": true});
            answer(admin, value, || {
                format!("API token {id} of {owner} revoked")
            });
            Ok(())
        }
    }
}

fn session_json(s: &SessionEntry) -> Value {
    json!({
        "id": s.id,
        "username": s.username,
        "created_at": iso(s.created_at),
        "expires_at": iso(s.expires_at),
    })
}

fn token_json(t: &ApiTokenEntry) -> Value {
    json!({
        "id": t.id,
        "username": t.username,
        "datasets": t.datasets,
        "created_at": iso(t.created_at),
        "expires_at": iso(t.expires_at),
    })
}

fn sessions_table(list: &[SessionEntry]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.username.clone(),
                iso(s.created_at),
                iso(s.expires_at),
            ]
        })
        .collect();
    table(&["ID", "USER", "STARTED", "EXPIRES"], &rows)
}

/// `pattern:perm,perm pattern:perm`, compact for a table.
fn grant_text(datasets: &Value) -> String {
    let Some(grants) = datasets.as_object() else {
        return datasets.as_str().unwrap_or_default().to_string();
    };
    let parts: Vec<String> = grants
        .iter()
        .map(|(pattern, perms)| {
            let perms: Vec<&str> = perms
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!("{pattern}:{}", perms.join(","))
        })
        .collect();
    parts.join(" ")
}

fn tokens_table(list: &[ApiTokenEntry]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.username.clone(),
                iso(t.created_at),
                iso(t.expires_at),
                grant_text(&t.datasets),
            ]
        })
        .collect();
    table(&["ID", "USER", "CREATED", "EXPIRES", "DATASETS"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_print_compactly() {
        let grants = json!({"plant_*": ["read", "write"], "*": ["read"]});
        assert_eq!(grant_text(&grants), "plant_*:read,write *:read");
        assert_eq!(
            grant_text(&json!("raw/Permission.READ")),
            "raw/Permission.READ"
        );
    }
}
