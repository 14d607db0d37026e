//! `preflight`: read-only facts from both clusters and both overrides files, judged by
//! [`crate::preflight::judge_preflight`]; any error refuses the expansion before anything changes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::overrides::{CheckOptions, Finding, OverridesView, Severity, Side, check_pair_with};
use crate::permissions::{self, Answer, Needed, OPERATOR_DEPLOYMENT, Scope};
use crate::ports::{ClusterError, ClusterOps, ExecArg, ProbePodSpec};
use crate::preflight::{PreflightFacts, judge_preflight};
use crate::probe::{
    MANAGED_BY, PROBE_POD, ProbeTarget, choose_probe_node, judge_probe, parse_probe_output, probe_command,
};
use crate::seeds::{SeedPolicy, select_seeds};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::super::lock::lock_location;
use super::super::plan::{DEFAULT_PROBE_IMAGE, ExpansionPlan, InstallerSpec, NetworkMode, Replication};
use super::{Planned, Step, StepId, planned_target, ready_admin, ready_other_admin};
use crate::ports::DEPLOYMENT;

pub(crate) struct Preflight;

#[async_trait]
impl Step for Preflight {
    fn id(&self) -> StepId {
        StepId::Preflight
    }

    async fn is_done(&self, _ctx: &Ctx<'_>) -> Result<Option<String>, StepError> {
        Ok(None)
    }

    async fn describe(&self, _ctx: &Ctx<'_>) -> Result<Option<Planned>, StepError> {
        Ok(None)
    }

    async fn run(&self, ctx: &Ctx<'_>) -> Result<(), StepError> {
        let plan = ctx.plan;
        for note in &ctx.deps.notes {
            ctx.emit(Event::Note { step: StepId::Preflight, message: note.clone() });
        }
        let source_path = plan.resolve(&plan.source.overrides);
        let source_doc = crate::overrides::load_file(&source_path)?;
        let source_view = source_doc.view().map_err(|e| StepError::overrides(source_path.clone(), e))?;
        let target_doc = planned_target(plan, None)?;
        let target_view =
            target_doc.view().map_err(|e| StepError::overrides(plan.resolve(&plan.target.overrides), e))?;
        let island = plan.network.mode == NetworkMode::Island;
        let mut pair_findings = check_pair_with(&source_doc, &target_doc, &CheckOptions { island_network: island })
            .map_err(|e| StepError::overrides(plan.resolve(&plan.target.overrides), e))?;
        for other in &plan.others {
            let path = plan.resolve(&other.overrides);
            let doc = crate::overrides::load_file(&path)?;
            let mut findings = check_pair_with(&doc, &target_doc, &CheckOptions { island_network: island })
                .map_err(|e| StepError::overrides(path.clone(), e))?;
            let named = doc.view().map_err(|e| StepError::overrides(path.clone(), e))?;
            let named = named.cassandra.effective_datacenter();
            if named != other.datacenter.as_str() {
                findings.push(Finding {
                    severity: Severity::Error,
                    code: "other-datacenter-mismatch",
                    message: format!(
                        "the plan says this region is datacenter `{}`, but its overrides file sets `{named}`: fix `others` or name that region's own overrides file",
                        other.datacenter
                    ),
                    path: "cassandra.datacenter".into(),
                    side: Side::Source,
                    line: doc.location(&["cassandra", "datacenter"]).map(|(l, _)| l),
                });
            }
            pair_findings.extend(against_other(&pair_findings, findings, &other.datacenter.to_string(), &path));
        }
        let (src, tgt) = (&ctx.deps.source, &ctx.deps.target);
        // Permissions first: without them the reads below would stop at the first 403.
        let (mut permission_findings, target_namespace_exists) = permissions(ctx).await?;
        if permission_findings.iter().any(|f| f.severity == Severity::Error) {
            return refuse(ctx, permission_findings);
        }
        let list_target = async {
            if target_namespace_exists {
                tgt.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await
            } else {
                Ok(Vec::new()) // no namespace, no pods (and perhaps no permission to list them yet)
            }
        };
        let (source_pods, target_pods, source_nodes, target_nodes, source_ca, target_ca) = tokio::try_join!(
            src.list_cassandra_pods(&plan.source.namespace, &plan.source.selector),
            list_target,
            src.node_facts(),
            tgt.node_facts(),
            src.export_secret(&plan.ca.namespace, &plan.ca.secret),
            tgt.export_secret(&plan.ca.namespace, &plan.ca.secret),
        )?;
        let (mut ring, mut ring_error, mut cluster) = (None, None, None);
        match ready_admin(plan, ctx.deps, Region::Source).await {
            Ok(admin) => match tokio::join!(admin.status(), admin.describecluster()) {
                (Ok(r), d) => {
                    *ctx.source_ring.lock().unwrap_or_else(|p| p.into_inner()) = Some(r.clone());
                    ring = Some(r);
                    cluster = d.ok();
                }
                (Err(e), _) => ring_error = Some(e.to_string()),
            },
            Err(e) => ring_error = Some(e.to_string()),
        }
        let target_ca_differs =
            !ctx.options.force_ca && matches!((&source_ca, &target_ca), (Some(s), Some(t)) if s.data != t.data);
        let facts = PreflightFacts {
            source_dc: plan.source.datacenter.to_string(),
            target_dc: plan.target.datacenter.to_string(),
            other_dcs: plan.others.iter().map(|o| o.datacenter.to_string()).collect(),
            island,
            pair_findings,
            source_overrides_dc: source_view.cassandra.effective_datacenter().to_owned(),
            source_pods,
            ring,
            ring_error,
            cluster,
            target_pods,
            source_nodes,
            target_nodes,
            source_ranges: plan.network.source_ranges.clone(),
            target_ranges: plan.network.target_ranges.clone(),
            target_ca_differs,
            source_ca_missing: source_ca.is_none(),
        };
        let mut findings = judge_preflight(&facts);
        findings.append(&mut network_probe(ctx, &facts, &target_view, target_namespace_exists).await);
        findings.append(&mut permission_findings);
        findings.append(&mut operator_findings(ctx).await?);
        findings.append(&mut other_side_findings(ctx).await);
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        refuse(ctx, findings)
    }
}

/// The pair check of another existing region's overrides (as the "source") against the new
/// region's: what it adds to the source's pair check. A finding the source's check already made
/// for the target file is not repeated; the rest say which region they compare with. Findings
/// about the other region's own file keep `Side::Source` and name the file.
fn against_other(already: &[Finding], findings: Vec<Finding>, dc: &str, path: &std::path::Path) -> Vec<Finding> {
    let seen: Vec<(&'static str, Side, String)> = already.iter().map(|f| (f.code, f.side, f.path.clone())).collect();
    let shown = path.display().to_string();
    findings
        .into_iter()
        // Findings about the new region's file that the source's check already made are not
        // repeated; every finding about the other region's own file is its own.
        .filter(|f| f.side == Side::Source || !seen.contains(&(f.code, f.side, f.path.clone())))
        .map(|mut f| {
            f.message = match f.side {
                Side::Source => format!("in `{dc}`'s overrides {shown}: {}", f.message),
                Side::Target => format!("compared with `{dc}`'s overrides ({shown}): {}", f.message),
            };
            f
        })
        .collect()
}

/// Where the probe pod runs: the plan's `preflight.network_probe.namespace`; else the target's
/// Apigee namespace when it exists (the namespace Cassandra will run in, with its pod security
/// settings); else the lock's namespace (`default`), because preflight never creates a namespace.
/// The flag says whether it is the Apigee namespace.
pub(crate) fn probe_namespace(plan: &ExpansionPlan, target_namespace_exists: bool) -> (String, bool) {
    match &plan.preflight.network_probe.namespace {
        Some(ns) => (ns.clone(), *ns == plan.target.namespace),
        None if target_namespace_exists => (plan.target.namespace.clone(), true),
        None => (lock_location(plan).0, false),
    }
}

/// Deletes the probe pod when dropped without [`ProbePodGuard::delete`] having succeeded (the step
/// was cancelled, or returned early): the deletion is started on the runtime, as a last resort
/// before the pod's own deadline and the next run's cleanup.
struct ProbePodGuard {
    cluster: Arc<dyn ClusterOps>,
    namespace: String,
    name: String,
    armed: bool,
}

impl ProbePodGuard {
    async fn delete(mut self) -> Result<(), ClusterError> {
        let r = self.cluster.delete_pod(&self.namespace, &self.name).await;
        if r.is_ok() {
            self.armed = false;
        }
        r
    }
}

impl Drop for ProbePodGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (cluster, namespace, name) = (self.cluster.clone(), self.namespace.clone(), self.name.clone());
            runtime.spawn(async move {
                if let Err(e) = cluster.delete_pod(&namespace, &name).await {
                    tracing::warn!("the probe pod {namespace}/{name} could not be deleted: {e}");
                }
            });
        }
    }
}

/// Each other region the plan names a context for: its ring must be readable there, as `verify`
/// will read it at the end (a wrong context or a missing permission refuses now, not after the
/// install and the rebuild).
async fn other_side_findings(ctx: &Ctx<'_>) -> Vec<Finding> {
    let reads = ctx.deps.others.iter().map(|o| async move {
        match ready_other_admin(o).await {
            Ok(admin) => admin.status().await.err().map(|e| (o, e.to_string())),
            Err(e) => Some((o, e.to_string())),
        }
    });
    futures::future::join_all(reads)
        .await
        .into_iter()
        .flatten()
        .map(|(o, e)| {
            let i = ctx.plan.others.iter().position(|p| p.datacenter.as_str() == o.datacenter).unwrap_or(0);
            Finding {
                severity: Severity::Error,
                code: "other-region-unreadable",
                message: format!(
                    "the plan names context `{}` for datacenter `{}`, but its ring cannot be read there: {e}. Fix the context, \
                     or grant the tool there what it has in the source cluster (pods list, pods/exec: docs/rbac/source-cluster.yaml), \
                     or remove `context` to see that region through the source and the target only",
                    o.cluster.context(),
                    o.datacenter
                ),
                path: format!("others[{i}].context"),
                side: Side::Source,
                line: None,
            }
        })
        .collect()
}

fn probe_finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding { severity, code, message, path: "preflight.network_probe".into(), side: Side::Target, line: None }
}

/// The network probe (`preflight.network_probe`): from a pod on the host network of a target
/// node (one Cassandra's nodeSelector picks), a TCP connection to each seed the expansion may use
/// (the seed host and its alternates, chosen as `select-seeds` will) on the internode port, and
/// the node's own hostname resolved. The pod is deleted in every case. Findings: one per failed
/// check, or one saying why the probe could not run.
async fn network_probe(
    ctx: &Ctx<'_>,
    facts: &PreflightFacts,
    target_view: &OverridesView,
    target_namespace_exists: bool,
) -> Vec<Finding> {
    let plan = ctx.plan;
    let spec = &plan.preflight.network_probe;
    if !spec.enabled {
        ctx.emit(Event::Warning {
            step: StepId::Preflight,
            message: "preflight.network_probe.enabled is false: the network between the regions (the seeds' internode port, the nodes' hostnames) is not checked before the install".into(),
        });
        return Vec::new();
    }
    // The seeds as `select-seeds` will choose them; without a readable ring preflight refuses anyway.
    let policy = SeedPolicy { source_dc: Some(plan.source.datacenter.clone()), count: 3 };
    let Ok(seeds) = select_seeds(&facts.source_pods, facts.ring.as_ref(), &policy) else {
        ctx.emit(Event::Note {
            step: StepId::Preflight,
            message: "network probe skipped: no seed host can be chosen (see the other findings)".into(),
        });
        return Vec::new();
    };
    let targets: Vec<ProbeTarget> = std::iter::once(&seeds.seed_host)
        .chain(&seeds.alternates)
        .map(|s| ProbeTarget { host: s.address.to_string(), port: spec.port, pod: s.pod.clone() })
        .collect();
    let selector = target_view.cassandra.node_selector.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
    let Some((node, matched)) = choose_probe_node(&facts.target_nodes, selector) else {
        return vec![probe_finding(
            Severity::Error,
            "network-probe-no-node",
            format!(
                "context `{}` has no Ready, schedulable node to run the network probe on (nor Cassandra)",
                ctx.deps.target.context()
            ),
        )];
    };
    let mut out = Vec::new();
    if !matched && let Some((k, v)) = selector {
        out.push(probe_finding(
            Severity::Warning,
            "network-probe-node-selector",
            format!("no Ready target node carries Cassandra's node label {k}={v} (nodeSelector in the target overrides): the probe ran on {node} instead; label the Cassandra nodes before installing"),
        ));
    }
    let (namespace, _) = probe_namespace(plan, target_namespace_exists);
    let image = spec
        .image
        .clone()
        .or_else(|| target_view.cassandra.image.clone())
        .unwrap_or_else(|| DEFAULT_PROBE_IMAGE.to_owned());
    let connect = spec.connect_timeout.0.as_secs().max(1);
    // The pod outlives neither the probe's budget nor a crashed run by much.
    let lifetime = spec.timeout.0 + Duration::from_secs(connect * (targets.len() as u64 + 2) + 60);
    let pod = ProbePodSpec {
        namespace: namespace.clone(),
        name: PROBE_POD.to_owned(),
        image: image.clone(),
        node_name: node.clone(),
        node_selector: if matched {
            selector.map(|(k, v)| [(k.to_owned(), v.to_owned())].into()).unwrap_or_default()
        } else {
            Default::default()
        },
        host_network: true,
        labels: [
            (MANAGED_BY.0.to_owned(), MANAGED_BY.1.to_owned()),
            ("app.kubernetes.io/name".to_owned(), PROBE_POD.to_owned()),
        ]
        .into(),
        lifetime,
    };
    let target = &ctx.deps.target;
    let shown = format!("pod {namespace}/{PROBE_POD} (image {image}) on node {node}");
    let guard = ProbePodGuard {
        cluster: target.clone(),
        namespace: namespace.clone(),
        name: PROBE_POD.to_owned(),
        armed: true,
    };
    let run = async {
        let ran_on = target.start_probe_pod(&pod, spec.timeout.0).await?;
        let argv: Vec<ExecArg> = probe_command(&targets, connect).into_iter().map(ExecArg::Plain).collect();
        let budget = Duration::from_secs(connect * (targets.len() as u64 + 2) + 10);
        let output = target.exec(&namespace, PROBE_POD, Some("probe"), &argv, budget).await?;
        Ok::<_, ClusterError>((ran_on, output))
    };
    let result = run.await;
    let deleted = guard.delete().await;
    match result {
        Ok((ran_on, output)) => {
            let checks = parse_probe_output(&output.stdout);
            if checks.is_empty() {
                out.push(probe_finding(
                    Severity::Error,
                    "network-probe-failed",
                    format!(
                        "the network probe ({shown}) reported nothing{}: set preflight.network_probe.image to an image with sh (bash or nc), or enabled: false to skip the check",
                        output.message.map(|m| format!(" ({m})")).unwrap_or_default()
                    ),
                ));
            } else {
                out.extend(judge_probe(&ran_on, &targets, &checks, facts.island));
            }
        }
        Err(e) => out.push(probe_finding(
            Severity::Error,
            "network-probe-failed",
            format!(
                "the network probe could not run ({shown}): {e}. Check that the image can be pulled there (preflight.network_probe.image; air-gapped: a mirror in your registry), that the namespace allows hostNetwork pods (preflight.network_probe.namespace), or set enabled: false to skip the check"
            ),
        )),
    }
    if let Err(e) = deleted {
        out.push(probe_finding(
            Severity::Warning,
            "network-probe-pod-left",
            format!("the probe pod {namespace}/{PROBE_POD} could not be deleted ({e}); it ends on its own within {}s; delete it with `kubectl --context {} -n {namespace} delete pod {PROBE_POD}`", lifetime.as_secs(), target.context()),
        ));
    }
    out
}

/// With Helm: each cluster's Apigee operator must run where `installer.version` puts it
/// (`apigee-system` for 1.11 and 1.12, the Apigee namespace from 1.13). An operator found only in
/// the other namespace means the version is wrong, and installing would start a second operator.
async fn operator_findings(ctx: &Ctx<'_>) -> Result<Vec<Finding>, StepError> {
    let plan = ctx.plan;
    let InstallerSpec::Helm { version, .. } = &plan.installer else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for (side, cluster, region) in
        [(Side::Source, &ctx.deps.source, &plan.source), (Side::Target, &ctx.deps.target, &plan.target)]
    {
        let expected = version.operator_namespace(&region.namespace);
        let other = if expected == "apigee-system" { region.namespace.as_str() } else { "apigee-system" };
        let (at_expected, at_other) = tokio::try_join!(
            cluster.get_custom(&DEPLOYMENT, expected, OPERATOR_DEPLOYMENT),
            cluster.get_custom(&DEPLOYMENT, other, OPERATOR_DEPLOYMENT),
        )?;
        if at_expected.is_none() && at_other.is_some() {
            out.push(Finding {
                severity: Severity::Error,
                code: "operator-namespace",
                message: format!(
                    "context `{}` runs the Apigee operator (deployment {OPERATOR_DEPLOYMENT}) in namespace {other}, but the charts of hybrid {version} (installer.version) put it in {expected}: set installer.version to the release these clusters run (1.11 and 1.12: apigee-system; 1.13 and later: the Apigee namespace), or the install would start a second operator",
                    region.context
                ),
                path: "installer.version".into(),
                side,
                line: None,
            });
        }
    }
    Ok(out)
}

/// Emits and records the findings; refuses when any is an error.
pub(crate) fn refuse(ctx: &Ctx<'_>, findings: Vec<Finding>) -> Result<(), StepError> {
    for f in &findings {
        ctx.emit(Event::Finding { finding: f.clone() });
    }
    if let Ok(mut all) = ctx.findings.lock() {
        all.clone_from(&findings);
    }
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return Err(StepError::Refused(findings));
    }
    Ok(())
}

/// Asks each permission of the cluster it concerns (`SelfSubjectAccessReview`): `answers[i]`
/// answers `needed[i]`. Nothing is changed.
pub(crate) async fn ask(ctx: &Ctx<'_>, needed: &[Needed]) -> Vec<Answer> {
    futures::future::join_all(needed.iter().map(|n| async move {
        let cluster = match n.cluster {
            Side::Source => &ctx.deps.source,
            Side::Target => &ctx.deps.target,
        };
        let mut unknown = None;
        for check in &n.checks {
            match cluster.access_allowed(check).await {
                Ok(true) => return Answer::Allowed,
                Ok(false) => {}
                Err(e) => unknown = Some(e.to_string()),
            }
        }
        unknown.map_or(Answer::Denied, Answer::Unknown)
    }))
    .await
}

/// Asks both clusters about every permission the plan needs (`SelfSubjectAccessReview`), and
/// whether the target's Apigee namespace exists yet. Nothing is changed.
async fn permissions(ctx: &Ctx<'_>) -> Result<(Vec<Finding>, bool), StepError> {
    let plan = ctx.plan;
    let (lease_namespace, lease_name) = lock_location(plan);
    let scope = Scope {
        source_namespace: plan.source.namespace.clone(),
        target_namespace: plan.target.namespace.clone(),
        ca_namespace: plan.ca.namespace.clone(),
        ca_secret: plan.ca.secret.clone(),
        lease_namespace,
        lease_name,
        replication_cr: match plan.replication() {
            Replication::Cr(cr) => Some(cr.name.clone()),
            Replication::Nodetool => None,
        },
        organization_lookup: matches!(plan.replication(), Replication::Cr(cr) if cr.organization.is_none()),
        helm: matches!(plan.installer, InstallerSpec::Helm { .. }),
        datastore: plan.cr.as_ref().map_or_else(|| "default".to_owned(), |c| c.datastore.clone()),
    };
    let needed = permissions::needed(&scope);
    let answers = ask(ctx, &needed).await;
    let namespace_readable = needed
        .iter()
        .zip(&answers)
        .find(|(n, _)| n.cluster == Side::Target && n.checks[0].resource == "namespaces" && n.checks[0].verb == "get")
        .is_some_and(|(_, a)| *a == Answer::Allowed);
    // Unknown when it may not be read: assume it exists, so its permissions count as errors.
    let exists = !namespace_readable || ctx.deps.target.export_namespace(&plan.target.namespace).await?.is_some();
    let (mut needed, mut answers) = (needed, answers);
    if plan.preflight.network_probe.enabled {
        let (ns, in_apigee) = probe_namespace(plan, exists);
        let probe = permissions::needed_for_probe(&ns, PROBE_POD, in_apigee);
        answers.extend(ask(ctx, &probe).await);
        needed.extend(probe);
    }
    let contexts = (ctx.deps.source.context(), ctx.deps.target.context());
    Ok((
        permissions::judge(
            &needed,
            &answers,
            contexts,
            permissions::EXPANSION_CLUSTERS,
            &plan.target.namespace,
            exists,
        ),
        exists,
    ))
}
