//! The expansion engine driven by in-memory fakes through the failure modes of DOMAIN.md,
//! crash-and-resume at every step boundary, and retried rebuilds. (The same engine runs on the
//! real sandbox in sandbox/tests/test_expand.py.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test

mod decommission;
mod latency;
mod probe;
mod reality;
mod third;
mod world;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use apigee_multiregion_core::expansion::progress::Rate;
use apigee_multiregion_core::expansion::{
    self, Event, ExpansionError, ExpansionPlan, Journal, NodeState, Region, RunOptions, StepId, StepOutcome, StepState,
    ThroughputRecord,
};
use apigee_multiregion_core::nodetool::Throughput;
use apigee_multiregion_core::overrides::{OverridesDoc, Severity};
use world::{FakeCluster, Script, Shared, deps, healthy, other_ca};

pub(crate) const SOURCE: &str = "\
# region 1
org: org
instanceID: east
cassandra:
  hostNetwork: true
  replicaCount: 2
  datacenter: dc-1
  auth:
    jmx: {username: jmxuser, password: \"s3cret-jmx-pw\"}
";

pub(crate) const TARGET: &str = "\
# region 2: copied from region 1
org: org
instanceID: west
cassandra:
  hostNetwork: true    # island network
  replicaCount: 2
  auth:
    jmx: {username: jmxuser, password: \"s3cret-jmx-pw\"}
";

struct Setup {
    _dir: tempfile::TempDir,
    plan: ExpansionPlan,
    target: PathBuf,
}

fn setup(extra: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("east.yaml"), SOURCE).unwrap();
    std::fs::write(dir.path().join("west.yaml"), TARGET).unwrap();
    // `extra` may replace the default `rebuild:` or `timeouts:` line.
    let defaults: String = [
        "rebuild: {progress_interval: 10ms, retry_backoff: 10ms}\n",
        "timeouts: {poll: 10ms, join: 1s, replication: 200ms}\n",
    ]
    .iter()
    .filter(|l| !extra.contains(l.split(':').next().unwrap_or("")))
    .copied()
    .collect();
    let text = format!(
        "name: t\nsource: {{context: region-1, overrides: east.yaml, datacenter: dc-1}}\ntarget: {{context: region-2, overrides: west.yaml, datacenter: dc-2}}\ninstaller: {{kind: apigeectl}}\n{defaults}{extra}"
    );
    let plan = ExpansionPlan::from_str_at(&text, "plan.yaml", dir.path().to_path_buf()).unwrap();
    let target = dir.path().join("west.yaml");
    Setup { _dir: dir, plan, target }
}

#[derive(Default, Clone)]
pub(crate) struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    fn sink(&self) -> impl Fn(Event) + Send + Sync + use<> {
        let events = self.0.clone();
        move |e| events.lock().unwrap().push(e)
    }
    fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
    fn json(&self) -> String {
        self.events().iter().map(|e| serde_json::to_string(e).unwrap()).collect::<Vec<_>>().join("\n")
    }
    /// Every finding event with this code, as displayed.
    fn findings(&self, code: &str) -> Vec<String> {
        self.events()
            .iter()
            .filter_map(|e| match e {
                Event::Finding { finding } if finding.code == code => Some(finding.to_string()),
                _ => None,
            })
            .collect()
    }
}

async fn run(
    s: &Setup,
    w: &Shared,
    options: RunOptions,
) -> (Result<expansion::ExpansionReport, ExpansionError>, Recorder) {
    let rec = Recorder::default();
    let sink = rec.sink();
    let r = expansion::run(&s.plan, &deps(w), &options, &sink).await;
    (r, rec)
}

fn calls(w: &Shared, prefix: &str) -> usize {
    w.lock().unwrap().calls.iter().filter(|c| c.starts_with(prefix)).count()
}

fn journal(s: &Setup) -> Journal {
    let p = s.plan.base_dir.join(".apigee-multiregion/t.journal.json");
    Journal::open(&p, "t", &s.plan.hash(), false).unwrap()
}

/// Every `nodetool` call is an exec and a JVM start (seconds on a real pod), so nothing is asked
/// twice: a rebuild never started before is not preceded by a netstats read, and once `nodetool
/// rebuild` returns the log decides (no netstats either); seed selection uses preflight's ring;
/// verify reads each node's `status` once, in one round.
#[tokio::test]
async fn nothing_is_asked_twice_around_the_rebuild_and_in_verify() {
    let s = setup("rebuild: {progress_interval: 10s, retry_backoff: 10ms}\n");
    let w = healthy();
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    assert!(r.unwrap().verify.unwrap().passed());
    assert_eq!(calls(&w, "rebuild "), 2);
    let reads = |w: &Shared, prefix: &str| w.lock().unwrap().reads.iter().filter(|c| c.starts_with(prefix)).count();
    assert_eq!(reads(&w, "netstats "), 0, "{:?}", w.lock().unwrap().reads);
    w.lock().unwrap().reads.clear();
    let v = expansion::verify_only(&s.plan, &deps(&w), None).await.unwrap();
    assert!(v.passed(), "{:?}", v.failures());
    assert_eq!(reads(&w, "status "), 4, "one status per node of both sides: {:?}", w.lock().unwrap().reads);
    assert_eq!(reads(&w, "status s/"), 2);
}

#[tokio::test]
async fn a_full_expansion_rebuilds_every_node_and_removes_the_seed_host() {
    let s = setup("");
    let w = healthy();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    assert!(
        report.steps.iter().all(|st| st.outcome == StepOutcome::Done || st.outcome == StepOutcome::Skipped),
        "{:?}",
        report.steps
    );
    assert_eq!(report.seed_host.as_deref(), Some("10.1.0.1"));
    assert_eq!(report.seed_alternates, ["10.1.0.2"]);
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 1);
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-1"), 1, "EVERY node of the new DC is rebuilt");
    {
        let w = w.lock().unwrap();
        let first_rebuild = w.calls.iter().position(|c| c.starts_with("rebuild ")).unwrap();
        let flushes: Vec<&String> = w.calls[..first_rebuild].iter().filter(|c| c.starts_with("flush s/")).collect();
        assert_eq!(flushes.len(), 2, "every source node is flushed before the first rebuild: {:?}", w.calls);
    }
    assert!(report.verify.unwrap().passed());
    // The target overrides: datacenter and rack added, seed host set then removed, comments kept.
    let final_text = std::fs::read_to_string(&s.target).unwrap();
    assert_eq!(
        final_text,
        TARGET.replace(
            "    jmx: {username: jmxuser, password: \"s3cret-jmx-pw\"}\n",
            "    jmx: {username: jmxuser, password: \"s3cret-jmx-pw\"}\n  datacenter: dc-2\n  rack: ra-1\n"
        )
    );
    assert_eq!(OverridesDoc::parse(&final_text).unwrap().view().unwrap().cassandra.multi_region_seed_host, None);
    assert!(Path::new(&format!("{}.orig", s.target.display())).exists(), "the original is kept");
    assert_eq!(calls(&w, "installer apply-datastore"), 1);
    {
        let w = w.lock().unwrap();
        assert_eq!(w.secrets[1].get("cert-manager/apigee-ca"), w.secrets[0].get("cert-manager/apigee-ca"));
        assert!(w.leases.is_empty(), "the lock is released");
    }
    // No secret in events or the journal.
    let journal_text = std::fs::read_to_string(s.plan.base_dir.join(".apigee-multiregion/t.journal.json")).unwrap();
    for text in [rec.json(), journal_text] {
        assert!(!text.contains("s3cret-jmx-pw") && !text.contains("PRIVATE KEY"), "{text}");
    }
}

#[tokio::test]
async fn refuses_when_a_source_node_is_down_and_changes_nothing() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().ring[1].code = "DN";
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    match r {
        Err(ExpansionError::Refused { findings }) => assert!(findings.iter().any(|f| f.code == "source-node-not-up")),
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&s.target).unwrap(), TARGET, "target overrides untouched");
    let w = w.lock().unwrap();
    assert!(w.calls.is_empty(), "no change in either cluster: {:?}", w.calls);
    assert!(!w.namespaces[1].contains("apigee"));
}

#[tokio::test]
async fn a_missing_permission_is_named_by_preflight_before_anything_is_read_or_changed() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().denied.insert("0 list nodes (cluster-wide)".into());
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    let errors: Vec<_> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    assert_eq!(errors.len(), 1, "{findings:#?}");
    assert_eq!(errors[0].code, "permission-missing");
    assert!(errors[0].message.starts_with("context `region-1` (source) may not list nodes (cluster-wide)"));
    let w = w.lock().unwrap();
    assert!(w.calls.is_empty(), "nothing changed: {:?}", w.calls);
    // Both clusters were asked about every permission, exec under either verb.
    assert!(w.access_asked.iter().any(|a| a == "1 get pods/log in namespace apigee"), "{:#?}", w.access_asked);
    assert!(w.access_asked.iter().any(|a| a == "0 create pods/exec in namespace apigee"));
}

#[tokio::test]
async fn in_namespace_permissions_wait_for_the_namespace_then_refuse_once_it_exists() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().denied.insert("1 get pods/log in namespace apigee".into());
    // The target namespace does not exist yet: no Role there can grant it, so a warning.
    let (r, rec) = run(&s, &w, RunOptions { until: Some(StepId::CopyNamespace), ..Default::default() }).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(rec.json().contains("permission-missing-later"), "{}", rec.json());
    // Now it exists (copy-namespace made it): the same missing permission refuses.
    assert!(w.lock().unwrap().namespaces[1].contains("apigee"));
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    let codes: Vec<_> = findings.iter().map(|f| f.code).collect();
    assert_eq!(codes, ["permission-missing"], "{findings:#?}");
    assert!(findings[0].message.contains("get pods/log in namespace apigee"));
}

#[tokio::test]
async fn refuses_when_the_new_dc_name_already_exists_in_the_ring() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().ring.push(world::RingNode {
        dc: "dc-2".into(),
        address: "10.9.0.1".into(),
        code: "DN",
        load_kib: 5,
        host_id: 99,
    });
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused") };
    assert!(findings.iter().any(|f| f.code == "target-datacenter-exists"));
    assert!(w.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn refuses_a_different_ca_in_the_target_unless_forced() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().secrets[1].insert("cert-manager/apigee-ca".into(), other_ca());
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused") };
    assert!(findings.iter().any(|f| f.code == "target-ca-differs"));
    let (r, _) = run(&s, &w, RunOptions { force_ca: true, ..Default::default() }).await;
    assert!(r.is_ok(), "{r:?}");
}

#[tokio::test]
async fn copy_ca_copies_a_binary_key_byte_for_byte_and_compares_bytes() {
    use apigee_multiregion_core::copy::{CopyError, CopyOutcome, copy_ca};
    use apigee_multiregion_core::model::SecretBytes;
    // DER-like key material that is not UTF-8 (0xff, 0xfe, a lone 0xc3, 0x80, a NUL byte).
    let key = vec![0x30, 0x82, 0x01, 0x0a, 0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x2d, 0x0a];
    assert!(std::str::from_utf8(&key).is_err());
    let w = healthy();
    let mut ca = other_ca();
    ca.data.insert("tls.key".into(), SecretBytes::new(key.clone()));
    w.lock().unwrap().secrets[0].insert("cert-manager/apigee-ca".into(), ca);
    let (source, target) = (FakeCluster { world: w.clone(), index: 0 }, FakeCluster { world: w.clone(), index: 1 });
    assert_eq!(copy_ca(&source, &target, "cert-manager", "apigee-ca", false).await.unwrap(), CopyOutcome::Copied);
    let copied = w.lock().unwrap().secrets[1]["cert-manager/apigee-ca"].data["tls.key"].clone();
    assert_eq!(copied.expose(), key.as_slice());
    assert_eq!(
        copy_ca(&source, &target, "cert-manager", "apigee-ca", false).await.unwrap(),
        CopyOutcome::AlreadyPresent
    );
    // One byte differs, and only in its invalid-UTF-8 part: a different CA.
    let mut other = key.clone();
    other[4] = 0xfd;
    w.lock().unwrap().secrets[1]
        .get_mut("cert-manager/apigee-ca")
        .unwrap()
        .data
        .insert("tls.key".into(), SecretBytes::new(other));
    let err = copy_ca(&source, &target, "cert-manager", "apigee-ca", false).await.unwrap_err();
    assert!(matches!(err, CopyError::DifferentCa { .. }), "{err}");
}

#[tokio::test]
async fn refuses_a_simple_strategy_keyspace() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().simple_strategy.insert("system_auth".into());
    let Err(ExpansionError::Refused { findings }) = run(&s, &w, RunOptions::default()).await.0 else { panic!() };
    assert!(findings.iter().any(|f| f.code == "simple-strategy-keyspace"));
}

#[tokio::test]
async fn a_rebuild_is_never_run_while_replication_to_the_new_dc_is_missing() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().schema_setup = false;
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let err = r.unwrap_err();
    assert_eq!(err.step(), Some(StepId::CheckReplication));
    assert!(err.to_string().contains("kvm_org_hybrid"), "{err}");
    assert_eq!(calls(&w, "rebuild"), 0);
    assert!(rec.events().iter().any(|e| matches!(e, Event::Warning { step: StepId::CheckReplication, .. })));
}

#[tokio::test]
async fn a_node_that_joins_under_another_dc_name_stops_the_expansion_before_rebuild() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().join_as = Some("dc-3".into());
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::WaitJoined));
    assert!(err.to_string().contains("joined as datacenter `dc-3`"), "{err}");
    assert_eq!(calls(&w, "rebuild"), 0);
}

/// Helm's `--wait` returns before the operator has started Cassandra: the install step waits
/// on the cluster (the datastore `running`, every pod Ready), not on the installer's word.
#[tokio::test]
async fn the_install_waits_for_the_datastore_the_operator_reports_not_for_the_installer() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().releasing_reads = 5;
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert!(rec.json().contains("waiting: the ApigeeDatastore is `releasing`"), "{}", rec.json());
    assert_eq!(w.lock().unwrap().releasing_reads, 0, "the install read the datastore until it was running");
}

/// Hybrid 1.11 and 1.12 run the operator in apigee-system, 1.13+ in the Apigee namespace: a
/// plan whose version disagrees with where the source's operator runs is refused before any
/// change (the install would start a second operator).
#[tokio::test]
async fn a_helm_plan_whose_version_puts_the_operator_elsewhere_than_the_source_runs_it_is_refused() {
    let helm = |version: &str| {
        let mut s = setup("");
        s.plan.installer = expansion::InstallerSpec::Helm {
            program: None,
            kubectl: None,
            version: version.parse().unwrap(),
            charts: "charts".into(),
            org_release: "org".into(),
            environments: vec![],
            env_groups: vec![],
        };
        s
    };
    let w = healthy();
    w.lock().unwrap().operator_at[0] = Some("apigee".into());
    let s = helm("1.12.2");
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.kind(), expansion::ErrorKind::Refused, "{err}");
    let finding =
        err.findings().iter().find(|f| f.code == "operator-namespace").expect("an operator-namespace finding");
    assert!(finding.message.starts_with("context `region-1` runs the Apigee operator (deployment apigee-controller-manager) in namespace apigee, but the charts of hybrid 1.12.2 (installer.version) put it in apigee-system"), "{}", finding.message);
    assert_eq!(w.lock().unwrap().calls.iter().filter(|c| c.starts_with("installer")).count(), 0);

    // The right version passes preflight (and the whole expansion runs).
    let w = healthy();
    w.lock().unwrap().operator_at[0] = Some("apigee".into());
    let s = helm("1.13.1");
    let (r, _) = run(&s, &w, RunOptions { until: Some(StepId::Preflight), ..Default::default() }).await;
    r.unwrap();
}

#[tokio::test]
async fn a_datastore_that_never_runs_fails_the_install_step_within_its_timeout_saying_what_is_missing() {
    let s = setup("timeouts: {poll: 10ms, install: 1s, join: 1s, replication: 200ms}\n");
    let w = healthy();
    w.lock().unwrap().releasing_reads = u32::MAX;
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::Install), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("not ready within 1s (timeouts.install)") && msg.contains("`releasing`"), "{msg}");
    assert_eq!(calls(&w, "rebuild"), 0);
}

#[tokio::test]
async fn a_failed_rebuild_is_retried_and_then_counted_done() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-1".into(), Script::FailTimes(1));
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-1"), 2);
    assert!(
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::RebuildNode { state, attempt: 1, .. } if *state == NodeState::FailedAttempt))
    );
    assert_eq!(journal(&s).rebuild["apigee-cassandra-default-1"].attempts, 2);
}

#[tokio::test]
async fn a_rebuild_that_keeps_failing_fails_the_step_naming_the_node_and_is_never_done() {
    let mut s = setup("");
    s.plan.rebuild.retries = 1;
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::FailTimes(5));
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::Rebuild));
    assert!(err.to_string().contains("apigee-cassandra-default-0: rebuild failed after 2 attempt(s)"), "{err}");
    let j = journal(&s);
    assert_eq!(j.rebuild["apigee-cassandra-default-0"].state, StepState::Failed);
    assert_eq!(j.step(StepId::Rebuild), StepState::Failed);
    assert_eq!(j.step(StepId::Verify), StepState::Pending, "nothing after a failed rebuild ran");
}

#[tokio::test]
async fn still_rebuilding_means_running_and_is_waited_for() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(3));
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 1, "not retried: it was running");
    assert!(
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::RebuildProgress { node: Rate { received: 500, total: 1000, .. }, .. }))
    );
    // Every progress event carries the step's totals so far (this node is the only one streaming).
    let all: Vec<_> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::RebuildProgress { node, all, .. } => Some((node.received, node.total, all.received, all.total)),
            _ => None,
        })
        .collect();
    assert!(!all.is_empty() && all.iter().all(|(r, t, ar, at)| r == ar && t == at), "{all:?}");
}

#[tokio::test]
async fn rebuild_concurrency_is_respected() {
    for (setting, expected) in [("1", 1), ("all", 2)] {
        let s = setup("");
        let mut plan = s.plan.clone();
        plan.rebuild.concurrency =
            if setting == "all" { expansion::Concurrency::All } else { expansion::Concurrency::Limit(1) };
        let s = Setup { plan, ..s };
        let w = healthy();
        run(&s, &w, RunOptions::default()).await.0.unwrap();
        assert_eq!(w.lock().unwrap().max_concurrent, expected, "concurrency {setting}");
    }
}

#[tokio::test]
async fn a_crash_at_any_step_boundary_resumes_without_redoing_finished_work() {
    for step in StepId::ALL {
        let s = setup("");
        let w = healthy();
        // First run stops right after `step`...
        let (r, _) = run(&s, &w, RunOptions { until: Some(step), ..Default::default() }).await;
        r.unwrap_or_else(|e| panic!("until {step}: {e}"));
        // ...and, as if it crashed before writing the journal, the step is not recorded.
        let mut j = journal(&s);
        j.set_step(step, StepState::Running, None, None);
        j.save().unwrap();
        let (r, rec) = run(&s, &w, RunOptions::default()).await;
        let report = r.unwrap_or_else(|e| panic!("resume after {step}: {e}"));
        assert!(report.verify.unwrap().passed());
        assert_eq!(calls(&w, "installer apply seed"), 1, "after {step}");
        assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 1, "rebuild redone after crash at {step}");
        assert_eq!(calls(&w, "rebuild apigee-cassandra-default-1"), 1);
        let skipped: Vec<StepId> = rec
            .events()
            .iter()
            .filter_map(|e| if let Event::StepSkipped { step, .. } = e { Some(*step) } else { None })
            .collect();
        if !step.is_read_only() {
            assert!(
                skipped.contains(&step),
                "{step} finished in the world but not journaled must be skipped: {skipped:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_changed_plan_is_refused_with_an_existing_journal_unless_restarted() {
    let s = setup("");
    let w = healthy();
    run(&s, &w, RunOptions { until: Some("copy-ca".parse().unwrap()), ..Default::default() }).await.0.unwrap();
    // Waiting longer or retrying more is the same plan: the run continues from the journal.
    let mut slower = s.plan.clone();
    slower.rebuild.retries = 7;
    slower.timeouts.join.0 *= 2;
    assert_eq!(slower.hash(), s.plan.hash());
    // Another installer is another plan.
    let mut plan = s.plan.clone();
    plan.installer =
        expansion::InstallerSpec::Apigeectl { program: Some("/opt/apigeectl-1.11/apigeectl".into()), workdir: None };
    let s2 = Setup { plan, ..s };
    let err = run(&s2, &w, RunOptions::default()).await.0.unwrap_err();
    assert!(matches!(err, ExpansionError::Journal(_)), "{err}");
    assert!(err.to_string().contains("--restart"));
    run(&s2, &w, RunOptions { restart: true, ..Default::default() }).await.0.unwrap();
}

#[tokio::test]
async fn a_second_concurrent_run_is_refused_by_the_lock() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().leases.insert(
        "apigee-multiregion-apigee".into(),
        world::others_lease("someone-else", std::time::Duration::from_secs(90)),
    );
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert!(matches!(err, ExpansionError::Locked(_)));
    assert!(err.to_string().contains("someone-else") && err.to_string().contains("90s"), "{err}");
    assert!(w.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_shows_every_action() {
    let s = setup("");
    let w = healthy();
    let (r, rec) = run(&s, &w, RunOptions { dry_run: true, ..Default::default() }).await;
    let report = r.unwrap();
    assert!(report.dry_run);
    assert_eq!(std::fs::read_to_string(&s.target).unwrap(), TARGET);
    assert!(w.lock().unwrap().calls.is_empty());
    assert!(!s.plan.base_dir.join(".apigee-multiregion").exists(), "no journal written");
    let actions: Vec<&'static str> = rec
        .events()
        .iter()
        .filter_map(|e| if let Event::Action { step, .. } = e { Some(step.as_str()) } else { None })
        .collect();
    assert_eq!(
        actions,
        [
            "prepare-overrides",
            "copy-namespace",
            "copy-ca",
            "install",
            "wait-joined",
            "check-replication",
            "rebuild",
            "verify",
            "finalize"
        ]
    );
    let json = rec.json();
    assert!(json.contains("+  multiRegionSeedHost: 10.1.0.1") && json.contains("rebuild -- dc-1"), "{json}");
    assert!(!json.contains("s3cret-jmx-pw"), "{json}");
}

#[tokio::test]
async fn a_second_run_after_success_skips_every_step() {
    let s = setup("");
    let w = healthy();
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    let before = w.lock().unwrap().calls.len();
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    let redone: Vec<StepId> =
        report.steps.iter().filter(|s| s.outcome == StepOutcome::Done && !s.id.is_read_only()).map(|s| s.id).collect();
    assert!(redone.is_empty(), "{redone:?}");
    assert_eq!(w.lock().unwrap().calls.len(), before, "nothing was changed again");
}

fn cr_setup() -> Setup {
    setup("replication: cr\ncr: {organization: org-4f2a}\n")
}

#[tokio::test]
async fn with_the_cr_and_no_organization_the_source_s_only_one_is_named_once_it_runs_in_the_target() {
    let s = setup("replication: cr\n");
    let w = healthy();
    w.lock().unwrap().org_releasing_reads = 3;
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    let calls = w.lock().unwrap().calls.clone();
    let applied = calls.iter().position(|c| c.starts_with("apply CassandraDataReplication")).unwrap();
    let running = calls.iter().rposition(|c| c == "get ApigeeOrganization org-4f2a in 1").unwrap();
    assert!(running < applied, "the org was seen running before the resource was applied: {calls:?}");
    assert!(calls.contains(&"list ApigeeOrganization in 0".to_owned()), "{calls:?}");
    assert_eq!(w.lock().unwrap().org_releasing_reads, 0);
    assert!(rec.json().contains("ApigeeOrganization org-4f2a is `releasing` in the target"), "{}", rec.json());
}

#[tokio::test]
async fn with_the_cr_and_no_organization_several_or_none_in_the_source_is_refused_naming_them() {
    let s = setup("replication: cr\n");
    let w = healthy();
    w.lock().unwrap().organizations[0].insert("other-org-9c1d".into(), "running".into());
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::Rebuild));
    let msg = err.to_string();
    assert!(msg.contains("several ApigeeOrganizations") && msg.contains("org-4f2a, other-org-9c1d"), "{msg}");
    assert!(msg.contains("set cr.organization"), "{msg}");
    assert_eq!(calls(&w, "apply CassandraDataReplication"), 0);

    let s = setup("replication: cr\n");
    let w = healthy();
    w.lock().unwrap().organizations[0].clear();
    let msg = run(&s, &w, RunOptions::default()).await.0.unwrap_err().to_string();
    assert!(msg.contains("no ApigeeOrganization in namespace apigee of context `region-1`"), "{msg}");
}

#[tokio::test]
async fn with_the_cr_and_no_organization_in_the_target_nothing_is_applied_and_the_wait_says_why() {
    let s = setup("replication: cr\nrebuild: {progress_interval: 10ms, retry_backoff: 10ms, timeout: 300ms}\n");
    let w = healthy();
    w.lock().unwrap().organizations[0].insert("org-4f2a".into(), "running".into());
    w.lock().unwrap().org_releasing_reads = u32::MAX;
    let msg = run(&s, &w, RunOptions::default()).await.0.unwrap_err().to_string();
    assert!(
        msg.contains("ApigeeOrganization org-4f2a is `releasing` in the target after 0s (rebuild.timeout)"),
        "{msg}"
    );
    assert_eq!(calls(&w, "apply CassandraDataReplication"), 0);
}

#[tokio::test]
async fn with_the_cr_the_operator_rebuilds_every_node_and_the_logs_confirm_it() {
    let s = cr_setup();
    let w = healthy();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    assert!(report.verify.unwrap().passed());
    assert_eq!(calls(&w, "apply CassandraDataReplication force=false"), 1);
    assert_eq!(calls(&w, "rebuild "), 0, "no nodetool rebuild from the tool: the operator does it");
    let done: Vec<String> = rec
        .events()
        .iter()
        .filter_map(|e| {
            if let Event::RebuildNode { pod, state, .. } = e {
                (*state == NodeState::Done).then(|| pod.clone())
            } else {
                None
            }
        })
        .collect();
    assert_eq!(done, ["apigee-cassandra-default-0", "apigee-cassandra-default-1"]);
}

#[tokio::test]
async fn a_cr_error_entry_is_retried_with_force_then_done() {
    let s = cr_setup();
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-1".into(), Script::FailTimes(1));
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    assert_eq!(calls(&w, "apply CassandraDataReplication force=false"), 1);
    assert_eq!(calls(&w, "apply CassandraDataReplication force=true"), 1);
}

#[tokio::test]
async fn a_top_level_complete_with_a_pod_not_complete_is_never_counted_done() {
    let mut s = cr_setup();
    s.plan.rebuild.retries = 1;
    let w = healthy();
    w.lock().unwrap().cdr_lies = true;
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::Rebuild));
    assert!(err.to_string().contains("apigee-cassandra-default-1"), "{err}");
    assert_eq!(journal(&s).step(StepId::Verify), StepState::Pending);
}

#[test]
fn a_cr_plan_without_its_section_takes_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let text = "source: {context: a, overrides: a.yaml, datacenter: dc-1}\ntarget: {context: b, overrides: b.yaml, datacenter: dc-2}\ninstaller: {kind: apigeectl}\nreplication: cr\n";
    let plan = ExpansionPlan::from_str_at(text, "plan.yaml", dir.path().into()).unwrap();
    let expansion::Replication::Cr(cr) = plan.replication() else { panic!("replication: cr") };
    assert_eq!(
        (cr.organization.as_deref(), cr.name.as_str(), cr.datastore.as_str()),
        (None, "region-expansion", "default")
    );
}

#[tokio::test]
async fn a_region_wiped_after_a_finished_expansion_is_expanded_again() {
    let s = setup("");
    let w = healthy();
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    {
        // Region-2 deleted (with its DC removed from the ring); the journal still says "done".
        let mut w = w.lock().unwrap();
        w.target_pods.clear();
        w.ring.retain(|n| n.dc == "dc-1");
        w.logs.retain(|k, _| k.starts_with("s/"));
        w.secrets[1].clear();
        w.namespaces[1].remove("apigee");
    }
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    assert!(report.verify.unwrap().passed());
    let started: Vec<&'static str> = rec
        .events()
        .iter()
        .filter_map(|e| if let Event::StepStarted { step } = e { Some(step.as_str()) } else { None })
        .collect();
    for step in ["prepare-overrides", "copy-ca", "install", "rebuild", "finalize"] {
        assert!(started.contains(&step), "{step} must run again: {started:?}");
    }
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 2);
}

// --- rebuild.throughput: set for the rebuild, always set back ----------------------------------

const THROTTLE: &str = "rebuild: {progress_interval: 10ms, retry_backoff: 10ms, retries: 0, throughput: {interdc_megabits: 50, total_megabits: 0}}\n";
const NODES: [&str; 4] = [
    "s/apigee-cassandra-default-0",
    "s/apigee-cassandra-default-1",
    "t/apigee-cassandra-default-0",
    "t/apigee-cassandra-default-1",
];

/// A world whose nodes have different throttles, one of them in MiB/s (a 4.1+ node).
fn throttled_world() -> Shared {
    let w = healthy();
    {
        let mut g = w.lock().unwrap();
        g.throughput.insert(NODES[0].into(), (Throughput::Megabits(200), Throughput::Unlimited));
        g.throughput.insert(NODES[1].into(), (Throughput::Mebibytes(24), Throughput::Megabits(400)));
    }
    w
}

fn throttles(w: &Shared) -> Vec<(Throughput, Throughput)> {
    let g = w.lock().unwrap();
    NODES.iter().map(|n| g.throttles(n)).collect()
}

fn position(w: &Shared, call: &str) -> Option<usize> {
    w.lock().unwrap().calls.iter().position(|c| c == call)
}

fn last_position(w: &Shared, prefix: &str) -> Option<usize> {
    w.lock().unwrap().calls.iter().rposition(|c| c.starts_with(prefix))
}

/// Every node is set back to what it had, and the journal says so.
fn assert_restored(s: &Setup, w: &Shared, before: &[(Throughput, Throughput)]) {
    assert_eq!(throttles(w), before, "every throttle is set back: {:#?}", w.lock().unwrap().calls);
    let j = journal(s);
    assert_eq!(j.throughput.len(), 4, "{:?}", j.throughput);
    for (key, (interdc, total)) in NODES.iter().zip(before) {
        let key = key.replacen("s/", "source/", 1).replacen("t/", "target/", 1);
        let r = &j.throughput[&key];
        assert!(r.restored, "{key}");
        assert_eq!((r.interdc_before, r.total_before), (Some(*interdc), Some(*total)), "{key}");
    }
}

/// Index of the first event matching `f`.
fn event_index(rec: &Recorder, f: impl Fn(&Event) -> bool) -> usize {
    rec.events().iter().position(f).unwrap_or_else(|| panic!("no such event: {}", rec.json()))
}

/// The events that say a node was set back come before `end` (the rebuild step's own end).
fn set_back_within_the_step(rec: &Recorder, end: impl Fn(&Event) -> bool) {
    let end = event_index(rec, end);
    let last_back = rec
        .events()
        .iter()
        .rposition(|e| matches!(e, Event::Note { message, .. } if message.contains(": set back to ")))
        .unwrap_or_else(|| panic!("nothing set back: {}", rec.json()));
    assert!(last_back < end, "set back within the rebuild step, before verify/finalize: {}", rec.json());
}

#[tokio::test]
async fn a_throttle_is_read_journaled_and_set_before_the_rebuild_and_set_back_after() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    let before = throttles(&w);
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    let first_rebuild = position(&w, "rebuild apigee-cassandra-default-0").unwrap();
    let last_rebuild = last_position(&w, "rebuild ").unwrap();
    for n in NODES {
        let get = position(&w, &format!("getinterdcstreamthroughput {n}")).unwrap();
        let set = position(&w, &format!("setinterdcstreamthroughput {n} 50")).unwrap();
        let set_total = position(&w, &format!("setstreamthroughput {n} 0")).unwrap();
        assert!(get < set && set < first_rebuild && set_total < first_rebuild, "{n}: {:#?}", w.lock().unwrap().calls);
        let back = last_position(&w, &format!("setinterdcstreamthroughput {n} ")).unwrap();
        assert!(back > last_rebuild, "{n} is set back after the last rebuild");
    }
    // The MiB/s value of a 4.1+ node goes back as MiB/s.
    assert!(position(&w, "setinterdcstreamthroughput s/apigee-cassandra-default-1 -m 24").unwrap() > last_rebuild);
    assert_restored(&s, &w, &before);
    assert!(rec.json().contains("set back to inter-DC stream throughput 200 Mb/s, stream throughput unlimited"));
    set_back_within_the_step(&rec, |e| matches!(e, Event::StepFinished { step: StepId::Rebuild, .. }));
}

#[tokio::test]
async fn with_the_cr_the_same_throttle_brackets_the_operators_rebuild() {
    let s = setup(&format!("replication: cr\ncr: {{organization: org-4f2a}}\n{THROTTLE}"));
    let w = throttled_world();
    let before = throttles(&w);
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    let apply = position(&w, "apply CassandraDataReplication force=false").unwrap();
    for n in NODES {
        assert!(position(&w, &format!("setinterdcstreamthroughput {n} 50")).unwrap() < apply, "{n}");
        assert!(last_position(&w, &format!("setinterdcstreamthroughput {n} ")).unwrap() > apply, "{n}");
    }
    assert_restored(&s, &w, &before);
}

#[tokio::test]
async fn a_failed_rebuild_still_sets_the_throttle_back_and_reports_the_rebuilds_error() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    let before = throttles(&w);
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::FailTimes(99));
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Step { step: StepId::Rebuild, source, .. }) = r else { panic!("{r:?}") };
    assert!(source.to_string().contains("rebuild failed after 1 attempt(s)"), "{source}");
    set_back_within_the_step(&rec, |e| matches!(e, Event::StepFailed { step: StepId::Rebuild, .. }));
    assert!(last_position(&w, "setinterdcstreamthroughput t/apigee-cassandra-default-0 200").is_some());
    assert_restored(&s, &w, &before);
}

#[tokio::test]
async fn a_cancelled_rebuild_sets_the_throttle_back_before_the_run_ends() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    let before = throttles(&w);
    // The rebuild runs for a long time; Ctrl-C arrives while it runs.
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(1_000_000));
    let (handle, cancel) = expansion::Cancel::new();
    let watcher = w.clone();
    tokio::spawn(async move {
        while !watcher.lock().unwrap().calls.iter().any(|c| c.starts_with("rebuild ")) {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        handle.cancel();
    });
    let (r, _) = run(&s, &w, RunOptions { cancel: Some(cancel), ..Default::default() }).await;
    assert!(matches!(r, Err(ExpansionError::Cancelled { step: StepId::Rebuild, .. })), "{r:?}");
    assert_restored(&s, &w, &before);
    assert!(w.lock().unwrap().leases.is_empty(), "and the lock is released after it");
}

/// What a run killed during its rebuild leaves: the throttle set, the journal holding the values
/// from before, not restored.
fn crash_with_throttle_set(s: &Setup, w: &Shared, key: &str, pod: &str, region: Region, before: Throughput) {
    let mut j = journal(s);
    j.throughput.insert(
        key.into(),
        ThroughputRecord {
            region,
            pod: pod.into(),
            interdc_before: Some(before),
            total_before: Some(Throughput::Unlimited),
            restored: false,
        },
    );
    j.save().unwrap();
    let mut g = w.lock().unwrap();
    let fake = if region == Region::Source { "s/" } else { "t/" };
    g.throughput.insert(format!("{fake}{pod}"), (Throughput::Megabits(50), Throughput::Unlimited));
}

#[tokio::test]
async fn a_resumed_run_keeps_the_journaled_values_and_sets_them_back() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    run(&s, &w, RunOptions { until: Some(StepId::CheckReplication), ..Default::default() }).await.0.unwrap();
    crash_with_throttle_set(
        &s,
        &w,
        "target/apigee-cassandra-default-1",
        "apigee-cassandra-default-1",
        Region::Target,
        Throughput::Megabits(300),
    );
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert_eq!(
        calls(&w, "getinterdcstreamthroughput t/apigee-cassandra-default-1"),
        0,
        "the node carries the crashed run's throttle: it is never read as the value before"
    );
    assert_eq!(calls(&w, "getinterdcstreamthroughput t/apigee-cassandra-default-0"), 1);
    assert!(position(&w, "setinterdcstreamthroughput t/apigee-cassandra-default-1 50").is_some(), "set again");
    assert_eq!(throttles(&w)[3], (Throughput::Megabits(300), Throughput::Unlimited), "set back to the journaled value");
    assert!(journal(&s).throughput.values().all(|r| r.restored));
}

#[tokio::test]
async fn a_run_that_does_not_rebuild_sets_back_what_a_crashed_run_left() {
    // The plan no longer sets a throttle and every step is done: the run's end sets it back.
    let s = setup("");
    let w = healthy();
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    crash_with_throttle_set(
        &s,
        &w,
        "source/apigee-cassandra-default-0",
        "apigee-cassandra-default-0",
        Region::Source,
        Throughput::Megabits(300),
    );
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    let rebuild = report.steps.iter().find(|st| st.id == StepId::Rebuild).unwrap();
    assert_eq!(rebuild.outcome, StepOutcome::Skipped);
    assert_eq!(w.lock().unwrap().throttles(NODES[0]), (Throughput::Megabits(300), Throughput::Unlimited));
    assert!(journal(&s).throughput["source/apigee-cassandra-default-0"].restored);
}

#[tokio::test]
async fn a_lost_lock_leaves_the_throttle_and_says_how_to_set_it_back() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    {
        let mut g = w.lock().unwrap();
        g.lease_fails_once_throttled = true; // every renewal after the throttle is set fails
        g.scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(60));
    }
    let options = RunOptions {
        lease: apigee_multiregion_core::expansion::LeaseTiming {
            ttl: std::time::Duration::from_millis(300),
            renew_every: std::time::Duration::from_millis(40),
        },
        ..Default::default()
    };
    let (r, rec) = run(&s, &w, options).await;
    assert!(r.is_err());
    let warnings: Vec<String> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Warning { message, .. } if message.contains("still carries the rebuild's stream throttle") => {
                Some(message)
            }
            _ => None,
        })
        .collect();
    assert!(!warnings.is_empty(), "the operator is told what stays throttled");
    assert!(warnings.iter().all(|m| m.contains("nodetool setinterdcstreamthroughput")), "{warnings:?}");
    let keys: std::collections::BTreeSet<_> =
        warnings.iter().map(|m| m.split(':').next().unwrap().to_owned()).collect();
    assert_eq!(keys.len(), warnings.len(), "each node said once: {warnings:?}");
    assert!(journal(&s).throughput.values().any(|r| !r.restored), "kept for the next run");
}

#[tokio::test]
async fn restart_keeps_the_throttles_a_crashed_run_still_owes() {
    // --restart starts a new journal: the values from before the crashed run's throttle are only
    // in the old one, so they are carried over and set back, never lost with it.
    let s = setup(THROTTLE);
    let w = throttled_world();
    run(&s, &w, RunOptions { until: Some(StepId::CheckReplication), ..Default::default() }).await.0.unwrap();
    crash_with_throttle_set(
        &s,
        &w,
        "target/apigee-cassandra-default-1",
        "apigee-cassandra-default-1",
        Region::Target,
        Throughput::Megabits(300),
    );
    let (r, _) = run(&s, &w, RunOptions { restart: true, ..Default::default() }).await;
    r.unwrap();
    assert_eq!(
        calls(&w, "getinterdcstreamthroughput t/apigee-cassandra-default-1"),
        0,
        "the crashed run's throttle is never read as the value before"
    );
    assert_eq!(throttles(&w)[3], (Throughput::Megabits(300), Throughput::Unlimited), "set back to the journaled value");
    assert!(journal(&s).throughput.values().all(|r| r.restored));
}

#[tokio::test]
async fn without_a_throughput_section_no_throttle_is_read_or_set() {
    let s = setup("");
    let w = healthy();
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    let g = w.lock().unwrap();
    let touched: Vec<&String> = g.calls.iter().filter(|c| c.contains("streamthroughput")).collect();
    assert!(touched.is_empty(), "{touched:?}");
    assert!(g.calls.iter().any(|c| c.starts_with("rebuild ")), "the rebuild did run");
}

#[tokio::test]
async fn a_dry_run_shows_the_throttle_and_its_restore_around_the_rebuild() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    let (r, rec) = run(&s, &w, RunOptions { dry_run: true, ..Default::default() }).await;
    r.unwrap();
    let actions: Vec<(String, Vec<String>)> = rec
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Action { step: StepId::Rebuild, description, commands } => Some((description, commands)),
            _ => None,
        })
        .collect();
    assert_eq!(actions.len(), 3, "set, rebuild, set back: {actions:#?}");
    let (set, rebuild, restore) = (&actions[0], &actions[1], &actions[2]);
    assert!(set.0.contains("inter-DC stream throughput 50 Mb/s, stream throughput unlimited"), "{set:?}");
    assert!(
        set.1.iter().any(|c| c.ends_with(
            "apigee-cassandra-default-1 -- nodetool -u <jmx user> -pw <redacted> getinterdcstreamthroughput"
        )),
        "{set:?}"
    );
    assert!(
        set.1
            .iter()
            .any(|c| c
                .contains("<each source pod> -- nodetool -u <jmx user> -pw <redacted> setinterdcstreamthroughput 50")),
        "{set:?}"
    );
    assert!(rebuild.1.iter().any(|c| c.ends_with("rebuild -- dc-1")), "{rebuild:?}");
    assert!(restore.0.contains("set the stream throughput back") && restore.0.contains("Ctrl-C"), "{restore:?}");
    assert!(restore.1.iter().any(|c| c.ends_with("setstreamthroughput <the value read before>")), "{restore:?}");
    assert!(w.lock().unwrap().calls.is_empty(), "a dry run reads no throttle and sets none");
}

#[tokio::test]
async fn a_throttle_that_cannot_be_set_back_is_reported_without_hiding_the_first_error() {
    let s = setup(THROTTLE);
    let w = throttled_world();
    // Setting fails on one target node: the step stops before any rebuild, everything set so far
    // is set back, and that node's own restore failure is a warning, not the error.
    w.lock().unwrap().throughput_set_fails.insert(NODES[3].into());
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Step { step: StepId::Rebuild, source, .. }) = r else { panic!("{r:?}") };
    assert!(source.to_string().contains("cannot connect to Cassandra's JMX"), "{source}");
    assert!(!source.to_string().contains("could not be set back"), "the first error is kept: {source}");
    assert_eq!(calls(&w, "rebuild "), 0);
    let warned = rec.events().into_iter().any(|e| matches!(e, Event::Warning { step: StepId::Rebuild, message } if message.starts_with("target/apigee-cassandra-default-1: cannot set the stream throughput back (nodetool setinterdcstreamthroughput 200; nodetool setstreamthroughput 200)")));
    assert!(warned, "{}", rec.json());
    let j = journal(&s);
    assert!(!j.throughput["target/apigee-cassandra-default-1"].restored, "kept for the next run");
    assert!(j.throughput["target/apigee-cassandra-default-0"].restored);
    // The next run (the node answers again) sets it back.
    w.lock().unwrap().throughput_set_fails.clear();
    let (r, _) = run(&s, &w, RunOptions { until: Some(StepId::CheckReplication), ..Default::default() }).await;
    r.unwrap();
    assert!(journal(&s).throughput.values().all(|r| r.restored));
    assert_eq!(w.lock().unwrap().throttles(NODES[3]), (Throughput::Megabits(200), Throughput::Megabits(200)));
}

/// `limits.exec_per_cluster` bounds the fan-out: with 12 target nodes read in parallel
/// (verify's own loads, every rebuild's netstats with `concurrency: all`, the throttles), no more
/// than 3 short nodetool execs run at once in either cluster, and the fan-out reaches the bound.
#[tokio::test]
async fn nodetool_execs_per_cluster_stay_within_the_bound() {
    let s = setup(
        // Generous waits: 12 nodes behind a bound of 3 must not time out on a loaded machine.
        "limits: {exec_per_cluster: 3}\nrebuild: {concurrency: all, progress_interval: 10ms, retry_backoff: 10ms, throughput: {interdc_megabits: 100}}\ntimeouts: {poll: 10ms, join: 30s, replication: 30s}\n",
    );
    std::fs::write(&s.target, TARGET.replace("replicaCount: 2", "replicaCount: 12")).unwrap();
    let w = healthy();
    let meter = Arc::new(latency::Meter::default());
    let d = latency::slow(deps(&w), std::time::Duration::from_millis(5), meter.clone());
    let report = expansion::run(&s.plan, &d, &RunOptions::default(), &|_: Event| {}).await.unwrap();
    assert!(report.verify.unwrap().passed());
    let (source, target) = (meter.of(Region::Source), meter.of(Region::Target));
    assert_eq!(target.max_short, 3, "12 target nodes read at once wait for the bound: {target:?}");
    assert!((1..=3).contains(&source.max_short), "{source:?}");
    assert_eq!(calls(&w, "rebuild "), 12, "every node rebuilt");
}
