//! The preflight network probe on fakes: a pod on a target node's host network connects to each
//! seed's internode port; a closed port refuses the expansion before anything is installed, and
//! the pod is deleted in every case.

use apigee_multiregion_core::expansion::{Event, ExpansionError, RunOptions, StepId};
use apigee_multiregion_core::overrides::Severity;
use apigee_multiregion_core::probe::PROBE_POD;

use super::world::{Shared, healthy};
use super::{calls, run, setup};

const POD: &str = "default/apigee-multiregion-probe";

fn probe_log(w: &Shared) -> Vec<String> {
    w.lock().unwrap().probe_log.clone()
}

fn preflight_only() -> RunOptions {
    RunOptions { until: Some(StepId::Preflight), ..Default::default() }
}

/// Nothing of Apigee's changed in the target: no installer call, no namespace or secret applied.
fn nothing_installed(w: &Shared) {
    let w = w.lock().unwrap();
    assert!(
        !w.calls.iter().any(|c| c.starts_with("installer") || c.starts_with("apply ")),
        "nothing may change before the probe passed: {:?}",
        w.calls
    );
}

fn no_probe_pod_left(w: &Shared) {
    let w = w.lock().unwrap();
    assert!(w.probe_pods.is_empty(), "the probe pod is deleted: {:?} ({:?})", w.probe_pods.keys(), w.probe_log);
    assert!(w.probe_log.last().is_some_and(|l| l.starts_with("delete ")), "{:?}", w.probe_log);
}

#[tokio::test]
async fn the_probe_runs_on_a_target_node_s_host_network_and_its_pod_is_deleted() {
    let s = setup("");
    let w = healthy();
    let (r, _) = run(&s, &w, preflight_only()).await;
    r.unwrap();
    assert_eq!(
        probe_log(&w),
        [format!("create {POD} on n1"), format!("exec {POD}"), format!("delete {POD}")],
        "the Apigee namespace does not exist yet in the target: the probe runs in the lock's namespace"
    );
    no_probe_pod_left(&w);
    let spec = w.lock().unwrap().probe_created[0].clone();
    assert_eq!((spec.image.as_str(), spec.node_selector.len()), ("busybox:1.36", 0), "no Cassandra image or label set");
    // Asked before anything: the probe pod's permissions in the namespace it runs in.
    assert!(
        w.lock().unwrap().access_asked.contains(&format!("1 create pods/exec named {PROBE_POD} in namespace default"))
    );
}

#[tokio::test]
async fn the_probe_uses_cassandra_s_node_label_and_image_and_the_apigee_namespace_once_it_exists() {
    let s = setup("");
    let overrides = std::fs::read_to_string(&s.target).unwrap();
    std::fs::write(
        &s.target,
        format!("{overrides}nodeSelector:\n  apigeeData: {{key: cloud.google.com/gke-nodepool, value: apigee-data}}\n")
            .replace(
                "cassandra:\n",
                "cassandra:\n  image: {url: mirror.local/apigee-hybrid-cassandra, tag: \"1.12.1\"}\n",
            ),
    )
    .unwrap();
    let w = healthy();
    w.lock().unwrap().namespaces[1].insert("apigee".into());
    let (r, _) = run(&s, &w, preflight_only()).await;
    r.unwrap();
    assert_eq!(probe_log(&w)[0], "create apigee/apigee-multiregion-probe on n1");
    let spec = w.lock().unwrap().probe_created[0].clone();
    assert_eq!(spec.image, "mirror.local/apigee-hybrid-cassandra:1.12.1", "the image Cassandra pulls there anyway");
    assert!(spec.host_network);
    assert_eq!(spec.node_selector.get("cloud.google.com/gke-nodepool").map(String::as_str), Some("apigee-data"));
    assert_eq!(spec.labels.get("app.kubernetes.io/managed-by").map(String::as_str), Some("apigee-multiregion"));
    assert!(spec.lifetime.as_secs() >= 60, "activeDeadlineSeconds as a safety net: {:?}", spec.lifetime);
    no_probe_pod_left(&w);
}

#[tokio::test]
async fn a_closed_internode_port_on_one_seed_refuses_before_anything_is_installed() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().closed_ports.insert("10.1.0.2:7001".into());
    let (r, rec) = run(&s, &w, RunOptions::default()).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("not refused: {r:?}") };
    let closed: Vec<_> = findings.iter().filter(|f| f.code == "internode-port-closed").collect();
    assert_eq!(closed.len(), 1, "only the closed seed: {findings:#?}");
    let m = &closed[0].message;
    assert_eq!(closed[0].severity, Severity::Error);
    assert!(m.contains("target node n1") && m.contains("seed 10.1.0.2") && m.contains("TCP 7001"), "{m}");
    assert!(m.contains("firewall/NSG rule for TCP 7001"), "the fix: {m}");
    nothing_installed(&w);
    assert_eq!(calls(&w, "installer"), 0);
    no_probe_pod_left(&w);
    assert!(
        rec.events().iter().any(|e| matches!(e, Event::Finding { finding } if finding.code == "internode-port-closed"))
    );
}

#[tokio::test]
async fn an_unresolved_node_hostname_refuses() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().hostname_unresolved = true;
    let Err(ExpansionError::Refused { findings }) = run(&s, &w, RunOptions::default()).await.0 else { panic!() };
    assert!(findings.iter().any(|f| f.code == "node-hostname-unresolved" && f.message.contains("n1")), "{findings:#?}");
    nothing_installed(&w);
    no_probe_pod_left(&w);
}

#[tokio::test]
async fn the_probe_pod_is_deleted_when_the_exec_fails_and_when_it_never_gets_ready() {
    for fault in ["exec", "ready"] {
        let s = setup("");
        let w = healthy();
        {
            let mut w = w.lock().unwrap();
            w.probe_exec_fails = fault == "exec";
            w.probe_never_ready = fault == "ready";
        }
        let Err(ExpansionError::Refused { findings }) = run(&s, &w, RunOptions::default()).await.0 else {
            panic!("{fault}: not refused")
        };
        let f = findings.iter().find(|f| f.code == "network-probe-failed").expect(fault);
        assert!(
            f.message.contains("enabled: false") && f.message.contains("preflight.network_probe.image"),
            "{}",
            f.message
        );
        nothing_installed(&w);
        no_probe_pod_left(&w);
    }
}

#[tokio::test]
async fn a_probe_pod_left_by_a_crashed_run_is_replaced() {
    let s = setup("");
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        let leftover = apigee_multiregion_core::ports::ProbePodSpec {
            namespace: "default".into(),
            name: PROBE_POD.into(),
            image: "busybox:1.36".into(),
            node_name: "n3".into(),
            node_selector: Default::default(),
            host_network: true,
            labels: Default::default(),
            lifetime: std::time::Duration::from_secs(600),
        };
        w.probe_pods.insert(POD.into(), leftover);
    }
    run(&s, &w, preflight_only()).await.0.unwrap();
    assert_eq!(probe_log(&w)[..2], [format!("delete leftover {POD}"), format!("create {POD} on n1")]);
    no_probe_pod_left(&w);
}

#[tokio::test]
async fn a_disabled_probe_warns_and_creates_no_pod() {
    let s = setup("preflight: {network_probe: {enabled: false}}\n");
    let w = healthy();
    w.lock().unwrap().closed_ports.insert("10.1.0.1:7001".into());
    let (r, rec) = run(&s, &w, preflight_only()).await;
    r.unwrap();
    assert!(probe_log(&w).is_empty());
    assert!(
        rec.events()
            .iter()
            .any(|e| matches!(e, Event::Warning { message, .. } if message.contains("network_probe.enabled is false"))),
        "{}",
        rec.json()
    );
    assert!(!w.lock().unwrap().access_asked.iter().any(|a| a.contains(PROBE_POD)), "no probe, no probe permissions");
}

#[tokio::test]
async fn a_dry_run_probes_too_and_leaves_nothing() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().closed_ports.insert("10.1.0.1:7001".into());
    let (r, _) = run(&s, &w, RunOptions { dry_run: true, ..Default::default() }).await;
    let Err(ExpansionError::Refused { findings }) = r else { panic!("a dry run refuses like the run: {r:?}") };
    assert!(findings.iter().any(|f| f.code == "internode-port-closed" && f.message.contains("10.1.0.1")));
    nothing_installed(&w);
    no_probe_pod_left(&w);
}

#[tokio::test]
async fn a_missing_probe_permission_refuses_before_any_pod_is_created() {
    let s = setup("");
    let w = healthy();
    w.lock().unwrap().denied.insert("1 create pods in namespace default".into());
    let Err(ExpansionError::Refused { findings }) = run(&s, &w, RunOptions::default()).await.0 else { panic!() };
    assert!(
        findings.iter().any(|f| f.code == "permission-missing" && f.message.contains("network probe pod")),
        "{findings:#?}"
    );
    assert!(probe_log(&w).is_empty());
}
