//! The engine against behaviours of the real product that the first sandbox hid: container logs
//! that start empty after a restart, an operator that restarts pods after the datastore is
//! re-applied, exec streams cut by load balancers, keyspace-scoped manual rebuilds, Cassandra
//! 3.11's describecluster, product defaults, and a lock that cannot be lost silently.

use std::time::Duration;

use apigee_multiregion_core::expansion::{
    self, Event, ExpansionError, LeaseTiming, LockError, NodeState, RunOptions, StepError, StepId,
};

use super::world::{Renewer, Script, healthy, others_lease};
use super::{TARGET, calls, run, setup};

fn until(step: StepId) -> RunOptions {
    RunOptions { until: Some(step), ..Default::default() }
}

#[tokio::test]
async fn every_pod_restarted_after_the_expansion_verify_passes_and_nothing_is_rebuilt_again() {
    let s = setup("");
    let w = healthy();
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    // Every target container restarts: `kubectl logs` starts empty, as on a real kubelet.
    w.lock().unwrap().restart_target_pods();
    let report = expansion::verify_only(&s.plan, &super::world::deps(&w), None).await.unwrap();
    assert!(report.passed(), "{:?}", report.failures());
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert_eq!(calls(&w, "rebuild "), 2, "a second expand rebuilds nothing");
}

#[tokio::test]
async fn finalize_is_done_only_after_every_pod_restarted_without_the_seed_host() {
    let s = setup("");
    let w = healthy();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    {
        let w = w.lock().unwrap();
        assert!(w.rollout_left.is_none(), "the run waited until the rolling restart was over");
        assert!(
            w.target_pods.iter().all(|p| p.incarnation.as_deref().is_some_and(|i| i.ends_with("/1"))),
            "every pod restarted once"
        );
    }
    assert!(
        rec.events().iter().any(
            |e| matches!(e, Event::Note { step: StepId::Finalize, message } if message.contains("rolling restart"))
        )
    );
}

#[tokio::test]
async fn finalize_without_the_operator_s_restart_is_never_done() {
    let s = setup("timeouts: {poll: 10ms, join: 1s, replication: 200ms, rollout: 300ms}\n");
    let w = healthy();
    w.lock().unwrap().no_rollout = true;
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::Finalize));
    assert!(err.to_string().contains("rolling restart"), "{err}");
    // Run again once the operator rolled: it waits for the restart, it does not apply again.
    {
        let mut w = w.lock().unwrap();
        w.no_rollout = false;
        w.rollout_left = Some(1);
    }
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    assert_eq!(calls(&w, "installer apply-datastore"), 1);
}

#[tokio::test]
async fn a_one_node_region_without_replica_count_expands_with_the_product_default() {
    let s = setup("");
    std::fs::write(&s.target, TARGET.replace("  replicaCount: 2\n", "")).unwrap();
    let w = healthy();
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    assert!(r.unwrap().verify.unwrap().passed());
    assert_eq!(w.lock().unwrap().target_pods.len(), 1);
    assert_eq!(calls(&w, "rebuild "), 1);
}

#[tokio::test]
async fn a_cut_exec_stream_is_followed_to_the_end_of_the_rebuild() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::CutStream(3));
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 1, "a cut stream is not a failure: no second rebuild");
    assert!(
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::RebuildProgress { pod, .. } if pod == "apigee-cassandra-default-0"))
    );
}

#[tokio::test]
async fn a_cut_exec_stream_that_never_returns_is_given_up_once_the_node_has_finished() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::HangingStream(3));
    let (r, rec) = tokio::time::timeout(Duration::from_secs(60), run(&s, &w, RunOptions::default()))
        .await
        .expect("the run must not wait for an exec that will never return");
    r.unwrap();
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 1, "followed, not rebuilt again");
    assert!(rec.events().iter().any(|e| matches!(e, Event::Note { message, .. } if message.starts_with("apigee-cassandra-default-0: the `nodetool rebuild` exec broke") && message.contains("stream was cut"))), "{:?}", rec.events());
    assert!(rec.events().iter().any(|e| matches!(e, Event::RebuildNode { pod, state: NodeState::Done, attempt: 1, .. } if pod == "apigee-cassandra-default-0")));
}

#[tokio::test]
async fn a_keyspace_scoped_manual_rebuild_is_not_counted() {
    let s = setup("");
    let w = healthy();
    run(&s, &w, until(StepId::CheckReplication)).await.0.unwrap();
    // An operator rebuilt one keyspace by hand on pod 0.
    w.lock().unwrap().logs.get_mut("t/apigee-cassandra-default-0").unwrap().push_str(
        "INFO rebuild from dc: dc-1, perses, (All tokens)\nINFO [Stream #aaaa] Executing streaming plan for Rebuild\nINFO [Stream #aaaa] All sessions completed\n",
    );
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-0"), 1, "pod 0 is rebuilt fully");
}

#[tokio::test]
async fn replication_is_checked_on_cassandra_3_11_without_describecluster_keyspaces() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().cassandra_311 = true;
    run(&s, &w, RunOptions::default()).await.0.unwrap();
    // And a keyspace that does not reach dc-2 is still caught on 3.11.
    let s = setup("");
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        w.cassandra_311 = true;
        w.schema_setup = false;
    }
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::CheckReplication), "{err}");
    assert!(err.to_string().contains("perses"), "{err}");
}

#[tokio::test]
async fn a_down_source_replica_is_retried_after_a_backoff() {
    let s = setup("rebuild: {progress_interval: 10ms, retry_backoff: 20ms, retries: 3}\n");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-1".into(), Script::InsufficientSources(2));
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    r.unwrap();
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-1"), 3);
    let waits: Vec<String> = rec
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::RebuildNode { message: Some(m), .. } if m.contains("source replica is down") => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits[0].contains("retrying in 0.02s") && waits[1].contains("retrying in 0.04s"),
        "the pause doubles: {waits:?}"
    );
}

#[tokio::test]
async fn a_lost_lock_stops_the_run_before_its_next_change() {
    let s = setup("");
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        w.lease_fails_after = Some(1); // the first take works, every renewal fails
        w.scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(60));
    }
    let options = RunOptions {
        lease: LeaseTiming { ttl: Duration::from_millis(300), renew_every: Duration::from_millis(40) },
        ..Default::default()
    };
    let err = run(&s, &w, options).await.0.unwrap_err();
    assert!(matches!(&err, ExpansionError::Step { source: StepError::Lock(LockError::Lost { .. }), .. }), "{err:?}");
    assert!(err.to_string().contains("lost the lock"), "{err}");
    assert_eq!(calls(&w, "installer apply-datastore"), 0, "nothing changed after the lock was lost");
    assert_eq!(calls(&w, "rebuild apigee-cassandra-default-1"), 0);
}

#[tokio::test]
async fn a_lease_that_vanished_under_the_run_is_lost_never_created_again() {
    // Another run took the Lease over (this one was asleep or cut off) and released it at its
    // end: this run's next renewal must find its lock gone, not create a new one and go on.
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(60));
    let options = RunOptions {
        lease: LeaseTiming { ttl: Duration::from_millis(600), renew_every: Duration::from_millis(40) },
        ..Default::default()
    };
    let vanish = async {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let mut w = w.lock().unwrap();
            if w.calls.iter().any(|c| c.starts_with("rebuild ")) {
                w.leases.clear();
                return;
            }
        }
    };
    let ((r, _), ()) = tokio::join!(run(&s, &w, options), vanish);
    let err = r.unwrap_err();
    assert!(matches!(&err, ExpansionError::Step { source: StepError::Lock(LockError::Taken(_)), .. }), "{err:?}");
    let w = w.lock().unwrap();
    assert!(w.leases.is_empty(), "the lock was not created again: {:?}", w.leases);
    assert_eq!(
        w.calls.iter().filter(|c| c.starts_with("installer apply-datastore")).count(),
        0,
        "nothing changed after"
    );
}

#[tokio::test]
async fn a_run_that_waited_for_the_lock_reads_the_journal_the_first_run_left() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(30));
    let first = run(&s, &w, RunOptions::default());
    let second = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        run(&s, &w, RunOptions { lock_wait: Duration::from_secs(30), ..Default::default() }).await
    };
    let ((a, _), (b, _)) = tokio::join!(first, second);
    a.unwrap();
    b.unwrap();
    assert_eq!(calls(&w, "rebuild "), 2, "the second run rebuilt nothing");
    assert_eq!(calls(&w, "installer apply seed"), 1, "and installed nothing");
    assert_eq!(calls(&w, "installer apply-datastore"), 1, "and re-applied nothing");
    let text = std::fs::read_to_string(&s.target).unwrap();
    assert!(!text.contains("multiRegionSeedHost"), "the seed host is not written back: {text}");
}

#[tokio::test]
async fn a_forbidden_netstats_stops_the_rebuild_at_once_instead_of_waiting_for_its_timeout() {
    let s = setup("");
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        w.scripts.insert("apigee-cassandra-default-0".into(), Script::AlreadyRunning(5));
        w.netstats_forbidden = true;
    }
    let started = std::time::Instant::now();
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    assert_eq!(err.step(), Some(StepId::Rebuild), "{err}");
    assert!(err.to_string().contains("forbidden"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30), "not waited for rebuild.timeout (24h)");
}

const LOCK: &str = "apigee-multiregion-apigee";

fn short_lease() -> LeaseTiming {
    LeaseTiming { ttl: Duration::from_millis(300), renew_every: Duration::from_millis(100) }
}

#[tokio::test]
async fn a_live_holder_whose_clock_is_far_behind_keeps_its_lease() {
    let s = setup("");
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        // Its renewTime says 2001 (a skewed clock), but it renews every 100 ms.
        w.leases.insert(LOCK.into(), others_lease("other-run", Duration::from_millis(300)));
        w.lease_renewer =
            Some(Renewer { name: LOCK.into(), every: Duration::from_millis(100), started: std::time::Instant::now() });
    }
    let options = RunOptions { lease: short_lease(), lock_wait: Duration::from_millis(1500), ..Default::default() };
    let err = run(&s, &w, options).await.0.unwrap_err();
    assert!(matches!(&err, ExpansionError::Locked(LockError::Held { .. })), "{err:?}");
    assert!(err.to_string().contains("other-run"), "{err}");
    let w = w.lock().unwrap();
    assert_eq!(w.leases[LOCK].holder, "other-run", "never taken from a holder that renews");
    assert!(!w.lease_log.iter().any(|(_, e)| *e == "taken over"));
    assert!(w.calls.is_empty());
}

#[tokio::test]
async fn a_dead_holder_s_lease_is_reported_held_at_first_and_taken_over_only_after_its_duration_seen_from_here() {
    let s = setup("");
    let w = healthy();
    let duration = Duration::from_millis(400);
    // Renewed long ago (by its clock) and never again: its holder crashed.
    w.lock().unwrap().leases.insert(LOCK.into(), others_lease("crashed-run", duration));
    // Without waiting: held, with the holder and how long it was seen unchanged (not at all yet).
    let err = run(&s, &w, RunOptions { lease: short_lease(), ..Default::default() }).await.0.unwrap_err();
    assert!(matches!(&err, ExpansionError::Locked(LockError::Held { unchanged_seconds: 0, .. })), "{err:?}");
    assert!(err.to_string().contains("crashed-run") && err.to_string().contains("--wait-for-lock"), "{err}");
    assert_eq!(w.lock().unwrap().leases[LOCK].holder, "crashed-run", "not stolen at once");
    // Waiting: taken over once seen unchanged for its duration, on this process's clock.
    w.lock().unwrap().lease_log.clear();
    let options = RunOptions {
        lease: short_lease(),
        lock_wait: Duration::from_secs(10),
        until: Some(StepId::Preflight), // a short run: the 300 ms test Lease needs no long renewals
        ..Default::default()
    };
    run(&s, &w, options).await.0.unwrap();
    let log = w.lock().unwrap().lease_log.clone();
    let first_refused = log.iter().find(|(_, e)| *e == "refused").expect("refused first").0;
    let taken = log.iter().find(|(_, e)| *e == "taken over").expect("then taken over").0;
    assert!(taken - first_refused >= duration, "taken over after {:?}, before {duration:?}", taken - first_refused);
    assert!(w.lock().unwrap().leases.is_empty(), "the run released the Lease it took over");
}

/// A real file: CRLF line ends, `cassandra` written as a flow mapping followed by a comment, a
/// quoted value with its own comment, and keys written twice where the tool does not read (Helm
/// keeps the last). The expansion runs, warns about each duplicate with both lines, and leaves
/// every byte it did not have to change as it was.
#[tokio::test]
async fn a_crlf_file_with_a_flow_section_and_duplicates_outside_it_expands_and_keeps_its_bytes() {
    let s = setup("");
    let original = "# region 2\r\norg: org\r\ninstanceID: \"west\"   # this cluster\r\n\
        logger:\r\n  enabled: false\r\nlogger:\r\n  enabled: true\r\n\
        envs:\r\n  - name: test\r\n    serviceAccountPaths: {runtime: a.json, runtime: b.json}\r\n\
        cassandra: {hostNetwork: true, replicaCount: 2, auth: {jmx: {username: jmxuser, password: \"s3cret-jmx-pw\"}}}  # datastore\r\n";
    std::fs::write(&s.target, original).unwrap();
    let w = healthy();
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    assert!(r.unwrap().verify.unwrap().passed());
    let warned = rec.findings("duplicate-key");
    assert_eq!(warned.len(), 2, "{warned:?}");
    assert!(warned[0].contains("`logger` is written twice (lines 4 and 6)"), "{}", warned[0]);
    assert!(warned[1].contains("envs[0].serviceAccountPaths.runtime"), "{}", warned[1]);
    assert!(!rec.json().contains("s3cret-jmx-pw"));
    assert_eq!(
        std::fs::read_to_string(&s.target).unwrap(),
        original.replace("}}}  # datastore", "}}, datacenter: dc-2, rack: ra-1}  # datastore"),
        "only the two keys the expansion adds are new; the seed host came and went in place"
    );
}

/// A duplicate on a path the tool reads is refused before anything is changed, naming the file,
/// both lines and the fix.
#[tokio::test]
async fn a_duplicate_the_tool_reads_is_refused_before_anything_changes() {
    let s = setup("");
    let text = TARGET.replace("  replicaCount: 2\n", "  replicaCount: 2\n  hostNetwork: false\n");
    std::fs::write(&s.target, &text).unwrap();
    let w = healthy();
    let err = run(&s, &w, RunOptions::default()).await.0.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("west.yaml") && msg.contains("line 7") && msg.contains("first on line 5"), "{msg}");
    assert!(msg.contains("cassandra.hostNetwork") && msg.contains("remove one of them"), "{msg}");
    assert_eq!(std::fs::read_to_string(&s.target).unwrap(), text);
    assert_eq!(calls(&w, "installer "), 0);
}
