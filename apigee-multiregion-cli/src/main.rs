//! `apigee-multiregion`: the reference CLI over `apigee-multiregion-core`. Argument parsing,
//! rendering and exit codes only; everything about Apigee, Cassandra or Kubernetes is in core.

mod commands;
mod error;
mod live;
mod output;
mod render;

use std::process::ExitCode;

use apigee_multiregion_core::expansion::StepId;
use clap::{CommandFactory, Parser, Subcommand};

use crate::error::CliError;

/// Expand Apigee hybrid to a new region: safe, resumable, verifiable.
#[derive(Debug, Parser)]
#[command(name = "apigee-multiregion", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Only errors and the result itself: no progress, notes or summaries (docs/cli.md).
    #[arg(short, long, global = true)]
    quiet: bool,
    /// More diagnostics on stderr: -v info, -vv debug (RUST_LOG also works).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run or resume the expansion described by a plan file.
    Expand(commands::expand::Args),
    /// Only the rebuild step of a plan (same checks, journal and lock as expand).
    Rebuild(commands::expand::StepArgs),
    /// Only the finalize step: clear the seed host, re-apply, wait for the rolling restart.
    Finalize(commands::expand::StepArgs),
    /// Remove a region: uninstall it, clean the ring, rewrite replication, verify.
    Decommission(commands::decommission::Args),
    /// Read-only checks of both clusters and overrides files (exit 3 on errors).
    Preflight(commands::check::PreflightArgs),
    /// Read-only verification of an expansion from both sides.
    Verify(commands::check::VerifyArgs),
    /// Choose the seed host from the live ring of the existing region.
    Seeds(commands::seeds::Args),
    /// Edit or check overrides files.
    Overrides(commands::overrides::Args),
    /// Parse nodetool output (stdin) into JSON.
    Parse(commands::parse::Args),
    /// Print shell completions.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Expand(a) => commands::expand::run(&a, cli.quiet),
        Command::Rebuild(a) => commands::expand::run_step(&a, StepId::Rebuild, cli.quiet),
        Command::Finalize(a) => commands::expand::run_step(&a, StepId::Finalize, cli.quiet),
        Command::Decommission(a) => commands::decommission::run(&a, cli.quiet),
        Command::Overrides(a) => commands::overrides::run(&a, cli.quiet),
        Command::Seeds(a) => commands::seeds::run(&a, cli.quiet),
        Command::Preflight(a) => commands::check::preflight(&a, cli.quiet),
        Command::Verify(a) => commands::check::verify(&a, cli.quiet),
        Command::Parse(a) => commands::parse::run(&a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "apigee-multiregion", &mut std::io::stdout());
            Ok(())
        }
    }
}

/// Diagnostics (`tracing`) on stderr: `RUST_LOG` if set; else this program's own warnings only
/// (libraries such as kube log failures the tool already reports in its own words, so they are
/// off), raised by `-v` (info) and `-vv` (debug, and the libraries' warnings). Spans: a step, a
/// nodetool call, a kube exec; none records a secret.
fn init_tracing(verbose: u8) {
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::format::FmtSpan;
    let from_env = std::env::var("RUST_LOG").ok().filter(|v| !v.trim().is_empty());
    let default = if from_env.is_some() || verbose > 1 { LevelFilter::WARN } else { LevelFilter::OFF };
    let mut filter =
        EnvFilter::builder().with_default_directive(default.into()).parse_lossy(from_env.unwrap_or_default());
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    if verbose > 0 || std::env::var("RUST_LOG").map_or(true, |v| v.trim().is_empty()) {
        for krate in ["apigee_multiregion_core", "apigee_multiregion"] {
            if let Ok(d) = format!("{krate}={level}").parse() {
                filter = filter.add_directive(d);
            }
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| live::LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .with_span_events(FmtSpan::CLOSE)
        .with_target(verbose > 1)
        .try_init();
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
