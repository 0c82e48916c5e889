use clap::{CommandFactory, FromArgMatches};

use plantdb_auth::cli::{admin, Cli, Command, ConfigCommand};
use plantdb_auth::{config_file, startup, telemetry};

/// Parses the command line, with the configuration file's values as the
/// defaults of `serve` (and `config check`).
fn parse() -> Result<(Cli, clap::ArgMatches, Option<std::path::PathBuf>), std::process::ExitCode> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (cmd, file) = match config_file::apply(Cli::command(), &args) {
        Ok(applied) => applied,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Err(std::process::ExitCode::FAILURE);
        }
    };
    let matches = cmd.get_matches_from(&args);
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => Ok((cli, matches, file)),
        Err(e) => e.exit(),
    }
}

/// `config check`: the effective settings, or why they cannot work.
fn config_check(
    mut args: plantdb_auth::settings::ServeArgs,
    matches: &clap::ArgMatches,
    file: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    args.resolve_secrets()?;
    args.validate()?;
    let cmd = Cli::command();
    let check = cmd
        .find_subcommand("config")
        .and_then(|c| c.find_subcommand("check"))
        .ok_or_else(|| anyhow::anyhow!("internal: no config check command"))?;
    let sub = matches
        .subcommand_matches("config")
        .and_then(|m| m.subcommand_matches("check"))
        .ok_or_else(|| anyhow::anyhow!("internal: no config check matches"))?;
    print!("{}", config_file::describe(check, sub, file));
    println!("# the configuration is valid");
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let (cli, matches, file) = match parse() {
        Ok(parsed) => parsed,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Demo(args) => plantdb_auth::cli::demo::execute(args),
        Command::Migrate(args) => plantdb_auth::cli::migrate::execute(args).await,
        command @ (Command::User(_)
        | Command::Group(_)
        | Command::Session(_)
        | Command::Token(_)
        | Command::Key(_)) => {
            let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
            admin::run(move || admin::execute(command, &argv)).await
        }
        Command::Healthcheck(args) => plantdb_auth::cli::healthcheck::execute(args).await,
        // Written to a buffer first: the generators panic on a closed pipe.
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "plantdb-auth", &mut script);
            admin::print(&String::from_utf8_lossy(&script));
            Ok(())
        }
        Command::Manpage => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map(|()| admin::print(&String::from_utf8_lossy(&page)))
                .map_err(anyhow::Error::from)
        }
        Command::Config(config) => match config.command {
            ConfigCommand::Check(args) => config_check(*args, &matches, file.as_deref()),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve(args: plantdb_auth::settings::ServeArgs) -> anyhow::Result<()> {
    let audit = telemetry::init(&args.log_level, args.log_json);
    let audit_config = args.audit_config()?;
    let app = startup::build(args).await?;
    match app.shared_audit_log() {
        Some(shared) => {
            audit.attach_recorder(audit_config.limits, move |event| shared.record(event))
        }
        None => {
            if let Err(e) = audit.attach(&app.state_dir, audit_config) {
                tracing::warn!(error = %e, "the audit log cannot be written; audit events go to the console only");
            }
        }
    }
    println!(
        "plantdb-auth listening on {} (database: {})",
        app.url,
        app.root.display()
    );
    tracing::info!(url = %app.url, database = %app.root.display(), "started");
    plantdb_auth::systemd::notify("READY=1");
    let stopped = app.run_until_stopped().await;
    audit.flush();
    stopped
}
