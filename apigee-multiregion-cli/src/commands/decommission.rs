//! `apigee-multiregion decommission --plan PLAN`: remove a region (the reverse of `expand`), with
//! the same journal, lock, events, dry run and Ctrl-C handling.

use apigee_multiregion_core::adapters::connect_decommission;
use apigee_multiregion_core::expansion::decommission::{self, DecommissionOptions, DecommissionPlan};
use apigee_multiregion_core::expansion::{Cancel, RunOptions};
use clap::Args as ClapArgs;

use crate::error::CliError;
use crate::render::View;

use super::expand::Common;

/// Remove a region: preflight, uninstall, the operator's removal, removenode for what is left,
/// replication rewritten, verified from the surviving region.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  apigee-multiregion decommission --plan retire-east.yaml --dry-run\n  apigee-multiregion decommission --plan retire-east.yaml           # resumes a stopped run\n  apigee-multiregion decommission --plan retire-east.yaml --lost-region   # the region is gone"
)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// The leaving region is gone or unreachable: skip the uninstall and the wait for the
    /// operator; remove its nodes from the surviving region (they must be down).
    #[arg(long)]
    pub lost_region: bool,
    /// Complete a removal that fails or does not finish with `nodetool assassinate` (its data is
    /// NOT streamed: run `nodetool repair -full` on every surviving node afterwards).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: &Args, quiet: bool) -> Result<(), CliError> {
    let c = &args.common;
    if c.force_ca {
        return Err(CliError::Input("--force-ca belongs to expand; a decommission copies no CA".into()));
    }
    let plan = DecommissionPlan::from_file(&c.plan).map_err(|e| CliError::Input(e.to_string()))?;
    let (handle, cancel) = Cancel::new();
    let options = RunOptions {
        dry_run: c.dry_run,
        restart: c.restart,
        journal: c.journal.clone(),
        lock_wait: c.wait_for_lock,
        cancel: Some(cancel),
        ..Default::default()
    };
    let choices = DecommissionOptions { lost_region: args.lost_region, force: args.force };
    let renderer = View::choose(c.output, quiet);
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let (deps, surviving) = connect_decommission(&plan).await?;
        super::cancel_on_ctrl_c(handle);
        let report = decommission::run(&plan, &deps, surviving, &options, choices, &renderer).await?;
        renderer.report(&report);
        Ok(())
    })
}
