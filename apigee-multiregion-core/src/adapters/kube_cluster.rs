//! [`KubeCluster`]: [`ClusterOps`] on kube-rs, for one kubeconfig context.
//!
//! Long on purpose: it is the one implementation of the whole `ClusterOps` port (pods, nodes,
//! namespaces, secrets, exec, logs, leases, custom resources), each method a thin kube-rs call;
//! splitting it would scatter one adapter over several files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Secret as KubeSecret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{
    Api, AttachParams, DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams, Preconditions,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::watcher;
use kube::{Client, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroize;

use super::redact::Redactor;
use crate::model::{CassandraPod, PodPhase, Secret, SecretBytes};
use crate::ports::{
    AccessCheck, ClusterError, ClusterOps, CustomResource, ExecArg, ExecOutput, LeaseMode, LeaseRecord, NodeFacts,
    ProbePodSpec, SanitizedObject,
};

/// The field manager of every server-side apply this tool makes.
pub const FIELD_MANAGER: &str = "apigee-multiregion";

/// Annotations that only describe the exported object, never copied to another cluster.
const DROPPED_ANNOTATIONS: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "kubernetes.io/service-account.uid",
];

/// One Kubernetes cluster reached through a kubeconfig context.
#[derive(Clone)]
pub struct KubeCluster {
    client: Client,
    context: String,
}

impl KubeCluster {
    /// Connects as `kubectl --kubeconfig <path> --context <context>` would. `path` `None` means
    /// `$KUBECONFIG` or `~/.kube/config`; `context` `None` means the current context.
    pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Self, ClusterError> {
        let kc = match kubeconfig {
            Some(p) => Kubeconfig::read_from(p).map_err(|e| ClusterError::Config(format!("{}: {e}", p.display())))?,
            None => {
                Kubeconfig::read().map_err(|e| ClusterError::Config(format!("$KUBECONFIG or ~/.kube/config: {e}")))?
            }
        };
        let name = match context {
            Some(c) => c.to_owned(),
            None => kc
                .current_context
                .clone()
                .ok_or_else(|| ClusterError::Config("no current context; pass a context".into()))?,
        };
        if !kc.contexts.iter().any(|c| c.name == name) {
            let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
            return Err(ClusterError::Config(format!(
                "context `{name}` is not in the kubeconfig (it has: {})",
                known.join(", ")
            )));
        }
        let options = KubeConfigOptions { context: Some(name.clone()), ..Default::default() };
        let config = Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| ClusterError::Config(format!("context `{name}`: {e}")))?;
        let client = Client::try_from(config).map_err(|e| ClusterError::Config(format!("context `{name}`: {e}")))?;
        Ok(Self { client, context: name })
    }

    /// Wraps an existing client (tests use a mocked service).
    pub fn from_client(client: Client, context: impl Into<String>) -> Self {
        Self { client, context: context.into() }
    }

    fn api_err(&self, what: &str, e: kube::Error) -> ClusterError {
        let message = format!("{what}: {}", describe(&e));
        if is_forbidden(&e) {
            ClusterError::Forbidden { context: self.context.clone(), message }
        } else {
            ClusterError::Api { context: self.context.clone(), message }
        }
    }
}

fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.reason),
        kube::Error::Service(_) | kube::Error::HyperError(_) => format!(
            "cannot reach the API server ({}): check the context's server address, the network (VPN, firewall, private endpoint) and that the cluster is up",
            root_cause(e)
        ),
        kube::Error::Auth(_) => format!(
            "the kubeconfig's credentials could not be used ({}): log in again (e.g. `az aks get-credentials`, `gcloud container clusters get-credentials`) or refresh the token",
            root_cause(e)
        ),
        other => root_cause(other),
    }
}

/// The innermost cause of an error, without the library's own variant prefixes ("ServiceError:").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

/// HTTP 403, whether answered as an API status or on the exec's WebSocket upgrade.
fn is_forbidden(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 403,
        other => other.to_string().contains("403"),
    }
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}

/// HTTP 409: a create of an existing object, or a write whose precondition (resourceVersion,
/// uid) no longer holds.
fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// The Cassandra-relevant facts of a pod.
pub fn pod_facts(p: &Pod) -> CassandraPod {
    let name = p.metadata.name.clone().unwrap_or_default();
    let status = p.status.as_ref();
    let spec = p.spec.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let labels = p.metadata.labels.as_ref();
    let rack = labels
        .and_then(|l| l.get("apigee.cloud.google.com/rack").or_else(|| l.get("topology.kubernetes.io/zone")))
        .cloned();
    CassandraPod {
        ordinal: CassandraPod::ordinal_of(&name),
        name,
        pod_ip: status.and_then(|s| s.pod_ip.as_deref()).and_then(|ip| ip.parse().ok()),
        host_ip: status.and_then(|s| s.host_ip.as_deref()).and_then(|ip| ip.parse().ok()),
        node_name: spec.and_then(|s| s.node_name.clone()),
        phase: PodPhase::parse(status.and_then(|s| s.phase.as_deref()).unwrap_or("Unknown")),
        ready,
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        rack,
        incarnation: incarnation(p),
    }
}

/// The pod's uid with its first container's restart count, start time and container ID (the
/// Cassandra container is the pod's main one): changes whenever Cassandra restarts.
fn incarnation(p: &Pod) -> Option<String> {
    let uid = p.metadata.uid.clone()?;
    let c = p.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.first());
    let started = c
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.running.as_ref())
        .and_then(|r| r.started_at.as_ref())
        .map(|t| t.0.to_string());
    Some(format!(
        "{uid}/{}/{}/{}",
        c.map_or(0, |c| c.restart_count),
        started.unwrap_or_default(),
        c.and_then(|c| c.container_id.clone()).unwrap_or_default()
    ))
}

fn keep_annotations(a: Option<&BTreeMap<String, String>>) -> BTreeMap<String, String> {
    a.map(|a| {
        a.iter()
            .filter(|(k, _)| !DROPPED_ANNOTATIONS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    })
    .unwrap_or_default()
}

/// Sanitizes a namespace for another cluster: name, labels and kept annotations only.
pub fn sanitize_namespace(ns: &Namespace) -> SanitizedObject {
    let mut labels = ns.metadata.labels.clone().unwrap_or_default();
    labels.remove("kubernetes.io/metadata.name"); // set by the API server itself
    SanitizedObject {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        name: ns.metadata.name.clone().unwrap_or_default(),
        namespace: None,
        labels,
        annotations: keep_annotations(ns.metadata.annotations.as_ref()),
        secret_type: None,
        data: BTreeMap::new(),
    }
}

/// Sanitizes a secret for another cluster: data decoded into memory (the exact bytes, moved out
/// of the object, not copied), identity dropped.
pub fn sanitize_secret(mut s: KubeSecret) -> SanitizedObject {
    let data =
        s.data.take().map(|d| d.into_iter().map(|(k, v)| (k, SecretBytes::new(v.0))).collect()).unwrap_or_default();
    SanitizedObject {
        api_version: "v1".into(),
        kind: "Secret".into(),
        name: s.metadata.name.clone().unwrap_or_default(),
        namespace: s.metadata.namespace.clone(),
        labels: s.metadata.labels.clone().unwrap_or_default(),
        annotations: keep_annotations(s.metadata.annotations.as_ref()),
        secret_type: s.type_.clone(),
        data,
    }
}

fn meta(o: &SanitizedObject) -> ObjectMeta {
    ObjectMeta {
        name: Some(o.name.clone()),
        namespace: o.namespace.clone(),
        labels: (!o.labels.is_empty()).then(|| o.labels.clone()),
        annotations: (!o.annotations.is_empty()).then(|| o.annotations.clone()),
        ..Default::default()
    }
}

/// The body of the server-side apply for a sanitized object.
pub fn apply_body(o: &SanitizedObject) -> serde_json::Value {
    if o.kind == "Secret" {
        // The bytes are copied into the request body only for the time of the call (the copy in
        // `KubeSecret` is zeroed right after serialization; serde_json's base64 string is not).
        let data: BTreeMap<String, ByteString> =
            o.data.iter().map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec()))).collect();
        let mut s =
            KubeSecret { metadata: meta(o), type_: o.secret_type.clone(), data: Some(data), ..Default::default() };
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        for b in s.data.iter_mut().flat_map(|d| d.values_mut()) {
            b.0.zeroize();
        }
        v["apiVersion"] = "v1".into();
        v["kind"] = "Secret".into();
        v
    } else {
        let n = Namespace { metadata: meta(o), ..Default::default() };
        let mut v = serde_json::to_value(&n).unwrap_or_default();
        v["apiVersion"] = "v1".into();
        v["kind"] = "Namespace".into();
        v
    }
}

/// Builds the command actually sent. Secrets never appear in the exec request (whose URL the API
/// server may log) nor in any process's argv: a tiny `sh` prologue reads them from stdin and
/// hands them to the command as the environment variables `APIGEE_MR_SECRET_0`, `_1`, ... (in
/// the order of the secret arguments), and a secret argument takes no place in the command's
/// argv. Returns the argv and the stdin payload (itself a [`Secret`]).
pub fn exec_argv(command: &[ExecArg]) -> Result<(Vec<String>, Option<Secret>), String> {
    let secrets: Vec<&Secret> =
        command.iter().filter_map(|a| if let ExecArg::Secret(s) = a { Some(s) } else { None }).collect();
    if secrets.is_empty() {
        return Ok((command.iter().map(|a| a.shown().to_owned()).collect(), None));
    }
    if secrets.iter().any(|s| s.expose().contains('\n')) {
        return Err("a secret argument contains a line break, which cannot be passed on stdin".into());
    }
    // sh -c 'IFS= read -r s0 && APIGEE_MR_SECRET_0="$s0" && export APIGEE_MR_SECRET_0 && exec "$1" "$2" ...' sh arg1 arg2 ...
    let mut script = String::new();
    for i in 0..secrets.len() {
        script.push_str(&format!(
            "IFS= read -r s{i} && APIGEE_MR_SECRET_{i}=\"$s{i}\" && export APIGEE_MR_SECRET_{i} && "
        ));
    }
    script.push_str("exec");
    let mut argv = vec!["sh".to_owned(), "-c".to_owned(), String::new(), "sh".to_owned()];
    for a in command {
        if let ExecArg::Plain(s) = a {
            argv.push(s.clone());
            script.push_str(&format!(" \"${{{}}}\"", argv.len() - 4));
        }
    }
    argv[2] = script;
    let mut stdin = String::with_capacity(secrets.iter().map(|s| s.expose().len() + 1).sum());
    for s in &secrets {
        stdin.push_str(s.expose());
        stdin.push('\n');
    }
    Ok((argv, Some(Secret::new(stdin))))
}

#[async_trait]
impl ClusterOps for KubeCluster {
    fn context(&self) -> &str {
        &self.context
    }

    async fn list_cassandra_pods(&self, namespace: &str, selector: &str) -> Result<Vec<CassandraPod>, ClusterError> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let list = pods
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| self.api_err(&format!("list pods -l {selector} in namespace {namespace}"), e))?;
        let mut out: Vec<CassandraPod> = list.items.iter().map(pod_facts).collect();
        out.sort_by(|a, b| (a.ordinal, &a.name).cmp(&(b.ordinal, &b.name)));
        Ok(out)
    }

    async fn access_allowed(&self, check: &AccessCheck) -> Result<bool, ClusterError> {
        use k8s_openapi::api::authorization::v1::{
            ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    verb: Some(check.verb.to_owned()),
                    group: Some(check.group.to_owned()),
                    resource: Some(check.resource.to_owned()),
                    subresource: check.subresource.map(str::to_owned),
                    namespace: check.namespace.clone(),
                    name: check.name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let api: Api<SelfSubjectAccessReview> = Api::all(self.client.clone());
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| self.api_err(&format!("ask whether this identity may {check}"), e))?;
        Ok(answer.status.is_some_and(|s| s.allowed))
    }

    async fn node_facts(&self) -> Result<Vec<NodeFacts>, ClusterError> {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let list = nodes.list(&ListParams::default()).await.map_err(|e| self.api_err("list nodes", e))?;
        Ok(list
            .items
            .iter()
            .map(|n| {
                let status = n.status.as_ref();
                let spec = n.spec.as_ref();
                NodeFacts {
                    name: n.metadata.name.clone().unwrap_or_default(),
                    internal_ips: status
                        .and_then(|s| s.addresses.as_ref())
                        .map(|a| a.iter().filter(|a| a.type_ == "InternalIP").map(|a| a.address.clone()).collect())
                        .unwrap_or_default(),
                    pod_cidrs: spec
                        .and_then(|s| s.pod_cidrs.clone().or_else(|| s.pod_cidr.clone().map(|c| vec![c])))
                        .unwrap_or_default(),
                    ready: status
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
                    unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
                    labels: n.metadata.labels.clone().unwrap_or_default(),
                }
            })
            .collect())
    }

    async fn export_namespace(&self, name: &str) -> Result<Option<SanitizedObject>, ClusterError> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        match api.get_opt(name).await {
            Ok(ns) => Ok(ns.as_ref().map(sanitize_namespace)),
            Err(e) => Err(self.api_err(&format!("get namespace {name}"), e)),
        }
    }

    async fn export_secret(&self, namespace: &str, name: &str) -> Result<Option<SanitizedObject>, ClusterError> {
        let api: Api<KubeSecret> = Api::namespaced(self.client.clone(), namespace);
        match api.get_opt(name).await {
            Ok(s) => Ok(s.map(sanitize_secret)),
            Err(e) => Err(self.api_err(&format!("get secret {namespace}/{name}"), e)),
        }
    }

    async fn apply(&self, object: &SanitizedObject) -> Result<(), ClusterError> {
        let body = apply_body(object);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let what = format!(
            "apply {} {}",
            object.kind.to_lowercase(),
            object.namespace.as_ref().map_or(object.name.clone(), |ns| format!("{ns}/{}", object.name))
        );
        let result = if object.kind == "Secret" {
            let ns = object.namespace.as_deref().unwrap_or("default");
            Api::<KubeSecret>::namespaced(self.client.clone(), ns)
                .patch(&object.name, &params, &Patch::Apply(&body))
                .await
                .map(|_| ())
        } else {
            Api::<Namespace>::all(self.client.clone())
                .patch(&object.name, &params, &Patch::Apply(&body))
                .await
                .map(|_| ())
        };
        result.map_err(|e| self.api_err(&what, e))
    }

    #[tracing::instrument(name = "kube_exec", level = "debug", skip_all, fields(context = %self.context, namespace = %namespace, pod = %pod))]
    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[ExecArg],
        timeout: Duration,
    ) -> Result<ExecOutput, ClusterError> {
        let redactor = Redactor::from_args(command);
        let shown: Vec<&str> = command.iter().map(ExecArg::shown).collect();
        let err = |message: String| ClusterError::Exec {
            context: self.context.clone(),
            pod: format!("{namespace}/{pod}"),
            message: redactor.redact(&message),
        };
        let (argv, stdin) = exec_argv(command).map_err(err)?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let mut params = AttachParams::default().stdout(true).stderr(true).stdin(stdin.is_some());
        if let Some(c) = container {
            params = params.container(c);
        }
        let run = async {
            let mut attached = api.exec(pod, argv, &params).await.map_err(|e| {
                let message = format!("`{}`: {}", shown.join(" "), describe(&e));
                if is_forbidden(&e) {
                    ClusterError::Forbidden { context: self.context.clone(), message: redactor.redact(&message) }
                } else {
                    err(message)
                }
            })?;
            if let (Some(payload), Some(mut w)) = (stdin, attached.stdin()) {
                w.write_all(payload.expose().as_bytes()).await.map_err(|e| err(format!("writing stdin: {e}")))?;
                w.shutdown().await.map_err(|e| err(format!("closing stdin: {e}")))?;
            }
            let mut stdout = attached.stdout();
            let mut stderr = attached.stderr();
            let status = attached.take_status();
            let read_out = async {
                let mut s = Vec::new();
                if let Some(r) = stdout.as_mut() {
                    let _ = r.read_to_end(&mut s).await;
                }
                s
            };
            let read_err = async {
                let mut s = Vec::new();
                if let Some(r) = stderr.as_mut() {
                    let _ = r.read_to_end(&mut s).await;
                }
                s
            };
            let (out, errs) = tokio::join!(read_out, read_err);
            let status = match status {
                Some(f) => f.await,
                None => None,
            };
            let _ = attached.join().await;
            Ok::<_, ClusterError>((out, errs, status))
        };
        let (out, errs, status) = tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| err(format!("`{}` did not finish within {}s", shown.join(" "), timeout.as_secs())))??;
        // No status at all: the stream ended before the command did (a load balancer idling
        // the connection out, an API server or kubelet restart). The command may still be
        // running in the pod: that is not its failure, and the caller must not read it as one.
        let Some(status) = status else {
            return Err(err(format!(
                "the exec stream of `{}` ended without the command's exit status (the connection was cut); \
                 the command may still be running in the pod",
                shown.join(" ")
            )));
        };
        let success = status.status.as_deref() == Some("Success");
        let message = if success { None } else { Some(status.message.unwrap_or_default()) };
        Ok(ExecOutput {
            stdout: redactor.redact(&String::from_utf8_lossy(&out)),
            stderr: redactor.redact(&String::from_utf8_lossy(&errs)),
            success,
            message: message.map(|m| redactor.redact(&m)),
        })
    }

    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        tail_lines: Option<i64>,
    ) -> Result<String, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = LogParams { container: container.map(str::to_owned), tail_lines, ..Default::default() };
        api.logs(pod, &params).await.map_err(|e| self.api_err(&format!("logs of pod {namespace}/{pod}"), e))
    }

    async fn wait_pods_ready(
        &self,
        namespace: &str,
        selector: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<CassandraPod>, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut changes = watcher(api, watcher::Config::default().labels(selector)).boxed();
        loop {
            let pods = self.list_cassandra_pods(namespace, selector).await?;
            let ready = pods.iter().filter(|p| p.phase == PodPhase::Running && p.ready).count();
            if ready >= count {
                return Ok(pods);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(ClusterError::Timeout {
                    context: self.context.clone(),
                    what: format!("{count} Running and Ready pods -l {selector} in {namespace} ({ready} are)"),
                    seconds: timeout.as_secs(),
                });
            }
            // Wake on the next change, or re-check every 5 s in case the watch stalls.
            let wait = (deadline - now).min(Duration::from_secs(5));
            let _ = tokio::time::timeout(wait, changes.try_next()).await;
        }
    }

    async fn acquire_lease(
        &self,
        namespace: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
        mode: LeaseMode<'_>,
    ) -> Result<(), ClusterError> {
        let take_over = match mode {
            LeaseMode::Acquire { take_over } => take_over,
            LeaseMode::Renew => None,
        };
        let api: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        let spec = k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(i32::try_from(ttl.as_secs().max(1)).unwrap_or(i32::MAX)),
            renew_time: Some(MicroTime(k8s_openapi::jiff::Timestamp::now())),
            ..Default::default()
        };
        let locked = |lease: LeaseRecord| ClusterError::Locked {
            context: self.context.clone(),
            name: name.into(),
            lease: Box::new(lease),
        };
        // Whoever wrote first between our read and our write: report what the Lease is now.
        let lost_race = || async {
            let now = self.lease(namespace, name).await?;
            Ok::<_, ClusterError>(locked(now.unwrap_or_else(|| LeaseRecord {
                holder: "another run".into(),
                renew_time: None,
                duration: ttl,
                resource_version: String::new(),
            })))
        };
        match api.get_opt(name).await.map_err(|e| self.api_err(&format!("get lease {namespace}/{name}"), e))? {
            None if matches!(mode, LeaseMode::Renew) => Err(ClusterError::NotFound {
                context: self.context.clone(),
                kind: "Lease",
                name: format!("{namespace}/{name} (this run's lock, deleted or released by another run)"),
            }),
            None => {
                let lease = Lease {
                    metadata: ObjectMeta { name: Some(name.to_owned()), ..Default::default() },
                    spec: Some(spec),
                };
                match api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_conflict(&e) => Err(lost_race().await?),
                    Err(e) => Err(self.api_err(&format!("create lease {namespace}/{name}"), e)),
                }
            }
            Some(mut existing) => {
                let current = lease_record(&existing);
                // A released (holder cleared) Lease may be taken, never "renewed".
                let ours = current.holder == holder || (current.holder.is_empty() && !matches!(mode, LeaseMode::Renew));
                // Another holder's Lease is never judged here by its renewTime (their clock):
                // only the caller, having seen it unchanged for long enough, may take it over.
                if !ours && !take_over.is_some_and(|seen| seen.unchanged(&current)) {
                    return Err(locked(current));
                }
                existing.spec = Some(spec);
                // `replace` carries the resourceVersion read above: if the holder renewed (or
                // anyone wrote) since, the API server refuses with 409 and the Lease stays theirs.
                match api.replace(name, &PostParams::default(), &existing).await {
                    Ok(_) => Ok(()),
                    Err(e) if is_conflict(&e) => Err(lost_race().await?),
                    Err(e) => Err(self.api_err(&format!("renew lease {namespace}/{name}"), e)),
                }
            }
        }
    }

    async fn release_lease(&self, namespace: &str, name: &str, holder: &str) -> Result<(), ClusterError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        // A renewal of ours still in flight may land between the read and the delete (409): read
        // again and delete while it is still ours, a few times.
        for _ in 0..3 {
            let Some(l) =
                api.get_opt(name).await.map_err(|e| self.api_err(&format!("get lease {namespace}/{name}"), e))?
            else {
                return Ok(());
            };
            if lease_record(&l).holder != holder {
                return Ok(());
            }
            // Delete exactly the Lease just read: if another run took it in between (a new
            // resourceVersion, or a new object), the API server refuses with 409 and it stays theirs.
            let params = DeleteParams {
                preconditions: Some(Preconditions {
                    resource_version: l.metadata.resource_version.clone(),
                    uid: l.metadata.uid.clone(),
                }),
                ..Default::default()
            };
            match api.delete(name, &params).await {
                Ok(_) => return Ok(()),
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) if is_conflict(&e) => continue,
                Err(e) => return Err(self.api_err(&format!("delete lease {namespace}/{name}"), e)),
            }
        }
        tracing::info!(
            context = %self.context,
            "lease {namespace}/{name} kept changing while it was released; it expires on its own"
        );
        Ok(())
    }

    async fn lease(&self, namespace: &str, name: &str) -> Result<Option<LeaseRecord>, ClusterError> {
        let api: Api<Lease> = Api::namespaced(self.client.clone(), namespace);
        let l = api.get_opt(name).await.map_err(|e| self.api_err(&format!("get lease {namespace}/{name}"), e))?;
        Ok(l.as_ref().map(lease_record))
    }

    async fn apply_custom(
        &self,
        resource: &CustomResource,
        namespace: &str,
        body: &serde_json::Value,
    ) -> Result<(), ClusterError> {
        let name = body["metadata"]["name"].as_str().unwrap_or_default().to_owned();
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource(resource));
        api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(body))
            .await
            .map(|_| ())
            .map_err(|e| self.api_err(&format!("apply {} {namespace}/{name}", resource.kind), e))
    }

    async fn start_probe_pod(&self, spec: &ProbePodSpec, timeout: Duration) -> Result<String, ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &spec.namespace);
        let shown = format!("{}/{}", spec.namespace, spec.name);
        let deadline = tokio::time::Instant::now() + timeout;
        let timed_out =
            |what: String| ClusterError::Timeout { context: self.context.clone(), what, seconds: timeout.as_secs() };
        // A pod of that name left by a crashed run: delete it and wait until it is gone.
        if api.get_opt(&spec.name).await.map_err(|e| self.api_err(&format!("get pod {shown}"), e))?.is_some() {
            tracing::info!(context = %self.context, "deleting the probe pod {shown} a previous run left");
            self.delete_pod(&spec.namespace, &spec.name).await?;
            while api.get_opt(&spec.name).await.map_err(|e| self.api_err(&format!("get pod {shown}"), e))?.is_some() {
                if tokio::time::Instant::now() >= deadline {
                    return Err(timed_out(format!("the leftover probe pod {shown} to go away")));
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        let body = probe_pod_body(spec);
        let pod: Pod = serde_json::from_value(body).map_err(|e| ClusterError::Api {
            context: self.context.clone(),
            message: format!("probe pod {shown}: {e}"),
        })?;
        api.create(&PostParams::default(), &pod).await.map_err(|e| self.api_err(&format!("create pod {shown}"), e))?;
        loop {
            let p = api.get_opt(&spec.name).await.map_err(|e| self.api_err(&format!("get pod {shown}"), e))?;
            let Some(p) = p else {
                return Err(ClusterError::NotFound { context: self.context.clone(), kind: "Pod", name: shown });
            };
            let facts = pod_facts(&p);
            if facts.phase == PodPhase::Running && facts.ready {
                return Ok(facts.node_name.unwrap_or_else(|| spec.node_name.clone()));
            }
            let waiting = probe_pod_waiting(&p);
            if matches!(facts.phase, PodPhase::Failed | PodPhase::Succeeded) {
                return Err(ClusterError::Api {
                    context: self.context.clone(),
                    message: format!("probe pod {shown} ended before it was ready{waiting}"),
                });
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(timed_out(format!(
                    "the probe pod {shown} on node {} to be Ready{waiting}",
                    spec.node_name
                )));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(self.api_err(&format!("delete pod {namespace}/{name}"), e)),
        }
    }

    async fn list_custom(&self, resource: &CustomResource, namespace: &str) -> Result<Vec<String>, ClusterError> {
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource(resource));
        match api.list_metadata(&ListParams::default()).await {
            Ok(list) => Ok(list.items.into_iter().filter_map(|o| o.metadata.name).collect()),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(self.api_err(&format!("list {} in namespace {namespace}", resource.kind), e)),
        }
    }

    async fn get_custom(
        &self,
        resource: &CustomResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, ClusterError> {
        let api: Api<kube::api::DynamicObject> =
            Api::namespaced_with(self.client.clone(), namespace, &api_resource(resource));
        match api.get_opt(name).await {
            Ok(o) => Ok(o.map(|o| serde_json::to_value(o).unwrap_or_default())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.api_err(&format!("get {} {namespace}/{name}", resource.kind), e)),
        }
    }
}

/// The probe pod: one container that sleeps for its lifetime, bound to its node, on the host
/// network, never restarted, ended by the kubelet after `activeDeadlineSeconds` at the latest.
pub fn probe_pod_body(spec: &ProbePodSpec) -> serde_json::Value {
    let secs = spec.lifetime.as_secs().max(1);
    let mut pod_spec = serde_json::json!({
        "nodeName": spec.node_name,
        "hostNetwork": spec.host_network,
        "dnsPolicy": if spec.host_network { "ClusterFirstWithHostNet" } else { "ClusterFirst" },
        "restartPolicy": "Never",
        "activeDeadlineSeconds": secs,
        "terminationGracePeriodSeconds": 0,
        "automountServiceAccountToken": false,
        // The probe must run on the node Cassandra will use, tainted or not.
        "tolerations": [{"operator": "Exists"}],
        "containers": [{
            "name": "probe",
            "image": spec.image,
            "command": ["sleep", secs.to_string()],
            "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "64Mi"}},
        }],
    });
    if !spec.node_selector.is_empty() {
        pod_spec["nodeSelector"] = serde_json::json!(spec.node_selector);
    }
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": spec.labels},
        "spec": pod_spec,
    })
}

/// Why a pod's container is not running yet (`ImagePullBackOff: ...`), for messages.
fn probe_pod_waiting(p: &Pod) -> String {
    let status = p.status.as_ref();
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref())
        .and_then(|s| s.waiting.as_ref())
        .map(|w| format!("{}: {}", w.reason.clone().unwrap_or_default(), w.message.clone().unwrap_or_default()));
    let unscheduled = status.and_then(|s| s.conditions.as_ref()).and_then(|c| {
        c.iter()
            .find(|c| c.status == "False" && c.message.is_some())
            .map(|c| format!("{}: {}", c.type_, c.message.clone().unwrap_or_default()))
    });
    let reason = status.and_then(|s| s.message.clone().or_else(|| s.reason.clone()));
    match waiting.or(unscheduled).or(reason) {
        Some(w) => format!(" ({w})"),
        None => String::new(),
    }
}

fn api_resource(r: &CustomResource) -> kube::discovery::ApiResource {
    let gvk = kube::api::GroupVersionKind::gvk(r.group, r.version, r.kind);
    kube::discovery::ApiResource::from_gvk_with_plural(&gvk, r.plural)
}

fn lease_record(l: &Lease) -> LeaseRecord {
    let spec = l.spec.as_ref();
    LeaseRecord {
        holder: spec.and_then(|s| s.holder_identity.clone()).unwrap_or_default(),
        renew_time: spec.and_then(|s| s.renew_time.as_ref()).map(|t| t.0.to_string()),
        duration: Duration::from_secs(spec.and_then(|s| s.lease_duration_seconds).unwrap_or(0).max(0) as u64),
        resource_version: l.metadata.resource_version.clone().unwrap_or_default(),
    }
}

/// The default kubeconfig path, as kubectl resolves it (first of `$KUBECONFIG`, else `~/.kube/config`).
pub fn default_kubeconfig() -> Option<PathBuf> {
    std::env::var_os("KUBECONFIG")
        .and_then(|v| std::env::split_paths(&v).next())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config")))
}
