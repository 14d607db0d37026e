//! `apigee-multiregion`: the reference CLI over `apigee-multiregion-core`. Argument parsing,
//! rendering and exit codes only; everything about Apigee, Cassandra or Kubernetes is in core.

mod commands;
mod error;
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
    /// Less output (errors only).
    #[arg(short, long, global = true)]
    quiet: bool,
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
        Command::Overrides(a) => commands::overrides::run(&a),
        Command::Seeds(a) => commands::seeds::run(&a),
        Command::Preflight(a) => commands::check::preflight(&a, cli.quiet),
        Command::Verify(a) => commands::check::verify(&a),
        Command::Parse(a) => commands::parse::run(&a),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "apigee-multiregion", &mut std::io::stdout());
            Ok(())
        }
    }
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
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
