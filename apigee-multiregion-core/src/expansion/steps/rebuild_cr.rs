//! `replication: cr`: the operator rebuilds. The tool applies the `CassandraDataReplication`
//! resource and follows `ApigeeDatastore.status.cassandraDataReplication` until EVERY target
//! node's `rebuildDetails` entry is `complete` ([`crate::datareplication::judge`]), within
//! `rebuild.timeout`; then each node's log must show the completed rebuild, and the completion is
//! recorded with the node's host ID. Status left by an earlier attempt is ignored; `error`
//! entries are retried by re-applying with `force: true`, up to `rebuild.retries`.
//!
//! The organization is the plan's `cr.organization`, or else the one `ApigeeOrganization` of the
//! source region's namespace (its name has a generated suffix, so it is read, never derived).
//! The resource is applied only once that organization is `running` in the target, as Google's
//! own automation waits: an operator that has not reconciled the org yet rebuilds nothing.

use std::time::Instant;

use crate::datareplication::{DataReplicationStatus, Progress, judge};
use crate::ports::{APIGEE_DATASTORE, APIGEE_ORGANIZATION, CASSANDRA_DATA_REPLICATION};
use crate::verify::full_rebuild_outcome;

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::{Event, NodeState};
use super::super::journal::StepState;
use super::super::plan::{CrSpec, ExpansionPlan};
use super::Planned;
use super::target_nodes::{TargetNode, mark_done};

fn body(plan: &ExpansionPlan, cr: &CrSpec, organization: &str, force: bool) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": format!("{}/{}", CASSANDRA_DATA_REPLICATION.group, CASSANDRA_DATA_REPLICATION.version),
        "kind": CASSANDRA_DATA_REPLICATION.kind,
        "metadata": {"name": cr.name, "namespace": plan.target.namespace},
        "spec": {"organizationRef": organization, "force": force, "source": {"region": plan.source.datacenter.as_str()}},
    })
}

/// The organization the resource names: the plan's, or the source region's only one.
pub(crate) async fn organization(ctx: &Ctx<'_>, cr: &CrSpec) -> Result<String, StepError> {
    if let Some(o) = &cr.organization {
        return Ok(o.clone());
    }
    let s = &ctx.plan.source;
    let mut names = ctx.deps.source.list_custom(&APIGEE_ORGANIZATION, &s.namespace).await?;
    match names.len() {
        1 => Ok(names.remove(0)),
        0 => Err(StepError::Organization {
            why: format!(
                "no ApigeeOrganization in namespace {} of context `{}`: set cr.organization in the plan to the name `kubectl get apigeeorg -n {}` shows in the source region",
                s.namespace, s.context, s.namespace
            ),
        }),
        _ => Err(StepError::Organization {
            why: format!(
                "several ApigeeOrganizations in namespace {} of context `{}` ({}): set cr.organization in the plan to the one to replicate",
                s.namespace,
                s.context,
                names.join(", ")
            ),
        }),
    }
}

/// Waits until the organization is `running` in the target, within `rebuild.timeout`.
async fn wait_organization_running(ctx: &Ctx<'_>, organization: &str, started: Instant) -> Result<(), StepError> {
    let plan = ctx.plan;
    let t = &plan.target;
    let mut said = None;
    loop {
        let org = ctx.deps.target.get_custom(&APIGEE_ORGANIZATION, &t.namespace, organization).await?;
        let why = match org.as_ref().map(|o| o["status"]["state"].as_str()) {
            Some(Some("running")) => return Ok(()),
            Some(Some(state)) => format!("ApigeeOrganization {organization} is `{state}` in the target"),
            Some(None) => format!("ApigeeOrganization {organization} has no state yet in the target"),
            None => format!(
                "there is no ApigeeOrganization {organization} in namespace {} of context `{}` (the org is installed by `apply`: its chart or apigeectl)",
                t.namespace, t.context
            ),
        };
        if started.elapsed() >= plan.rebuild.timeout.0 {
            return Err(StepError::Organization {
                why: format!("{why} after {}s (rebuild.timeout)", plan.rebuild.timeout.0.as_secs()),
            });
        }
        if said.as_ref() != Some(&why) {
            ctx.emit(Event::Note {
                step: super::StepId::Rebuild,
                message: format!("waiting before the CassandraDataReplication: {why}"),
            });
            said = Some(why);
        }
        tokio::time::sleep(plan.timeouts.poll.0).await;
    }
}

pub(crate) fn describe(plan: &ExpansionPlan, cr: &CrSpec) -> Planned {
    let (s, t) = (&plan.source, &plan.target);
    Planned {
        description: format!(
            "apply CassandraDataReplication {} (source {}) and follow every pod's rebuildDetails",
            cr.name, s.datacenter
        ),
        commands: vec![
            format!(
                "kubectl --context {} -n {} apply -f - <<< '{{apiVersion: apigee.cloud.google.com/v1alpha1, kind: CassandraDataReplication, metadata: {{name: {}}}, spec: {{organizationRef: {}, force: false, source: {{region: {}}}}}}}'",
                t.context,
                t.namespace,
                cr.name,
                cr.organization.as_deref().unwrap_or("<the source's ApigeeOrganization>"),
                s.datacenter
            ),
            format!(
                "kubectl --context {} -n {} get apigeeds {} -o jsonpath='{{.status.cassandraDataReplication}}'",
                t.context, t.namespace, cr.datastore
            ),
        ],
    }
}

async fn status(ctx: &Ctx<'_>, cr: &CrSpec) -> Result<DataReplicationStatus, StepError> {
    let ds = ctx.deps.target.get_custom(&APIGEE_DATASTORE, &ctx.plan.target.namespace, &cr.datastore).await?;
    Ok(ds.as_ref().map(DataReplicationStatus::from_datastore).unwrap_or_default())
}

pub(crate) async fn run(ctx: &Ctx<'_>, cr: &CrSpec, nodes: &[TargetNode]) -> Result<(), StepError> {
    let plan = ctx.plan;
    let keys: Vec<(String, Option<String>)> = nodes.iter().map(|n| (n.pod.clone(), n.host_id.clone())).collect();
    let started = Instant::now();
    let mut attempts =
        ctx.journal(|j| nodes.iter().filter_map(|n| j.rebuild.get(&n.pod)).map(|r| r.attempts).max().unwrap_or(0));
    let max = attempts + plan.rebuild.retries + 1;
    // A resumed run whose rebuild already completed applies nothing. Entries older than our
    // apply belong to an earlier attempt: only entries updated after the newest one seen
    // before the apply count (no comparison with another machine's clock).
    let mut current = status(ctx, cr).await?;
    let mut since: Option<i64> = None;
    let mut applied =
        ctx.journal(|j| nodes.iter().any(|n| j.rebuild.get(&n.pod).is_some_and(|r| r.state == StepState::Running)));
    // A status seen before this tool ever applied the resource belongs to someone else's
    // replication (a leftover): it proves nothing about these nodes.
    let leftover = attempts == 0;
    let organization = organization(ctx, cr).await?;
    let mut org_running = false;
    loop {
        match judge(&current, &keys, since) {
            Progress::Complete if !leftover || applied => break,
            Progress::Failed(failed) if applied => {
                let msg = failed.iter().map(|(p, m)| format!("{p}: {m}")).collect::<Vec<_>>().join("; ");
                ctx.emit(Event::RebuildNode {
                    pod: nodes.iter().map(|n| n.pod.as_str()).collect::<Vec<_>>().join(","),
                    state: NodeState::FailedAttempt,
                    attempt: attempts,
                    message: Some(msg),
                });
                applied = false;
                if attempts >= max {
                    return Err(StepError::DataReplication {
                        name: cr.name.clone(),
                        attempts,
                        failures: failed.iter().map(|(p, m)| format!("{p}: {m}")).collect(),
                    });
                }
            }
            _ => {}
        }
        if !applied {
            if !org_running {
                wait_organization_running(ctx, &organization, started).await?;
                org_running = true;
            }
            attempts += 1;
            since = current.rebuild_details.values().filter_map(|d| d.updated).max().map(|m| m + 1);
            ctx.ensure_locked()?;
            ctx.deps
                .target
                .apply_custom(
                    &CASSANDRA_DATA_REPLICATION,
                    &plan.target.namespace,
                    &body(plan, cr, &organization, attempts > 1),
                )
                .await?;
            ctx.record(|j| {
                for n in nodes {
                    let r = j.rebuild.entry(n.pod.clone()).or_default();
                    r.state = StepState::Running;
                    r.attempts = attempts;
                }
            })?;
            for n in nodes {
                ctx.emit(Event::RebuildNode {
                    pod: n.pod.clone(),
                    state: if attempts > 1 { NodeState::Retrying } else { NodeState::Started },
                    attempt: attempts,
                    message: Some(format!("CassandraDataReplication {}", cr.name)),
                });
            }
            applied = true;
        }
        if started.elapsed() >= plan.rebuild.timeout.0 {
            let pending: Vec<String> = keys
                .iter()
                .filter(|(p, h)| {
                    current.detail(p, h.as_deref(), since).and_then(|d| d.state.as_deref()) != Some("complete")
                })
                .map(|(p, _)| format!("{p}: not complete"))
                .collect();
            return Err(StepError::DataReplication { name: cr.name.clone(), attempts, failures: pending });
        }
        tokio::time::sleep(plan.rebuild.progress_interval.0).await;
        current = status(ctx, cr).await?;
    }
    // The operator's word is checked against each node's own log, then recorded durably.
    let source_dc = plan.source.datacenter.as_str();
    for n in nodes {
        let log =
            crate::nodetool::scan_rebuild_log(&ctx.deps.admins.admin(Region::Target, &n.pod).log(Some(50_000)).await?);
        match full_rebuild_outcome(&log, source_dc) {
            Some(o) if o.completed && o.failure.is_none() => mark_done(ctx, n, o.plan_id)?,
            _ => {
                return Err(StepError::DataReplication {
                    name: cr.name.clone(),
                    attempts,
                    failures: vec![format!(
                        "{}: the operator reports complete, but the pod's log shows no completed full rebuild from {source_dc}",
                        n.pod
                    )],
                });
            }
        }
    }
    Ok(())
}
