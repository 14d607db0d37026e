//! Decommission `rewrite-replication`: no keyspace may name the leaving datacenter any more. The
//! product's mechanism does it: the surviving region's datastore is re-applied with its
//! installer, and the operator's setup job rewrites every keyspace's replication to the
//! datacenters that exist. Only after every node of the leaving datacenter is gone (Cassandra
//! 4.1+ refuses to drop a datacenter from `system_auth` while it has nodes). Then checked from a
//! surviving node (`describecluster` on 4.0+; on 3.11 each keyspace's ring), within
//! `timeouts.replication`.

use std::time::Instant;

use async_trait::async_trait;

use crate::decommission::keyspaces_naming;
use crate::nodetool::KeyspaceEvidence;
use crate::ports::Operation;

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::check_replication::keyspace_evidence;
use super::wait_removed::leaving_in_ring;
use super::{Planned, Step, StepId, ready_admin};

pub(crate) struct RewriteReplication;

const STEP: StepId = StepId::RewriteReplication;

/// Keyspaces that still name the leaving datacenter, and whether that was read from rings (3.11).
async fn still_named(ctx: &Ctx<'_>) -> Result<(Vec<String>, bool), StepError> {
    let admin = ready_admin(ctx.plan, ctx.deps, Region::Source).await?;
    let evidence = keyspace_evidence(&*admin).await?;
    let from_rings = evidence.values().any(|e| matches!(e, KeyspaceEvidence::Ring(_)));
    Ok((keyspaces_naming(&evidence, ctx.plan.target.datacenter.as_str()), from_rings))
}

#[async_trait]
impl Step for RewriteReplication {
    fn id(&self) -> StepId {
        STEP
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        if !leaving_in_ring(ctx).await?.is_empty() {
            return Ok(None);
        }
        let (named, from_rings) = still_named(ctx).await?;
        // A ring (3.11) shows no replica in a datacenter without nodes, whatever the replication
        // map says: there, only the re-apply itself counts.
        let reapplied = ctx.journal(|j| j.replication_reapplied);
        Ok((named.is_empty() && (!from_rings || reapplied))
            .then(|| format!("no keyspace names `{}`", ctx.plan.target.datacenter)))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let d = ctx.decommission(STEP)?;
        let plan = ctx.plan;
        let overrides = plan.resolve(&plan.source.overrides);
        Ok(Some(Planned {
            description: format!(
                "re-apply the datastore of `{}` so the operator's setup job drops `{}` from every keyspace's replication",
                plan.source.context, plan.target.datacenter
            ),
            commands: d.surviving_installer.describe(Operation::ApplyDatastore, &overrides),
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let d = ctx.decommission(STEP)?;
        let plan = ctx.plan;
        let nodes = leaving_in_ring(ctx).await?;
        if !nodes.is_empty() {
            return Err(StepError::NodesRemain { datacenter: plan.target.datacenter.to_string(), nodes });
        }
        ctx.ensure_locked()?;
        ctx.emit(Event::Note {
            step: STEP,
            message: format!(
                "re-applying the datastore of `{}` ({})",
                plan.source.context,
                d.surviving_installer.name()
            ),
        });
        d.surviving_installer.apply_datastore(&plan.resolve(&plan.source.overrides)).await?;
        // Recorded once the re-apply succeeded (it is idempotent: a crash before this line only
        // re-applies again); on 3.11 it is the step's only evidence.
        ctx.record(|j| j.replication_reapplied = true)?;
        let started = Instant::now();
        loop {
            let (named, _) = still_named(ctx).await?;
            if named.is_empty() {
                return Ok(());
            }
            if started.elapsed() >= plan.timeouts.replication.0 {
                return Err(StepError::ReplicationNamesDatacenter {
                    keyspaces: named,
                    leaving_dc: plan.target.datacenter.to_string(),
                    surviving_dc: plan.source.datacenter.to_string(),
                    namespace: plan.source.namespace.clone(),
                });
            }
            ctx.emit(Event::Note {
                step: STEP,
                message: format!(
                    "waiting for the setup job: {} still name `{}`",
                    named.join(", "),
                    plan.target.datacenter
                ),
            });
            tokio::time::sleep(plan.timeouts.poll.0).await;
        }
    }
}
