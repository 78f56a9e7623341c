//! The `contractgate` command line: parses arguments and dispatches.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use contractgate::config::{Config, Log, Overrides};
use contractgate::contract::compat::{self, Mode, Policy, SchemaVersion};
use contractgate::contract::git::export_folder;
use contractgate::contract::LoadOptions;
use contractgate::contract::{Contract, Registry, Status, Version};
use contractgate::events::Background;
#[cfg(unix)]
use contractgate::gateway::reload_on_hangup;
use contractgate::gateway::watch;
use contractgate::gateway::Gateway;
use contractgate::http::Problem;
use contractgate::http::Server;
use contractgate::telemetry;
use contractgate::write;
use serde_json::Value;

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
        /// Serve without `auth:` on an address other machines can reach.
        #[arg(long)]
        insecure: bool,
    },
    /// Read an API key on stdin; print the hash to put in `auth.api_keys`.
    HashKey,
    /// Load and compile every contract; exit 1 listing each problem.
    Check {
        /// The contracts folder (default: the config's, else ./contracts).
        dir: Option<PathBuf>,
        /// The gateway config, whose systems owners must name.
        #[arg(long, env = "CONTRACTGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Problems as lines for people (`text`) or as GitHub workflow
        /// annotations (`github`).
        #[arg(long, value_enum, default_value_t = CheckFormat::Text)]
        format: CheckFormat,
    },
    /// Compare schema versions: exit 0 compatible, 1 incompatible, 2 error.
    Compat(CompatArgs),
    /// Check payloads offline as a write would (one JSON verdict per
    /// payload): exit 0 all valid, 1 otherwise, 2 on an error.
    Validate {
        /// The contract.
        contract: String,
        /// The version the payloads are written in: `2` or `v2`.
        version: String,
        /// A JSON file, or NDJSON with one payload per line.
        file: PathBuf,
        /// The contracts folder (default: the config's, else ./contracts).
        #[arg(long, env = "CONTRACTGATE_CONTRACTS")]
        contracts: Option<PathBuf>,
    },
    /// Compare the contracts with those at a Git ref (the pull-request
    /// gate): exit 0 fine, 1 a published version edited in place or
    /// removed, or a new one incompatible under its mode, 2 error.
    Diff {
        /// The Git ref of the published contracts (`origin/main`).
        #[arg(long)]
        base: String,
        /// The contracts folder (default: the config's, else ./contracts).
        dir: Option<PathBuf>,
        /// The gateway config, whose systems owners must name.
        #[arg(long, env = "CONTRACTGATE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print the OpenAPI 3.1 document `GET /openapi.json` serves for the
    /// contracts; exit 1 listing each problem of a broken folder.
    Openapi {
        /// The contracts folder (default: the config's, else ./contracts).
        #[arg(long, env = "CONTRACTGATE_CONTRACTS")]
        contracts: Option<PathBuf>,
        /// The gateway config, whose systems owners must name.
        #[arg(long, env = "CONTRACTGATE_CONFIG")]
        config: Option<PathBuf>,
    },
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

#[derive(Clone, Copy, ValueEnum)]
enum CheckFormat {
    Text,
    Github,
}

// glibc's malloc took a seventh of a single write's CPU under load (its
// locks, consolidation and frees across threads); mimalloc a fraction.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            insecure,
        } => serve(
            config,
            Overrides {
                listen,
                contracts,
                data,
            },
            insecure,
        ),
        Command::HashKey => hash_key(),
        Command::Check {
            dir,
            config,
            format,
        } => check(dir, config, format),
        Command::Compat(args) => Ok(compat(args)),
        Command::Diff { base, dir, config } => diff(&base, dir, config),
        Command::Validate {
            contract,
            version,
            file,
            contracts,
        } => validate(&contract, &version, &file, contracts),
        Command::Openapi { contracts, config } => openapi(contracts, config),
    });
    result.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        ExitCode::from(2)
    })
}

fn serve(file: Option<PathBuf>, overrides: Overrides, insecure: bool) -> anyhow::Result<ExitCode> {
    let config = Config::load(file.as_deref(), overrides)?;
    config.check_exposure(insecure)?;
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
        // The relay and the retention sweep run as long as the server does.
        let background = Background::start(&gateway).await?;
        let deadline = Duration::from_millis(gateway.config().shutdown.deadline_ms);
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
        let server = Server::new(gateway)?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!(
            "contractgate listening on {}://{}",
            server.scheme(),
            listener.local_addr()?
        );
        server.serve(listener, shutdown).await?;
        // Requests are answered; what they committed goes out before exit.
        let flushed = background.flush(deadline).await;
        tracing::info!(flushed, "contractgate stopped");
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

/// Hashes the key read on stdin (one line; its line break is not part of
/// it), so a config never holds a key nor a hand-rolled hash.
fn hash_key() -> anyhow::Result<ExitCode> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text)?;
    let key = text.strip_suffix('\n').unwrap_or(&text);
    let key = key.strip_suffix('\r').unwrap_or(key);
    if key.is_empty() {
        anyhow::bail!(
            "no key on stdin: pipe the key in, e.g. `printf %s \"$KEY\" | contractgate hash-key`"
        );
    }
    println!("{}", contractgate::http::auth::hash_key(key)?);
    Ok(ExitCode::SUCCESS)
}

/// Prints the OpenAPI document the gateway would serve for the folder.
fn openapi(dir: Option<PathBuf>, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = contracts_config(dir, file)?;
    match Registry::load(&config.contracts, &config.load_options()) {
        Ok(registry) => {
            let document = contractgate::http::openapi::document(&registry);
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            for problem in &problems {
                println!("error: {problem}");
            }
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The config of a command that reads contracts: `DIR` beats the file's.
fn contracts_config(dir: Option<PathBuf>, file: Option<PathBuf>) -> anyhow::Result<Config> {
    Config::load(
        file.as_deref(),
        Overrides {
            contracts: dir,
            ..Overrides::default()
        },
    )
}

fn check(
    dir: Option<PathBuf>,
    file: Option<PathBuf>,
    format: CheckFormat,
) -> anyhow::Result<ExitCode> {
    let config = contracts_config(dir, file)?;
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
                match format {
                    CheckFormat::Text => println!("error: {problem}"),
                    CheckFormat::Github => println!("{}", annotation(problem)),
                }
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

/// Prints the dry run's verdict on each payload of `file`, the same JSON
/// the `validate` route answers with.
fn validate(
    name: &str,
    version: &str,
    file: &std::path::Path,
    contracts: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let config = Config::load(
        None,
        Overrides {
            contracts,
            ..Overrides::default()
        },
    )?;
    let registry =
        Registry::load(&config.contracts, &config.load_options()).map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!("the contracts have problems:\n  {}", lines.join("\n  "))
        })?;
    let contract = registry
        .get(name)
        .ok_or_else(|| write::Error::UnknownContract(name.to_owned()))?;
    let version = writable_version(contract, version)?;
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let mut all_valid = true;
    for payload in payloads(&text) {
        let verdict = match payload {
            Ok(body @ Value::Object(_)) => write::dry_run(contract, version, body)
                .map(|run| serde_json::to_string(&run))
                .map_err(Problem::from),
            Ok(_) => Err(Problem::malformed("the payload must be a JSON object")),
            Err(problem) => Err(Problem::malformed(problem)),
        };
        all_valid &= verdict.is_ok();
        let line = match verdict {
            Ok(run) => run?,
            Err(problem) => serde_json::to_string(&problem)?,
        };
        println!("{line}");
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `2` or `v2`, a version of `contract` that is not retired.
fn writable_version(contract: &Contract, text: &str) -> Result<Version, write::Error> {
    let digits = text.strip_prefix('v').unwrap_or(text);
    let version = Version::parse_segment(&format!("v{digits}"))
        .filter(|v| contract.version(*v).is_some())
        .ok_or_else(|| write::Error::UnknownVersion {
            contract: contract.name.to_string(),
            version: text.to_owned(),
        })?;
    match contract.version(version).map(|v| v.status) {
        Some(Status::Retired) => Err(write::Error::Retired {
            contract: contract.name.to_string(),
            version,
            successor: contract.successor(),
        }),
        _ => Ok(version),
    }
}

/// The file as one JSON document, or else as NDJSON: one payload per
/// non-empty line, each line that is not JSON a problem naming it.
fn payloads(text: &str) -> Vec<Result<Value, String>> {
    if let Ok(one) = serde_json::from_str(text) {
        return vec![Ok(one)];
    }
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| {
            serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", index + 1))
        })
        .collect()
}

/// Loads the contracts, then those at `base` from Git's objects, and
/// prints what the change adds and what it breaks.
fn diff(base: &str, dir: Option<PathBuf>, file: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = contracts_config(dir, file)?;
    let head = match Registry::load(&config.contracts, &config.load_options()) {
        Ok(head) => head,
        Err(problems) => {
            for problem in &problems {
                println!("error: {problem}");
            }
            println!(
                "refused: the contracts in {} do not pass `contractgate check`",
                config.contracts.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    let exported = tempfile::tempdir()?;
    export_folder(&config.contracts, base, exported.path())?;
    let published =
        Registry::load(exported.path(), &LoadOptions::default()).map_err(|problems| {
            let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "the contracts at {base} do not load, so there is nothing to compare with:\n  {}",
                lines.join("\n  ")
            )
        })?;
    let verdict = contractgate::contract::diff::compare(&published, &head);
    for added in &verdict.added {
        println!("added: {added}");
    }
    for refused in &verdict.refused {
        println!("error: {refused}");
    }
    if verdict.refused.is_empty() {
        println!(
            "compatible with {base}: {} addition(s)",
            verdict.added.len()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "refused: {} problem(s) against {base}",
            verdict.refused.len()
        );
        Ok(ExitCode::FAILURE)
    }
}

/// A problem as a GitHub workflow command, `::error file=…,line=…::…`,
/// escaped as the runner expects; the file relative to the working
/// directory (the repository root in a workflow).
fn annotation(problem: &contractgate::contract::Error) -> String {
    let escape = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let path = std::env::current_dir()
        .ok()
        .and_then(|cwd| problem.path.strip_prefix(cwd).ok().map(PathBuf::from))
        .unwrap_or_else(|| problem.path.clone());
    let file = escape(&path.display().to_string())
        .replace(':', "%3A")
        .replace(',', "%2C");
    let line = problem
        .line
        .map(|line| format!(",line={line}"))
        .unwrap_or_default();
    format!("::error file={file}{line}::{}", escape(&problem.message))
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
