//! The `notification-hub` command line (SPEC §2): `serve` (default), `migrate`, `config`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use notification_hub::config::Config;
use notification_hub::telemetry;

/// mimalloc instead of the system allocator (ADR 0028): the request path allocates per
/// request, and glibc malloc was a tenth of the hub's CPU under load.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Multi-channel notification hub.
#[derive(Debug, Parser)]
#[command(
    name = "notification-hub",
    version,
    about = "Multi-channel notification hub (SPEC §2): serve, migrate, config"
)]
struct Cli {
    /// Configuration file layered over the embedded defaults (also `NH_CONFIG`).
    #[arg(long, global = true, env = "NH_CONFIG")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the roles of NH_ROLES: API, outbox relay, channel workers (default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the effective configuration with secrets masked.
    Config,
}

// A command-line program talks to its user through stdout and stderr; the workspace warns on
// printing so that services log through `tracing` instead, which does not apply here.
#[allow(clippy::print_stdout, clippy::print_stderr)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(cli.config.as_deref(), &|name| std::env::var(name).ok()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("notification-hub: invalid configuration: {e}");
            return ExitCode::from(78);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Config => {
            print!("{}", config.render_effective());
            ExitCode::SUCCESS
        }
        Command::Serve => run(config, |config| Box::pin(notification_hub::serve::serve(config))),
        Command::Migrate => run(config, |config| {
            Box::pin(async move {
                let store = notification_hub::backends::Store::open(&config, true).await?;
                store.close().await;
                tracing::info!("migrations applied");
                Ok(())
            })
        }),
    }
}

type Job = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>>>>;

/// Starts logging and the async runtime, runs `job`, and turns its error into exit code 1.
#[allow(clippy::print_stderr)]
fn run(config: Config, job: impl FnOnce(Config) -> Job) -> ExitCode {
    let telemetry = match telemetry::init(&config) {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("notification-hub: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("notification-hub: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(job(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "notification-hub failed");
            eprintln!("notification-hub: {e:#}");
            ExitCode::FAILURE
        }
    };
    // After the drain (or the failure) and outside the runtime, where blocking is fine: the
    // spans of the last seconds are sent before the process ends (ADR 0026).
    drop(runtime);
    telemetry.shutdown(telemetry::FLUSH_TIMEOUT);
    code
}
