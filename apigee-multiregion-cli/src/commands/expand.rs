//! `apigee-multiregion expand|preflight|rebuild|verify|finalize --plan PLAN`: run (or resume)
//! the expansion, or the part of it up to one step.

use std::path::PathBuf;

use apigee_multiregion_core::expansion::{self, ExpansionError, ExpansionPlan, RunOptions};
use clap::Args as ClapArgs;

use crate::error::CliError;
use crate::output::Format;
use crate::render::Renderer;

/// Run or resume an expansion from a plan file.
#[derive(Debug, ClapArgs)]
#[command(after_help = "Examples:\n  apigee-multiregion expand --plan plan.yaml --dry-run\n  apigee-multiregion expand --plan plan.yaml            # resumes where a previous run stopped\n  apigee-multiregion expand --plan plan.yaml -o json    # one JSON object per event")]
pub struct Args {
    /// The plan file (see docs/cli.md, "Plan file").
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Check and show every action with its equivalent command; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Continue from the journal (the default; accepted for clarity).
    #[arg(long, conflicts_with = "restart")]
    pub resume: bool,
    /// Discard the journal (kept as .prev) and start over.
    #[arg(long)]
    pub restart: bool,
    /// Replace a different CA secret in the target (dangerous: see docs/concepts.md).
    #[arg(long)]
    pub force_ca: bool,
    /// Journal file (default: .apigee-multiregion/<plan name>.journal.json next to the plan).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Wait this long for another run's lock to be released or to expire (e.g. `90s`).
    #[arg(long, value_name = "DURATION", value_parser = parse_wait, default_value = "0s")]
    pub wait_for_lock: std::time::Duration,
    /// Stop after this step.
    #[arg(long, value_name = "STEP", value_parser = clap::builder::PossibleValuesParser::new(expansion::STEPS))]
    pub until: Option<String>,
    /// Output: text (default on a terminal) or json (default otherwise).
    #[arg(short = 'o', long = "output", value_enum)]
    pub output: Option<Format>,
}

pub fn run(args: &Args, quiet: bool) -> Result<(), CliError> {
    let plan = ExpansionPlan::from_file(&args.plan).map_err(|e| CliError::Input(e.to_string()))?;
    let options = RunOptions {
        dry_run: args.dry_run,
        restart: args.restart,
        force_ca: args.force_ca,
        journal: args.journal.clone(),
        until: args.until.clone(),
        lock_wait: args.wait_for_lock,
    };
    let renderer = Renderer::new(args.output, quiet);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().map_err(|e| CliError::Failed(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let deps = expansion::connect(&plan).await.map_err(|e| CliError::Input(e.to_string()))?;
        let result = tokio::select! {
            r = expansion::run(&plan, &deps, &options, &renderer) => r,
            _ = tokio::signal::ctrl_c() => {
                let _ = expansion::release_lock(&*deps.target, &plan).await;
                return Err(CliError::Failed(
                    "interrupted. Every finished action is in the journal; run the same command again to continue (a rebuild that was running goes on in Cassandra and is picked up).".into(),
                ));
            }
        };
        match result {
            Ok(report) => {
                renderer.report(&report);
                Ok(())
            }
            Err(e @ ExpansionError::Refused { .. }) => Err(CliError::Refused(e.to_string())),
            Err(e @ (ExpansionError::Plan(_) | ExpansionError::Journal(_))) => Err(CliError::Input(e.to_string())),
            Err(e) => Err(CliError::Failed(e.to_string())),
        }
    })
}

fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    expansion::parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration such as 90s or 5m"))
}
