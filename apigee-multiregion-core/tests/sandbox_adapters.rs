//! The adapters against the sandbox's real kube-apiservers and Cassandra (./run-tests brings the
//! sandbox up and runs these with `--include-ignored`; alone: `sandbox/sandbox up` first).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
#![cfg(feature = "kube")]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use apigee_multiregion_core::adapters::{Apigeectl, KubeCluster, NodetoolOverExec};
use apigee_multiregion_core::copy::{CopyError, CopyOutcome, copy_ca, copy_namespace};
use apigee_multiregion_core::model::{PodPhase, Secret, SecretBytes};
use apigee_multiregion_core::overrides::OverridesDoc;
use apigee_multiregion_core::ports::{
    AdminError, CassandraAdmin, ClusterOps, HybridInstaller, JmxCredentials, SanitizedObject,
};

const NEEDS: &str = "needs the sandbox (./run-tests runs it)";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn kubeconfig() -> PathBuf {
    let state = std::env::var("SANDBOX_STATE").unwrap_or_else(|_| "/tmp/apigee-multiregion-sandbox".into());
    PathBuf::from(state).join("kubeconfig")
}

async fn region(n: u8) -> Arc<dyn ClusterOps> {
    Arc::new(KubeCluster::connect(Some(&kubeconfig()), Some(&format!("region-{n}"))).await.expect("sandbox kubeconfig"))
}

fn region1_overrides() -> OverridesDoc {
    let text = std::fs::read_to_string(repo().join("sandbox/regions/region-1/overrides.yaml")).unwrap();
    OverridesDoc::parse(&text).unwrap()
}

fn jmx() -> JmxCredentials {
    let view = region1_overrides().view().unwrap();
    let c = &view.cassandra.auth.users["jmx"];
    JmxCredentials::Given { username: c.username.clone().unwrap(), password: c.password.clone().unwrap() }
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn lists_region_1_cassandra_pods_with_their_real_addresses() {
    let _ = NEEDS;
    let r1 = region(1).await;
    let pods = r1.list_cassandra_pods("apigee", "app=apigee-cassandra").await.unwrap();
    assert_eq!(pods.len(), 2);
    for (i, p) in pods.iter().enumerate() {
        assert_eq!(p.name, format!("apigee-cassandra-default-{i}"));
        assert_eq!(p.pod_ip.unwrap().to_string(), format!("127.0.1.{}", i + 1));
        assert_eq!(p.phase, PodPhase::Running);
        assert!(p.ready && p.host_network);
    }
    let nodes = r1.node_facts().await.unwrap();
    assert!(nodes.iter().any(|n| n.internal_ips == ["127.0.1.1"] && n.ready));
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn runs_real_nodetool_status_through_kube_rs_exec_and_parses_it() {
    let admin = NodetoolOverExec::new(region(1).await, "apigee", "apigee-cassandra-default-0", None, jmx());
    let ring = admin.status().await.unwrap();
    assert_eq!(ring.datacenters[0].name, "dc-1");
    assert!(ring.nodes().all(|(_, n)| n.is_up_normal()));
    let d = admin.describecluster().await.unwrap();
    assert_eq!(d.name, "apigeecluster");
    let n = admin.netstats().await.unwrap();
    assert_eq!(n.mode, "NORMAL");
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn a_wrong_jmx_password_is_a_typed_error_without_the_password() {
    let wrong = JmxCredentials::Given { username: "jmxuser".into(), password: Secret::new("Wr0ng-Passw0rd-xyz") };
    let admin = NodetoolOverExec::new(region(1).await, "apigee", "apigee-cassandra-default-0", None, wrong);
    let err = admin.status().await.unwrap_err();
    assert!(matches!(err, AdminError::JmxAuthentication { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("Wr0ng-Passw0rd-xyz"), "{shown}");
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn secrets_go_through_stdin_and_never_come_back_in_output() {
    use apigee_multiregion_core::ports::ExecArg;
    let r1 = region(1).await;
    // The secret reaches the command as an environment variable, never as an argument.
    let cmd = [
        ExecArg::from("sh"),
        ExecArg::from("-c"),
        ExecArg::from(r#"echo value: "$APIGEE_MR_SECRET_0""#),
        ExecArg::Secret(Secret::new("s3cr3t-value")),
    ];
    let out = r1.exec("apigee", "apigee-cassandra-default-0", None, &cmd, Duration::from_secs(30)).await.unwrap();
    assert!(out.success);
    assert_eq!(
        out.stdout.trim(),
        "value: <redacted>",
        "the container received it, and it was redacted on the way back"
    );
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn reads_the_cassandra_log_through_the_api() {
    let log = region(1).await.logs("apigee", "apigee-cassandra-default-0", None, None).await.unwrap();
    assert!(log.contains("Starting listening for CQL clients on /127.0.1.1:9042"));
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn copies_namespace_and_ca_then_refuses_a_different_ca() {
    let (r1, r2) = (region(1).await, region(2).await);
    // Start from an empty target for the CA.
    let _ = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig().to_str().unwrap(),
            "--context",
            "region-2",
            "-n",
            "cert-manager",
            "delete",
            "secret",
            "apigee-ca",
            "--ignore-not-found",
        ])
        .status();
    assert!(matches!(
        copy_namespace(&*r1, &*r2, "apigee").await.unwrap(),
        CopyOutcome::Copied | CopyOutcome::AlreadyPresent
    ));
    assert!(r2.export_namespace("apigee").await.unwrap().is_some());
    assert_eq!(copy_ca(&*r1, &*r2, "cert-manager", "apigee-ca", false).await.unwrap(), CopyOutcome::Copied);
    let (a, b) = (
        r1.export_secret("cert-manager", "apigee-ca").await.unwrap().unwrap(),
        r2.export_secret("cert-manager", "apigee-ca").await.unwrap().unwrap(),
    );
    assert_eq!(a.data, b.data, "region-2 now has region-1's CA, byte for byte");
    assert_eq!(copy_ca(&*r1, &*r2, "cert-manager", "apigee-ca", false).await.unwrap(), CopyOutcome::AlreadyPresent);
    // A different CA in the target is refused.
    let mut other: SanitizedObject = b.clone();
    other.data.insert(
        "tls.crt".into(),
        SecretBytes::new("-----BEGIN CERTIFICATE-----\nnot the same\n-----END CERTIFICATE-----\n"),
    );
    r2.apply(&other).await.unwrap();
    let err = copy_ca(&*r1, &*r2, "cert-manager", "apigee-ca", false).await.unwrap_err();
    assert!(matches!(err, CopyError::DifferentCa { .. }), "{err}");
    assert!(!format!("{err} {err:?} {other:?}").contains("BEGIN"), "no key material in messages");
    // Leave region-2 as the other tests expect it: no CA.
    let _ = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            kubeconfig().to_str().unwrap(),
            "--context",
            "region-2",
            "-n",
            "cert-manager",
            "delete",
            "secret",
            "apigee-ca",
            "--ignore-not-found",
        ])
        .status();
}

#[tokio::test]
#[ignore = "needs the sandbox (./run-tests runs it)"]
async fn drives_the_apigeectl_stand_in_through_the_installer_adapter() {
    let mut a = Apigeectl::new(repo().join("sandbox/bin/apigeectl"), "region-1");
    a.kubeconfig = Some(kubeconfig());
    a.poll_interval = Duration::from_millis(200);
    // apigeectl runs from the hybrid-files directory the overrides' relative paths point into.
    a.workdir = Some(repo().join("sandbox/regions/region-1"));
    let overrides = repo().join("sandbox/regions/region-1/overrides.yaml");
    a.wait_ready(&overrides, Duration::from_secs(30)).await.unwrap();
    // Region-2 has nothing installed: check-ready fails, and says why.
    let mut b = a.clone();
    b.context = "region-2".into();
    let err = b.wait_ready(&overrides, Duration::from_millis(100)).await.unwrap_err();
    assert!(err.message.contains("apigee-controller-manager") && err.message.contains("apigeectl init"), "{err}");
    assert_eq!(err.context.as_deref(), Some("region-2"));
}
