//! `verify`: both sides (and every other region the plan names a context for) see the same
//! ring, all UN, the new datacenter complete, its load plausible, and every new node's full
//! rebuild proven ([`crate::verify::verify`]). Read-only: it runs in every run, and as
//! `apigee-multiregion verify` on its own.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::model::CassandraPod;
use crate::nodetool::StatusReport;
use crate::verify::{VerifyFacts, verify};

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::{Deps, Region};
use super::target_nodes::{evidence, target_nodes_from};
use super::{Planned, Step, StepId, no_ready_pod, nodetool_shown, planned_target_pods, ready_other_admin};
use crate::expansion::plan::ExpansionPlan;

pub(crate) struct Verify;

/// Gathers what verification judges, in one round of reads: `nodetool status` on every ready
/// Cassandra pod of both sides at once (and on one pod of each other region the plan names a
/// context for). The first answer of each side is that side's view of the ring, and each node's
/// own answer gives its current Load. Then each target node's rebuild evidence (the journal's
/// record for its host ID, else its log).
pub(crate) async fn verify_facts(ctx: &Ctx<'_>) -> Result<VerifyFacts, StepError> {
    let (plan, deps): (&ExpansionPlan, &Deps) = (ctx.plan, ctx.deps);
    let others = futures::future::try_join_all(deps.others.iter().map(|o| async move {
        let view = ready_other_admin(o).await?.status().await.map_err(StepError::from)?;
        Ok::<_, StepError>((o.datacenter.clone(), view))
    }));
    let ((source_pods, source_views, from_source), (target_pods, target_views, from_target), from_others) =
        tokio::try_join!(side_views(ctx, Region::Source), side_views(ctx, Region::Target), others)?;
    // A node's own Load is current; others' come from gossip, up to a minute old.
    let mut own_loads = BTreeMap::new();
    for (pods, views) in [(&source_pods, &source_views), (&target_pods, &target_views)] {
        for (pod, view) in pods.iter().zip(views) {
            let (Some(address), Some(view)) = (pod.cassandra_address().map(|a| a.to_string()), view) else { continue };
            if let Some(load) = view.find_address(&address).and_then(|(_, n)| n.load_bytes) {
                own_loads.insert(address, load);
            }
        }
    }
    let all_target_pods = deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let nodes = target_nodes_from(&all_target_pods, Some(&from_target));
    Ok(VerifyFacts {
        source_dc: plan.source.datacenter.to_string(),
        target_dc: plan.target.datacenter.to_string(),
        from_source,
        from_target,
        from_others,
        target_addresses: all_target_pods.iter().filter_map(|p| p.cassandra_address()).map(|a| a.to_string()).collect(),
        rebuilds: evidence(ctx, &nodes).await?,
        min_load_fraction: plan.verify.min_load_fraction,
        own_loads,
    })
}

/// A side's ready Cassandra pods, each one's `nodetool status` read at once, and the side's view
/// of the ring: the first answer that came back (when none did, the first error).
async fn side_views(
    ctx: &Ctx<'_>,
    region: Region,
) -> Result<(Vec<CassandraPod>, Vec<Option<StatusReport>>, StatusReport), StepError> {
    let (cluster, spec) = match region {
        Region::Source => (&ctx.deps.source, &ctx.plan.source),
        Region::Target => (&ctx.deps.target, &ctx.plan.target),
    };
    let pods: Vec<CassandraPod> =
        cluster.list_cassandra_pods(&spec.namespace, &spec.selector).await?.into_iter().filter(|p| p.ready).collect();
    let reads = pods.iter().map(|p| async move { ctx.deps.admins.admin(region, &p.name).status().await });
    let mut first_error = None;
    let mut views = Vec::with_capacity(pods.len());
    for r in futures::future::join_all(reads).await {
        match r {
            Ok(v) => views.push(Some(v)),
            Err(e) => {
                first_error.get_or_insert(e);
                views.push(None);
            }
        }
    }
    let view = match (views.iter().flatten().next(), first_error) {
        (Some(v), _) => v.clone(),
        (None, Some(e)) => return Err(e.into()),
        (None, None) => return Err(no_ready_pod(&**cluster, &spec.namespace, &spec.selector)),
    };
    Ok((pods, views, view))
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
            description: format!(
                "verify from {}: all UN, same ring, target load, a full rebuild proven on every new node (journal record for its host ID, or its log)",
                if plan.others.iter().any(|o| o.context.is_some()) {
                    "every side the plan names a context for"
                } else {
                    "both sides"
                }
            ),
            commands: [
                nodetool_shown(plan, &s.context, "<a source pod>", "status"),
                nodetool_shown(plan, &t.context, &pods[0], "status"),
            ]
            .into_iter()
            .chain(plan.others.iter().filter_map(|o| {
                o.context.as_ref().map(|c| nodetool_shown(plan, c, &format!("<a {} pod>", o.datacenter), "status"))
            }))
            .collect(),
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
