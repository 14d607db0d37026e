//! The new datacenter's nodes as the rebuild sees them: each target pod with its current host ID
//! (from the target's ring), what proves or disproves its rebuild
//! ([`crate::verify::rebuild_evidence`]: the journal's record for that host ID, else the node's
//! current log), and the record written when a rebuild completes. Shared by both replication
//! methods and by `verify`.

use std::collections::BTreeMap;

use crate::model::CassandraPod;
use crate::nodetool::{LogEvent, StatusReport, scan_rebuild_log};
use crate::ports::CassandraAdmin;
use crate::verify::{RebuildEvidence, RecordedRebuild, rebuild_evidence};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::{Event, NodeState};
use super::super::journal::{RebuildRecord, StepState};
use super::ready_admin;

/// A target pod with its ring address and host ID (when the ring shows it).
#[derive(Debug, Clone)]
pub(crate) struct TargetNode {
    pub pod: String,
    pub host_id: Option<String>,
}

/// The target pods, with each one's current host ID from the target's ring.
pub(crate) async fn target_nodes(ctx: &Ctx<'_>) -> Result<Vec<TargetNode>, StepError> {
    let plan = ctx.plan;
    let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let ring: Option<StatusReport> = match ready_admin(plan, ctx.deps, Region::Target).await {
        Ok(a) => a.status().await.ok(),
        Err(_) => None,
    };
    Ok(target_nodes_from(&pods, ring.as_ref()))
}

/// The target pods with each one's host ID in `ring` (the target's view), when it shows it.
pub(crate) fn target_nodes_from(pods: &[CassandraPod], ring: Option<&StatusReport>) -> Vec<TargetNode> {
    pods.iter()
        .map(|p| TargetNode {
            pod: p.name.clone(),
            host_id: p
                .cassandra_address()
                .and_then(|a| ring?.find_address(&a.to_string()).map(|(_, n)| n.host_id.clone()))
                .filter(|h| !h.is_empty()),
        })
        .collect()
}

/// What proves (or disproves) each target node's rebuild: the journal's record for its host
/// ID, else its current log.
pub(crate) async fn evidence(
    ctx: &Ctx<'_>,
    nodes: &[TargetNode],
) -> Result<BTreeMap<String, RebuildEvidence>, StepError> {
    use futures::StreamExt;
    let source_dc = ctx.plan.source.datacenter.as_str();
    let records: Vec<Option<RebuildRecord>> = nodes
        .iter()
        .map(|n| ctx.journal(|j| j.rebuild.get(&n.pod).filter(|r| r.state == StepState::Done).cloned()))
        .collect();
    // The log is only read when the record does not settle it; those reads (`kubectl logs`,
    // 50,000 lines each) run side by side, as many at once as `limits.exec_per_cluster` allows.
    let reads: Vec<_> = nodes.iter().zip(&records).map(|(n, r)| log_unless_recorded(ctx, n, r.as_ref())).collect();
    let logs: Vec<Result<Vec<LogEvent>, StepError>> =
        futures::stream::iter(reads).buffered(ctx.plan.limits.exec_per_cluster.max(1)).collect().await;
    let mut out = BTreeMap::new();
    for ((n, record), log) in nodes.iter().zip(&records).zip(logs) {
        let recorded =
            record.as_ref().map(|r| RecordedRebuild { host_id: r.host_id.as_deref(), plan_id: r.plan_id.as_deref() });
        out.insert(n.pod.clone(), rebuild_evidence(recorded, n.host_id.as_deref(), &log?, source_dc));
    }
    Ok(out)
}

/// The node's rebuild log, unless the journal's record is for its current host ID (then the
/// record settles it and nothing is read).
async fn log_unless_recorded(
    ctx: &Ctx<'_>,
    node: &TargetNode,
    record: Option<&RebuildRecord>,
) -> Result<Vec<LogEvent>, StepError> {
    let trusted =
        matches!((record.and_then(|r| r.host_id.as_deref()), node.host_id.as_deref()), (Some(h), Some(c)) if h == c);
    if trusted { Ok(Vec::new()) } else { read_log(&*ctx.deps.admins.admin(Region::Target, &node.pod)).await }
}

pub(crate) async fn read_log(admin: &dyn CassandraAdmin) -> Result<Vec<LogEvent>, StepError> {
    Ok(scan_rebuild_log(&admin.log(Some(50_000)).await?))
}

/// Records a node's completed rebuild with its host ID (the durable proof) and reports it.
pub(crate) fn mark_done(ctx: &Ctx<'_>, node: &TargetNode, plan_id: Option<String>) -> Result<(), StepError> {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let attempts = ctx.journal(|j| j.rebuild.get(&node.pod).map_or(0, |r| r.attempts));
    ctx.record(|j| {
        let r = j.rebuild.entry(node.pod.clone()).or_default();
        r.state = StepState::Done;
        if plan_id.is_some() {
            r.plan_id = plan_id;
        }
        r.host_id.clone_from(&node.host_id);
        r.completed_at = Some(now);
        r.last_error = None;
    })?;
    ctx.emit(Event::RebuildNode {
        pod: node.pod.clone(),
        state: NodeState::Done,
        attempt: attempts,
        message: node.host_id.as_ref().map(|h| format!("host ID {h}")),
    });
    Ok(())
}
