//! `install`: Apigee hybrid installed in the target from its overrides, in the documented order:
//! `init`, wait until ready, `apply`, wait until ready. `apply` right after `init` can hit
//! webhooks that are not up yet, and the installer returns before the operator has created the
//! pods, so each wait is asked of the installer's readiness check, and then the cluster itself
//! is asked (the only judge with Helm, whose `--wait` covers the charts' objects, not the
//! Cassandra the operator creates later): the datastore `running` at its current generation and
//! every Cassandra pod Ready. All of it is bounded by `timeouts.install`.

use std::time::Instant;

use async_trait::async_trait;

use crate::ports::Operation;

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::{Planned, Step, StepId, datastore, expected_target_replicas};

pub(crate) struct Install;

#[async_trait]
impl Step for Install {
    fn id(&self) -> StepId {
        StepId::Install
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let plan = ctx.plan;
        let want = expected_target_replicas(plan)?;
        let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
        let ready = pods.iter().filter(|p| p.ready).count();
        Ok((ready >= want).then(|| format!("{ready} of {want} Cassandra pods are Ready in the target")))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let overrides = ctx.plan.resolve(&ctx.plan.target.overrides);
        let installer = &ctx.deps.installer;
        Ok(Some(Planned {
            description: format!(
                "install Apigee hybrid in {} with {}: init, wait until ready, apply, wait until ready",
                ctx.plan.target.context,
                installer.name()
            ),
            commands: [Operation::Init, Operation::CheckReady, Operation::Apply, Operation::CheckReady]
                .into_iter()
                .flat_map(|op| installer.describe(op, &overrides))
                .collect(),
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let path = plan.resolve(&plan.target.overrides);
        let installer = &ctx.deps.installer;
        let started = Instant::now();
        let left = || plan.timeouts.install.0.saturating_sub(started.elapsed());
        ctx.ensure_locked()?;
        installer.init(&path).await?;
        ctx.emit(Event::Note {
            step: StepId::Install,
            message: format!("{} init done; waiting until ready", installer.name()),
        });
        installer.wait_ready(&path, left()).await?;
        ctx.ensure_locked()?;
        installer.apply(&path).await?;
        ctx.emit(Event::Note {
            step: StepId::Install,
            message: format!("{} apply done; waiting until ready", installer.name()),
        });
        installer.wait_ready(&path, left()).await?;
        let want = expected_target_replicas(plan)?;
        let mut said = None;
        loop {
            let Some(why) = not_ready(ctx, want).await? else { return Ok(()) };
            if left().is_zero() {
                return Err(StepError::NotReady {
                    seconds: plan.timeouts.install.0.as_secs(),
                    why,
                    namespace: plan.target.namespace.clone(),
                });
            }
            if said.as_ref() != Some(&why) {
                ctx.emit(Event::Note { step: StepId::Install, message: format!("waiting: {why}") });
                said = Some(why);
            }
            ctx.ensure_locked()?;
            tokio::time::sleep(plan.timeouts.poll.0.min(left())).await;
        }
    }
}

/// Why the target is not ready yet, judged from the cluster, or `None` when the datastore (when
/// the operator keeps one) is `running` at its current generation and `want` Cassandra pods are
/// Ready.
async fn not_ready(ctx: &Ctx<'_>, want: usize) -> Result<Option<String>, StepError> {
    let plan = ctx.plan;
    if let Some((generation, state, observed)) = datastore(ctx).await? {
        if state.as_deref() != Some("running") {
            return Ok(Some(format!(
                "the ApigeeDatastore is {}",
                state.as_deref().map_or("without a state yet".to_owned(), |s| format!("`{s}`"))
            )));
        }
        if let (Some(g), Some(o)) = (generation, observed)
            && o < g
        {
            return Ok(Some(format!(
                "the operator has not reconciled the ApigeeDatastore's generation {g} yet (observed {o})"
            )));
        }
    }
    let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let ready = pods.iter().filter(|p| p.ready).count();
    Ok((ready < want).then(|| format!("{ready} of {want} Cassandra pods are Ready")))
}
