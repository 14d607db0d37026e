//! Decommission `uninstall`: Apigee hybrid removed from the leaving region with the plan's
//! installer, in the documented order (apigeectl: `delete --all`; Helm: environments, environment
//! groups, org, datastore, then the rest, each `--wait`). Deleting the `ApigeeDatastore` normally
//! lets the operator take the datacenter out of the ring and the keyspaces (`wait-removed`).
//! Skipped with `--lost-region`. Done when the leaving region has no Cassandra pod and no
//! `ApigeeDatastore`.

use async_trait::async_trait;

use crate::ports::{APIGEE_DATASTORE, Operation};

use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::{Planned, Step, StepId};

pub(crate) struct Uninstall;

/// What of the datastore is still in the leaving region (`None`: nothing).
pub(crate) async fn datastore_left(ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
    let plan = ctx.plan;
    let leaving = &ctx.deps.target;
    let pods = leaving.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let ds = leaving.get_custom(&APIGEE_DATASTORE, &plan.target.namespace, "default").await?;
    Ok(match (pods.len(), ds.is_some()) {
        (0, false) => None,
        (n, true) => Some(format!("the ApigeeDatastore still exists and {n} Cassandra pod(s) are left")),
        (n, false) => Some(format!("{n} Cassandra pod(s) are left")),
    })
}

#[async_trait]
impl Step for Uninstall {
    fn id(&self) -> StepId {
        StepId::Uninstall
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        if ctx.decommission(StepId::Uninstall)?.lost_region {
            return Ok(Some("--lost-region: the region is not uninstalled".into()));
        }
        Ok(datastore_left(ctx)
            .await?
            .is_none()
            .then(|| format!("context `{}` has no Cassandra pod and no ApigeeDatastore", ctx.plan.target.context)))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let plan = ctx.plan;
        if ctx.decommission(StepId::Uninstall)?.lost_region {
            return Ok(Some(Planned { description: "skipped: --lost-region".into(), commands: vec![] }));
        }
        Ok(Some(Planned {
            description: format!(
                "uninstall Apigee hybrid from `{}` ({})",
                plan.target.context,
                ctx.deps.installer.name()
            ),
            commands: ctx.deps.installer.describe(Operation::Delete, &plan.resolve(&plan.target.overrides)),
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        ctx.ensure_locked()?;
        ctx.emit(Event::Note {
            step: StepId::Uninstall,
            message: format!("{} uninstalls Apigee hybrid from `{}`", ctx.deps.installer.name(), plan.target.context),
        });
        ctx.deps.installer.delete(&plan.resolve(&plan.target.overrides)).await?;
        Ok(())
    }
}
