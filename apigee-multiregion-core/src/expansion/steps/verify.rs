//! `verify`: both sides see the same ring, all UN, the new datacenter complete, its load
//! plausible, and every new node's full rebuild proven ([`crate::verify::verify`]). Read-only:
//! it runs in every run, and as `apigee-multiregion verify` on its own.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::verify::{VerifyFacts, verify};

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::{Deps, Region};
use super::target_nodes::{evidence, target_nodes};
use super::{Planned, Step, StepId, nodetool_shown, planned_target_pods, ready_admin};
use crate::expansion::plan::ExpansionPlan;

pub(crate) struct Verify;

/// Gathers what verification judges: both rings, each node's own Load, and each target node's
/// rebuild evidence (journal record for its host ID, else its log).
pub(crate) async fn verify_facts(ctx: &Ctx<'_>) -> Result<VerifyFacts, StepError> {
    let (plan, deps): (&ExpansionPlan, &Deps) = (ctx.plan, ctx.deps);
    let source = async { ready_admin(plan, deps, Region::Source).await?.status().await.map_err(StepError::from) };
    let target = async { ready_admin(plan, deps, Region::Target).await?.status().await.map_err(StepError::from) };
    let (from_source, from_target, nodes) = tokio::try_join!(source, target, target_nodes(ctx))?;
    let mut own_loads = BTreeMap::new();
    for (region, cluster, spec) in
        [(Region::Source, &deps.source, &plan.source), (Region::Target, &deps.target, &plan.target)]
    {
        let pods = cluster.list_cassandra_pods(&spec.namespace, &spec.selector).await?;
        let reads = pods
            .iter()
            .filter(|p| p.ready)
            .filter_map(|p| Some((p.cassandra_address()?.to_string(), deps.admins.admin(region, &p.name))))
            .map(|(address, admin)| async move {
                // A node's own Load is current; others' come from gossip, up to a minute old.
                let view = admin.status().await.ok()?;
                Some((address.clone(), view.find_address(&address)?.1.load_bytes?))
            });
        own_loads.extend(futures::future::join_all(reads).await.into_iter().flatten());
    }
    let pods = deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    Ok(VerifyFacts {
        source_dc: plan.source.datacenter.to_string(),
        target_dc: plan.target.datacenter.to_string(),
        from_source,
        from_target,
        target_addresses: pods.iter().filter_map(|p| p.cassandra_address()).map(|a| a.to_string()).collect(),
        rebuilds: evidence(ctx, &nodes).await?,
        min_load_fraction: plan.verify.min_load_fraction,
        own_loads,
    })
}

#[async_trait]
impl Step for Verify {
    fn id(&self) -> StepId {
        StepId::Verify
    }

    async fn is_done(&self, _ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(None)
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let (plan, s, t) = (ctx.plan, &ctx.plan.source, &ctx.plan.target);
        let pods = planned_target_pods(plan)?;
        Ok(Some(Planned {
            description: "verify from both sides: all UN, same ring, target load, a full rebuild proven on every new node (journal record for its host ID, or its log)".into(),
            commands: vec![nodetool_shown(plan, &s.context, "<a source pod>", "status"), nodetool_shown(plan, &t.context, &pods[0], "status")],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let report = verify(&verify_facts(ctx).await?);
        let failures = report.failures();
        if let Ok(mut v) = ctx.verify.lock() {
            *v = Some(report);
        }
        if failures.is_empty() { Ok(()) } else { Err(StepError::Verification { failures }) }
    }
}
