//! `rebuild`: `nodetool rebuild -- <source dc>` on EVERY node of the new datacenter, at most
//! `concurrency` at a time, with progress from `netstats` (or, with `replication: cr`, the
//! `CassandraDataReplication` resource: [`super::rebuild_cr`]).
//!
//! What counts as done survives restarts: when a node's rebuild completes, the journal records
//! the node's host ID with it ([`crate::verify::rebuild_evidence`]). A later run trusts that
//! record while the node keeps that host ID; a wiped or replaced node (new host ID) is rebuilt
//! again. Only a rebuild of all keyspaces and all tokens counts.
//!
//! While a rebuild runs:
//! - "Node is still rebuilding" means running (a rebuild survives the client that started it);
//! - a cut exec stream (a load balancer idling out an hours-long `kubectl exec`) is not a
//!   failure: the rebuild is followed through `netstats` until the node is idle, then judged;
//! - a node whose JMX is unreachable (the pod restarting) is waited for, then rebuilt again;
//! - a failure is retried after an exponential, capped backoff (a rebuild resumes where it
//!   stopped); "a source replica is down" is one such failure. A bad source datacenter or bad
//!   JMX credentials are not retried.
//!
//! Every source node is flushed first: streaming sends SSTables, not memtables.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use crate::ports::{AdminError, CassandraAdmin, ClusterError};
use crate::verify::RebuildEvidence;

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::{Event, NodeState};
use super::super::journal::StepState;
use super::super::plan::{Concurrency, Replication};
use super::target_nodes::{TargetNode, evidence, mark_done, read_log, target_nodes};
use super::{Planned, Step, StepId, expected_target_replicas, nodetool_shown, planned_target_pods};

pub(crate) struct Rebuild;

#[async_trait]
impl Step for Rebuild {
    fn id(&self) -> StepId {
        StepId::Rebuild
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let want = expected_target_replicas(ctx.plan)?;
        let nodes = target_nodes(ctx).await?;
        *ctx.rebuild_nodes.lock().unwrap_or_else(|p| p.into_inner()) = Some(nodes.clone());
        if nodes.len() < want {
            return Ok(None);
        }
        let ev = evidence(ctx, &nodes).await?;
        let recorded = ev.values().filter(|e| matches!(e, RebuildEvidence::Recorded { .. })).count();
        Ok(ev.values().all(RebuildEvidence::proves_done).then(|| {
            format!("every target node completed a full rebuild ({recorded} recorded for their current host ID, {} in their log)", ev.len() - recorded)
        }))
    }

    async fn describe_all(&self, ctx: &Ctx<'_>) -> Result<Vec<Planned>, StepError> {
        let (set, restore) = super::throttle::describe(ctx)?;
        Ok(set.into_iter().chain(self.describe(ctx).await?).chain(restore).collect())
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let (plan, s, t) = (ctx.plan, &ctx.plan.source, &ctx.plan.target);
        let pods = planned_target_pods(plan)?;
        Ok(Some(match plan.replication() {
            Replication::Cr(cr) => super::rebuild_cr::describe(plan, cr),
            Replication::Nodetool => Planned {
                description: format!(
                    "flush every {} node, then rebuild every {} node from {} ({} at a time), progress from netstats",
                    s.datacenter,
                    t.datacenter,
                    s.datacenter,
                    match plan.rebuild.concurrency {
                        Concurrency::All => "all".to_owned(),
                        Concurrency::Limit(n) => n.to_string(),
                    }
                ),
                commands: std::iter::once(nodetool_shown(plan, &s.context, "<each source pod>", "flush"))
                    .chain(
                        pods.iter()
                            .map(|p| nodetool_shown(plan, &t.context, p, &format!("rebuild -- {}", s.datacenter))),
                    )
                    .collect(),
            },
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let want = expected_target_replicas(plan)?;
        let seen = ctx.rebuild_nodes.lock().unwrap_or_else(|p| p.into_inner()).take();
        let nodes = match seen {
            Some(nodes) => nodes,
            None => target_nodes(ctx).await?,
        };
        if nodes.len() < want {
            return Err(StepError::InstallIncomplete { found: nodes.len(), want });
        }
        // A node whose record is for another host ID was replaced: its old record means nothing.
        ctx.record(|j| {
            for n in &nodes {
                let r = j.rebuild.entry(n.pod.clone()).or_default();
                if r.state == StepState::Done && r.host_id.is_some() && n.host_id.is_some() && r.host_id != n.host_id {
                    *r = Default::default();
                }
            }
        })?;
        flush_source(ctx).await?;
        // The throttle, when the plan sets one, is journaled then set; whatever the rebuild's
        // outcome, every journaled throttle is set back before the step ends (on Ctrl-C, the
        // run sets it back: `expansion::run`).
        let result = match &plan.rebuild.throughput {
            Some(spec) => {
                let pods: Vec<String> = nodes.iter().map(|n| n.pod.clone()).collect();
                match super::throttle::apply(ctx, spec, &super::throttle::nodes(ctx, &pods).await?).await {
                    Ok(()) => rebuild_all(ctx, &nodes).await,
                    Err(e) => Err(e),
                }
            }
            None => rebuild_all(ctx, &nodes).await,
        };
        super::throttle::combine(result, super::throttle::restore(ctx).await)
    }
}

/// Every target node's rebuild: by nodetool, or by the operator (`replication: cr`).
async fn rebuild_all(ctx: &Ctx<'_>, nodes: &[TargetNode]) -> Result<(), StepError> {
    let plan = ctx.plan;
    if let Replication::Cr(cr) = plan.replication() {
        return super::rebuild_cr::run(ctx, cr, nodes).await;
    }
    let limit = plan.rebuild.concurrency.limit().min(nodes.len().max(1));
    let results: Vec<Result<(), StepError>> = futures::stream::iter(nodes.iter().cloned())
        .map(|n| async move { rebuild_node(ctx, &n).await })
        .buffer_unordered(limit)
        .collect()
        .await;
    let mut failures = Vec::new();
    for e in results.into_iter().filter_map(Result::err) {
        match e {
            // A lost lock stops the run as itself, not as a node's failure.
            StepError::Lock(lost) => return Err(StepError::Lock(lost)),
            other => failures.push(other.to_string()),
        }
    }
    if failures.is_empty() { Ok(()) } else { Err(StepError::RebuildFailed { failures }) }
}

/// Flushes every Ready source node: streaming sends SSTables only, so writes still in memtables
/// would not reach the new datacenter (measured on the sandbox: 2 MB of 2.1 MB stayed behind).
/// A node that cannot be flushed stops the step, naming it: it is never skipped silently.
async fn flush_source(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let pods = ctx.deps.source.list_cassandra_pods(&plan.source.namespace, &plan.source.selector).await?;
    let flushes = pods
        .iter()
        .filter(|p| p.ready)
        .map(|p| async move { ctx.deps.admins.admin(Region::Source, &p.name).flush().await });
    for r in futures::future::join_all(flushes).await {
        r?;
    }
    Ok(())
}

/// The pause before retry `attempt` (1-based): `base`, doubled each time, at most `cap`.
pub(crate) fn backoff(base: Duration, cap: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16)).min(cap)
}

/// How one `nodetool rebuild` call ended, as the engine treats it.
enum Ended {
    /// nodetool returned success: the rebuild's streams have ended; judge from the log.
    Returned,
    /// nodetool said a rebuild is already running, or the stream was cut (then why): follow the
    /// node until idle, then judge from its log.
    Follow(Option<String>),
    /// Retry after a backoff.
    Retry(String),
    /// JMX is unreachable (the pod restarting): wait for it, then retry.
    Unreachable(String),
    /// Retrying cannot help.
    Fatal(AdminError),
}

fn classify(r: Result<(), AdminError>) -> Ended {
    match r {
        Ok(()) => Ended::Returned,
        Err(AdminError::RebuildAlreadyRunning { .. }) => Ended::Follow(None),
        // The exec itself broke (a load balancer cut the stream, the API server restarted): the
        // rebuild goes on in Cassandra.
        Err(e @ AdminError::Cluster(ClusterError::Forbidden { .. })) => Ended::Fatal(e),
        Err(AdminError::Cluster(e)) => Ended::Follow(Some(e.to_string())),
        Err(e @ (AdminError::JmxAuthentication { .. } | AdminError::InvalidSourceDatacenter { .. })) => Ended::Fatal(e),
        Err(e @ AdminError::JmxUnreachable { .. }) => Ended::Unreachable(e.to_string()),
        Err(e) => Ended::Retry(e.to_string()),
    }
}

async fn rebuild_node(ctx: &Ctx<'_>, node: &TargetNode) -> Result<(), StepError> {
    let pod = node.pod.as_str();
    let source_dc = ctx.plan.source.datacenter.as_str();
    let admin = ctx.deps.admins.admin(Region::Target, pod);
    let spec = &ctx.plan.rebuild;
    if evidence(ctx, std::slice::from_ref(node)).await?.get(pod).is_some_and(RebuildEvidence::proves_done) {
        let already = ctx
            .journal(|j| j.rebuild.get(pod).is_some_and(|r| r.state == StepState::Done && r.host_id == node.host_id));
        if !already {
            mark_done(ctx, node, None)?;
        }
        return Ok(());
    }
    let record = ctx.journal(|j| j.rebuild.get(pod).cloned().unwrap_or_default());
    if record.attempts > 0 {
        // We started a rebuild here before (the run crashed or was stopped while it ran): it
        // may still be running, or have completed since. Ask the node first.
        wait_idle(ctx, &*admin, pod).await?;
        if let Some(o) = full_outcome(&*admin, source_dc).await?
            && o.completed
            && o.failure.is_none()
        {
            return mark_done(ctx, node, o.plan_id);
        }
    }
    // Never started by us: no need to ask first (one exec, a JVM start, less per node). A rebuild
    // someone else started is answered "still rebuilding", and then followed like ours.
    let mut attempts = record.attempts;
    let mut failed_attempts = 0u32;
    loop {
        attempts += 1;
        ctx.record(|j| {
            let r = j.rebuild.entry(pod.into()).or_default();
            r.state = StepState::Running;
            r.attempts = attempts;
        })?;
        ctx.emit(Event::RebuildNode {
            pod: pod.into(),
            state: if attempts > 1 { NodeState::Retrying } else { NodeState::Started },
            attempt: attempts,
            message: None,
        });
        ctx.ensure_locked()?;
        let failure = match classify(run_with_progress(ctx, admin.clone(), pod, source_dc).await) {
            // `nodetool rebuild` returns once the rebuild's streams have ended: the log decides
            // at once, and only a log that does not show the end yet is followed through netstats.
            Ended::Returned => match full_outcome(&*admin, source_dc).await? {
                Some(o) if o.completed && o.failure.is_none() => return mark_done(ctx, node, o.plan_id),
                _ => match when_idle(ctx, &*admin, node, source_dc, true).await? {
                    None => return Ok(()),
                    Some(why) => why,
                },
            },
            Ended::Follow(cut) => {
                if let Some(why) = cut {
                    ctx.emit(Event::Note {
                        step: StepId::Rebuild,
                        message: format!(
                            "{pod}: the `nodetool rebuild` exec broke ({why}); the rebuild goes on in Cassandra: following it through netstats"
                        ),
                    });
                }
                match when_idle(ctx, &*admin, node, source_dc, false).await? {
                    None => return Ok(()),
                    Some(why) => why,
                }
            }
            Ended::Fatal(e) => {
                let msg = e.to_string();
                fail(ctx, pod, attempts, &msg)?;
                return Err(StepError::RebuildFailed { failures: vec![msg] });
            }
            Ended::Unreachable(why) => {
                // The pod is restarting: wait for JMX to answer again (bounded), then rebuild.
                ctx.emit(Event::RebuildNode {
                    pod: pod.into(),
                    state: NodeState::Waiting,
                    attempt: attempts,
                    message: Some(why.clone()),
                });
                wait_idle(ctx, &*admin, pod).await?;
                why
            }
            Ended::Retry(why) => why,
        };
        failed_attempts += 1;
        ctx.record(|j| j.rebuild.entry(pod.into()).or_default().last_error = Some(failure.clone()))?;
        if failed_attempts > spec.retries {
            let msg = format!("{pod}: rebuild failed after {attempts} attempt(s): {failure}");
            fail(ctx, pod, attempts, &msg)?;
            return Err(StepError::RebuildFailed { failures: vec![msg] });
        }
        let pause = backoff(spec.retry_backoff.0, spec.retry_backoff_max.0, failed_attempts);
        ctx.emit(Event::RebuildNode {
            pod: pod.into(),
            state: NodeState::FailedAttempt,
            attempt: attempts,
            message: Some(format!("{failure}; retrying in {}s", pause.as_secs_f64())),
        });
        tokio::time::sleep(pause).await;
    }
}

/// Follows the node until it runs no rebuild, then judges its last full rebuild from its log:
/// `None` once recorded done, else why it does not count (`returned`: `nodetool rebuild` had
/// returned success, which the message says).
async fn when_idle(
    ctx: &Ctx<'_>,
    admin: &dyn CassandraAdmin,
    node: &TargetNode,
    source_dc: &str,
    returned: bool,
) -> Result<Option<String>, StepError> {
    wait_idle(ctx, admin, &node.pod).await?;
    let said = if returned { "`nodetool rebuild` returned, but " } else { "" };
    Ok(match full_outcome(admin, source_dc).await? {
        Some(o) if o.completed && o.failure.is_none() => {
            mark_done(ctx, node, o.plan_id)?;
            None
        }
        Some(o) => Some(o.failure.unwrap_or_else(|| {
            let ended = if returned { said } else { "the rebuild ended, but " };
            format!("{ended}the log does not show `All sessions completed` for a full rebuild")
        })),
        None => Some(format!(
            "{said}the node's log shows no full `rebuild from dc` (all keyspaces, all tokens); it may have restarted"
        )),
    })
}

/// The outcome of the last full rebuild from the source in the node's current log.
async fn full_outcome(
    admin: &dyn CassandraAdmin,
    source_dc: &str,
) -> Result<Option<crate::nodetool::RebuildOutcome>, StepError> {
    let events = read_log(admin).await?;
    Ok(crate::verify::full_rebuild_outcome(&events, source_dc))
}

/// Waits while the node runs a Rebuild stream plan, reporting progress. A node that cannot be
/// asked (JMX unreachable while the pod restarts, a transient exec error) is asked again until
/// the rebuild timeout.
async fn wait_idle(ctx: &Ctx<'_>, admin: &dyn CassandraAdmin, pod: &str) -> Result<(), StepError> {
    let started = Instant::now();
    let timeout = ctx.plan.rebuild.timeout.0;
    let interval = ctx.plan.rebuild.progress_interval.0;
    let mut unreachable_since: Option<Instant> = None;
    loop {
        match admin.netstats().await {
            Ok(n) => {
                if unreachable_since.take().is_some() {
                    ctx.emit(Event::RebuildNode {
                        pod: pod.into(),
                        state: NodeState::Running,
                        attempt: 0,
                        message: Some("the node answers again".into()),
                    });
                }
                if n.rebuild_plans().next().is_none() {
                    return Ok(());
                }
                let (received, total) = n.rebuild_progress();
                ctx.progress(pod, received, total);
            }
            Err(e @ (AdminError::JmxAuthentication { .. } | AdminError::Parse { .. })) => return Err(e.into()),
            // Waiting cannot cure a refused permission.
            Err(AdminError::Cluster(e @ ClusterError::Forbidden { .. })) => return Err(StepError::Cluster(e)),
            Err(e) => {
                if unreachable_since.is_none() {
                    unreachable_since = Some(Instant::now());
                    ctx.emit(Event::RebuildNode {
                        pod: pod.into(),
                        state: NodeState::Waiting,
                        attempt: 0,
                        message: Some(format!("cannot read netstats, waiting: {e}")),
                    });
                }
            }
        }
        if started.elapsed() >= timeout {
            return Err(StepError::RebuildTimeout { pod: pod.into(), seconds: timeout.as_secs() });
        }
        tokio::time::sleep(interval).await;
    }
}

fn fail(ctx: &Ctx<'_>, pod: &str, attempts: u32, msg: &str) -> Result<(), StepError> {
    ctx.record(|j| {
        let r = j.rebuild.entry(pod.into()).or_default();
        r.state = StepState::Failed;
        r.last_error = Some(msg.into());
    })?;
    ctx.emit(Event::RebuildNode {
        pod: pod.into(),
        state: NodeState::Failed,
        attempt: attempts,
        message: Some(msg.into()),
    });
    Ok(())
}

/// Runs `nodetool rebuild` and reads netstats while it runs (a failed read is skipped: the
/// rebuild itself decides).
async fn run_with_progress(
    ctx: &Ctx<'_>,
    admin: Arc<dyn CassandraAdmin>,
    pod: &str,
    source_dc: &str,
) -> Result<(), AdminError> {
    // A cut exec stream may never return (a load balancer that drops the flow sends nothing; the
    // client waits for a status that will not come). So the end of the rebuild is also watched
    // in the node itself: once netstats shows no Rebuild plan and the log shows a full rebuild
    // started after this call began and ended, the exec is given up on.
    let before = read_log(&*admin).await.ok().map(|events| full_rebuild_starts(&events, source_dc));
    let rebuild = admin.rebuild(source_dc);
    // The progress reads run beside the rebuild, not in turn with it: when `nodetool rebuild`
    // returns, the run goes on at once, dropping a netstats read still under way (each read is a
    // JVM start in the pod, seconds that would otherwise be added to every node).
    let interval = ctx.plan.rebuild.progress_interval.0;
    let progress = async {
        loop {
            tokio::time::sleep(interval).await;
            let Ok(n) = admin.netstats().await else { continue };
            let (received, total) = n.rebuild_progress();
            if total > 0 {
                let _ = ctx.record(|j| j.rebuild.entry(pod.into()).or_default().bytes_received = received);
                ctx.progress(pod, received, total);
            }
            if n.rebuild_plans().next().is_none()
                && let Some(before) = before
                && let Ok(events) = read_log(&*admin).await
                && ended_since(&events, source_dc, before)
            {
                return Err(AdminError::Cluster(ClusterError::Exec {
                    context: ctx.plan.target.context.clone(),
                    pod: pod.into(),
                    message: "the `nodetool rebuild` exec has not returned, but the rebuild it started has ended in the node (its log says so): the exec stream was cut".into(),
                }));
            }
        }
    };
    tokio::select! {
        r = rebuild => r,
        r = progress => r,
    }
}

/// How many full rebuilds from `source_dc` the log shows.
fn full_rebuild_starts(events: &[crate::nodetool::LogEvent], source_dc: &str) -> usize {
    events.iter().filter(|e| e.is_full_rebuild_start(source_dc)).count()
}

/// Whether a full rebuild from `source_dc` started after the first `before` ones, and the last
/// one has ended (completed or failed).
fn ended_since(events: &[crate::nodetool::LogEvent], source_dc: &str, before: usize) -> bool {
    full_rebuild_starts(events, source_dc) > before
        && crate::verify::full_rebuild_outcome(events, source_dc).is_some_and(|o| o.completed || o.failure.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = Duration::from_secs;
        assert_eq!([1, 2, 3, 4, 5, 30].map(|a| backoff(s(5), s(60), a)), [s(5), s(10), s(20), s(40), s(60), s(60)]);
        assert_eq!(backoff(s(5), s(60), u32::MAX), s(60), "no overflow");
    }
}
