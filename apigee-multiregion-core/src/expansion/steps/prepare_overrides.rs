//! `prepare-overrides`: the target overrides get the seed host, the target datacenter and rack
//! (and hostNetwork on an island network). The original is kept as `.orig`; the file is written
//! atomically and only when it changes.

use async_trait::async_trait;

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::journal::StepState;
use super::{Planned, Step, StepId, load_target, planned_target};
use crate::ring::JoinVerdict;

pub(crate) struct PrepareOverrides;

#[async_trait]
impl Step for PrepareOverrides {
    fn id(&self) -> StepId {
        StepId::PrepareOverrides
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        let plan = ctx.plan;
        let seed = ctx.journal(|j| j.seed_host.clone());
        let view =
            load_target(plan)?.view().map_err(|e| StepError::overrides(plan.resolve(&plan.target.overrides), e))?;
        let c = &view.cassandra;
        let placed = c.datacenter.as_deref() == Some(plan.target.datacenter.as_str())
            && c.effective_rack() == plan.target_rack().as_str();
        if !placed {
            return Ok(None);
        }
        if c.multi_region_seed_host.is_some() && c.multi_region_seed_host == seed {
            return Ok(Some("the target overrides already carry the seed host, datacenter and rack".into()));
        }
        // After finalize the seed host is gone on purpose; that still counts as prepared only
        // while the new nodes are in the ring (a wiped region must be prepared again).
        let finalized = ctx.journal(|j| j.step(StepId::Finalize) == StepState::Done || j.datastore_reapplied);
        if finalized
            && c.multi_region_seed_host.is_none()
            && matches!(super::wait_joined::joined(ctx).await?, JoinVerdict::Joined { .. })
        {
            return Ok(Some(
                "finalized earlier: the seed host was removed on purpose and the new nodes are in the ring".into(),
            ));
        }
        Ok(None)
    }

    async fn describe(&self, _ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        Ok(None) // shown with the seed selection, as a diff
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let seed = ctx.journal(|j| j.seed_host.clone()).ok_or(StepError::NoSeedChosen)?;
        let doc = planned_target(plan, Some(&seed))?;
        write_overrides(ctx, &doc)?;
        // The seed host is back: an earlier finalize no longer holds.
        ctx.record(|j| {
            j.datastore_reapplied = false;
            j.finalize = None;
        })
    }
}

/// Writes the target overrides (original kept) and journals the backup.
pub(crate) fn write_overrides(ctx: &Ctx<'_>, doc: &crate::overrides::OverridesDoc) -> Result<(), StepError> {
    ctx.ensure_locked()?;
    let path = ctx.plan.resolve(&ctx.plan.target.overrides);
    if let Some(backup) = crate::overrides::replace_if_changed(&path, doc)? {
        ctx.record(|j| {
            if !j.backups.contains(&backup) {
                j.backups.push(backup.clone());
            }
        })?;
    }
    Ok(())
}
