//! `plantdb-auth user ...`: accounts, through the same service functions as
//! `/api/v1/users` and `/api/v1/auth/register`.

use clap::{Args, Subcommand};
use plantdb_auth_service::admin::{self, PasswordChange, UserPatch, UserView};
use plantdb_auth_service::auth::{parse_roles, parse_username};
use plantdb_auth_service::{check_username_exists, register_user, NewUser};
use serde_json::json;

use super::admin::{answer, fail, fields, or_dash, table, Admin, DbArgs};
use super::password::PasswordSource;

#[derive(Debug, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: UserCommand,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (role reader unless --role is given).
    Add {
        name: String,
        #[arg(long)]
        fullname: String,
        /// reader, contributor or admin (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// List every account.
    List,
    /// Show one account.
    Show { name: String },
    /// Set a new password (an admin reset: every session and API token of the account ends).
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordSource,
    },
    /// Lift a lockout after failed logins.
    Unlock { name: String },
    /// Allow the account to log in again.
    Activate { name: String },
    /// Refuse logins and end every session and API token of the account.
    Deactivate { name: String },
    /// Replace the account's roles.
    Roles {
        name: String,
        #[arg(required = true, value_name = "ROLE")]
        roles: Vec<String>,
    },
    /// Delete the account, its sessions, API tokens and group memberships.
    Delete { name: String },
}

pub fn execute(admin: &Admin, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            fullname,
            roles,
            password,
        } => add(admin, &name, fullname, roles, &password),
        UserCommand::List => list(admin),
        UserCommand::Show { name } => show(admin, &name),
        UserCommand::Passwd { name, password } => passwd(admin, &name, &password),
        UserCommand::Unlock { name } => patch(admin, &name, unlock(), "unlocked"),
        UserCommand::Activate { name } => patch(admin, &name, active(true), "activated"),
        UserCommand::Deactivate { name } => patch(
            admin,
            &name,
            active(false),
            "deactivated (its sessions ended)",
        ),
        UserCommand::Roles { name, roles } => {
            let change = UserPatch {
                roles: Some(roles),
                ..UserPatch::default()
            };
            patch(admin, &name, change, "updated")
        }
        UserCommand::Delete { name } => delete(admin, &name),
    }
}

fn unlock() -> UserPatch {
    UserPatch {
        unlock: Some(true),
        ..UserPatch::default()
    }
}

fn active(is_active: bool) -> UserPatch {
    UserPatch {
        is_active: Some(is_active),
        ..UserPatch::default()
    }
}

fn view_json(user: &UserView) -> serde_json::Value {
    serde_json::to_value(user).unwrap_or_default()
}

fn describe(user: &UserView) -> String {
    let pairs = [
        ("username", user.username.clone()),
        ("fullname", user.fullname.clone()),
        ("roles", user.roles.join(", ")),
        (
            "extra permissions",
            or_dash(none_if_empty(&user.extra_permissions).as_deref()),
        ),
        ("active", yes_no(user.is_active)),
        ("locked until", or_dash(user.locked_until.as_deref())),
        ("last login", or_dash(user.last_login.as_deref())),
        ("created at", or_dash(user.created_at.as_deref())),
    ];
    fields(&pairs)
}

fn none_if_empty(items: &[String]) -> Option<String> {
    (!items.is_empty()).then(|| items.join(", "))
}

fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_string()
}

/// Checked before the prompt, so nobody types a password for nothing.
fn add(
    admin: &Admin,
    name: &str,
    fullname: String,
    roles: Vec<String>,
    source: &PasswordSource,
) -> anyhow::Result<()> {
    if check_username_exists(admin.db(), name).map_err(fail)? {
        return Err(anyhow::anyhow!(
            "User '{name}' already exists\nhint: `plantdb-auth user passwd {name}` sets a new password"
        ));
    }
    let password = admin.new_password(source)?;
    let new_user = NewUser {
        username: parse_username(name).map_err(fail)?,
        fullname,
        password,
        roles: parse_roles(&roles).map_err(fail)?,
    };
    let username = register_user(admin.db(), &admin.operator()?, &new_user).map_err(fail)?;
    let user = admin::get_user(admin.db(), &admin.operator()?, username.as_str()).map_err(fail)?;
    answer(admin, view_json(&user), || {
        format!(
            "User {} created (roles: {})",
            user.username,
            user.roles.join(", ")
        )
    });
    Ok(())
}

fn list(admin: &Admin) -> anyhow::Result<()> {
    let users = admin::list_users(admin.db(), &admin.operator()?).map_err(fail)?;
    let rows: Vec<Vec<String>> = users
        .iter()
        .map(|u| {
            vec![
                u.username.clone(),
                u.roles.join(","),
                yes_no(u.is_active),
                or_dash(u.locked_until.as_deref()),
                or_dash(u.last_login.as_deref()),
                u.fullname.clone(),
            ]
        })
        .collect();
    answer(admin, json!(users), || {
        let headers = [
            "USERNAME",
            "ROLES",
            "ACTIVE",
            "LOCKED UNTIL",
            "LAST LOGIN",
            "FULLNAME",
        ];
        table(&headers, &rows)
    });
    Ok(())
}

fn show(admin: &Admin, name: &str) -> anyhow::Result<()> {
    let user = admin::get_user(admin.db(), &admin.operator()?, name).map_err(fail)?;
    answer(admin, view_json(&user), || describe(&user));
    Ok(())
}

fn passwd(admin: &Admin, name: &str, source: &PasswordSource) -> anyhow::Result<()> {
    admin::get_user(admin.db(), &admin.operator()?, name).map_err(fail)?;
    let change = PasswordChange {
        current_password: None,
        new_password: Some(admin.new_password(source)?),
    };
    let done =
        admin::change_password(admin.db(), &admin.operator()?, name, &change).map_err(fail)?;
    let value = json!({"username": done.username.as_str(), "sessions_ended": done.sessions_ended});
    answer(admin, value, || {
        format!(
            "Password of {} changed; {} session(s) and API token(s) ended",
            done.username, done.sessions_ended
        )
    });
    Ok(())
}

fn patch(admin: &Admin, name: &str, change: UserPatch, done: &str) -> anyhow::Result<()> {
    let user = admin::update_user(admin.db(), &admin.operator()?, name, &change).map_err(fail)?;
    answer(admin, view_json(&user), || {
        format!("User {} {done}\n{}", user.username, describe(&user))
    });
    Ok(())
}

fn delete(admin: &Admin, name: &str) -> anyhow::Result<()> {
    let deleted = admin::delete_user(admin.db(), &admin.operator()?, name).map_err(fail)?;
    let value = json!({"username": deleted.as_str(), "deleted": true});
    answer(admin, value, || format!("User {deleted} deleted"));
    Ok(())
}
