//! The command line: `plantdb-auth serve` and the admin commands.

use clap::{Parser, Subcommand};

pub mod admin;
pub mod demo;
pub mod group;
pub mod healthcheck;
pub mod key;
pub mod migrate;
mod password;
pub mod session;
pub mod user;

use crate::settings::ServeArgs;
use admin::{Admin, DbArgs};
use password::PasswordSource;

#[derive(Debug, Parser)]
#[command(
    name = "plantdb-auth",
    version,
    about = "PlantDB server: the data API, the web viewer and authentication in one binary, a drop-in, faster and safer replacement for the Python plantdb-server",
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
    /// Write a few synthetic demo scans into a database directory.
    Demo(demo::DemoArgs),
    /// Copy users, groups, API tokens and the signing key between an FSDB directory and PostgreSQL.
    Migrate(migrate::MigrateArgs),
    /// Manage user accounts (through the running server's admin socket, or on the database directly).
    User(user::UserArgs),
    /// Manage the groups scans are shared with.
    Group(group::GroupArgs),
    /// List or end login sessions.
    Session(session::SessionArgs),
    /// List or revoke API tokens.
    Token(session::TokenArgs),
    /// Rotate the token signing key.
    Key(key::KeyArgs),
    /// Ask a running server whether it is ready (exit 0) or not (exit 1): for probes.
    Healthcheck(healthcheck::HealthcheckArgs),
    /// Check a configuration.
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `plantdb-auth manpage | man -l -`.
    Manpage,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration `serve` would run with (file, environment
    /// and these flags) and print it, secrets redacted; exit 1 if invalid.
    Check(Box<ServeArgs>),
}

impl Command {
    /// The database options of an admin command (`user`, `group`,
    /// `session`, `token`, `key`); `None` for the others.
    pub fn admin_db(&self) -> Option<&DbArgs> {
        match self {
            Command::User(a) => Some(&a.db),
            Command::Group(a) => Some(&a.db),
            Command::Session(a) => Some(&a.db),
            Command::Token(a) => Some(&a.db),
            Command::Key(a) => Some(&a.db),
            _ => None,
        }
    }

    /// Where an admin command that sets a password reads it from.
    pub fn password_source(&self) -> Option<&PasswordSource> {
        match self {
            Command::User(a) => match &a.command {
                user::UserCommand::Add { password, .. }
                | user::UserCommand::Passwd { password, .. } => Some(password),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Runs an admin command on `admin` (a local database or the running
/// server's service); its answer is left in `admin`'s output.
pub fn run_admin(admin: &Admin, command: Command) -> anyhow::Result<()> {
    match command {
        Command::User(a) => user::execute(admin, a.command),
        Command::Group(a) => group::execute(admin, a.command),
        Command::Session(a) => session::execute_sessions(admin, a.command),
        Command::Token(a) => session::execute_tokens(admin, a.command),
        Command::Key(a) => key::execute(admin, a.command),
        _ => Err(anyhow::anyhow!("internal: not an admin command")),
    }
}
