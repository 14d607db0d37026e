//! Decommission `preflight`: read-only, from the surviving region. First asks both clusters (only
//! the surviving one with `--lost-region`) about every permission the tool's own calls need
//! (`crate::permissions::needed_for_decommission`) and refuses on a missing one before anything
//! else is read. Then refuses (every finding listed) when the leaving datacenter is the last one or
//! is not there, when a keyspace (or `system_auth`) keeps no replica outside it, when a surviving
//! node is not UN or the survivors disagree on the schema, when the surviving overrides name one of
//! its nodes as seed host, or (`--lost-region`) when one of its nodes is still up. Always warns
//! that traffic must be moved first. The judgement is `crate::decommission::judge_preflight`.

use async_trait::async_trait;

use crate::decommission::{DecommissionFacts, judge_preflight};
use crate::overrides::{Finding, Severity};
use crate::permissions::{self, DECOMMISSION_CLUSTERS, DecomScope};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::decommission::Decommissioning;
use super::super::error::StepError;
use super::super::events::Event;
use super::super::journal::StepState;
use super::check_replication::keyspace_evidence;
use super::preflight::{ask, refuse};
use super::{Planned, Step, StepId, ready_admin};

pub(crate) struct DecomPreflight;

#[async_trait]
impl Step for DecomPreflight {
    fn id(&self) -> StepId {
        StepId::Preflight
    }

    async fn is_done(&self, _ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(None)
    }

    async fn describe(&self, _ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        Ok(None)
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let d = ctx.decommission(StepId::Preflight)?;
        let plan = ctx.plan;
        for note in &ctx.deps.notes {
            ctx.emit(Event::Note { step: StepId::Preflight, message: note.clone() });
        }
        // Permissions first: without them the reads below would stop at the first 403.
        let permission_findings = permissions(ctx, d).await;
        if permission_findings.iter().any(|f| f.severity == Severity::Error) {
            return refuse(ctx, permission_findings);
        }
        let surviving_path = plan.resolve(&plan.source.overrides);
        let doc = crate::overrides::load_file(&surviving_path)?;
        let view = doc.view().map_err(|e| StepError::overrides(surviving_path.clone(), e))?;
        let seed_line = doc.location(&["cassandra", "multiRegionSeedHost"]).map(|(l, _)| l);
        let mut facts = DecommissionFacts {
            leaving_dc: plan.target.datacenter.to_string(),
            surviving_dc: plan.source.datacenter.to_string(),
            lost_region: d.lost_region,
            surviving_seed: view.cassandra.multi_region_seed_host.clone().map(|s| (s, seed_line)),
            ..Default::default()
        };
        ctx.journal(|j| {
            facts.started = !j.removals.is_empty()
                || StepId::DECOMMISSION.iter().any(|s| !s.is_read_only() && j.step(*s) != StepState::Pending);
            facts.leaving_addresses.extend(j.removals.values().map(|r| r.address.clone()));
        });
        match ready_admin(plan, ctx.deps, Region::Source).await {
            Ok(admin) => match admin.status().await {
                Ok(ring) => {
                    if let Some(dc) = ring.datacenter(&facts.leaving_dc) {
                        facts.leaving_addresses.extend(dc.nodes.iter().map(|n| n.address.clone()));
                    }
                    facts.ring = Some(ring);
                    facts.cluster = Some(admin.describecluster().await?);
                    facts.keyspaces = keyspace_evidence(&*admin).await?;
                }
                Err(e) => facts.ring_error = Some(e.to_string()),
            },
            Err(e) => facts.ring_error = Some(e.to_string()),
        }
        let mut findings = judge_preflight(&facts);
        findings.extend(permission_findings);
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        refuse(ctx, findings)
    }
}

/// Asks the surviving cluster (and, unless the region is lost, the leaving one) about every
/// permission the decommission needs. Nothing is changed.
async fn permissions(ctx: &Ctx<'_>, d: &Decommissioning) -> Vec<Finding> {
    let plan = ctx.plan;
    // Where decommission::run takes the lock: in the surviving cluster.
    let (lease_namespace, lease_name) = d.plan.lock_location();
    let scope = DecomScope {
        surviving_namespace: plan.source.namespace.clone(),
        leaving_namespace: plan.target.namespace.clone(),
        lease_namespace,
        lease_name,
        lost_region: d.lost_region,
    };
    let needed = permissions::needed_for_decommission(&scope);
    let answers = ask(ctx, &needed).await;
    let contexts = (ctx.deps.source.context(), ctx.deps.target.context());
    permissions::judge(&needed, &answers, contexts, DECOMMISSION_CLUSTERS, &plan.target.namespace, true)
}
