//! Decommission `wait-removed`: after the uninstall, the operator's remove-dc component takes the
//! datacenter out of the ring and the keyspaces. Waits (`timeouts.removal`) until the leaving
//! region has no datastore and no Cassandra pod, and no node of its datacenter is in the ring as
//! the surviving region sees it. Nodes still in the ring at the deadline are left to
//! `remove-nodes` (with a warning); a datastore still there is a failure. Skipped with
//! `--lost-region`.

use std::time::Instant;

use async_trait::async_trait;

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::uninstall::datastore_left;
use super::{Planned, Step, StepId, nodetool_shown, ready_admin};

pub(crate) struct WaitRemoved;

/// Addresses of the leaving datacenter's nodes in the ring, as the surviving region sees it.
pub(crate) async fn leaving_in_ring(ctx: &Ctx<'_>) -> Result<Vec<String>, StepError> {
    let admin = ready_admin(ctx.plan, ctx.deps, Region::Source).await?;
    let ring = admin.status().await?;
    Ok(ring
        .datacenter(ctx.plan.target.datacenter.as_str())
        .map(|d| d.nodes.iter().map(|n| format!("{} ({})", n.address, n.code())).collect())
        .unwrap_or_default())
}

#[async_trait]
impl Step for WaitRemoved {
    fn id(&self) -> StepId {
        StepId::WaitRemoved
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        if ctx.decommission(StepId::WaitRemoved)?.lost_region {
            return Ok(Some("--lost-region: no operator to wait for".into()));
        }
        Ok(leaving_in_ring(ctx)
            .await?
            .is_empty()
            .then(|| format!("no node of `{}` is in the ring", ctx.plan.target.datacenter)))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let plan = ctx.plan;
        let d = ctx.decommission(StepId::WaitRemoved)?;
        if d.lost_region {
            return Ok(Some(Planned { description: "skipped: --lost-region".into(), commands: vec![] }));
        }
        Ok(Some(Planned {
            description: format!(
                "wait up to {}s for the operator to remove the datastore and take `{}` out of the ring",
                d.plan.timeouts.removal.0.as_secs(),
                plan.target.datacenter
            ),
            commands: vec![
                format!("kubectl --context {} -n {} get apigeedatastore", plan.target.context, plan.target.namespace),
                nodetool_shown(plan, &plan.source.context, "apigee-cassandra-default-0", "status"),
            ],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let d = ctx.decommission(StepId::WaitRemoved)?;
        let plan = ctx.plan;
        let started = Instant::now();
        loop {
            let left = datastore_left(ctx).await?;
            let nodes = leaving_in_ring(ctx).await?;
            if left.is_none() && nodes.is_empty() {
                return Ok(());
            }
            if started.elapsed() >= d.plan.timeouts.removal.0 {
                if let Some(why) = left {
                    return Err(StepError::NotRemoved { context: plan.target.context.clone(), why });
                }
                ctx.emit(Event::Warning {
                    step: StepId::WaitRemoved,
                    message: format!(
                        "the operator did not take these nodes of `{}` out of the ring within timeouts.removal: {}; remove-nodes removes them",
                        plan.target.datacenter,
                        nodes.join(", ")
                    ),
                });
                return Ok(());
            }
            ctx.emit(Event::Note {
                step: StepId::WaitRemoved,
                message: match &left {
                    Some(why) => format!("waiting for the operator: {why}"),
                    None => format!("waiting for the ring to drop {}", nodes.join(", ")),
                },
            });
            tokio::time::sleep(plan.timeouts.poll.0).await;
        }
    }
}
