//! The steps. Each: is it already done (asking the world), else do it; in a dry run, describe it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::atomic_file::{keep_original, write_atomic};
use crate::copy::{CopyError, copy_ca, copy_namespace};
use crate::model::CassandraPod;
use crate::nodetool::scan_rebuild_log;
use crate::overrides::OverridesDoc;
use crate::ports::{CassandraAdmin, ClusterError, ClusterOps};
use crate::seeds::{SeedPolicy, select_seeds};
use crate::verify::{VerifyFacts, verify};

use super::journal::StepState;
use super::plan::{ExpansionPlan, NetworkMode};
use super::preflight::{PreflightFacts, judge_preflight};
use super::{Ctx, Deps, Event, Region, RefusedFindings, StepError};

/// Runs one step; returns `"done"`, `"skipped"` or `"planned"`.
pub(crate) async fn run_step(ctx: &Ctx<'_>, id: &'static str) -> Result<&'static str, StepError> {
    let dry = ctx.options.dry_run;
    // Read-only steps always run; the others skip when the world shows them done.
    if !dry && !matches!(id, "preflight" | "verify") {
        if let Some(reason) = already_done(ctx, id).await? {
            ctx.emit(Event::StepSkipped { step: id, reason });
            if ctx.journal(|j| j.step(id)) != StepState::Done {
                ctx.record(|j| j.set_step(id, StepState::Done, Some(0), None))?;
            }
            return Ok("skipped");
        }
    }
    if dry && !matches!(id, "preflight" | "select-seeds") {
        describe(ctx, id).await?;
        return Ok("planned");
    }
    ctx.emit(Event::StepStarted { step: id });
    if !dry {
        ctx.record(|j| j.set_step(id, StepState::Running, None, None))?;
    }
    let t = Instant::now();
    match id {
        "preflight" => preflight(ctx).await?,
        "select-seeds" => select(ctx).await?,
        "prepare-overrides" => prepare_overrides(ctx)?,
        "copy-namespace" => {
            copy_namespace(&*ctx.deps.source, &*ctx.deps.target, &ctx.plan.target.namespace).await.map_err(copy_err)?;
        }
        "copy-ca" => {
            copy_ca(&*ctx.deps.source, &*ctx.deps.target, &ctx.plan.ca.namespace, &ctx.plan.ca.secret, ctx.options.force_ca).await.map_err(copy_err)?;
        }
        "install" => install(ctx).await?,
        "wait-joined" => wait_joined(ctx).await?,
        "check-replication" => check_replication(ctx).await?,
        "rebuild" => super::rebuild::rebuild_all(ctx).await?,
        "verify" => verify_step(ctx).await?,
        "finalize" => finalize(ctx).await?,
        _ => return Err(StepError::Message(format!("unknown step {id}"))),
    }
    let ms = t.elapsed().as_millis() as u64;
    if !dry {
        ctx.record(|j| j.set_step(id, StepState::Done, Some(ms), None))?;
    }
    ctx.emit(Event::StepFinished { step: id, duration_ms: ms });
    Ok("done")
}

fn copy_err(e: CopyError) -> StepError {
    match e {
        CopyError::Cluster(c) => StepError::Cluster(c),
        other => StepError::Message(other.to_string()),
    }
}

/// `Some(reason)` when the world shows the step done.
async fn already_done(ctx: &Ctx<'_>, id: &'static str) -> Result<Option<String>, StepError> {
    let plan = ctx.plan;
    Ok(match id {
        "select-seeds" => ctx.journal(|j| j.seed_host.clone()).map(|s| format!("seed host {s} chosen in an earlier run")),
        "prepare-overrides" => {
            let seed = ctx.journal(|j| j.seed_host.clone());
            let view = load(&plan.resolve(&plan.target.overrides))?.view().map_err(|e| overrides_err(plan, &plan.target.overrides, e))?;
            let c = &view.cassandra;
            // After finalize the seed host is gone on purpose; that still counts as prepared only
            // while the new nodes are in the ring (a wiped region must be prepared again).
            let finalized = ctx.journal(|j| j.step("finalize") == StepState::Done || j.datastore_reapplied)
                && c.multi_region_seed_host.is_none()
                && joined(ctx).await?.is_ok();
            let seed_ok = c.multi_region_seed_host == seed || finalized;
            (seed_ok && c.datacenter.as_deref() == Some(plan.target.datacenter.as_str()) && c.effective_rack() == plan.target_rack().as_str())
                .then(|| "the target overrides already carry the seed host, datacenter and rack".to_owned())
        }
        "copy-namespace" => ctx.deps.target.export_namespace(&plan.target.namespace).await?.map(|_| format!("namespace {} exists in the target", plan.target.namespace)),
        "copy-ca" => {
            let (s, t) = (
                ctx.deps.source.export_secret(&plan.ca.namespace, &plan.ca.secret).await?,
                ctx.deps.target.export_secret(&plan.ca.namespace, &plan.ca.secret).await?,
            );
            matches!((s, t), (Some(s), Some(t)) if s.data == t.data).then(|| "the target has the source's CA".to_owned())
        }
        "install" => {
            let want = expected_target_replicas(plan)?;
            let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
            let ready = pods.iter().filter(|p| p.ready).count();
            (ready >= want).then(|| format!("{ready} of {want} Cassandra pods are Ready in the target"))
        }
        "wait-joined" => joined(ctx).await?.ok().map(|n| format!("{n} target nodes are UN from both sides")),
        "check-replication" => missing_replication(ctx).await?.is_empty().then(|| "every keyspace replicates to the target datacenter".to_owned()),
        "rebuild" => {
            let all_done = ctx.journal(|j| !j.rebuild.is_empty() && j.rebuild.values().all(|r| r.state == StepState::Done));
            // The journal is not enough: the pods' own logs must show it (a wiped and
            // reinstalled region has new, empty nodes).
            let mut confirmed = all_done;
            if all_done {
                for p in ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await? {
                    let log = ctx.deps.admins.admin(Region::Target, &p.name).log(Some(50_000)).await?;
                    let done = crate::nodetool::last_rebuild_outcome(&scan_rebuild_log(&log), plan.source.datacenter.as_str()).is_some_and(|o| o.completed && o.failure.is_none());
                    confirmed &= done;
                }
            }
            confirmed.then(|| "every target node finished its rebuild (journal and logs agree)".to_owned())
        }
        "finalize" => {
            let view = load(&plan.resolve(&plan.target.overrides))?.view().map_err(|e| overrides_err(plan, &plan.target.overrides, e))?;
            (view.cassandra.multi_region_seed_host.is_none() && ctx.journal(|j| j.datastore_reapplied) && joined(ctx).await?.is_ok())
                .then(|| "the seed host is gone and the datastore was re-applied".to_owned())
        }
        _ => None,
    })
}

fn overrides_err(plan: &ExpansionPlan, p: &Path, e: crate::overrides::OverridesError) -> StepError {
    StepError::Overrides { path: plan.resolve(p).display().to_string(), source: e }
}

pub(crate) fn load(path: &Path) -> Result<OverridesDoc, StepError> {
    let text = std::fs::read_to_string(path).map_err(|e| StepError::Message(format!("cannot read {}: {e}", path.display())))?;
    OverridesDoc::parse(&text).map_err(|e| StepError::Overrides { path: path.display().to_string(), source: e })
}

/// `cassandra.replicaCount` of the target overrides (Apigee's default is 3).
pub(crate) fn expected_target_replicas(plan: &ExpansionPlan) -> Result<usize, StepError> {
    let view = load(&plan.resolve(&plan.target.overrides))?.view().map_err(|e| overrides_err(plan, &plan.target.overrides, e))?;
    Ok(view.cassandra.replica_count.unwrap_or(3) as usize)
}

/// The target overrides as this plan will write them (datacenter, rack, hostNetwork).
fn planned_target(plan: &ExpansionPlan, seed: Option<&str>) -> Result<OverridesDoc, StepError> {
    let path = plan.resolve(&plan.target.overrides);
    let mut doc = load(&path)?;
    let e = |e| overrides_err(plan, &plan.target.overrides, e);
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

/// A Ready pod of a region and nodetool on it.
async fn any_admin(ctx: &Ctx<'_>, region: Region) -> Result<Arc<dyn CassandraAdmin>, StepError> {
    ready_admin(ctx.plan, ctx.deps, region).await
}

async fn preflight(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let source_doc = load(&plan.resolve(&plan.source.overrides))?;
    let source_view = source_doc.view().map_err(|e| overrides_err(plan, &plan.source.overrides, e))?;
    let target_doc = planned_target(plan, None)?;
    let options = crate::overrides::CheckOptions { island_network: plan.network.mode == NetworkMode::Island };
    let pair_findings = crate::overrides::check_pair_with(&source_doc, &target_doc, &options).map_err(|e| overrides_err(plan, &plan.target.overrides, e))?;
    let (src, tgt) = (&ctx.deps.source, &ctx.deps.target);
    let source_pods = src.list_cassandra_pods(&plan.source.namespace, &plan.source.selector).await?;
    let target_pods = tgt.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let (mut ring, mut ring_error, mut cluster) = (None, None, None);
    match any_admin(ctx, Region::Source).await {
        Ok(admin) => {
            match admin.status().await {
                Ok(r) => ring = Some(r),
                Err(e) => ring_error = Some(e.to_string()),
            }
            if ring.is_some() {
                cluster = admin.describecluster().await.ok();
            }
        }
        Err(e) => ring_error = Some(e.to_string()),
    }
    let source_ca = src.export_secret(&plan.ca.namespace, &plan.ca.secret).await?;
    let target_ca = tgt.export_secret(&plan.ca.namespace, &plan.ca.secret).await?;
    let target_ca_differs = !ctx.options.force_ca && matches!((&source_ca, &target_ca), (Some(s), Some(t)) if s.data != t.data);
    let parse = |v: &[String]| v.iter().filter_map(|c| c.parse().ok()).collect();
    let facts = PreflightFacts {
        source_dc: plan.source.datacenter.to_string(),
        target_dc: plan.target.datacenter.to_string(),
        island: plan.network.mode == NetworkMode::Island,
        pair_findings,
        source_overrides_dc: source_view.cassandra.effective_datacenter().to_owned(),
        source_pods,
        ring,
        ring_error,
        cluster,
        target_pods,
        source_nodes: src.node_facts().await?,
        target_nodes: tgt.node_facts().await?,
        source_ranges: parse(&plan.network.source_ranges),
        target_ranges: parse(&plan.network.target_ranges),
        target_ca_differs,
        source_ca_missing: source_ca.is_none(),
    };
    let findings = judge_preflight(&facts);
    for f in &findings {
        ctx.emit(Event::Finding { finding: f.clone() });
    }
    if let Ok(mut all) = ctx.findings.lock() {
        *all = findings.clone();
    }
    if findings.iter().any(|f| f.severity == crate::overrides::Severity::Error) {
        return Err(StepError::Refused(RefusedFindings(findings)));
    }
    Ok(())
}

async fn select(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let pods = ctx.deps.source.list_cassandra_pods(&plan.source.namespace, &plan.source.selector).await?;
    let ring = any_admin(ctx, Region::Source).await?.status().await?;
    let policy = SeedPolicy { source_dc: Some(plan.source.datacenter.clone()), count: 3 };
    let chosen = select_seeds(&pods, Some(&ring), &policy).map_err(|e| StepError::Message(e.to_string()))?;
    let seed = chosen.seed_host.address.to_string();
    let alternates: Vec<String> = chosen.alternates.iter().map(|s| s.address.to_string()).collect();
    if alternates.is_empty() {
        ctx.emit(Event::Warning { step: "select-seeds", message: format!("only {seed} can be a seed: no alternate if it goes away") });
    }
    // The journal holds the choice in every run, a dry run included (it is not saved then).
    let mut j = ctx.journal.lock().unwrap_or_else(|p| p.into_inner());
    j.seed_host = Some(seed.clone());
    j.seed_alternates = alternates;
    if !ctx.options.dry_run {
        j.save()?;
    }
    drop(j);
    if ctx.options.dry_run {
        let before = std::fs::read_to_string(plan.resolve(&plan.target.overrides)).unwrap_or_default();
        let after = planned_target(plan, Some(&seed))?;
        ctx.emit(Event::Action {
            step: "prepare-overrides",
            description: format!("edit {} (original kept as .orig)", plan.resolve(&plan.target.overrides).display()),
            commands: line_diff(&before, after.text()),
        });
    }
    Ok(())
}

/// Changed lines as `@@ line N`, `-old`, `+new` (an LCS diff of the changed middle), for
/// dry-run output. Password values are never shown.
pub(crate) fn line_diff(before: &str, after: &str) -> Vec<String> {
    let b: Vec<&str> = before.lines().collect();
    let a: Vec<&str> = after.lines().collect();
    let prefix = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let suffix = b[prefix..].iter().rev().zip(a[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (bm, am) = (&b[prefix..b.len() - suffix], &a[prefix..a.len() - suffix]);
    // LCS table over the (small) changed middle.
    let mut t = vec![vec![0usize; am.len() + 1]; bm.len() + 1];
    for i in (0..bm.len()).rev() {
        for j in (0..am.len()).rev() {
            t[i][j] = if bm[i] == am[j] { t[i + 1][j + 1] + 1 } else { t[i + 1][j].max(t[i][j + 1]) };
        }
    }
    let shown = |sign: char, l: &str| {
        if l.contains("password") { format!("{sign}{}: <redacted>", l.split(':').next().unwrap_or("")) } else { format!("{sign}{l}") }
    };
    let (mut i, mut j, mut out, mut last_hunk) = (0, 0, Vec::new(), None);
    while i < bm.len() || j < am.len() {
        if i < bm.len() && j < am.len() && bm[i] == am[j] {
            i += 1;
            j += 1;
            continue;
        }
        let line = prefix + j + 1;
        if last_hunk != Some(line) {
            out.push(format!("@@ line {line}"));
        }
        if j < am.len() && (i == bm.len() || t[i][j + 1] > t[i + 1][j]) {
            out.push(shown('+', am[j]));
            j += 1;
            last_hunk = Some(prefix + j + 1);
        } else {
            out.push(shown('-', bm[i]));
            i += 1;
            last_hunk = Some(line);
        }
    }
    out
}

fn prepare_overrides(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let seed = ctx.journal(|j| j.seed_host.clone()).ok_or_else(|| StepError::Message("no seed host chosen".into()))?;
    let path = plan.resolve(&plan.target.overrides);
    let doc = planned_target(plan, Some(&seed))?;
    write_overrides(ctx, &path, &doc)
}

fn write_overrides(ctx: &Ctx<'_>, path: &Path, doc: &OverridesDoc) -> Result<(), StepError> {
    let current = std::fs::read(path).unwrap_or_default();
    if current == doc.text().as_bytes() {
        return Ok(());
    }
    let backup = keep_original(path).map_err(|e| StepError::Message(e.to_string()))?;
    write_atomic(path, doc.text().as_bytes(), None).map_err(|e| StepError::Message(e.to_string()))?;
    ctx.record(|j| {
        if !j.backups.contains(&backup) {
            j.backups.push(backup.clone());
        }
    })
}

async fn install(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let path = plan.resolve(&plan.target.overrides);
    let installer = &ctx.deps.installer;
    installer.init(&path).await?;
    installer.apply(&path).await?;
    installer.wait_ready(&path, plan.timeouts.install.0).await?;
    Ok(())
}

/// `Ok(n)` when all `n` target nodes are UN under the target datacenter from both sides;
/// `Err(what is missing)` otherwise. A node under another datacenter is a hard error.
async fn joined(ctx: &Ctx<'_>) -> Result<Result<usize, String>, StepError> {
    let plan = ctx.plan;
    let want = expected_target_replicas(plan)?;
    let pods = ctx.deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let ready: Vec<&CassandraPod> = pods.iter().filter(|p| p.ready).collect();
    if ready.len() < want {
        return Ok(Err(format!("{} of {want} target pods are Ready", ready.len())));
    }
    let addresses: Vec<String> = ready.iter().filter_map(|p| p.cassandra_address()).map(|a| a.to_string()).collect();
    let target_dc = plan.target.datacenter.as_str();
    for region in [Region::Source, Region::Target] {
        let view = match any_admin(ctx, region).await {
            Ok(a) => match a.status().await {
                Ok(v) => v,
                Err(e) => return Ok(Err(format!("nodetool status from the {region:?} failed: {e}"))),
            },
            Err(e) => return Ok(Err(e.to_string())),
        };
        for a in &addresses {
            match view.find_address(a) {
                None => return Ok(Err(format!("the {} does not see {a} in the ring yet", side_name(region)))),
                Some((dc, _)) if dc != target_dc => {
                    return Err(StepError::Message(format!(
                        "{a} joined as datacenter `{dc}`, but the plan says `{target_dc}`: check cassandra.datacenter in the target overrides; do not rebuild"
                    )));
                }
                Some((_, n)) if !n.is_up_normal() => return Ok(Err(format!("{a} is {} seen from the {}", n.code(), side_name(region)))),
                Some(_) => {}
            }
        }
        if let Some((dc, n)) = view.nodes().find(|(_, n)| !n.is_up_normal()) {
            return Ok(Err(format!("{} ({dc}) is {} seen from the {}", n.address, n.code(), side_name(region))));
        }
    }
    Ok(Ok(addresses.len()))
}

fn side_name(r: Region) -> &'static str {
    match r {
        Region::Source => "source",
        Region::Target => "target",
    }
}

async fn wait_joined(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let deadline = Instant::now() + plan.timeouts.join.0;
    loop {
        let why = match joined(ctx).await? {
            Ok(_) => return Ok(()),
            Err(why) => why,
        };
        if Instant::now() >= deadline {
            return Err(StepError::Message(format!(
                "the new nodes did not join within {}s: {why}. Check that the seed host is reachable from the target on ports 7000/7001, that the target uses the source's CA (copy-ca), and that clusterName matches",
                plan.timeouts.join.0.as_secs()
            )));
        }
        tokio::time::sleep(plan.timeouts.poll.0).await;
    }
}

/// Keyspaces that do not replicate to the target datacenter yet.
async fn missing_replication(ctx: &Ctx<'_>) -> Result<Vec<String>, StepError> {
    let target_dc = ctx.plan.target.datacenter.as_str();
    let admin = match any_admin(ctx, Region::Target).await {
        Ok(a) => a,
        Err(e) => return Ok(vec![format!("(cannot check: {e})")]),
    };
    let d = admin.describecluster().await?;
    let mut missing = Vec::new();
    for (ks, r) in &d.keyspaces {
        let system_shared = matches!(ks.as_str(), "system_auth" | "system_distributed" | "system_traces");
        let replicated = r.class == "NetworkTopologyStrategy";
        if (replicated || system_shared || r.class == "SimpleStrategy") && r.replicas_in(target_dc) == 0 {
            missing.push(format!("{ks} ({} {:?})", r.class, r.replication));
        }
    }
    if d.keyspaces.is_empty() {
        missing.push("(nodetool describecluster printed no keyspaces: Cassandra 4.0+ is needed for this check)".into());
    }
    Ok(missing)
}

async fn check_replication(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let deadline = Instant::now() + plan.timeouts.replication.0;
    loop {
        let missing = missing_replication(ctx).await?;
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let dc = plan.target.datacenter.as_str();
            return Err(StepError::Message(format!(
                "these keyspaces do not replicate to {dc}, so a rebuild would stream nothing for them: {}. Apigee's setup jobs extend replication when the new region is installed; check them (kubectl -n {} get jobs), or extend it yourself, e.g. ALTER KEYSPACE <ks> WITH replication = {{'class': 'NetworkTopologyStrategy', '{}': 3, '{dc}': 3}}",
                missing.join(", "),
                plan.target.namespace,
                plan.source.datacenter
            )));
        }
        ctx.emit(Event::Warning { step: "check-replication", message: format!("waiting for replication to {}: {}", plan.target.datacenter, missing.join(", ")) });
        tokio::time::sleep(plan.timeouts.poll.0.max(Duration::from_secs(1))).await;
    }
}

/// A Ready pod of a region (no journal needed).
async fn ready_admin(plan: &ExpansionPlan, deps: &Deps, region: Region) -> Result<Arc<dyn CassandraAdmin>, StepError> {
    let (cluster, spec) = match region {
        Region::Source => (&deps.source, &plan.source),
        Region::Target => (&deps.target, &plan.target),
    };
    let pods = cluster.list_cassandra_pods(&spec.namespace, &spec.selector).await?;
    let pod = pods.iter().find(|p| p.ready).ok_or_else(|| StepError::Message(format!("no Ready Cassandra pod in {} ({}, -l {})", cluster.context(), spec.namespace, spec.selector)))?;
    Ok(deps.admins.admin(region, &pod.name))
}

/// Gathers what verification judges. `recorded` gives the rebuild plan id the journal holds for
/// a pod; without one, the log's last completed rebuild from the source is used.
pub(crate) async fn verify_facts(plan: &ExpansionPlan, deps: &Deps, recorded: &(dyn Fn(&str) -> Option<String> + Sync)) -> Result<VerifyFacts, StepError> {
    let pods = deps.target.list_cassandra_pods(&plan.target.namespace, &plan.target.selector).await?;
    let from_source = ready_admin(plan, deps, Region::Source).await?.status().await?;
    let from_target = ready_admin(plan, deps, Region::Target).await?.status().await?;
    let mut log_events = BTreeMap::new();
    let mut rebuild_plans = BTreeMap::new();
    let mut own_loads = BTreeMap::new();
    for (region, cluster, spec) in [(Region::Source, &deps.source, &plan.source), (Region::Target, &deps.target, &plan.target)] {
        for p in cluster.list_cassandra_pods(&spec.namespace, &spec.selector).await?.iter().filter(|p| p.ready) {
            let Some(address) = p.cassandra_address().map(|a| a.to_string()) else { continue };
            // A node's own Load is current; others' come from gossip, up to a minute old.
            if let Ok(view) = deps.admins.admin(region, &p.name).status().await
                && let Some(bytes) = view.find_address(&address).and_then(|(_, n)| n.load_bytes)
            {
                own_loads.insert(address, bytes);
            }
        }
    }
    for p in &pods {
        let log = deps.admins.admin(Region::Target, &p.name).log(Some(50_000)).await?;
        let events = scan_rebuild_log(&log);
        let id = recorded(&p.name).or_else(|| {
            crate::nodetool::last_rebuild_outcome(&events, plan.source.datacenter.as_str()).and_then(|o| o.plan_id)
        });
        log_events.insert(p.name.clone(), events);
        rebuild_plans.insert(p.name.clone(), id);
    }
    Ok(VerifyFacts {
        source_dc: plan.source.datacenter.to_string(),
        target_dc: plan.target.datacenter.to_string(),
        from_source,
        from_target,
        target_addresses: pods.iter().filter_map(|p| p.cassandra_address()).map(|a| a.to_string()).collect(),
        rebuild_plans,
        log_events,
        min_load_fraction: plan.verify.min_load_fraction,
        own_loads,
    })
}

async fn verify_step(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let recorded = |pod: &str| ctx.journal(|j| j.rebuild.get(pod).and_then(|r| r.plan_id.clone()));
    let facts = verify_facts(ctx.plan, ctx.deps, &recorded).await?;
    let report = verify(&facts);
    let failures = report.failures();
    if let Ok(mut v) = ctx.verify.lock() {
        *v = Some(report);
    }
    if failures.is_empty() { Ok(()) } else { Err(StepError::Message(format!("verification failed: {}", failures.join("; ")))) }
}

async fn finalize(ctx: &Ctx<'_>) -> Result<(), StepError> {
    let plan = ctx.plan;
    let path = plan.resolve(&plan.target.overrides);
    let mut doc = load(&path)?;
    doc.clear_seed_host().map_err(|e| overrides_err(plan, &plan.target.overrides, e))?;
    write_overrides(ctx, &path, &doc)?;
    ctx.deps.installer.apply_datastore(&path).await?;
    ctx.record(|j| j.datastore_reapplied = true)?;
    let deadline = Instant::now() + plan.timeouts.join.0;
    loop {
        match joined(ctx).await? {
            Ok(_) => return Ok(()),
            Err(why) if Instant::now() >= deadline => {
                return Err(StepError::Message(format!("after re-applying the datastore without the seed host, the ring is not all UN: {why}")));
            }
            Err(_) => tokio::time::sleep(plan.timeouts.poll.0).await,
        }
    }
}

/// Dry run: the equivalent commands of a step, passwords redacted.
async fn describe(ctx: &Ctx<'_>, id: &'static str) -> Result<(), StepError> {
    let plan = ctx.plan;
    let (s, t) = (&plan.source, &plan.target);
    let overrides = plan.resolve(&t.overrides);
    let strip = "| yq 'del(.metadata.uid, .metadata.resourceVersion, .metadata.creationTimestamp, .metadata.managedFields, .metadata.ownerReferences, .status)'";
    let nodetool = |ctxname: &str, pod: &str, args: &str| format!("kubectl --context {ctxname} -n {} exec {pod} -- nodetool -u <jmx user> -pw <redacted> {args}", t.namespace);
    let target_pods: Vec<String> = (0..expected_target_replicas(plan)?).map(|i| format!("apigee-cassandra-default-{i}")).collect();
    let (description, commands): (String, Vec<String>) = match id {
        "prepare-overrides" => return Ok(()), // shown with the seed selection, as a diff
        "copy-namespace" => (
            format!("copy namespace {} from {} to {}", t.namespace, s.context, t.context),
            vec![format!("kubectl --context {} get namespace {} -o yaml {strip} | kubectl --context {} apply -f -", s.context, t.namespace, t.context)],
        ),
        "copy-ca" => (
            format!("copy the CA secret {}/{} (in memory; refused if a different CA is there)", plan.ca.namespace, plan.ca.secret),
            vec![format!("kubectl --context {} -n {} get secret {} -o yaml {strip} | kubectl --context {} apply -f -", s.context, plan.ca.namespace, plan.ca.secret, t.context)],
        ),
        "install" => (
            format!("install Apigee hybrid in {} with {}", t.context, ctx.deps.installer.name()),
            ["init", "apply", "check-ready"].iter().flat_map(|op| ctx.deps.installer.describe(op, &overrides)).collect(),
        ),
        "wait-joined" => (
            format!("wait until every {} node is Ready and UN as {} from both sides", t.context, t.datacenter),
            vec![nodetool(&s.context, "<a source pod>", "status"), nodetool(&t.context, &target_pods[0], "status")],
        ),
        "check-replication" => (format!("check that every keyspace replicates to {}", t.datacenter), vec![nodetool(&t.context, &target_pods[0], "describecluster")]),
        "rebuild" => match &plan.cr {
            Some(cr) if plan.replication == super::plan::ReplicationMethod::Cr => (
                format!("apply CassandraDataReplication {} (source {}) and follow every pod's rebuildDetails", cr.name, s.datacenter),
                vec![
                    format!("kubectl --context {} -n {} apply -f - <<< '{{apiVersion: apigee.cloud.google.com/v1alpha1, kind: CassandraDataReplication, metadata: {{name: {}}}, spec: {{organizationRef: {}, force: false, source: {{region: {}}}}}}}'", t.context, t.namespace, cr.name, cr.organization, s.datacenter),
                    format!("kubectl --context {} -n {} get apigeeds {} -o jsonpath='{{.status.cassandraDataReplication}}'", t.context, t.namespace, cr.datastore),
                ],
            ),
            _ => (
                format!("flush every {} node, then rebuild every {} node from {} ({} at a time), progress from netstats", s.datacenter, t.datacenter, s.datacenter, match plan.rebuild.concurrency { super::plan::Concurrency::All => "all".to_owned(), super::plan::Concurrency::Limit(n) => n.to_string() }),
                std::iter::once(nodetool(&s.context, "<each source pod>", "flush"))
                    .chain(target_pods.iter().map(|p| nodetool(&t.context, p, &format!("rebuild -- {}", s.datacenter))))
                    .collect(),
            ),
        },
        "verify" => (
            "verify from both sides: all UN, same ring, target load, rebuild completed in every node's log".into(),
            vec![nodetool(&s.context, "<a source pod>", "status"), format!("kubectl --context {} -n {} logs {} | grep 'All sessions completed'", t.context, t.namespace, target_pods[0])],
        ),
        "finalize" => {
            let mut c = vec![format!("apigee-multiregion overrides clear-seed {} --in-place", overrides.display())];
            c.extend(ctx.deps.installer.describe("apply-datastore", &overrides));
            ("remove the seed host from the target overrides and re-apply the datastore".into(), c)
        }
        _ => (id.to_owned(), vec![]),
    };
    ctx.emit(Event::Action { step: id, description, commands });
    Ok(())
}

/// Where the lock lives and who this process is: `(namespace, lease name, holder)`. The holder
/// is fixed for the life of the process, so a face can release the lock after an interrupt.
pub fn lock_identity(plan: &ExpansionPlan) -> (String, String, String) {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0));
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".into());
    ("default".to_owned(), format!("apigee-multiregion-{}", plan.target.namespace), format!("{host}/{}/{nonce:08x}", std::process::id()))
}

/// Releases this process's lock, if it holds it (after an interrupt).
pub async fn release_lock(cluster: &dyn ClusterOps, plan: &ExpansionPlan) -> Result<(), ClusterError> {
    let (namespace, name, holder) = lock_identity(plan);
    cluster.release_lease(&namespace, &name, &holder).await
}

/// The run's lock: a Lease in the target cluster, renewed in the background, released at the end.
pub(crate) struct Lock {
    cluster: Arc<dyn ClusterOps>,
    namespace: String,
    name: String,
    holder: String,
    renew: tokio::task::JoinHandle<()>,
}

const LEASE_TTL: Duration = Duration::from_secs(60);

impl Lock {
    pub async fn acquire(cluster: Arc<dyn ClusterOps>, plan: &ExpansionPlan, wait: Duration) -> Result<Self, ClusterError> {
        let (namespace, name, holder) = lock_identity(plan);
        let deadline = Instant::now() + wait;
        loop {
            match cluster.acquire_lease(&namespace, &name, &holder, LEASE_TTL).await {
                Ok(()) => break,
                Err(ClusterError::Locked { remaining_seconds, .. }) if Instant::now() < deadline => {
                    let pause = Duration::from_secs(remaining_seconds.clamp(1, 5));
                    tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100)))).await;
                }
                Err(e) => return Err(e),
            }
        }
        let (c, ns, n, h) = (cluster.clone(), namespace.clone(), name.clone(), holder.clone());
        let renew = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LEASE_TTL / 3).await;
                let _ = c.acquire_lease(&ns, &n, &h, LEASE_TTL).await;
            }
        });
        Ok(Self { cluster, namespace, name, holder, renew })
    }

    pub async fn release(self) {
        self.renew.abort();
        let _ = self.cluster.release_lease(&self.namespace, &self.name, &self.holder).await;
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        // A run that is dropped (Ctrl-C) stops renewing; the lease then expires within its TTL.
        self.renew.abort();
    }
}
