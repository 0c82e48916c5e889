use clap::Parser;

use plantdb_auth::cli::{Cli, Command};
use plantdb_auth::{startup, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
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
    telemetry::init(&args.log_level, args.log_json);
    let app = startup::build(args).await?;
    println!(
        "plantdb-auth listening on {} (database: {})",
        app.url,
        app.root.display()
    );
    tracing::info!(url = %app.url, database = %app.root.display(), "started");
    app.run_until_stopped().await
}
