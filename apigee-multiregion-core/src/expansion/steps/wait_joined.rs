//! `wait-joined`: every new node Ready and UN as the target datacenter, seen from both sides
//! ([`crate::ring::judge_join`]). A node that joined under another datacenter name stops the run.

use std::time::Instant;

use async_trait::async_trait;

use crate::ring::{JoinVerdict, SideView, judge_join};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::{Planned, Step, StepId, expected_target_replicas, nodetool_shown, planned_target_pods, ready_admin};

pub(crate) struct WaitJoined;

/// Gathers both sides' rings (in parallel) and judges the join.
pub(crate) async fn joined(ctx: &Ctx<'_>) -> Result<JoinVerdict, StepError> {
    let plan = ctx.plan;
    let want = expected_target_replicas(plan)?;
    let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let ready: Vec<String> =
        pods.iter().filter(|p| p.ready).filter_map(|p| p.cassandra_address()).map(|a| a.to_string()).collect();
    if ready.len() < want {
        return Ok(judge_join(want, &ready, &[], plan.target.datacenter.as_str())?);
    }
    let view = |region: Region| async move {
        match ready_admin(plan, ctx.deps, region).await {
            Ok(a) => a.status().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    };
    let (source, target) = tokio::join!(view(Region::Source), view(Region::Target));
    let views: [SideView<'_>; 2] =
        [("source", source.as_ref().map_err(Clone::clone)), ("target", target.as_ref().map_err(Clone::clone))];
    Ok(judge_join(want, &ready, &views, plan.target.datacenter.as_str())?)
}

#[async_trait]
impl Step for WaitJoined {
    fn id(&self) -> StepId {
        StepId::WaitJoined
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(match joined(ctx).await? {
            JoinVerdict::Joined { nodes } => Some(format!("{nodes} target nodes are UN from both sides")),
            JoinVerdict::Waiting(_) => None,
        })
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let (plan, s, t) = (ctx.plan, &ctx.plan.source, &ctx.plan.target);
        let pods = planned_target_pods(plan)?;
        Ok(Some(Planned {
            description: format!(
                "wait until every {} node is Ready and UN as {} from both sides",
                t.context, t.datacenter
            ),
            commands: vec![
                nodetool_shown(plan, &s.context, "<a source pod>", "status"),
                nodetool_shown(plan, &t.context, &pods[0], "status"),
            ],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let started = Instant::now();
        loop {
            let why = match joined(ctx).await? {
                JoinVerdict::Joined { .. } => return Ok(()),
                JoinVerdict::Waiting(why) => why,
            };
            if started.elapsed() >= plan.timeouts.join.0 {
                return Err(StepError::NotJoined { seconds: plan.timeouts.join.0.as_secs(), why });
            }
            tokio::time::sleep(plan.timeouts.poll.0).await;
        }
    }
}
