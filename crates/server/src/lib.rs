//! plantdb-auth: the PlantDB authentication server and its admin CLI.

pub mod admin_socket;
pub mod audit;
pub mod cli;
pub mod config_file;
pub mod database;
pub mod secrets;
pub mod serve;
pub mod settings;
pub mod startup;
pub mod systemd;
pub mod telemetry;
