//! `apigee-multiregion preflight --plan P` and `verify --plan P`: read-only checks.

use std::path::PathBuf;

use apigee_multiregion_core::adapters::connect;
use apigee_multiregion_core::expansion::{self, ExpansionPlan, RunOptions, StepId};
use apigee_multiregion_core::overrides::Severity;
use clap::Args as ClapArgs;

use crate::error::CliError;
use crate::output::{Format, print_json, print_stdout};
use crate::render::View;

use super::runtime;

/// Read-only: check both clusters and both overrides files; exit 3 on any error.
#[derive(Debug, ClapArgs)]
#[command(after_help = "Example:\n  apigee-multiregion preflight --plan plan.yaml")]
pub struct PreflightArgs {
    /// The plan file.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Output: text (for people) or json (for scripts: one JSON object per event, then the report).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

/// Read-only: verify a finished (or resumed) expansion from both sides; exit 1 on a failed check.
#[derive(Debug, ClapArgs)]
#[command(after_help = "Example:\n  apigee-multiregion verify --plan plan.yaml -o json")]
pub struct VerifyArgs {
    /// The plan file.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Journal file (default: next to the plan).
    #[arg(long, value_name = "FILE")]
    pub journal: Option<PathBuf>,
    /// Output: text (for people) or json (for scripts).
    #[arg(short = 'o', long = "output", value_enum, default_value_t)]
    pub output: Format,
}

fn load(plan: &std::path::Path) -> Result<ExpansionPlan, CliError> {
    ExpansionPlan::from_file(plan).map_err(|e| CliError::Input(e.to_string()))
}

pub fn preflight(args: &PreflightArgs, quiet: bool) -> Result<(), CliError> {
    let plan = load(&args.plan)?;
    let options = RunOptions { dry_run: true, only: Some(vec![StepId::Preflight]), ..Default::default() };
    let renderer = View::choose(args.output, quiet);
    runtime()?.block_on(async {
        let deps = connect(&plan).await?;
        let report = expansion::run(&plan, &deps, &options, &renderer).await?;
        renderer.finish();
        let warnings = report.findings.iter().filter(|f| f.severity == Severity::Warning).count();
        if args.output == Format::Text && !quiet {
            print_stdout(&format!("preflight passed ({warnings} warning(s)): nothing prevents the expansion\n"))?;
        } else if args.output == Format::Json {
            renderer.report(&report);
        }
        Ok(())
    })
}

pub fn verify(args: &VerifyArgs, quiet: bool) -> Result<(), CliError> {
    let plan = load(&args.plan)?;
    runtime()?.block_on(async {
        let deps = connect(&plan).await?;
        let report = expansion::verify_only(&plan, &deps, args.journal.clone()).await?;
        if args.output == Format::Json {
            print_json(&report)?;
        } else if !quiet {
            let mut out = String::new();
            for c in &report.checks {
                out.push_str(&format!("{} {}: {}\n", if c.passed { "ok  " } else { "FAIL" }, c.name, c.detail));
            }
            print_stdout(&out)?;
        }
        if report.passed() {
            Ok(())
        } else {
            Err(CliError::Failed(format!("verification failed: {}", report.failures().join("; "))))
        }
    })
}
