//! The rebuild step: `nodetool rebuild -- <source dc>` on EVERY node of the new datacenter, at
//! most `concurrency` at a time, with progress from `netstats`.
//!
//! A node is done only when nodetool returned success AND its log shows `All sessions
//! completed` for the Rebuild plan it started AND netstats shows no Rebuild plan left. "Node is
//! still rebuilding" means running (a rebuild survives the client that started it): wait for it.
//! A failure is retried (a rebuild resumes where it stopped) up to `retries`; never counted done.
//! Every source node is flushed first: streaming sends SSTables, not memtables.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::nodetool::{RebuildOutcome, last_rebuild_outcome, scan_rebuild_log};
use crate::ports::{AdminError, CassandraAdmin};

use super::journal::StepState;
use super::{Ctx, Event, Region, StepError};

pub(crate) async fn rebuild_all(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let want = super::steps::expected_target_replicas(plan)?;
    let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    if pods.len() < want {
        return Err(StepError::Message(format!("only {} of {want} target pods exist; the install is not complete", pods.len())));
    }
    let names: Vec<String> = pods.iter().map(|p| p.name.clone()).collect();
    ctx.record(|j| {
        for n in &names {
            j.rebuild.entry(n.clone()).or_default();
        }
    })?;
    flush_source(ctx).await?;
    if plan.replication == super::plan::ReplicationMethod::Cr {
        return rebuild_with_cr(ctx, &names).await;
    }
    let limit = plan.rebuild.concurrency.limit().min(names.len().max(1));
    let results: Vec<Result<(), StepError>> = futures::stream::iter(names.iter().cloned())
        .map(|pod| async move { rebuild_node(ctx, &pod).await })
        .buffer_unordered(limit)
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).map(|e| e.to_string()).collect();
    if failures.is_empty() { Ok(()) } else { Err(StepError::Message(failures.join("; "))) }
}

/// Flushes every Ready source node: streaming sends SSTables only, so writes still in memtables
/// would not reach the new datacenter (measured on the sandbox: 2 MB of 2.1 MB stayed behind).
async fn flush_source(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let pods = ctx.deps.source.list_cassandra_pods(&plan.source.namespace, &plan.source.selector).await?;
    for p in pods.iter().filter(|p| p.ready) {
        ctx.deps.admins.admin(Region::Source, &p.name).flush().await?;
    }
    Ok(())
}

async fn outcome(admin: &dyn CassandraAdmin, source_dc: &str) -> Result<Option<RebuildOutcome>, StepError> {
    let log = admin.log(Some(50_000)).await?;
    Ok(last_rebuild_outcome(&scan_rebuild_log(&log), source_dc))
}

/// Waits while the node runs a Rebuild stream plan, reporting progress.
async fn wait_idle(ctx: &Ctx<'_>, admin: &dyn CassandraAdmin, pod: &str) -> Result<(), StepError> {
    let deadline = Instant::now() + ctx.plan.rebuild.timeout.0;
    loop {
        let n = admin.netstats().await?;
        if n.rebuild_plans().next().is_none() {
            return Ok(());
        }
        let (received, total) = n.rebuild_progress();
        ctx.emit(Event::RebuildProgress { pod: pod.into(), received, total });
        if Instant::now() >= deadline {
            return Err(StepError::Message(format!("{pod}: the rebuild still runs after {}s", ctx.plan.rebuild.timeout.0.as_secs())));
        }
        tokio::time::sleep(ctx.plan.rebuild.progress_interval.0).await;
    }
}

async fn rebuild_node(ctx: &Ctx<'_>, pod: &str) -> Result<(), StepError> {
    let source_dc = ctx.plan.source.datacenter.as_str();
    let admin = ctx.deps.admins.admin(Region::Target, pod);
    let record = ctx.journal(|j| j.rebuild.get(pod).cloned().unwrap_or_default());
    if record.state == StepState::Done {
        // Done in the journal and in the node's own log; a node that was replaced since (a
        // wiped and reinstalled region) has no such log and is rebuilt again.
        if let Some(o) = outcome(&*admin, source_dc).await?
            && o.completed
            && o.failure.is_none()
        {
            return Ok(());
        }
    }
    // Ask the world first: a rebuild may be running (we crashed) or already finished.
    wait_idle(ctx, &*admin, pod).await?;
    if record.attempts > 0
        && let Some(o) = outcome(&*admin, source_dc).await?
        && o.completed
        && o.failure.is_none()
    {
        return mark_done(ctx, pod, o.plan_id, record.attempts);
    }
    let mut attempts = record.attempts;
    let max = ctx.plan.rebuild.retries + 1 + record.attempts;
    loop {
        attempts += 1;
        ctx.record(|j| {
            let r = j.rebuild.entry(pod.into()).or_default();
            r.state = StepState::Running;
            r.attempts = attempts;
        })?;
        ctx.emit(Event::RebuildNode { pod: pod.into(), state: if attempts > 1 { "retrying" } else { "started" }.into(), attempt: attempts, message: None });
        let result = run_with_progress(ctx, admin.clone(), pod, source_dc).await;
        let failure = match result {
            Ok(()) | Err(AdminError::RebuildAlreadyRunning { .. }) => {
                wait_idle(ctx, &*admin, pod).await?;
                match outcome(&*admin, source_dc).await? {
                    Some(o) if o.completed && o.failure.is_none() => return mark_done(ctx, pod, o.plan_id, attempts),
                    Some(o) => o.failure.unwrap_or_else(|| "nodetool returned, but the log does not show `All sessions completed` for the rebuild".into()),
                    None => "the log shows no `rebuild from dc` line".into(),
                }
            }
            // Not transient: retrying cannot help.
            Err(e @ (AdminError::JmxAuthentication { .. } | AdminError::InvalidSourceDatacenter { .. })) => {
                let msg = e.to_string();
                fail(ctx, pod, attempts, &msg)?;
                return Err(StepError::Message(msg));
            }
            Err(e) => e.to_string(),
        };
        ctx.record(|j| j.rebuild.entry(pod.into()).or_default().last_error = Some(failure.clone()))?;
        if attempts >= max {
            let msg = format!("{pod}: rebuild failed after {attempts} attempt(s): {failure}");
            fail(ctx, pod, attempts, &msg)?;
            return Err(StepError::Message(msg));
        }
        ctx.emit(Event::RebuildNode { pod: pod.into(), state: "failed-attempt".into(), attempt: attempts, message: Some(failure) });
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn mark_done(ctx: &Ctx<'_>, pod: &str, plan_id: Option<String>, attempts: u32) -> Result<(), StepError> {
    ctx.record(|j| {
        let r = j.rebuild.entry(pod.into()).or_default();
        r.state = StepState::Done;
        r.plan_id = plan_id;
        r.attempts = attempts;
        r.last_error = None;
    })?;
    ctx.emit(Event::RebuildNode { pod: pod.into(), state: "done".into(), attempt: attempts, message: None });
    Ok(())
}

fn fail(ctx: &Ctx<'_>, pod: &str, attempts: u32, msg: &str) -> Result<(), StepError> {
    ctx.record(|j| {
        let r = j.rebuild.entry(pod.into()).or_default();
        r.state = StepState::Failed;
        r.last_error = Some(msg.into());
    })?;
    ctx.emit(Event::RebuildNode { pod: pod.into(), state: "failed".into(), attempt: attempts, message: Some(msg.into()) });
    Ok(())
}

/// Runs `nodetool rebuild` and reads netstats while it runs.
async fn run_with_progress(ctx: &Ctx<'_>, admin: Arc<dyn CassandraAdmin>, pod: &str, source_dc: &str) -> Result<(), AdminError> {
    let rebuild = admin.rebuild(source_dc);
    tokio::pin!(rebuild);
    let interval = ctx.plan.rebuild.progress_interval.0;
    loop {
        tokio::select! {
            r = &mut rebuild => return r,
            () = tokio::time::sleep(interval) => {
                if let Ok(n) = admin.netstats().await {
                    let (received, total) = n.rebuild_progress();
                    if total > 0 {
                        let _ = ctx.record(|j| j.rebuild.entry(pod.into()).or_default().bytes_received = received);
                        ctx.emit(Event::RebuildProgress { pod: pod.into(), received, total });
                    }
                }
            }
        }
    }
}

/// `replication: cr`: applies the CassandraDataReplication resource and follows
/// `ApigeeDatastore.status.cassandraDataReplication` until EVERY target pod's `rebuildDetails`
/// entry is `complete` (not only the top-level state, and not only pod 0), then checks each
/// pod's log for the completed rebuild. `error` entries are retried by re-applying with
/// `force: true` (a new generation), up to `retries`.
pub(crate) async fn rebuild_with_cr(ctx: &Ctx<'_>, pods: &[String]) -> Result<(), StepError> {
    use crate::ports::{APIGEE_DATASTORE, CASSANDRA_DATA_REPLICATION};
    let plan = ctx.plan;
    let cr = plan.cr.as_ref().ok_or_else(|| StepError::Message("replication: cr without a `cr:` section".into()))?;
    let ns = &plan.target.namespace;
    let source_dc = plan.source.datacenter.as_str();
    let body = |force: bool| {
        serde_json::json!({
            "apiVersion": format!("{}/{}", CASSANDRA_DATA_REPLICATION.group, CASSANDRA_DATA_REPLICATION.version),
            "kind": CASSANDRA_DATA_REPLICATION.kind,
            "metadata": {"name": cr.name, "namespace": ns},
            "spec": {"organizationRef": cr.organization, "force": force, "source": {"region": source_dc}},
        })
    };
    let status = || async {
        let ds = ctx.deps.target.get_custom(&APIGEE_DATASTORE, ns, &cr.datastore).await?;
        Ok::<_, StepError>(ds.map(|d| d["status"]["cassandraDataReplication"].clone()).unwrap_or(serde_json::Value::Null))
    };
    let complete = |st: &serde_json::Value| st["state"] == "complete" && pods.iter().all(|p| st["rebuildDetails"][p]["state"] == "complete");
    let mut attempts = ctx.journal(|j| pods.iter().filter_map(|p| j.rebuild.get(p)).map(|r| r.attempts).max().unwrap_or(0));
    let max = attempts + plan.rebuild.retries + 1;
    // Already complete (a resumed run): nothing to apply.
    let mut current = status().await?;
    let mut running = current["state"] == "running";
    loop {
        if complete(&current) {
            break;
        }
        if !running {
            if attempts >= max {
                let failed: Vec<String> = pods.iter().filter(|p| current["rebuildDetails"][p.as_str()]["state"] != "complete").map(|p| format!("{p}: {}", current["rebuildDetails"][p.as_str()]["message"].as_str().unwrap_or("not complete"))).collect();
                return Err(StepError::Message(format!("CassandraDataReplication {} did not complete after {attempts} attempt(s): {}", cr.name, failed.join("; "))));
            }
            attempts += 1;
            ctx.deps.target.apply_custom(&CASSANDRA_DATA_REPLICATION, ns, &body(attempts > 1)).await?;
            ctx.record(|j| {
                for p in pods {
                    let r = j.rebuild.entry(p.clone()).or_default();
                    r.state = StepState::Running;
                    r.attempts = attempts;
                }
            })?;
            for p in pods {
                ctx.emit(Event::RebuildNode { pod: p.clone(), state: if attempts > 1 { "retrying" } else { "started" }.into(), attempt: attempts, message: Some(format!("CassandraDataReplication {}", cr.name)) });
            }
            running = true;
            // The operator may not have picked it up yet: a stale `error`/`complete` from an
            // earlier generation must not be read as this attempt's result.
            tokio::time::sleep(plan.rebuild.progress_interval.0.max(Duration::from_secs(1)) * 2).await;
        }
        tokio::time::sleep(plan.rebuild.progress_interval.0).await;
        current = status().await?;
        if current["state"] == "error" {
            running = false;
            let msg = pods.iter().filter(|p| current["rebuildDetails"][p.as_str()]["state"] == "error").map(|p| format!("{p}: {}", current["rebuildDetails"][p.as_str()]["message"].as_str().unwrap_or(""))).collect::<Vec<_>>().join("; ");
            ctx.emit(Event::RebuildNode { pod: pods.join(","), state: "failed-attempt".into(), attempt: attempts, message: Some(msg) });
        } else if current["state"] == "complete" && !complete(&current) {
            // Top-level complete while some pod is not: never counted done.
            running = false;
            ctx.emit(Event::Warning { step: "rebuild", message: "the operator reports complete, but not every pod's rebuildDetails entry is complete".into() });
        }
    }
    // The real completion test: every pod's log shows its rebuild completed.
    for p in pods {
        let admin = ctx.deps.admins.admin(Region::Target, p);
        match outcome(&*admin, source_dc).await? {
            Some(o) if o.completed && o.failure.is_none() => mark_done(ctx, p, o.plan_id, attempts)?,
            _ => return Err(StepError::Message(format!("{p}: the operator reports complete, but the pod's log shows no completed rebuild from {source_dc}"))),
        }
    }
    Ok(())
}
