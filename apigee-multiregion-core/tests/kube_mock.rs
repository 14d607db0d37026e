//! The kube-rs adapter against a mocked API server (tower-test): the exact requests it sends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a failed unwrap is a failed test
#![cfg(feature = "kube")]

use std::collections::BTreeMap;
use std::time::Duration;

use apigee_multiregion_core::adapters::KubeCluster;
use apigee_multiregion_core::model::{Secret, SecretBytes};
use apigee_multiregion_core::ports::{ClusterOps, LeaseMode, SanitizedObject};
use http::{Request, Response};
use kube::client::Body;

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn cluster() -> (KubeCluster, Handle) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (KubeCluster::from_client(kube::Client::new(service, "default"), "mock"), handle)
}

fn json(v: serde_json::Value) -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&v).unwrap()))
        .unwrap()
}

#[tokio::test]
async fn lists_cassandra_pods_by_label_selector_and_reads_their_facts() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!(req.method(), "GET");
        assert_eq!(req.uri().path(), "/api/v1/namespaces/apigee/pods");
        assert_eq!(req.uri().query(), Some("&labelSelector=app%3Dapigee-cassandra"));
        send.send_response(json(serde_json::json!({
            "apiVersion": "v1", "kind": "PodList", "metadata": {},
            "items": [{
                "metadata": {"name": "apigee-cassandra-default-1"},
                "spec": {"nodeName": "n1", "hostNetwork": true, "containers": []},
                "status": {"phase": "Running", "podIP": "10.0.0.2", "hostIP": "10.0.0.2", "conditions": [{"type": "Ready", "status": "True"}]}
            }, {
                "metadata": {"name": "apigee-cassandra-default-0"},
                "spec": {"nodeName": "n0", "containers": []},
                "status": {"phase": "Pending"}
            }]
        })));
    });
    let pods = c.list_cassandra_pods("apigee", "app=apigee-cassandra").await.unwrap();
    server.await.unwrap();
    assert_eq!(pods[0].name, "apigee-cassandra-default-0", "sorted by ordinal");
    assert!(!pods[0].ready && pods[0].pod_ip.is_none());
    assert_eq!((pods[1].ordinal, pods[1].ready, pods[1].host_network), (Some(1), true, true));
}

#[tokio::test]
async fn exports_a_secret_without_the_old_object_s_identity() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!(req.uri().path(), "/api/v1/namespaces/cert-manager/secrets/apigee-ca");
        send.send_response(json(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {
                "name": "apigee-ca", "namespace": "cert-manager", "uid": "u-1", "resourceVersion": "42",
                "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{"manager": "x"}],
                "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "u-2"}],
                "labels": {"app": "apigee"},
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}
            },
            "data": {"tls.crt": "Q0VSVA==", "tls.key": "S0VZ"}
        })));
    });
    let s = c.export_secret("cert-manager", "apigee-ca").await.unwrap().unwrap();
    server.await.unwrap();
    assert_eq!(s.annotations, BTreeMap::from([("keep".to_owned(), "me".to_owned())]));
    assert_eq!(s.data["tls.key"].expose(), b"KEY");
    assert!(!format!("{s:?}").contains("KEY"), "secret data never in Debug");
}

#[tokio::test]
async fn applies_with_server_side_apply_as_apigee_multiregion() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!(req.method(), "PATCH");
        assert_eq!(req.uri().path(), "/api/v1/namespaces/cert-manager/secrets/apigee-ca");
        let q = req.uri().query().unwrap_or_default().to_owned();
        assert!(q.contains("fieldManager=apigee-multiregion") && q.contains("force=true"), "{q}");
        assert_eq!(req.headers()["content-type"], "application/apply-patch+yaml");
        let body: serde_json::Value = serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap()).unwrap();
        assert_eq!(body["metadata"], serde_json::json!({"name": "apigee-ca", "namespace": "cert-manager"}));
        assert_eq!(body["data"]["tls.key"], "S0VZ");
        assert_eq!(body["type"], "kubernetes.io/tls");
        send.send_response(json(
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "apigee-ca"}}),
        ));
    });
    let o = SanitizedObject {
        api_version: "v1".into(),
        kind: "Secret".into(),
        name: "apigee-ca".into(),
        namespace: Some("cert-manager".into()),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        secret_type: Some("kubernetes.io/tls".into()),
        data: BTreeMap::from([("tls.key".to_owned(), SecretBytes::new("KEY"))]),
    };
    c.apply(&o).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn an_api_error_names_the_context_and_the_object() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(
            Response::builder()
                .status(403)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": "pods is forbidden", "reason": "Forbidden", "code": 403})).unwrap()))
                .unwrap(),
        );
    });
    let err = c.list_cassandra_pods("apigee", "app=apigee-cassandra").await.unwrap_err();
    server.await.unwrap();
    let msg = err.to_string();
    assert!(msg.contains("context `mock`") && msg.contains("namespace apigee") && msg.contains("forbidden"), "{msg}");
}

#[test]
fn secret_arguments_travel_on_stdin_not_in_the_command() {
    use apigee_multiregion_core::adapters::exec_argv;
    use apigee_multiregion_core::ports::ExecArg;
    let (argv, stdin) = exec_argv(&[
        "nodetool".into(),
        "-u".into(),
        "jmxuser".into(),
        "-pw".into(),
        ExecArg::Secret(Secret::new("pw; rm -rf /")),
        "status".into(),
    ])
    .unwrap();
    assert_eq!(argv[..2], ["sh", "-c"]);
    assert_eq!(
        argv[2],
        r#"IFS= read -r s0 && APIGEE_MR_SECRET_0="$s0" && export APIGEE_MR_SECRET_0 && exec "${1}" "${2}" "${3}" "${4}" "${5}""#
    );
    assert_eq!(argv[3..], ["sh", "nodetool", "-u", "jmxuser", "-pw", "status"], "the secret takes no place in argv");
    assert!(!argv.iter().any(|a| a.contains("rm -rf")));
    assert_eq!(stdin.as_ref().map(Secret::expose), Some("pw; rm -rf /\n"));
    assert!(exec_argv(&[ExecArg::Secret(Secret::new("two\nlines"))]).is_err());
}

fn not_found(kind: &str, name: &str) -> Response<Body> {
    Response::builder()
        .status(404)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::to_vec(&serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": format!("{kind} \"{name}\" not found"), "reason": "NotFound", "code": 404
            }))
            .unwrap(),
        ))
        .unwrap()
}

/// DER-like key material that is not UTF-8 (0xff, 0xfe, a lone 0xc3, 0x80, a NUL byte), base64.
const BINARY_KEY_B64: &str = "MIIBCv/+AMMogC0K";

#[tokio::test]
async fn copy_ca_sends_the_exact_bytes_of_a_binary_key() {
    use apigee_multiregion_core::copy::{CopyOutcome, copy_ca};
    let (source, mut hs) = cluster();
    let (target, mut ht) = cluster();
    let source_api = tokio::spawn(async move {
        let (req, send) = hs.next_request().await.unwrap();
        assert_eq!(
            (req.method().as_str(), req.uri().path()),
            ("GET", "/api/v1/namespaces/cert-manager/secrets/apigee-ca")
        );
        send.send_response(json(serde_json::json!({
            "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": "apigee-ca", "namespace": "cert-manager", "resourceVersion": "7"},
            "data": {"tls.key": BINARY_KEY_B64, "tls.crt": "Q0VSVA=="}
        })));
    });
    let target_api = tokio::spawn(async move {
        let (req, send) = ht.next_request().await.unwrap();
        assert_eq!(
            (req.method().as_str(), req.uri().path()),
            ("GET", "/api/v1/namespaces/cert-manager/secrets/apigee-ca")
        );
        send.send_response(not_found("secrets", "apigee-ca"));
        let (req, send) = ht.next_request().await.unwrap();
        assert_eq!((req.method().as_str(), req.uri().path()), ("GET", "/api/v1/namespaces/cert-manager"));
        send.send_response(json(
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "cert-manager"}}),
        ));
        let (req, send) = ht.next_request().await.unwrap();
        assert_eq!(
            (req.method().as_str(), req.uri().path()),
            ("PATCH", "/api/v1/namespaces/cert-manager/secrets/apigee-ca")
        );
        let body: serde_json::Value = serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap()).unwrap();
        send.send_response(json(
            serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "apigee-ca"}}),
        ));
        body
    });
    let outcome = copy_ca(&source, &target, "cert-manager", "apigee-ca", false).await.unwrap();
    source_api.await.unwrap();
    let body = target_api.await.unwrap();
    assert_eq!(outcome, CopyOutcome::Copied);
    assert_eq!(body["data"]["tls.key"], BINARY_KEY_B64, "the key's bytes unchanged (no UTF-8 conversion)");
    assert_eq!(body["data"]["tls.crt"], "Q0VSVA==");
}

const LEASE_PATH: &str = "/apis/coordination.k8s.io/v1/namespaces/default/leases/apigee-multiregion-apigee";

fn lease(holder: &str, renew_time: &str, resource_version: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "apigee-multiregion-apigee", "namespace": "default", "uid": "u-1", "resourceVersion": resource_version},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60, "renewTime": renew_time}
    })
}

fn status(code: u16, reason: &str) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::to_vec(&serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "message": reason, "reason": reason, "code": code
            }))
            .unwrap(),
        ))
        .unwrap()
}

#[tokio::test]
async fn another_holder_s_lease_is_never_taken_because_its_renew_time_looks_old_to_our_clock() {
    use apigee_multiregion_core::ports::ClusterError;
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!((req.method().as_str(), req.uri().path()), ("GET", LEASE_PATH));
        // Its holder's clock is years behind: the renewTime looks long expired from here.
        send.send_response(json(lease("other-run", "2001-01-01T00:00:00.000000Z", "7")));
        assert!(h.next_request().await.is_none(), "nothing written: the Lease stays the other run's");
    });
    let err = c
        .acquire_lease(
            "default",
            "apigee-multiregion-apigee",
            "me",
            Duration::from_secs(60),
            LeaseMode::Acquire { take_over: None },
        )
        .await;
    drop(c);
    server.await.unwrap();
    let Err(ClusterError::Locked { lease, .. }) = err else { panic!("not locked: {err:?}") };
    assert_eq!((lease.holder.as_str(), lease.resource_version.as_str()), ("other-run", "7"));
    assert_eq!(lease.renew_time.as_deref(), Some("2001-01-01T00:00:00Z"));
}

#[tokio::test]
async fn a_take_over_writes_only_over_the_very_lease_seen_unchanged() {
    use apigee_multiregion_core::ports::{ClusterError, LeaseRecord};
    let seen = LeaseRecord {
        holder: "crashed-run".into(),
        renew_time: Some("2001-01-01T00:00:00Z".into()),
        duration: Duration::from_secs(60),
        resource_version: "7".into(),
    };
    // Still the same Lease: replaced, on the condition of its resourceVersion.
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(json(lease("crashed-run", "2001-01-01T00:00:00.000000Z", "7")));
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!((req.method().as_str(), req.uri().path()), ("PUT", LEASE_PATH));
        let body: serde_json::Value = serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap()).unwrap();
        assert_eq!(body["metadata"]["resourceVersion"], "7", "the write is conditional on the Lease seen");
        assert_eq!(body["spec"]["holderIdentity"], "me");
        send.send_response(json(lease("me", "2026-01-01T00:00:00.000000Z", "8")));
    });
    c.acquire_lease(
        "default",
        "apigee-multiregion-apigee",
        "me",
        Duration::from_secs(60),
        LeaseMode::Acquire { take_over: Some(&seen) },
    )
    .await
    .unwrap();
    server.await.unwrap();
    // Renewed since it was seen (a new resourceVersion): left alone.
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(json(lease("crashed-run", "2001-01-01T00:00:05.000000Z", "9")));
        assert!(h.next_request().await.is_none(), "nothing written");
    });
    let err = c
        .acquire_lease(
            "default",
            "apigee-multiregion-apigee",
            "me",
            Duration::from_secs(60),
            LeaseMode::Acquire { take_over: Some(&seen) },
        )
        .await;
    drop(c);
    server.await.unwrap();
    assert!(matches!(err, Err(ClusterError::Locked { .. })), "{err:?}");
}

#[tokio::test]
async fn release_deletes_only_the_lease_it_read_and_a_lease_taken_meanwhile_is_no_error() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(json(lease("me", "2026-01-01T00:00:00.000000Z", "5")));
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!((req.method().as_str(), req.uri().path()), ("DELETE", LEASE_PATH));
        let body: serde_json::Value = serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap()).unwrap();
        assert_eq!(body["preconditions"], serde_json::json!({"resourceVersion": "5", "uid": "u-1"}), "{body}");
        // Another run took the Lease between the read and the delete: the precondition fails.
        send.send_response(status(409, "Conflict"));
        // Read again: it is theirs now, so it is left alone (no second DELETE).
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!(req.method().as_str(), "GET");
        send.send_response(json(lease("other", "2026-01-01T00:00:01.000000Z", "6")));
        h
    });
    c.release_lease("default", "apigee-multiregion-apigee", "me").await.unwrap();
    let mut h = server.await.unwrap();
    assert!(futures::FutureExt::now_or_never(h.next_request()).flatten().is_none(), "no further request");
}

#[tokio::test]
async fn release_deletes_its_own_lease_even_when_its_last_renewal_lands_in_between() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(json(lease("me", "2026-01-01T00:00:00.000000Z", "5")));
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(status(409, "Conflict")); // our in-flight renewal made it version 6
        let (_, send) = h.next_request().await.unwrap();
        send.send_response(json(lease("me", "2026-01-01T00:00:20.000000Z", "6")));
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!(req.method().as_str(), "DELETE");
        let body: serde_json::Value = serde_json::from_slice(&req.into_body().collect_bytes().await.unwrap()).unwrap();
        assert_eq!(body["preconditions"]["resourceVersion"], "6", "{body}");
        send.send_response(json(serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Success"})));
    });
    c.release_lease("default", "apigee-multiregion-apigee", "me").await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn an_unreachable_api_server_is_said_in_words_with_its_cause_and_no_library_type_names() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        send.send_error(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "Connection refused (os error 111)",
        ));
    });
    let e = c.node_facts().await.unwrap_err().to_string();
    server.await.unwrap();
    assert!(
        e.starts_with("context `mock`: list nodes: cannot reach the API server (Connection refused (os error 111))"),
        "{e}"
    );
    assert!(!e.contains("ServiceError") && !e.contains("HyperError"), "{e}");
}

#[tokio::test]
async fn an_api_status_is_said_with_its_message_and_reason() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (_, send) = h.next_request().await.unwrap();
        let body = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
            "message": "nodes is forbidden: User \"x\" cannot list resource \"nodes\"", "reason": "Forbidden", "code": 403});
        send.send_response(
            Response::builder()
                .status(403)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap()))
                .unwrap(),
        );
    });
    let e = c.node_facts().await.unwrap_err();
    server.await.unwrap();
    assert!(matches!(e, apigee_multiregion_core::ports::ClusterError::Forbidden { .. }), "{e:?}");
    assert!(
        e.to_string().contains("list nodes: nodes is forbidden: User \"x\" cannot list resource \"nodes\" (Forbidden)"),
        "{e}"
    );
}

#[tokio::test]
async fn a_renewal_never_creates_a_lease_that_is_gone() {
    let (c, mut h) = cluster();
    let server = tokio::spawn(async move {
        let (req, send) = h.next_request().await.unwrap();
        assert_eq!(req.method().as_str(), "GET");
        send.send_response(status(404, "NotFound"));
        h
    });
    let err =
        c.acquire_lease("default", "apigee-multiregion-apigee", "me", Duration::from_secs(60), LeaseMode::Renew).await;
    let mut h = server.await.unwrap();
    assert!(matches!(err, Err(apigee_multiregion_core::ports::ClusterError::NotFound { .. })), "{err:?}");
    assert!(futures::FutureExt::now_or_never(h.next_request()).flatten().is_none(), "no POST: not created again");
}

#[test]
fn the_probe_pod_is_a_valid_pod_bound_to_its_node_on_the_host_network_with_a_deadline() {
    use apigee_multiregion_core::adapters::probe_pod_body;
    use apigee_multiregion_core::ports::ProbePodSpec;
    let spec = ProbePodSpec {
        namespace: "default".into(),
        name: "apigee-multiregion-probe".into(),
        image: "busybox:1.36".into(),
        node_name: "node-a".into(),
        node_selector: [("pool".to_owned(), "data".to_owned())].into(),
        host_network: true,
        labels: [("app.kubernetes.io/managed-by".to_owned(), "apigee-multiregion".to_owned())].into(),
        lifetime: Duration::from_secs(150),
    };
    let body = probe_pod_body(&spec);
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(body.clone()).unwrap();
    let s = pod.spec.unwrap();
    assert_eq!(s.node_name.as_deref(), Some("node-a"));
    assert_eq!((s.host_network, s.restart_policy.as_deref()), (Some(true), Some("Never")));
    assert_eq!(s.active_deadline_seconds, Some(150));
    assert_eq!(s.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
    assert_eq!(s.node_selector.unwrap().get("pool").map(String::as_str), Some("data"));
    assert_eq!(s.containers[0].command.as_deref(), Some(&["sleep".to_owned(), "150".to_owned()][..]));
    assert_eq!(body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "apigee-multiregion");
}
