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
    /// Manage user accounts on a database no server is running on.
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
