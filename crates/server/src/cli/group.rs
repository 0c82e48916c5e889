//! `plantdb-auth group ...`: the groups scans are shared with, through the
//! same service functions as `/api/v1/groups`.

use clap::{Args, Subcommand};
use plantdb_auth_service::admin::{self, GroupPayload, GroupView, MemberPayload};
use serde_json::json;

use super::admin::{answer, fail, fields, or_dash, table, Admin, DbArgs};

#[derive(Debug, Args)]
pub struct GroupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(subcommand)]
    pub command: GroupCommand,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group.
    Add {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// A first member (repeatable); the creator is always one.
        #[arg(long = "member", value_name = "USER")]
        members: Vec<String>,
        /// The account recorded as the group's creator, which always stays a
        /// member (the operator is no account, so it names one).
        #[arg(long, value_name = "USER", default_value = "admin")]
        creator: String,
    },
    /// List every group.
    List,
    /// Show one group.
    Show { name: String },
    /// Add an existing user to a group.
    AddMember { group: String, user: String },
    /// Remove a member (not the creator) from a group.
    RemoveMember { group: String, user: String },
    /// Delete a group; scans shared with it are no longer shared with anyone through it.
    Delete { name: String },
}

pub fn execute(admin: &Admin, command: GroupCommand) -> anyhow::Result<()> {
    let db = admin.db();
    match command {
        GroupCommand::Add {
            name,
            description,
            members,
            creator,
        } => {
            let payload = GroupPayload {
                name: Some(name),
                description,
                users: Some(members),
                creator: Some(creator),
            };
            let group = admin::create_group(db, &admin.operator()?, &payload).map_err(fail)?;
            show_group(admin, &group, Some("created"))
        }
        GroupCommand::List => list(admin),
        GroupCommand::Show { name } => {
            let group = admin::get_group(db, &admin.operator()?, &name).map_err(fail)?;
            show_group(admin, &group, None)
        }
        GroupCommand::AddMember { group, user } => {
            let member = MemberPayload {
                username: Some(user),
            };
            let group =
                admin::add_group_member(db, &admin.operator()?, &group, &member).map_err(fail)?;
            show_group(admin, &group, Some("updated"))
        }
        GroupCommand::RemoveMember { group, user } => {
            let group =
                admin::remove_group_member(db, &admin.operator()?, &group, &user).map_err(fail)?;
            show_group(admin, &group, Some("updated"))
        }
        GroupCommand::Delete { name } => {
            let deleted = admin::delete_group(db, &admin.operator()?, &name).map_err(fail)?;
            let value = json!({"name": deleted.to_string(), "deleted": true});
            answer(admin, value, || format!("Group {deleted} deleted"));
            Ok(())
        }
    }
}

fn describe(group: &GroupView) -> String {
    fields(&[
        ("name", group.name.clone()),
        ("members", group.users.join(", ")),
        ("description", or_dash(group.description.as_deref())),
        ("created by", or_dash(group.created_by.as_deref())),
        ("created at", or_dash(group.created_at.as_deref())),
    ])
}

/// The group after the change, headed by what happened (if anything).
fn show_group(admin: &Admin, group: &GroupView, done: Option<&str>) -> anyhow::Result<()> {
    let value = serde_json::to_value(group).unwrap_or_default();
    answer(admin, value, || match done {
        None => describe(group),
        Some(done) => format!("Group {} {done}\n{}", group.name, describe(group)),
    });
    Ok(())
}

fn list(admin: &Admin) -> anyhow::Result<()> {
    let groups = admin::list_groups(admin.db(), &admin.operator()?).map_err(fail)?;
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|g| {
            vec![
                g.name.clone(),
                g.users.join(","),
                or_dash(g.created_by.as_deref()),
                or_dash(g.description.as_deref()).replace(['\n', '\t'], " "),
            ]
        })
        .collect();
    answer(admin, json!(groups), || {
        table(&["NAME", "MEMBERS", "CREATED BY", "DESCRIPTION"], &rows)
    });
    Ok(())
}
