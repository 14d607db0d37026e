//! The steps of an expansion, one file each. A step answers three questions: is it already done
//! (asked of the world, not only the journal), how is it done, and what would it do (dry run).
//! Its judgement lives in the pure layer (`verify`, `ring`, `seeds`, `overrides`, `nodetool`,
//! `preflight`) so it is tested without a cluster; a step file only gathers facts and acts.

mod check_replication;
mod copy_ca;
mod copy_namespace;
mod decom_preflight;
mod decom_verify;
mod finalize;
mod install;
mod preflight;
mod prepare_overrides;
mod rebuild;
mod rebuild_cr;
mod remove_nodes;
mod rewrite_replication;
mod select_seeds;
mod target_nodes;
mod throttle;
mod uninstall;
mod verify;
mod wait_joined;
mod wait_removed;

use std::sync::Arc;

use async_trait::async_trait;

use crate::overrides::OverridesDoc;
use crate::ports::{CassandraAdmin, ClusterOps};

use super::ctx::Ctx;
use super::error::StepError;
use super::plan::{ExpansionPlan, NetworkMode};
use super::{Deps, Region};

pub(crate) use super::step_id::StepId;
pub(crate) use target_nodes::TargetNode;
pub(crate) use throttle::restore as restore_throughput;
pub(crate) use verify::verify_facts;

/// What a step would do, for the dry run: a sentence and the equivalent commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Planned {
    pub description: String,
    pub commands: Vec<String>,
}

/// One step of the expansion.
#[async_trait]
pub(crate) trait Step: Send + Sync {
    /// Its id.
    fn id(&self) -> StepId;
    /// `Some(why)` when the world shows the step done (never asked for read-only steps).
    async fn is_done(&self, ctx: &Ctx<'_>) -> Result<Option<String>, StepError>;
    /// Does it.
    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError>;
    /// What it would do (dry run); `None` when another step's description covers it.
    async fn describe(&self, ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError>;
    /// Every action it would take (dry run), in order: by default [`Step::describe`]'s.
    async fn describe_all(&self, ctx: &Ctx<'_>) -> Result<Vec<Planned>, StepError> {
        Ok(self.describe(ctx).await?.into_iter().collect())
    }
}

/// The step with this id.
pub(crate) fn step(id: StepId) -> &'static dyn Step {
    match id {
        StepId::Preflight => &preflight::Preflight,
        StepId::SelectSeeds => &select_seeds::SelectSeeds,
        StepId::PrepareOverrides => &prepare_overrides::PrepareOverrides,
        StepId::CopyNamespace => &copy_namespace::CopyNamespace,
        StepId::CopyCa => &copy_ca::CopyCa,
        StepId::Install => &install::Install,
        StepId::WaitJoined => &wait_joined::WaitJoined,
        StepId::CheckReplication => &check_replication::CheckReplication,
        StepId::Rebuild => &rebuild::Rebuild,
        StepId::Verify => &verify::Verify,
        StepId::Finalize => &finalize::Finalize,
        StepId::Uninstall => &uninstall::Uninstall,
        StepId::WaitRemoved => &wait_removed::WaitRemoved,
        StepId::RemoveNodes => &remove_nodes::RemoveNodes,
        StepId::RewriteReplication => &rewrite_replication::RewriteReplication,
    }
}

/// The step a decommission runs for this id: its own preflight and verification, the rest as
/// [`step`] maps them.
pub(crate) fn decommission_step(id: StepId) -> &'static dyn Step {
    match id {
        StepId::Preflight => &decom_preflight::DecomPreflight,
        StepId::Verify => &decom_verify::DecomVerify,
        other => step(other),
    }
}

/// `cassandra.replicaCount` of the target overrides; absent means 1, the product's default.
pub(crate) fn expected_target_replicas(plan: &ExpansionPlan) -> Result<usize, StepError> {
    let view = load_target(plan)?.view().map_err(|e| StepError::overrides(plan.resolve(&plan.target.overrides), e))?;
    Ok(view.cassandra.replica_count.unwrap_or(1).max(1) as usize)
}

/// The target's datastore as the operator reports it: `(metadata.generation, status.state,
/// status.observedGeneration)`; `None` when there is no ApigeeDatastore (or no such resource).
pub(crate) async fn datastore(ctx: &Ctx<'_>) -> Result<Option<(Option<i64>, Option<String>, Option<i64>)>, StepError> {
    let name = ctx.plan.cr.as_ref().map_or("default", |c| c.datastore.as_str());
    let ds = ctx.deps.target.get_custom(&crate::ports::APIGEE_DATASTORE, &ctx.plan.target.namespace, name).await?;
    Ok(ds.map(|d| {
        (
            d["metadata"]["generation"].as_i64(),
            d["status"]["state"].as_str().map(str::to_owned),
            d["status"]["observedGeneration"].as_i64(),
        )
    }))
}

/// The target overrides file as it is now.
pub(crate) fn load_target(plan: &ExpansionPlan) -> Result<OverridesDoc, StepError> {
    Ok(crate::overrides::load_file(&plan.resolve(&plan.target.overrides))?)
}

/// The target overrides as this plan will write them (datacenter, rack, hostNetwork, seed host).
pub(crate) fn planned_target(plan: &ExpansionPlan, seed: Option<&str>) -> Result<OverridesDoc, StepError> {
    let path = plan.resolve(&plan.target.overrides);
    let mut doc = crate::overrides::load_file(&path)?;
    let e = |e| StepError::overrides(path.clone(), e);
    doc.set_datacenter(&plan.target.datacenter).map_err(e)?;
    doc.set_rack(&plan.target_rack()).map_err(e)?;
    if plan.network.mode == NetworkMode::Island {
        doc.set_host_network(true).map_err(e)?;
    }
    if let Some(s) = seed {
        doc.set_seed_host(s).map_err(e)?;
    }
    Ok(doc)
}

/// nodetool on a Ready pod of a region.
pub(crate) async fn ready_admin(
    plan: &ExpansionPlan,
    deps: &Deps,
    region: Region,
) -> Result<Arc<dyn CassandraAdmin>, StepError> {
    let (cluster, spec) = match region {
        Region::Source => (&deps.source, &plan.source),
        Region::Target => (&deps.target, &plan.target),
    };
    let pod = first_ready_pod(&**cluster, &spec.namespace, &spec.selector).await?;
    Ok(deps.admins.admin(region, &pod))
}

/// nodetool on a ready Cassandra pod of another existing region (`others[].context`).
pub(crate) async fn ready_other_admin(other: &super::OtherCluster) -> Result<Arc<dyn CassandraAdmin>, StepError> {
    let pod = first_ready_pod(&*other.cluster, &other.namespace, &other.selector).await?;
    Ok(other.admins.admin(Region::Source, &pod))
}

/// The name of the first Ready Cassandra pod, else [`no_ready_pod`].
async fn first_ready_pod(cluster: &dyn ClusterOps, namespace: &str, selector: &str) -> Result<String, StepError> {
    let pods = cluster.list_cassandra_pods(namespace, selector).await?;
    pods.into_iter().find(|p| p.ready).map(|p| p.name).ok_or_else(|| no_ready_pod(cluster, namespace, selector))
}

/// No Cassandra pod of `selector` in the cluster's `namespace` is Ready.
pub(crate) fn no_ready_pod(cluster: &dyn ClusterOps, namespace: &str, selector: &str) -> StepError {
    StepError::NoReadyPod {
        context: cluster.context().to_owned(),
        namespace: namespace.to_owned(),
        selector: selector.to_owned(),
    }
}

/// `kubectl exec ... nodetool` as the dry run shows it.
pub(crate) fn nodetool_shown(plan: &ExpansionPlan, context: &str, pod: &str, args: &str) -> String {
    format!(
        "kubectl --context {context} -n {} exec {pod} -- nodetool -u <jmx user> -pw <redacted> {args}",
        plan.target.namespace
    )
}

/// The target pod names the dry run shows (the StatefulSet's ordinals).
pub(crate) fn planned_target_pods(plan: &ExpansionPlan) -> Result<Vec<String>, StepError> {
    Ok((0..expected_target_replicas(plan)?).map(|i| format!("apigee-cassandra-default-{i}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_ids_round_trip_through_text_and_json() {
        for id in StepId::ALL {
            assert_eq!(id.as_str().parse::<StepId>().unwrap(), id);
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
            assert_eq!(step(id).id(), id, "the registry maps {id} to its own step");
        }
        for id in StepId::DECOMMISSION {
            assert_eq!(decommission_step(id).id(), id, "the decommission maps {id} to its own step");
            assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{id}\""));
        }
        assert!("remove-nodes".parse::<StepId>().is_err(), "expand --until knows only the expansion's steps");
    }

    #[test]
    fn an_unknown_step_lists_the_real_ones() {
        let e = "rebuild-all".parse::<StepId>().unwrap_err().to_string();
        assert!(e.contains("`rebuild-all` is not a step") && e.contains("check-replication"), "{e}");
    }
}
