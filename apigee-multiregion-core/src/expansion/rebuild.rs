//! The rebuild step: `nodetool rebuild -- <source dc>` on EVERY node of the new datacenter, at
//! most `concurrency` at a time, with progress from `netstats`.
//!
//! A node is done only when nodetool returned success AND its log shows `All sessions
//! completed` for the Rebuild plan it started AND netstats shows no Rebuild plan left. "Node is
//! still rebuilding" means running (a rebuild survives the client that started it): wait for it.
//! A failure is retried (a rebuild resumes where it stopped) up to `retries`; never counted done.

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
    let limit = plan.rebuild.concurrency.limit().min(names.len().max(1));
    let results: Vec<Result<(), StepError>> = futures::stream::iter(names.iter().cloned())
        .map(|pod| async move { rebuild_node(ctx, &pod).await })
        .buffer_unordered(limit)
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).map(|e| e.to_string()).collect();
    if failures.is_empty() { Ok(()) } else { Err(StepError::Message(failures.join("; "))) }
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
        return Ok(());
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
