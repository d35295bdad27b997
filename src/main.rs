use clap::{Parser, Subcommand};
use kassa::application::{api, staff};
use kassa::config::Settings;
use kassa::startup::{Application, open_store};
use kassa::store::Store;
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
    /// Run only the background workers (sweeper, reconciliation, outbox,
    /// mail), no pages: for a node of its own beside shop nodes with
    /// `jobs.run = false` (PostgreSQL only).
    Jobs,
    /// Run only the sandbox payment provider (on `sandbox.bind`, or --bind).
    Sandbox,
    /// Staff accounts and API keys of the back office.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a staff account. The password is read from standard input
    /// (one line) when it is not a terminal, else asked for twice.
    Add { email: String },
    /// Give a staff account a new password, read as for `add`; the
    /// member's sessions end.
    Password { email: String },
    /// Remove a staff account; its sessions end. What the member did stays
    /// on record under their email.
    Remove { email: String },
    /// Make an API key named NAME and print it; it is shown only this once.
    ApiKey { name: String },
    /// Revoke the live API key named NAME.
    RevokeKey { name: String },
    /// List the API keys: name, created, revoked.
    ListKeys,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // Loaded before the log exists, which it configures: a bad setting is
    // told on standard error.
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("kassa: {e:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    kassa::logging::init(settings.log.format);
    #[cfg(feature = "failpoints")]
    let _crash_points = kassa::crash::arm();
    match run(cli, settings).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kassa: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli, mut settings: Settings) -> anyhow::Result<()> {
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
            tokio::spawn(stop_on_signals(app.stopper()));
            app.run_until_stopped().await?;
            tracing::info!("stopped");
        }
        Command::Jobs => {
            let jobs = kassa::startup::Jobs::build(settings).await?;
            tracing::info!("Kassa runs the background workers, no pages");
            tokio::spawn(stop_on_signals(jobs.stopper()));
            jobs.run_until_stopped().await;
            tracing::info!("stopped");
        }
        Command::Sandbox => {
            let bind = cli_bind.unwrap_or_else(|| settings.sandbox.bind.clone());
            let sandbox = kassa::sandbox::Sandbox::new(
                settings.webhook_secret(),
                settings.sandbox.convenience_store_days,
            )
            .with_chaos(settings.sandbox.chaos.clone());
            let (port, server) = sandbox.serve(&bind)?;
            tracing::info!("sandbox payment provider on http://127.0.0.1:{port}");
            server.await?;
        }
        Command::Migrate => {
            std::fs::create_dir_all(&settings.data_dir)?;
            open_store(&settings).await?;
            println!("the database is up to date");
        }
        Command::Admin { command } => {
            std::fs::create_dir_all(&settings.data_dir)?;
            let store = open_store(&settings).await?;
            admin(&store, command).await?;
        }
    }
    Ok(())
}

/// SIGTERM or SIGINT stops the node gracefully (`stop`); a second one of
/// either ends it at once, whatever is still running.
async fn stop_on_signals(stop: impl Fn()) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for SIGTERM and SIGINT; stop the node with SIGKILL");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!(
        "stopping: no new connections; finishing requests in flight and the workers' \
         current steps (a second signal stops at once)"
    );
    stop();
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::warn!("stopping at once: second signal");
    std::process::exit(1);
}

async fn admin(store: &Store, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Add { email } => {
            let password = read_password()?;
            let email = staff::add_staff(store, &email, &password)
                .await?
                .map_err(anyhow::Error::msg)?;
            println!("created the staff account {email}");
        }
        AdminCommand::Password { email } => {
            let password = read_password()?;
            let email = staff::set_staff_password(store, &email, &password)
                .await?
                .map_err(anyhow::Error::msg)?;
            println!("set a new password for {email}; their sessions are ended");
        }
        AdminCommand::Remove { email } => {
            let email = staff::remove_staff(store, &email)
                .await?
                .map_err(anyhow::Error::msg)?;
            println!("removed the staff account {email}; its sessions are ended");
        }
        AdminCommand::ApiKey { name } => {
            let key = api::create_key(store, &name)
                .await?
                .map_err(anyhow::Error::msg)?;
            eprintln!(
                "The API key {}; keep it now, it is not shown again:",
                name.trim()
            );
            println!("{key}");
        }
        AdminCommand::RevokeKey { name } => {
            if !api::revoke_key(store, &name).await? {
                anyhow::bail!("there is no live API key named {}", name.trim());
            }
            println!("revoked the API key {}", name.trim());
        }
        AdminCommand::ListKeys => {
            let keys = api::list_keys(store).await?;
            if keys.is_empty() {
                println!("no API keys yet: make one with `kassa admin api-key NAME`");
            }
            let width = keys.iter().map(|k| k.name.len()).max().unwrap_or(0).max(4);
            for key in keys {
                let revoked = key
                    .revoked
                    .map_or("live".to_owned(), |at| format!("revoked {at}"));
                println!("{:width$}  created {}  {revoked}", key.name, key.created);
            }
        }
    }
    Ok(())
}

/// The new account's password: one line of standard input when it is
/// not a terminal (a script), else typed twice without echo.
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut line = String::new();
        stdin.lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let password = rpassword::prompt_password("Password: ")?;
    let again = rpassword::prompt_password("Password again: ")?;
    if password != again {
        anyhow::bail!("the two passwords differ; nothing was changed");
    }
    Ok(password)
}
