use clap::{Parser, Subcommand};
use kassa::config::Settings;
use kassa::startup::{Application, open_store};
use std::path::PathBuf;

/// Kassa: a storefront checkout.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Config file (default: kassa.toml in the working directory, if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Address to listen on (overrides `bind` and KASSA_BIND).
    #[arg(long, global = true)]
    bind: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the shop (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run only the sandbox payment provider (on `sandbox.bind`, or --bind).
    Sandbox,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,actix_server=warn".into()),
        )
        .init();
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kassa: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let mut settings = Settings::load(cli.config.as_deref())?;
    let cli_bind = cli.bind.clone();
    if let Some(bind) = cli.bind
        && !matches!(cli.command, Some(Command::Sandbox))
    {
        settings.bind = bind;
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let host = settings
                .bind
                .rsplit_once(':')
                .map(|(h, _)| h.to_owned())
                .unwrap_or_default();
            let app = Application::build(settings).await?;
            tracing::info!("Kassa listens on http://{host}:{}", app.port());
            app.run_until_stopped().await?;
        }
        Command::Sandbox => {
            let bind = cli_bind.unwrap_or_else(|| settings.sandbox.bind.clone());
            let sandbox = kassa::sandbox::Sandbox::new(
                settings.webhook_secret(),
                settings.sandbox.convenience_store_days,
            );
            let (port, server) = sandbox.serve(&bind)?;
            tracing::info!("sandbox payment provider on http://127.0.0.1:{port}");
            server.await?;
        }
        Command::Migrate => {
            std::fs::create_dir_all(&settings.data_dir)?;
            open_store(&settings).await?;
            println!("the database is up to date");
        }
    }
    Ok(())
}
