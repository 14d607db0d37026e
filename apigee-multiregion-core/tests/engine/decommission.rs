//! Decommissioning region-2 (dc-2) from region-1 (dc-1) on the in-memory world: the operator's
//! graceful removal, the cleanup with removenode, a lost region, preflight refusals, and a run
//! cancelled in the middle of a removenode then resumed.

use std::sync::Arc;
use std::time::Duration;

use apigee_multiregion_core::expansion::decommission::{self, DecommissionOptions, DecommissionPlan};
use apigee_multiregion_core::expansion::{Cancel, ExpansionError, Journal, RunOptions, StepId, StepState};
use apigee_multiregion_core::overrides::Severity;

use super::world::{Shared, SurvivingInstaller, deps, healthy};
use super::{Recorder, SOURCE, TARGET};

struct Setup {
    _dir: tempfile::TempDir,
    plan: DecommissionPlan,
}

fn setup(east: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("east.yaml"), east).unwrap();
    std::fs::write(
        dir.path().join("west.yaml"),
        TARGET.replace("  replicaCount: 2\n", "  replicaCount: 2\n  datacenter: dc-2\n"),
    )
    .unwrap();
    let text = "name: d\nleaving: {context: region-2, overrides: west.yaml, datacenter: dc-2}\nsurviving: {context: region-1, overrides: east.yaml, datacenter: dc-1}\ninstaller: {kind: apigeectl}\ntimeouts: {poll: 10ms, removal: 100ms, removenode: 5s, replication: 100ms}\n";
    let plan = DecommissionPlan::from_str_at(text, "plan.yaml", dir.path().to_path_buf()).unwrap();
    Setup { _dir: dir, plan }
}

/// Two healthy regions: dc-1 (region-1) and dc-2 (region-2), every keyspace in both.
fn two_regions() -> Shared {
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        w.add_datacenter("dc-2", &["10.2.0.1", "10.2.0.2"], 900, 101);
        let mut pods = w.source_pods.clone();
        for (p, ip) in pods.iter_mut().zip(["10.2.0.1", "10.2.0.2"]) {
            p.pod_ip = ip.parse().ok();
        }
        w.target_pods = pods;
        for r in w.keyspaces.values_mut() {
            r.insert("dc-2".into(), 2);
        }
        w.removenode_polls = 3;
    }
    w
}

async fn run(
    s: &Setup,
    w: &Shared,
    options: RunOptions,
    d: DecommissionOptions,
) -> (Result<apigee_multiregion_core::expansion::ExpansionReport, ExpansionError>, Recorder) {
    let rec = Recorder::default();
    let sink = rec.sink();
    let surviving = Arc::new(SurvivingInstaller { world: w.clone() });
    let r = decommission::run(&s.plan, &deps(w), surviving, &options, d, &sink).await;
    (r, rec)
}

fn calls(w: &Shared, prefix: &str) -> Vec<String> {
    w.lock().unwrap().calls.iter().filter(|c| c.starts_with(prefix)).cloned().collect()
}

fn dc2_gone(w: &Shared) {
    let w = w.lock().unwrap();
    assert!(w.ring.iter().all(|n| n.dc == "dc-1"), "ring: {:?}", w.ring);
    assert!(w.keyspaces.values().all(|r| !r.contains_key("dc-2")), "{:?}", w.keyspaces);
    assert!(w.leases.is_empty(), "the lock is released");
}

fn refused_with(r: Result<apigee_multiregion_core::expansion::ExpansionReport, ExpansionError>) -> Vec<&'static str> {
    match r {
        Err(ExpansionError::Refused { findings }) => {
            findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.code).collect()
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn the_operator_removes_the_datacenter_and_the_tool_verifies_it() {
    let s = setup(SOURCE);
    let w = two_regions();
    w.lock().unwrap().graceful_removal = true;
    let (r, rec) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    let report = r.unwrap();
    assert!(report.verify.unwrap().passed());
    assert_eq!(calls(&w, "installer delete").len(), 1);
    assert!(calls(&w, "removenode ").is_empty(), "nothing left to clean up");
    assert!(rec.json().contains("move-traffic-first"), "the traffic warning is said");
    dc2_gone(&w);
}

#[tokio::test]
async fn nodes_the_operator_left_are_removed_one_at_a_time_by_host_id_then_replication_rewritten() {
    let s = setup(SOURCE);
    let w = two_regions();
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    r.unwrap();
    assert_eq!(
        calls(&w, "removenode 0"),
        ["removenode 00000000-0000-0000-0000-000000000101", "removenode 00000000-0000-0000-0000-000000000102"]
    );
    assert_eq!(calls(&w, "surviving apply-datastore").len(), 1, "replication rewritten through the datastore");
    dc2_gone(&w);
    let j =
        Journal::open(&s.plan.base_dir.join(".apigee-multiregion/d.journal.json"), "d", &s.plan.hash(), false).unwrap();
    assert!(j.removals.values().all(|r| r.state == StepState::Done && r.attempts == 1), "{:?}", j.removals);
    // A second run finds everything done and changes nothing.
    let before = w.lock().unwrap().calls.len();
    run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await.0.unwrap();
    let w2 = w.lock().unwrap();
    assert!(w2.calls[before..].iter().all(|c| c.starts_with("removenode status")), "{:?}", &w2.calls[before..]);
}

#[tokio::test]
async fn a_failed_re_apply_is_not_counted_done_even_where_only_the_re_apply_proves_it() {
    // Cassandra 3.11: rings cannot show a datacenter without nodes, so the re-apply itself is the
    // step's evidence; a re-apply that failed must run again on the next run.
    let s = setup(SOURCE);
    let w = two_regions();
    {
        let mut g = w.lock().unwrap();
        g.cassandra_311 = true;
        g.surviving_apply_fails = 1;
    }
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    assert!(r.is_err(), "the re-apply failed");
    run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await.0.unwrap();
    assert_eq!(calls(&w, "surviving apply-datastore").len(), 2, "re-applied again, not skipped");
}

#[tokio::test]
async fn a_lost_region_is_not_uninstalled_and_its_nodes_are_removed() {
    let s = setup(SOURCE);
    let w = two_regions();
    for n in w.lock().unwrap().ring.iter_mut().filter(|n| n.dc == "dc-2") {
        n.code = "DN";
    }
    let lost = DecommissionOptions { lost_region: true, force: false };
    let (r, _) = run(&s, &w, RunOptions::default(), lost).await;
    r.unwrap();
    assert!(calls(&w, "installer").is_empty(), "a lost region is not asked anything");
    assert_eq!(calls(&w, "removenode 0").len(), 2);
    dc2_gone(&w);
}

#[tokio::test]
async fn lost_region_refuses_when_its_nodes_are_up() {
    let s = setup(SOURCE);
    let w = two_regions();
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions { lost_region: true, force: false }).await;
    assert_eq!(refused_with(r), ["leaving-node-alive", "leaving-node-alive"]);
    assert!(w.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn refuses_to_remove_the_last_datacenter() {
    let s = setup(SOURCE);
    let w = two_regions();
    w.lock().unwrap().ring.retain(|n| n.dc == "dc-2");
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    assert_eq!(refused_with(r), ["last-datacenter"]);
    assert!(w.lock().unwrap().calls.is_empty(), "nothing changed");
}

#[tokio::test]
async fn refuses_when_a_keyspace_lives_only_in_the_leaving_datacenter() {
    let s = setup(SOURCE);
    let w = two_regions();
    w.lock().unwrap().keyspaces.insert("kvm_only_west".into(), [("dc-2".to_owned(), 2)].into());
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    assert_eq!(refused_with(r), ["keyspace-only-in-leaving-dc"]);
    assert!(w.lock().unwrap().calls.is_empty(), "nothing changed");
}

#[tokio::test]
async fn refuses_when_a_surviving_overrides_seed_points_into_the_leaving_datacenter() {
    let s = setup(&SOURCE.replace("  datacenter: dc-1\n", "  datacenter: dc-1\n  multiRegionSeedHost: 10.2.0.1\n"));
    let w = two_regions();
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    match r {
        Err(ExpansionError::Refused { findings }) => {
            let f = findings.iter().find(|f| f.code == "seed-host-in-leaving-dc").unwrap();
            assert_eq!((f.path.as_str(), f.line), ("cassandra.multiRegionSeedHost", Some(8)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn killed_during_a_removenode_the_next_run_follows_it_and_removes_nothing_twice() {
    let s = setup(SOURCE);
    let w = two_regions();
    w.lock().unwrap().removenode_polls = 40;
    let (handle, cancel) = Cancel::new();
    let watcher = {
        let w = w.clone();
        tokio::spawn(async move {
            while calls(&w, "removenode 0").is_empty() {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            handle.cancel();
        })
    };
    let (r, _) =
        run(&s, &w, RunOptions { cancel: Some(cancel), ..Default::default() }, DecommissionOptions::default()).await;
    watcher.await.unwrap();
    match r {
        Err(ExpansionError::Cancelled { step, .. }) => assert_eq!(step, StepId::RemoveNodes),
        other => panic!("{other:?}"),
    }
    {
        let w = w.lock().unwrap();
        assert!(w.removing.is_some(), "the removal goes on in Cassandra");
        assert!(w.ring.iter().any(|n| n.host_id == 101), "and has not finished yet");
    }
    let j =
        Journal::open(&s.plan.base_dir.join(".apigee-multiregion/d.journal.json"), "d", &s.plan.hash(), false).unwrap();
    assert_eq!(
        j.removals["00000000-0000-0000-0000-000000000101"].state,
        StepState::Running,
        "recorded before it was asked"
    );
    // The second run follows the running removal on its coordinator, then removes the other node.
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    r.unwrap();
    assert_eq!(
        calls(&w, "removenode 0"),
        ["removenode 00000000-0000-0000-0000-000000000101", "removenode 00000000-0000-0000-0000-000000000102"],
        "each node asked once"
    );
    dc2_gone(&w);
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_lists_the_commands() {
    let s = setup(SOURCE);
    let w = two_regions();
    let (r, rec) =
        run(&s, &w, RunOptions { dry_run: true, ..Default::default() }, DecommissionOptions::default()).await;
    r.unwrap();
    assert!(w.lock().unwrap().calls.is_empty());
    let json = rec.json();
    for needle in ["fake Delete", "removenode -- <host ID>", "fake region-1 ApplyDatastore"] {
        assert!(json.contains(needle), "{needle}: {json}");
    }
}

#[tokio::test]
async fn a_missing_permission_in_the_surviving_cluster_refuses_before_anything_is_read_or_changed() {
    let s = setup(SOURCE);
    let w = two_regions();
    let lock = "0 update leases (coordination.k8s.io) named apigee-multiregion-apigee in namespace default";
    w.lock().unwrap().denied.insert(lock.into());
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    assert_eq!(findings.len(), 1, "exactly the permission, nothing else judged: {findings:#?}");
    assert_eq!((findings[0].severity, findings[0].code), (Severity::Error, "permission-missing"));
    assert_eq!(
        findings[0].message,
        "context `region-1` (surviving) may not update leases (coordination.k8s.io) named apigee-multiregion-apigee in namespace default, needed to renew the run's lock: grant it (see docs/rbac/decommission-surviving.yaml)"
    );
    let w = w.lock().unwrap();
    assert!(w.calls.is_empty(), "nothing changed: {:?}", w.calls);
    // Both clusters were asked, the surviving one about nodetool under either exec verb.
    assert!(w.access_asked.iter().any(|a| a == "0 create pods/exec in namespace apigee"), "{:#?}", w.access_asked);
    assert!(w.access_asked.iter().any(|a| a == "1 list pods in namespace apigee"), "{:#?}", w.access_asked);
}

#[tokio::test]
async fn a_missing_leaving_permission_refuses_but_a_lost_region_is_not_asked_at_all() {
    let s = setup(SOURCE);
    let w = two_regions();
    w.lock().unwrap().denied.insert("1 list pods in namespace apigee".into());
    let (r, _) = run(&s, &w, RunOptions::default(), DecommissionOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    assert_eq!(findings.iter().map(|f| f.code).collect::<Vec<_>>(), ["permission-missing"]);
    assert!(
        findings[0].message.starts_with("context `region-2` (leaving) may not list pods"),
        "{}",
        findings[0].message
    );
    // The region is lost: the leaving cluster is asked nothing, so its missing grant is no refusal.
    for n in w.lock().unwrap().ring.iter_mut().filter(|n| n.dc == "dc-2") {
        n.code = "DN";
    }
    w.lock().unwrap().access_asked.clear();
    let lost = DecommissionOptions { lost_region: true, force: false };
    let (r, _) = run(&s, &w, RunOptions::default(), lost).await;
    r.unwrap();
    let w = w.lock().unwrap();
    assert!(!w.access_asked.is_empty() && w.access_asked.iter().all(|a| a.starts_with("0 ")), "{:#?}", w.access_asked);
}
