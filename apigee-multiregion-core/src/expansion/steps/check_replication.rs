//! `check-replication`: every keyspace that replicates to the source datacenter also replicates
//! to the target, or a rebuild would stream nothing for it. Apigee's setup jobs extend the
//! replication when the new region is installed; this step waits for them (`timeouts.replication`).

use std::time::{Duration, Instant};

use async_trait::async_trait;

use std::collections::BTreeMap;

use crate::nodetool::{
    KeyspaceEvidence, LOCAL_KEYSPACES, check_replication, evidence_from_describecluster, evidence_from_rings,
};
use crate::ports::CassandraAdmin;

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::{Planned, Step, StepId, nodetool_shown, planned_target_pods, ready_admin};

pub(crate) struct CheckReplication;

/// Keyspaces that do not replicate to the target datacenter yet, one sentence each. Replication
/// is read from `describecluster` on 4.0+, and on 3.11 (whose describecluster lists no
/// keyspaces) from the keyspace list of `tablestats` and each keyspace's `describering`.
async fn missing_replication(ctx: &Ctx<'_>) -> Result<Vec<String>, StepError> {
    let (target_dc, source_dc) = (ctx.plan.target.datacenter.as_str(), ctx.plan.source.datacenter.as_str());
    let admin = match ready_admin(ctx.plan, ctx.deps, Region::Target).await {
        Ok(a) => a,
        Err(e) => return Ok(vec![format!("(cannot check: {e})")]),
    };
    let evidence = keyspace_evidence(&*admin).await?;
    let check = check_replication(&evidence, target_dc, source_dc);
    Ok(check.missing.into_iter().map(|m| format!("{}: {}", m.keyspace, m.reason)).collect())
}

/// Each keyspace's placement as one node sees it: the replication maps of `describecluster`
/// (4.0+), or on 3.11 the keyspace list of `tablestats` and each keyspace's `describering`.
pub(crate) async fn keyspace_evidence(
    admin: &dyn CassandraAdmin,
) -> Result<BTreeMap<String, KeyspaceEvidence>, StepError> {
    let described = admin.describecluster().await?;
    Ok(if described.keyspaces.is_empty() {
        let names: Vec<String> = admin
            .tablestats()
            .await?
            .keyspace_names()
            .into_iter()
            .map(str::to_owned)
            .filter(|k| !LOCAL_KEYSPACES.contains(&k.as_str()))
            .collect();
        let mut rings = Vec::new();
        for ks in names {
            let ring = admin.describering(&ks).await?;
            rings.push((ks, ring));
        }
        evidence_from_rings(rings)
    } else {
        evidence_from_describecluster(&described)
    })
}

#[async_trait]
impl Step for CheckReplication {
    fn id(&self) -> StepId {
        StepId::CheckReplication
    }

    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(missing_replication(ctx)
            .await?
            .is_empty()
            .then(|| "every keyspace replicates to the target datacenter".to_owned()))
    }

    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        let plan = ctx.plan;
        let pods = planned_target_pods(plan)?;
        Ok(Some(Planned {
            description: format!("check that every keyspace replicates to {}", plan.target.datacenter),
            commands: vec![
                nodetool_shown(plan, &plan.target.context, &pods[0], "describecluster"),
                format!(
                    "{}   # on Cassandra 3.11: tablestats, then describering -- <keyspace> for each",
                    nodetool_shown(plan, &plan.target.context, &pods[0], "tablestats")
                ),
            ],
        }))
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        let started = Instant::now();
        loop {
            let missing = missing_replication(ctx).await?;
            if missing.is_empty() {
                return Ok(());
            }
            if started.elapsed() >= plan.timeouts.replication.0 {
                return Err(StepError::ReplicationMissing {
                    keyspaces: missing,
                    target_dc: plan.target.datacenter.to_string(),
                    source_dc: plan.source.datacenter.to_string(),
                    namespace: plan.target.namespace.clone(),
                });
            }
            ctx.emit(Event::Warning {
                step: StepId::CheckReplication,
                message: format!("waiting for replication to {}: {}", plan.target.datacenter, missing.join(", ")),
            });
            tokio::time::sleep(plan.timeouts.poll.0.max(Duration::from_secs(1))).await;
        }
    }
}
