//! Decommission `verify`, from a surviving node: no node of the datacenter in `nodetool status`,
//! no keyspace naming it (4.0+: the replication maps; 3.11: every keyspace's ring), every
//! surviving node UN and one schema version. The judgement is
//! `crate::decommission::verify_decommission`.

use async_trait::async_trait;

use crate::decommission::{DecommissionVerifyFacts, verify_decommission};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::check_replication::keyspace_evidence;
use super::{Planned, Step, StepId, nodetool_shown, ready_admin};

pub(crate) struct DecomVerify;

#[async_trait]
impl Step for DecomVerify {
    fn id(&self) -> StepId {
        StepId::Verify
    }

    async fn is_done(&self, _ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(None)
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let plan = ctx.plan;
        let pod = "apigee-cassandra-default-0";
        Ok(Some(Planned {
            description: format!("verify from `{}` that `{}` is gone", plan.source.context, plan.target.datacenter),
            commands: vec![
                nodetool_shown(plan, &plan.source.context, pod, "status"),
                nodetool_shown(plan, &plan.source.context, pod, "describecluster"),
            ],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let admin = ready_admin(ctx.plan, ctx.deps, Region::Source).await?;
        let facts = DecommissionVerifyFacts {
            leaving_dc: ctx.plan.target.datacenter.to_string(),
            ring: admin.status().await?,
            cluster: admin.describecluster().await?,
            keyspaces: keyspace_evidence(&*admin).await?,
        };
        let report = verify_decommission(&facts);
        let failures = report.failures();
        if let Ok(mut v) = ctx.verify.lock() {
            *v = Some(report);
        }
        if failures.is_empty() { Ok(()) } else { Err(StepError::Verification { failures }) }
    }
}
