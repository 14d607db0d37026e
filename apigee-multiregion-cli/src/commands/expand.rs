//! `apigee-multiregion expand|rebuild|finalize --plan PLAN`: run (or resume) the expansion, or
//! one step of the runbook with the same checks, journal and lock.

use std::path::PathBuf;

use apigee_multiregion_core::adapters::connect;
use apigee_multiregion_core::expansion::{self, Cancel, ExpansionPlan, RunOptions, StepId};
use clap::Args as ClapArgs;

use crate::error::CliError;
use crate::output::Format;
use crate::render::View;

/// Run or resume an expansion from a plan file.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  apigee-multiregion expand --plan plan.yaml --dry-run\n  apigee-multiregion expand --plan plan.yaml           # resumes a stopped run\n  apigee-multiregion expand --plan plan.yaml -o json   # one JSON object per event"
)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Stop after this step.
    #[arg(long, value_name = "STEP", value_enum)]
    pub until: Option<StepId>,
}

/// The options every plan-driven command shares.
#[derive(Debug, ClapArgs)]
pub struct Common {
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
    /// Wait this long for another run's lock to be released or to expire (e.g. `90s`). A Lease
    /// expires once this run has seen it go unrenewed for its duration (60 s): to take over a
    /// crashed run's, wait longer than that.
    #[arg(long, value_name = "DURATION", value_parser = parse_wait, default_value = "0s")]
    pub wait_for_lock: std::time::Duration,
    /// Output: text (for people: a live view on a terminal, plain lines otherwise) or json (for
    /// scripts: one JSON object per event, then the report).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Only the rebuild: every target node that needs it, with the same checks, journal and lock.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Example (the runbook done in stages):\n  apigee-multiregion expand --plan plan.yaml --until check-replication\n  apigee-multiregion rebuild --plan plan.yaml\n  apigee-multiregion finalize --plan plan.yaml"
)]
pub struct StepArgs {
    #[command(flatten)]
    pub common: Common,
}

pub fn run(args: &Args, quiet: bool) -> Result<(), CliError> {
    run_plan(&args.common, None, args.until, quiet)
}

/// `rebuild` or `finalize`: preflight (read-only) and that one step.
pub fn run_step(args: &StepArgs, step: StepId, quiet: bool) -> Result<(), CliError> {
    run_plan(&args.common, Some(vec![StepId::Preflight, step]), None, quiet)
}

fn run_plan(args: &Common, only: Option<Vec<StepId>>, until: Option<StepId>, quiet: bool) -> Result<(), CliError> {
    let plan = ExpansionPlan::from_file(&args.plan).map_err(|e| CliError::Input(e.to_string()))?;
    let (handle, cancel) = Cancel::new();
    let options = RunOptions {
        dry_run: args.dry_run,
        restart: args.restart,
        force_ca: args.force_ca,
        journal: args.journal.clone(),
        only,
        until,
        lock_wait: args.wait_for_lock,
        cancel: Some(cancel),
        lease: Default::default(),
    };
    let renderer = View::choose(args.output, quiet);
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let deps = connect(&plan).await?;
        super::cancel_on_ctrl_c(handle);
        let report = expansion::run(&plan, &deps, &options, &renderer).await?;
        renderer.report(&report);
        Ok(())
    })
}

fn parse_wait(s: &str) -> Result<std::time::Duration, String> {
    expansion::parse_duration(s).ok_or_else(|| format!("`{s}` is not a duration such as 90s or 5m"))
}
