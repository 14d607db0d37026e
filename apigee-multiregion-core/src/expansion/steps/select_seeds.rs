//! `select-seeds`: the seed host chosen from the live ring of the existing region
//! ([`crate::seeds::select_seeds`]: Ready pods whose node is UN in the source datacenter, spread
//! over racks). The choice is journaled, so a resumed run writes the same seed host.

use async_trait::async_trait;

use crate::overrides::line_diff;
use crate::seeds::{SeedPolicy, select_seeds};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::{Planned, Step, StepId, planned_target, ready_admin};

pub(crate) struct SelectSeeds;

#[async_trait]
impl Step for SelectSeeds {
    fn id(&self) -> StepId {
        StepId::SelectSeeds
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(ctx.journal(|j| j.seed_host.clone()).map(|s| format!("seed host {s} chosen in an earlier run")))
    }

    async fn describe(&self, _ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        Ok(None) // runs for real in a dry run: it only reads
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let pods = ctx.deps.source.list_cassandra_pods(&plan.source.namespace, &plan.source.selector).await?;
        // The ring preflight read moments ago in this run; read again only when it has none.
        let read = ctx.source_ring.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let ring = match read {
            Some(r) => r,
            None => ready_admin(plan, ctx.deps, Region::Source).await?.status().await?,
        };
        let policy = SeedPolicy { source_dc: Some(plan.source.datacenter.clone()), count: 3 };
        let chosen = select_seeds(&pods, Some(&ring), &policy)?;
        let seed = chosen.seed_host.address.to_string();
        let alternates: Vec<String> = chosen.alternates.iter().map(|s| s.address.to_string()).collect();
        if alternates.is_empty() {
            ctx.emit(Event::Warning {
                step: StepId::SelectSeeds,
                message: format!("only {seed} can be a seed: no alternate if it goes away"),
            });
        }
        // The journal holds the choice in every run; a dry run does not save it.
        ctx.record(|j| {
            j.seed_host = Some(seed.clone());
            j.seed_alternates = alternates;
        })?;
        if ctx.options.dry_run {
            let path = plan.resolve(&plan.target.overrides);
            let before = std::fs::read_to_string(&path).unwrap_or_default();
            let after = planned_target(plan, Some(&seed))?;
            ctx.emit(Event::Action {
                step: StepId::PrepareOverrides,
                description: format!("edit {} (original kept as .orig)", path.display()),
                commands: line_diff(&before, after.text()),
            });
        }
        Ok(())
    }
}
