//! The command line: `plantdb-auth serve` and the admin commands.

use clap::{Parser, Subcommand};

pub mod migrate;

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
}
