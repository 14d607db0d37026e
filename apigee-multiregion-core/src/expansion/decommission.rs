//! Decommissioning a region: the reverse of an expansion, run by the same driver (lock, journal,
//! events, dry run, cancellation) over its own step list ([`StepId::DECOMMISSION`]).
//!
//! The steps see the plan as an expansion plan viewed from the surviving region: `source` is the
//! surviving region (it is asked, it holds the lock, its overrides give the JMX credentials) and
//! `target` is the leaving one (it is uninstalled). So connecting, nodetool, the journal and the
//! events are the expansion's own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ports::HybridInstaller;

use super::plan::{
    ExpansionPlan, InstallerSpec, JmxSpec, PlanError, RebuildSpec, RegionSpec, ReplicationMethod, Span, Timeouts,
    check_common, parse_plan, read_plan,
};
use super::{Deps, EventSink, ExpansionError, ExpansionReport, Operation, RunOptions, StepId, drive, steps};

/// How long a decommission waits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecommissionTimeouts {
    /// The uninstall (each installer command).
    #[serde(default = "thirty_minutes")]
    pub uninstall: Span,
    /// The operator's graceful removal: the datastore gone and its nodes out of the ring.
    #[serde(default = "thirty_minutes")]
    pub removal: Span,
    /// How long one `nodetool removenode` is followed.
    #[serde(default = "six_hours")]
    pub removenode: Span,
    /// The setup job rewriting the keyspaces' replication after the re-apply.
    #[serde(default = "ten_minutes")]
    pub replication: Span,
    /// Pause between checks.
    #[serde(default = "five_seconds")]
    pub poll: Span,
}

use super::plan::{t5s as five_seconds, t10m as ten_minutes, t30m as thirty_minutes};

fn six_hours() -> Span {
    Span(Duration::from_secs(6 * 3600))
}

impl Default for DecommissionTimeouts {
    fn default() -> Self {
        Self {
            uninstall: thirty_minutes(),
            removal: thirty_minutes(),
            removenode: six_hours(),
            replication: ten_minutes(),
            poll: five_seconds(),
        }
    }
}

/// A decommission plan: the region to remove and the surviving region that checks and cleans up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecommissionPlan {
    /// A name for messages and the journal file.
    #[serde(default = "default_name")]
    pub name: String,
    /// The region to remove.
    pub leaving: RegionSpec,
    /// The region that stays: read, and its datastore re-applied.
    pub surviving: RegionSpec,
    /// The installer (each region's context and overrides file).
    pub installer: InstallerSpec,
    /// JMX credentials (`from: overrides` reads the surviving overrides).
    #[serde(default = "default_jmx")]
    pub jmx: JmxSpec,
    /// The leaving region is gone or unreachable: no uninstall, no waiting for the operator.
    #[serde(default)]
    pub lost_region: bool,
    /// Timeouts.
    #[serde(default)]
    pub timeouts: DecommissionTimeouts,
    /// The folder paths are relative to (the plan file's folder). Not part of the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_name() -> String {
    "decommission".into()
}
fn default_jmx() -> JmxSpec {
    JmxSpec::Overrides
}

impl DecommissionPlan {
    /// Reads and validates a plan file.
    pub fn from_file(path: &Path) -> Result<Self, PlanError> {
        let (text, shown, base) = read_plan(path)?;
        Self::from_str_at(&text, &shown, base)
    }

    /// Parses plan text; `shown` names it in errors, `base_dir` anchors relative paths.
    pub fn from_str_at(text: &str, shown: &str, base_dir: PathBuf) -> Result<Self, PlanError> {
        let mut plan: Self = parse_plan(text, shown)?;
        plan.base_dir = base_dir;
        let value = |message: String| PlanError::Value { path: shown.into(), message };
        let t = &plan.timeouts;
        check_common(
            shown,
            &plan.name,
            &[
                ("timeouts.uninstall", t.uninstall.0),
                ("timeouts.removal", t.removal.0),
                ("timeouts.removenode", t.removenode.0),
                ("timeouts.replication", t.replication.0),
                ("timeouts.poll", t.poll.0),
            ],
            &[("timeouts.poll", t.poll.0)],
        )?;
        if plan.leaving.datacenter == plan.surviving.datacenter {
            return Err(value(format!(
                "leaving and surviving datacenter are both `{}`: the surviving region is another datacenter",
                plan.leaving.datacenter
            )));
        }
        if plan.leaving.context == plan.surviving.context && plan.leaving.kubeconfig == plan.surviving.kubeconfig {
            return Err(value(format!(
                "leaving and surviving use the same context `{}`: the surviving region is another cluster",
                plan.leaving.context
            )));
        }
        Ok(plan)
    }

    /// The plan as the engine's steps see it: `source` = surviving, `target` = leaving.
    pub fn view(&self) -> ExpansionPlan {
        ExpansionPlan {
            name: self.name.clone(),
            source: self.surviving.clone(),
            target: self.leaving.clone(),
            installer: self.installer.clone(),
            replication: ReplicationMethod::Nodetool,
            cr: None,
            jmx: self.jmx.clone(),
            // Long nodetool calls (`removenode` blocks until the removal ends) are bounded by the
            // removal's timeout, not the rebuild's 24 h.
            rebuild: RebuildSpec { timeout: self.timeouts.removenode, ..Default::default() },
            timeouts: Timeouts {
                install: self.timeouts.uninstall,
                replication: self.timeouts.replication,
                poll: self.timeouts.poll,
                ..Default::default()
            },
            network: Default::default(),
            verify: Default::default(),
            ca: Default::default(),
            limits: Default::default(),
            // A decommission has its own preflight and never probes.
            preflight: Default::default(),
            others: Vec::new(),
            base_dir: self.base_dir.clone(),
        }
    }

    /// The plan with the surviving region as the target: how its installer is built.
    pub fn surviving_view(&self) -> ExpansionPlan {
        let mut v = self.view();
        std::mem::swap(&mut v.source, &mut v.target);
        v
    }

    /// A hash of what changes the outcome: a journal from another plan is refused.
    pub fn hash(&self) -> String {
        let outcome = serde_json::json!({
            "operation": "decommission",
            "name": self.name,
            "leaving": self.leaving,
            "surviving": self.surviving,
            "installer": self.installer,
            "jmx": self.jmx,
        });
        super::plan::short_hash(&outcome)
    }

    /// Where the lock lives: a Lease in the SURVIVING cluster (the leaving one may be gone), the
    /// same name an expansion into that region takes, so the two exclude each other.
    pub fn lock_location(&self) -> (String, String) {
        super::lock::lease_for(&self.surviving.namespace)
    }
}

/// Run-time choices of a decommission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecommissionOptions {
    /// The leaving region is gone (also the plan's `lost_region`): skip the uninstall and the
    /// wait for the operator; remove its nodes from the surviving region.
    pub lost_region: bool,
    /// A removal that fails or does not finish is completed with `nodetool assassinate` (its data
    /// is not streamed: repair afterwards).
    pub force: bool,
}

/// What only a decommission's steps need.
pub(crate) struct Decommissioning {
    pub plan: DecommissionPlan,
    pub lost_region: bool,
    pub force: bool,
    /// The surviving region's installer (its datastore is re-applied).
    pub surviving_installer: Arc<dyn HybridInstaller>,
}

/// Runs (or resumes) a decommission. `deps` are built from [`DecommissionPlan::view`]
/// (`source` = surviving, `target` = leaving, `installer` = the leaving region's);
/// `surviving_installer` acts on the surviving region.
pub async fn run(
    plan: &DecommissionPlan,
    deps: &Deps,
    surviving_installer: Arc<dyn HybridInstaller>,
    options: &RunOptions,
    decommission: DecommissionOptions,
    events: &dyn EventSink,
) -> Result<ExpansionReport, ExpansionError> {
    let view = plan.view();
    let d = Decommissioning {
        plan: plan.clone(),
        lost_region: decommission.lost_region || plan.lost_region,
        force: decommission.force,
        surviving_installer,
    };
    let op = Operation {
        steps: &StepId::DECOMMISSION,
        registry: steps::decommission_step,
        hash: plan.hash(),
        lock: (deps.source.clone(), plan.lock_location()),
        decommission: Some(&d),
    };
    drive(&view, deps, options, events, op).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "\
name: retire-west
leaving: {context: west, overrides: west.yaml, datacenter: dc-2}
surviving: {context: east, overrides: east.yaml, datacenter: dc-1}
installer: {kind: apigeectl}
timeouts: {removenode: 2h}
";

    #[test]
    fn the_view_puts_the_surviving_region_first() {
        let p = DecommissionPlan::from_str_at(PLAN, "p.yaml", "/plans".into()).unwrap();
        let v = p.view();
        assert_eq!((v.source.context.as_str(), v.target.context.as_str()), ("east", "west"));
        assert_eq!(p.surviving_view().target.context, "east");
        assert_eq!(p.timeouts.removenode.0, Duration::from_secs(7200));
        assert_eq!(p.lock_location().1, "apigee-multiregion-apigee");
        assert_ne!(p.hash(), DecommissionPlan { name: "other".into(), ..p.clone() }.hash());
    }

    #[test]
    fn refuses_one_datacenter_on_both_sides_and_unknown_keys() {
        let e = DecommissionPlan::from_str_at(&PLAN.replace("dc-2", "dc-1"), "p.yaml", "".into()).unwrap_err();
        assert!(e.to_string().contains("both `dc-1`"), "{e}");
        let e = DecommissionPlan::from_str_at(&PLAN.replace("removenode:", "remove_node:"), "p.yaml", "".into())
            .unwrap_err();
        assert!(e.to_string().starts_with("p.yaml:5:"), "{e}");
    }
}
