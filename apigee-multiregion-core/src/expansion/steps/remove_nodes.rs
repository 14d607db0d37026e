//! Decommission `remove-nodes`: every node of the leaving datacenter still in the ring is removed
//! from a surviving node with `nodetool removenode <host-id>`, one at a time. The journal records
//! each removal (and which surviving pod coordinates it) BEFORE it is asked for, because only the
//! coordinator reports a running removal (`removenode status`) and a removal outlives the client
//! that started it. A later run first follows a removal it left running, so no node is removed
//! twice. `nodetool assassinate` only with `--force`, after a removal failed or did not finish,
//! with a finding that says why and what it costs.

use std::time::Instant;

use async_trait::async_trait;

use crate::nodetool::{RemovalStatus, UpDown};
use crate::overrides::Severity;
use crate::ports::{AdminError, CassandraAdmin};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::decommission::Decommissioning;
use super::super::error::StepError;
use super::super::events::Event;
use super::super::journal::StepState;
use super::wait_removed::leaving_in_ring;
use super::{Planned, Step, StepId, nodetool_shown, ready_admin};

pub(crate) struct RemoveNodes;

const STEP: StepId = StepId::RemoveNodes;

/// How a followed removal ended.
enum Ended {
    /// The node is gone from the ring.
    Removed,
    /// No removal runs and the node is still there.
    NotRemoved,
}

/// Follows the removal `coordinator` runs until it reports none, within `timeouts.removenode`;
/// then asks the ring whether the node is gone.
async fn follow(
    ctx: &Ctx<'_>,
    coordinator: &dyn CassandraAdmin,
    host_id: &str,
    deadline: Instant,
) -> Result<Option<Ended>, StepError> {
    loop {
        match coordinator.removenode_status().await {
            Ok(RemovalStatus::Idle) => break,
            Ok(RemovalStatus::Removing { waiting_for, .. }) => {
                if Instant::now() >= deadline {
                    return Ok(None);
                }
                ctx.emit(Event::Note {
                    step: STEP,
                    message: format!(
                        "removing host ID {host_id} (on {}): waiting for replication confirmation from {}",
                        coordinator.pod(),
                        waiting_for.join(", ")
                    ),
                });
            }
            // The coordinator restarting or unreachable: its removal status is lost with it.
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(e) => ctx.emit(Event::Warning {
                step: STEP,
                message: format!("cannot read the removal status on {}: {e}; waiting", coordinator.pod()),
            }),
        }
        tokio::time::sleep(ctx.plan.timeouts.poll.0).await;
    }
    let admin = ready_admin(ctx.plan, ctx.deps, Region::Source).await?;
    let ring = admin.status().await?;
    Ok(Some(if ring.nodes().any(|(_, n)| n.host_id == host_id) { Ended::NotRemoved } else { Ended::Removed }))
}

/// The last resort (`--force`): `nodetool assassinate`, said in a finding.
async fn assassinate(ctx: &Ctx<'_>, host_id: &str, address: &str, why: &str) -> Result<(), StepError> {
    let finding = crate::preflight::finding(
        Severity::Warning,
        "assassinated",
        format!(
            "--force: {address} (host ID {host_id}) is assassinated because {why}. Its ranges were NOT streamed to the survivors: run `nodetool repair -full` on every surviving node"
        ),
    );
    ctx.emit(Event::Finding { finding: finding.clone() });
    if let Ok(mut all) = ctx.findings.lock() {
        all.push(finding);
    }
    ctx.ensure_locked()?;
    ctx.record(|j| {
        let r = j.removals.entry(host_id.to_owned()).or_default();
        r.assassinated = true;
        r.last_error = Some(why.to_owned());
    })?;
    let admin = ready_admin(ctx.plan, ctx.deps, Region::Source).await?;
    admin.assassinate(address).await?;
    let ring = admin.status().await?;
    if ring.nodes().any(|(_, n)| n.host_id == host_id) {
        return Err(StepError::RemovalFailed {
            address: address.into(),
            host_id: host_id.into(),
            why: "still in the ring after nodetool assassinate; check nodetool status and gossipinfo".into(),
        });
    }
    ctx.record(|j| j.removals.entry(host_id.to_owned()).or_default().state = StepState::Done)
}

/// Records the end of one removal, or fails (or, with `--force`, assassinates).
async fn conclude(
    ctx: &Ctx<'_>,
    d: &Decommissioning,
    host_id: &str,
    address: &str,
    ended: Option<Ended>,
    call_error: Option<AdminError>,
) -> Result<(), StepError> {
    let why = match ended {
        Some(Ended::Removed) => {
            ctx.record(|j| j.removals.entry(host_id.to_owned()).or_default().state = StepState::Done)?;
            ctx.emit(Event::Note {
                step: STEP,
                message: format!("{address} (host ID {host_id}) removed from the ring"),
            });
            return Ok(());
        }
        Some(Ended::NotRemoved) => call_error
            .map_or_else(|| "the removal ended and the node is still in the ring".to_owned(), |e| e.to_string()),
        None => format!(
            "the removal still runs after {}s (timeouts.removenode); it goes on in Cassandra",
            d.plan.timeouts.removenode.0.as_secs()
        ),
    };
    if d.force {
        return assassinate(ctx, host_id, address, &why).await;
    }
    ctx.record(|j| {
        let r = j.removals.entry(host_id.to_owned()).or_default();
        r.state = StepState::Failed;
        r.last_error = Some(why.clone());
    })?;
    Err(StepError::RemovalFailed {
        address: address.into(),
        host_id: host_id.into(),
        why: format!(
            "{why}. Run again to follow or retry it; with --force a removal that fails or does not finish is completed with nodetool assassinate (the node's data is then not streamed)"
        ),
    })
}

#[async_trait]
impl Step for RemoveNodes {
    fn id(&self) -> StepId {
        STEP
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let running = ctx.journal(|j| j.removals.values().any(|r| r.state == StepState::Running));
        Ok((!running && leaving_in_ring(ctx).await?.is_empty())
            .then(|| format!("no node of `{}` is in the ring", ctx.plan.target.datacenter)))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let plan = ctx.plan;
        let pod = "apigee-cassandra-default-0";
        Ok(Some(Planned {
            description: format!(
                "remove each node of `{}` still in the ring, one at a time, from the surviving region",
                plan.target.datacenter
            ),
            commands: vec![
                nodetool_shown(plan, &plan.source.context, pod, "removenode -- <host ID>"),
                nodetool_shown(plan, &plan.source.context, pod, "removenode status"),
            ],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let d = ctx.decommission(STEP)?;
        let plan = ctx.plan;
        // A removal an earlier run left running goes on in Cassandra: follow it on the pod that
        // coordinates it, never start it again.
        let running: Vec<(String, String, Option<String>)> = ctx.journal(|j| {
            j.removals
                .iter()
                .filter(|(_, r)| r.state == StepState::Running)
                .map(|(h, r)| (h.clone(), r.address.clone(), r.coordinator.clone()))
                .collect()
        });
        for (host_id, address, coordinator) in running {
            if let Some(pod) = coordinator {
                let admin = ctx.deps.admins.admin(Region::Source, &pod);
                match follow(ctx, &*admin, &host_id, Instant::now() + d.plan.timeouts.removenode.0).await? {
                    // Not removed and nothing running: asked again below, as a new attempt.
                    Some(Ended::NotRemoved) => {}
                    ended => conclude(ctx, d, &host_id, &address, ended, None).await?,
                }
            }
        }
        loop {
            let admin = ready_admin(plan, ctx.deps, Region::Source).await?;
            let ring = admin.status().await?;
            let mut nodes: Vec<_> =
                ring.datacenter(plan.target.datacenter.as_str()).map(|dc| dc.nodes.clone()).unwrap_or_default();
            nodes.sort_by(|a, b| a.address.cmp(&b.address));
            let Some(node) = nodes.into_iter().next() else { return Ok(()) };
            if node.status == UpDown::Up {
                return Err(StepError::NodeAlive {
                    address: node.address,
                    host_id: node.host_id,
                    datacenter: plan.target.datacenter.to_string(),
                });
            }
            // The journal first: a run killed during the removenode follows it next time.
            ctx.ensure_locked()?;
            ctx.record(|j| {
                let r = j.removals.entry(node.host_id.clone()).or_default();
                r.address.clone_from(&node.address);
                r.state = StepState::Running;
                r.coordinator = Some(admin.pod().to_owned());
                r.attempts += 1;
                r.last_error = None;
            })?;
            ctx.emit(Event::Note {
                step: STEP,
                message: format!("nodetool removenode {} ({}) on {}", node.host_id, node.address, admin.pod()),
            });
            // The deadline counts from the call: `removenode` itself blocks until the removal ends
            // (its exec is bounded by the same timeout, see `view`).
            let deadline = Instant::now() + d.plan.timeouts.removenode.0;
            let call_error = admin.removenode(&node.host_id).await.err();
            let ended = follow(ctx, &*admin, &node.host_id, deadline).await?;
            conclude(ctx, d, &node.host_id, &node.address, ended, call_error).await?;
        }
    }
}
