//! `preflight`: read-only facts from both clusters and both overrides files, judged by
//! [`crate::preflight::judge_preflight`]; any error refuses the expansion before anything changes.

use async_trait::async_trait;

use crate::overrides::{CheckOptions, Finding, Severity, Side, check_pair_with};
use crate::permissions::{self, Answer, Needed, OPERATOR_DEPLOYMENT, Scope};
use crate::preflight::{PreflightFacts, judge_preflight};

use super::super::Region;
use super::super::ctx::Ctx;
use super::super::error::StepError;
use super::super::events::Event;
use super::super::lock::lock_location;
use super::super::plan::{InstallerSpec, NetworkMode, Replication};
use super::{Planned, Step, StepId, planned_target, ready_admin};
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
        let island = plan.network.mode == NetworkMode::Island;
        let pair_findings = check_pair_with(&source_doc, &target_doc, &CheckOptions { island_network: island })
            .map_err(|e| StepError::overrides(plan.resolve(&plan.target.overrides), e))?;
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
        findings.append(&mut permission_findings);
        findings.append(&mut operator_findings(ctx).await?);
        findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
        refuse(ctx, findings)
    }
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
