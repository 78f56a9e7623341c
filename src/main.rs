//! The `contractgate` command line: parses flags and dispatches; the work
//! happens in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use contractgate::contract::compat::{self, Mode, Policy, SchemaVersion};

/// A declarative data-contract gateway.
#[derive(Parser)]
#[command(name = "contractgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    match Cli::parse().command {
        Command::Compat(args) => compat(args),
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
