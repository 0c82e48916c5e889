//! The command line: `plantdb-auth serve` and the admin commands.

use clap::{Parser, Subcommand};

pub mod admin;
pub mod group;
pub mod migrate;
mod password;
pub mod session;
pub mod user;

use crate::settings::ServeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "plantdb-auth",
    version,
    about = "PlantDB authentication server: a drop-in, faster and safer replacement for the Python plantdb-server's auth API",
    long_about = None
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server on a PlantDB database.
    Serve(Box<ServeArgs>),
    /// Copy users, groups, API tokens and the signing key between an FSDB directory and PostgreSQL.
    Migrate(migrate::MigrateArgs),
    /// Manage user accounts on a database no server is running on.
    User(user::UserArgs),
    /// Manage the groups scans are shared with.
    Group(group::GroupArgs),
    /// List or end login sessions.
    Session(session::SessionArgs),
    /// List or revoke API tokens.
    Token(session::TokenArgs),
}
