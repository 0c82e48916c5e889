use clap::Parser;

use plantdb_auth::cli::{admin, group, session, user, Cli, Command};
use plantdb_auth::{startup, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Demo(args) => plantdb_auth::cli::demo::execute(args),
        Command::Migrate(args) => plantdb_auth::cli::migrate::execute(args).await,
        Command::User(args) => admin::run(move || user::execute(args)).await,
        Command::Group(args) => admin::run(move || group::execute(args)).await,
        Command::Session(args) => admin::run(move || session::execute_sessions(args)).await,
        Command::Token(args) => admin::run(move || session::execute_tokens(args)).await,
        Command::Healthcheck(args) => plantdb_auth::cli::healthcheck::execute(args).await,
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
            let state_dir = app.root.join(plantdb_auth_core::store::fsdb::STATE_DIR);
            if let Err(e) = audit.attach(&state_dir, audit_config) {
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
    let stopped = app.run_until_stopped().await;
    audit.flush();
    stopped
}
