//! `finalize`: the seed host removed from the target overrides and the datastore re-applied,
//! then the operator's rolling restart waited for. Done only when every target pod restarted
//! after the apply (its incarnation changed), the datastore is `running` at its new generation,
//! and the ring is all UN from both sides: never judged from the ring as it was before the
//! restart.

use std::time::Instant;

use async_trait::async_trait;

use crate::ports::Operation;
use crate::ring::JoinVerdict;

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::super::journal::FinalizeRecord;
use super::prepare_overrides::write_overrides;
use super::wait_joined::joined;
use super::{Planned, Step, StepId, datastore, load_target};

pub(crate) struct Finalize;

/// Why the rolling restart is not finished yet, or `None` when it is.
async fn rollout_pending(ctx: &Ctx<'_>, record: &FinalizeRecord) -> Result<Option<String>, StepError> {
    let plan = ctx.plan;
    let generation_changed = match datastore(ctx).await? {
        Some((generation, state, observed)) => {
            if state.as_deref() != Some("running") {
                return Ok(Some(format!("the datastore is {}", state.as_deref().unwrap_or("without a state"))));
            }
            if let (Some(g), Some(o)) = (generation, observed)
                && o < g
            {
                return Ok(Some(format!("the operator has not reconciled generation {g} yet (observed {o})")));
            }
            // An apply that changed nothing rolls nothing.
            match (record.generation_before, generation) {
                (Some(before), Some(now)) => now != before,
                _ => true,
            }
        }
        None => true,
    };
    if generation_changed {
        let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
        let waiting: Vec<&str> = pods
            .iter()
            .filter(|p| {
                !p.ready
                    || record.incarnations.get(&p.name).is_some_and(|before| p.incarnation.as_ref() == Some(before))
            })
            .map(|p| p.name.as_str())
            .collect();
        if !waiting.is_empty() {
            return Ok(Some(format!("waiting for the rolling restart of {}", waiting.join(", "))));
        }
    }
    Ok(match joined(ctx).await? {
        JoinVerdict::Joined { .. } => None,
        JoinVerdict::Waiting(why) => Some(why),
    })
}

#[async_trait]
impl Step for Finalize {
    fn id(&self) -> StepId {
        StepId::Finalize
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let plan = ctx.plan;
        let view =
            load_target(plan)?.view().map_err(|e| StepError::overrides(plan.resolve(&plan.target.overrides), e))?;
        let (reapplied, record) = ctx.journal(|j| (j.datastore_reapplied, j.finalize.clone()));
        if view.cassandra.multi_region_seed_host.is_some() || !reapplied {
            return Ok(None);
        }
        Ok(rollout_pending(ctx, &record.unwrap_or_default())
            .await?
            .is_none()
            .then(|| "the seed host is gone, the datastore was re-applied and every pod restarted".to_owned()))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let overrides = ctx.plan.resolve(&ctx.plan.target.overrides);
        let mut commands = vec![format!("apigee-multiregion overrides clear-seed {} --in-place", overrides.display())];
        commands.extend(ctx.deps.installer.describe(Operation::ApplyDatastore, &overrides));
        commands.push(format!(
            "kubectl --context {} -n {} get apigeeds -w   # until running, every Cassandra pod restarted",
            ctx.plan.target.context, ctx.plan.target.namespace
        ));
        Ok(Some(Planned {
            description:
                "remove the seed host from the target overrides, re-apply the datastore, wait for the rolling restart"
                    .into(),
            commands,
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let path = plan.resolve(&plan.target.overrides);
        let mut doc = load_target(plan)?;
        let had_seed = doc.clear_seed_host().map_err(|e| StepError::overrides(path.clone(), e))?;
        // A merge key (`<<: *base`) can carry a seed host the editor did not touch.
        let view = doc.view().map_err(|e| StepError::overrides(path.clone(), e))?;
        if let Some(seed) = view.cassandra.multi_region_seed_host {
            return Err(StepError::SeedHostRemains { path, seed });
        }
        let (reapplied, record) = ctx.journal(|j| (j.datastore_reapplied, j.finalize.clone()));
        // Apply when the file still names a seed host (a region prepared again) or when no
        // apply was recorded; a resumed run whose apply is recorded only waits for the rollout.
        if had_seed || !reapplied || record.is_none() {
            write_overrides(ctx, &doc)?;
            let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
            let record = FinalizeRecord {
                incarnations: pods.iter().filter_map(|p| Some((p.name.clone(), p.incarnation.clone()?))).collect(),
                generation_before: datastore(ctx).await?.and_then(|(g, _, _)| g),
            };
            ctx.record(|j| j.finalize = Some(record))?;
            ctx.ensure_locked()?;
            ctx.deps.installer.apply_datastore(&path).await?;
            ctx.record(|j| j.datastore_reapplied = true)?;
        }
        let record = ctx.journal(|j| j.finalize.clone()).unwrap_or_default();
        let started = Instant::now();
        let mut last = String::new();
        loop {
            let Some(why) = rollout_pending(ctx, &record).await? else { return Ok(()) };
            if started.elapsed() >= plan.timeouts.rollout.0 {
                return Err(StepError::FinalizeNotHealthy { why });
            }
            if why != last {
                ctx.emit(Event::Note { step: StepId::Finalize, message: why.clone() });
                last = why;
            }
            tokio::time::sleep(plan.timeouts.poll.0).await;
        }
    }
}
