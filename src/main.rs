//! The `contractgate` command line: parses arguments and dispatches.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use contractgate::config::{Config, Log, Overrides};
use contractgate::contract::compat::{self, Mode, Policy, SchemaVersion};
use contractgate::contract::Registry;
#[cfg(unix)]
use contractgate::gateway::reload_on_hangup;
use contractgate::gateway::{watch, Gateway};
use contractgate::telemetry;

/// A declarative data-contract gateway.
#[derive(Parser)]
#[command(name = "contractgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// The gateway config (default: ./contractgate.yaml when present).
        #[arg(long, env = "CONTRACTGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "CONTRACTGATE_LISTEN")]
        listen: Option<SocketAddr>,
        /// The contracts folder (default ./contracts).
        #[arg(long, env = "CONTRACTGATE_CONTRACTS")]
        contracts: Option<PathBuf>,
        /// Where the embedded SQLite file lives (default ./data).
        #[arg(long, env = "CONTRACTGATE_DATA")]
        data: Option<PathBuf>,
    },
    /// Load and compile every contract; exit 1 listing each problem.
    Check {
        /// The contracts folder (default: the config's, else ./contracts).
        dir: Option<PathBuf>,
        /// The gateway config, whose systems owners must name.
        #[arg(long, env = "CONTRACTGATE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Compare schema versions: exit 0 compatible, 1 incompatible, 2 error.
    Compat(CompatArgs),
}

/// `contractgate compat [--mode MODE] [--policy P] [--format F] OLD NEW [OLDER…]`
#[derive(Args)]
struct CompatArgs {
    /// none, backward, forward, full, or one of those with `_transitive`.
    #[arg(long, default_value = "backward", value_parser = Mode::parse)]
    mode: Mode,
    /// How JSON Schema content-model changes are judged.
    #[arg(long, default_value = "strict", value_parser = Policy::parse)]
    policy: Policy,
    /// Output for people (`text`) or machines (`json`).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// The latest earlier version.
    old: PathBuf,
    /// The new version.
    new: PathBuf,
    /// Still earlier versions, checked by the `_transitive` modes.
    older: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Json,
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    // `serve` logs as its config says; the tools the default way.
    let telemetry = match &command {
        Command::Serve { .. } => Ok(None),
        _ => telemetry::init(&Log::default()).map(Some),
    };
    let result = telemetry.and_then(|_telemetry| match command {
        Command::Serve {
            config,
            listen,
            contracts,
            data,
        } => serve(
            config,
            Overrides {
                listen,
                contracts,
                data,
            },
        ),
        Command::Check { dir, config } => check(dir, config),
        Command::Compat(args) => Ok(compat(args)),
    });
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}

fn serve(file: Option<PathBuf>, overrides: Overrides) -> anyhow::Result<ExitCode> {
    let config = Config::load(file.as_deref(), overrides)?;
    let _telemetry = telemetry::init(&config.log)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let listen = config.listen;
        let gateway = match Gateway::open(config).await {
            Ok(gateway) => Arc::new(gateway),
            Err(error) => {
                eprintln!("error: {error:#}");
                eprintln!("contractgate refuses to start; fix the problems above (`contractgate check` lists them).");
                return Ok(ExitCode::FAILURE);
            }
        };
        // Signal handlers go in before the address is printed: whoever
        // waits for it may signal at once.
        #[cfg(unix)]
        tokio::spawn(reload_on_hangup(gateway.clone())?);
        let shutdown = shutdown_signal()?;
        let _watcher = if gateway.config().reload.watch {
            watch(gateway.clone())
                .inspect_err(|error| {
                    tracing::warn!(%error, "the contracts folder is not watched; SIGHUP or POST /admin/reload reload it");
                })
                .ok()
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("contractgate listening on http://{}", listener.local_addr()?);
        contractgate::http::serve(listener, gateway, shutdown).await?;
        // The relay's final flush belongs here once it runs in this
        // process: requests are answered, what they committed is not yet
        // all published.
        tracing::info!("contractgate stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight. The
/// handlers are installed before this returns.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    Ok(async move {
        #[cfg(unix)]
        let terminated = terminate.recv();
        #[cfg(not(unix))]
        let terminated = std::future::pending::<Option<()>>();
        // A Ctrl-C handler that cannot be installed disables its branch:
        // SIGTERM still stops the server.
        tokio::select! {
            Ok(()) = tokio::signal::ctrl_c() => {},
            _ = terminated => {},
        }
    })
}

fn check(dir: Option<PathBuf>, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = Config::load(
        file.as_deref(),
        Overrides {
            contracts: dir,
            ..Overrides::default()
        },
    )?;
    match Registry::load(&config.contracts, &config.load_options()) {
        Ok(registry) => {
            let count = registry.contracts().count();
            let versions: usize = registry.contracts().map(|c| c.versions().len()).sum();
            println!(
                "{}: {count} contracts, {versions} versions, all valid",
                config.contracts.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                println!("error: {problem}");
            }
            println!(
                "{} problem(s) in {}",
                problems.len(),
                config.contracts.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Reads the versions, checks them and prints the report.
fn compat(args: CompatArgs) -> ExitCode {
    let run = || -> Result<compat::Report, contractgate::contract::Error> {
        // History runs oldest first; OLDER… precede OLD, the latest.
        let mut history = Vec::new();
        for path in args.older.iter().chain([&args.old]) {
            history.push(SchemaVersion::read(path)?);
        }
        let new = SchemaVersion::read(&args.new)?;
        compat::check_history(args.mode, args.policy, &history, &new)
    };
    match run() {
        Ok(report) => {
            let rendered = match args.format {
                Format::Text => compat::render_text(&report),
                Format::Json => compat::render_json(&report),
            };
            println!("{}", rendered.trim_end());
            if report.compatible {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}
