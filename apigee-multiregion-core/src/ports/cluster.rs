//! `ClusterOps`: one Kubernetes cluster, as one kubeconfig context sees it.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Serialize;

use crate::model::{CassandraPod, Secret, SecretBytes};

/// A Kubernetes operation failed. Messages name the context and the object; they never carry a
/// secret value (secret exec arguments are replaced by `<redacted>`).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig or its context could not be used.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// The API server could not be reached or answered with an error.
    #[error("context `{context}`: {message}")]
    Api {
        /// The kubeconfig context.
        context: String,
        /// What failed, with the object concerned.
        message: String,
    },
    /// The identity in the kubeconfig may not do this (HTTP 403): waiting or retrying cannot help.
    #[error("context `{context}`: forbidden: {message}. Grant the permission (docs/rbac/) and run again")]
    Forbidden {
        /// The kubeconfig context.
        context: String,
        /// What was refused, as the API server said it.
        message: String,
    },
    /// An object does not exist.
    #[error("context `{context}`: {kind} {name} not found")]
    NotFound {
        /// The kubeconfig context.
        context: String,
        /// Object kind.
        kind: &'static str,
        /// `namespace/name` or `name`.
        name: String,
    },
    /// An exec could not be started or did not finish in time.
    #[error("context `{context}`: exec in pod {pod}: {message}")]
    Exec {
        /// The kubeconfig context.
        context: String,
        /// `namespace/pod`.
        pod: String,
        /// What happened.
        message: String,
    },
    /// Waiting for a condition timed out.
    #[error("context `{context}`: timed out after {seconds}s waiting for {what}")]
    Timeout {
        /// The kubeconfig context.
        context: String,
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
    /// Another holder has the lock (or took it first). Whether its Lease has expired is for the
    /// caller to judge, on its own clock, from how long `lease` stays unchanged.
    #[error(
        "context `{context}`: another run holds the lock `{name}` (holder `{}`); wait for it to finish, or, if that run crashed, for its Lease to go unrenewed for {}s (--wait-for-lock)",
        lease.holder, lease.duration.as_secs()
    )]
    Locked {
        /// The kubeconfig context.
        context: String,
        /// The Lease name.
        name: String,
        /// The Lease as it was read.
        lease: Box<LeaseRecord>,
    },
}

/// One argument of a command run in a container. A `Secret` argument is passed to the container
/// through its standard input, never in the exec request (whose URL the API server may log), and
/// is redacted from every message.
#[derive(Clone)]
pub enum ExecArg {
    /// Shown as is.
    Plain(String),
    /// Never shown.
    Secret(Secret),
}

impl fmt::Debug for ExecArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain(s) => write!(f, "{s:?}"),
            Self::Secret(_) => f.write_str("<redacted>"),
        }
    }
}

impl From<&str> for ExecArg {
    fn from(s: &str) -> Self {
        Self::Plain(s.to_owned())
    }
}

impl ExecArg {
    /// The argument for display: secrets as `<redacted>`.
    pub fn shown(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Secret(_) => "<redacted>",
        }
    }
}

/// What a command run in a container produced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecOutput {
    /// Standard output (secrets redacted).
    pub stdout: String,
    /// Standard error (secrets redacted).
    pub stderr: String,
    /// The command succeeded. Some runtimes do not report a numeric exit code, so only this is
    /// reliable.
    pub success: bool,
    /// The failure message the runtime reported, when it failed (secrets redacted).
    pub message: Option<String>,
}

/// Facts about a node that the checks need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeFacts {
    /// Node name.
    pub name: String,
    /// InternalIP addresses.
    pub internal_ips: Vec<String>,
    /// `spec.podCIDR(s)`.
    pub pod_cidrs: Vec<String>,
    /// The Ready condition is True.
    pub ready: bool,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// `metadata.labels` (to find the nodes Cassandra's nodeSelector picks).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// A short-lived pod of this tool (the preflight network probe): one container that only sleeps,
/// bound to one node, so that commands can be run in it through [`ClusterOps::exec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbePodSpec {
    /// Namespace (must exist).
    pub namespace: String,
    /// Pod name (deterministic: a leftover of that name is deleted first).
    pub name: String,
    /// Container image; must have `sh` and `sleep`.
    pub image: String,
    /// `spec.nodeName`: the node it runs on (no scheduler involved).
    pub node_name: String,
    /// `spec.nodeSelector` (Cassandra's, when the overrides set one).
    pub node_selector: BTreeMap<String, String>,
    /// `spec.hostNetwork`.
    pub host_network: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// `spec.activeDeadlineSeconds` and the container's sleep: the pod ends on its own after this,
    /// whatever happens to this process.
    pub lifetime: Duration,
}

/// A Kubernetes object exported for copying to another cluster: identity and state of the old
/// object (uid, resourceVersion, managedFields, status, ...) removed. Secret data never prints.
#[derive(Clone, PartialEq)]
pub struct SanitizedObject {
    /// `v1`.
    pub api_version: String,
    /// `Namespace`, `Secret`.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace, for namespaced objects.
    pub namespace: Option<String>,
    /// Labels kept.
    pub labels: BTreeMap<String, String>,
    /// Annotations kept (the ones that describe the old object are dropped).
    pub annotations: BTreeMap<String, String>,
    /// Secret type, for secrets.
    pub secret_type: Option<String>,
    /// Secret data (decoded from base64: the exact bytes, which need not be text), for secrets.
    /// Held in memory only, zeroed when dropped.
    pub data: BTreeMap<String, SecretBytes>,
}

impl fmt::Debug for SanitizedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SanitizedObject")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A Lease as it was read. Its `renew_time` comes from the holder's clock, which may be skewed:
/// it is never compared with this machine's clock, only with an earlier reading of the same Lease
/// (a holder that is alive changes it, and the `resource_version`, at every renewal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    /// `spec.holderIdentity` (empty when nobody holds it).
    pub holder: String,
    /// `spec.renewTime` as the holder wrote it.
    pub renew_time: Option<String>,
    /// `spec.leaseDurationSeconds`: how long the holder asks others to wait after a renewal.
    pub duration: Duration,
    /// `metadata.resourceVersion`: changes with every write.
    pub resource_version: String,
}

impl LeaseRecord {
    /// Whether `other` is the same Lease state: no renewal, no change of holder in between.
    pub fn unchanged(&self, other: &Self) -> bool {
        self.holder == other.holder
            && self.renew_time == other.renew_time
            && self.resource_version == other.resource_version
    }
}

/// One API action the tool needs, asked of the API server before anything changes
/// (`SelfSubjectAccessReview`): may the kubeconfig's identity do `verb` on this resource?
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessCheck {
    /// `list`, `get`, `create`, `patch`, ...
    pub verb: &'static str,
    /// API group, empty for the core group.
    pub group: &'static str,
    /// Plural resource, e.g. `pods`.
    pub resource: &'static str,
    /// Subresource, e.g. `exec`, `log`.
    pub subresource: Option<&'static str>,
    /// Namespace, `None` for cluster-scoped resources (or every namespace).
    pub namespace: Option<String>,
    /// Object name, `None` for any object (`list`, `create`).
    pub name: Option<String>,
}

impl fmt::Display for AccessCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        if let Some(sub) = self.subresource {
            write!(f, "/{sub}")?;
        }
        if !self.group.is_empty() {
            write!(f, " ({})", self.group)?;
        }
        if let Some(name) = &self.name {
            write!(f, " named {name}")?;
        }
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None => write!(f, " (cluster-wide)"),
        }
    }
}

/// What an [`ClusterOps::acquire_lease`] call may do.
#[derive(Debug, Clone, Copy)]
pub enum LeaseMode<'a> {
    /// Take the Lease: create it when absent; another holder's only when `take_over` is the very
    /// state read from it.
    Acquire {
        /// Another holder's Lease as last seen, when the caller judged it expired.
        take_over: Option<&'a LeaseRecord>,
    },
    /// Renew this holder's own Lease, never create one.
    Renew,
}

/// One Kubernetes cluster (one kubeconfig context).
#[async_trait]
pub trait ClusterOps: Send + Sync {
    /// The kubeconfig context name, for messages.
    fn context(&self) -> &str;

    /// Pods matching `selector` in `namespace`, with the facts seed selection needs.
    async fn list_cassandra_pods(&self, namespace: &str, selector: &str) -> Result<Vec<CassandraPod>, ClusterError>;

    /// Every node's addresses, pod CIDRs and readiness.
    async fn node_facts(&self) -> Result<Vec<NodeFacts>, ClusterError>;

    /// A namespace, sanitized; `None` when absent.
    async fn export_namespace(&self, name: &str) -> Result<Option<SanitizedObject>, ClusterError>;

    /// A secret, sanitized, data in memory; `None` when absent.
    async fn export_secret(&self, namespace: &str, name: &str) -> Result<Option<SanitizedObject>, ClusterError>;

    /// Creates or updates the object with server-side apply (field manager `apigee-multiregion`).
    async fn apply(&self, object: &SanitizedObject) -> Result<(), ClusterError>;

    /// Runs a command in a container and captures its output. Secret arguments go through stdin.
    async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        command: &[ExecArg],
        timeout: Duration,
    ) -> Result<ExecOutput, ClusterError>;

    /// The last `tail_lines` lines of a container's log (all when `None`).
    async fn logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        tail_lines: Option<i64>,
    ) -> Result<String, ClusterError>;

    /// Waits until `count` pods matching `selector` are Running and Ready.
    async fn wait_pods_ready(
        &self,
        namespace: &str,
        selector: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<CassandraPod>, ClusterError>;

    /// Whether the identity of this context may do `check` (a `SelfSubjectAccessReview`; nothing
    /// is changed). Every authenticated identity may ask this of Kubernetes.
    async fn access_allowed(&self, check: &AccessCheck) -> Result<bool, ClusterError>;

    /// Takes or renews (`mode`) the Lease `name` for `holder`, valid for `ttl` after each write.
    /// A Lease held by another holder is refused with [`ClusterError::Locked`] carrying what was
    /// read, unless taking it with `take_over` set to that very state (the caller saw it unchanged
    /// for long enough): then it is taken over, on the condition that it is still unchanged (its
    /// resourceVersion), so a holder that renewed in between keeps it. A renewal never creates:
    /// an absent Lease is [`ClusterError::NotFound`] (the lock was lost).
    async fn acquire_lease(
        &self,
        namespace: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
        mode: LeaseMode<'_>,
    ) -> Result<(), ClusterError>;

    /// Releases the Lease if `holder` holds it: deletes it on the condition that it is still the
    /// Lease read just before (its uid and resourceVersion), so a Lease someone else took in the
    /// meantime is left alone (that is not an error).
    async fn release_lease(&self, namespace: &str, name: &str, holder: &str) -> Result<(), ClusterError>;

    /// The Lease as it is, `None` when absent.
    async fn lease(&self, namespace: &str, name: &str) -> Result<Option<LeaseRecord>, ClusterError>;

    /// Creates or updates a custom resource with server-side apply. `body` is the whole object.
    async fn apply_custom(
        &self,
        resource: &CustomResource,
        namespace: &str,
        body: &serde_json::Value,
    ) -> Result<(), ClusterError>;

    /// Creates the pod `spec` (first deleting a pod of that name left by a crashed run), waits
    /// until it is Running and Ready for at most `timeout`, and returns the node it runs on
    /// (`spec.nodeName` as the API server reports it). The caller deletes it with
    /// [`ClusterOps::delete_pod`] in every case, also when this fails (it may exist half-started).
    async fn start_probe_pod(&self, spec: &ProbePodSpec, timeout: Duration) -> Result<String, ClusterError>;

    /// Deletes a pod at once (grace period 0); an absent pod is not an error.
    async fn delete_pod(&self, namespace: &str, name: &str) -> Result<(), ClusterError>;

    /// The names of every custom resource of a type in a namespace (none when the type is not
    /// installed).
    async fn list_custom(&self, resource: &CustomResource, namespace: &str) -> Result<Vec<String>, ClusterError>;

    /// A custom resource as JSON, `None` when absent.
    async fn get_custom(
        &self,
        resource: &CustomResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, ClusterError>;
}

/// Which custom resource type (group, version, kind, plural).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomResource {
    /// API group, e.g. `apigee.cloud.google.com`.
    pub group: &'static str,
    /// Version, e.g. `v1alpha1`.
    pub version: &'static str,
    /// Kind, e.g. `CassandraDataReplication`.
    pub kind: &'static str,
    /// Plural, e.g. `cassandradatareplications`.
    pub plural: &'static str,
}

/// Apigee's `CassandraDataReplication` (short names `cdr`, `apigeecdr`).
pub const CASSANDRA_DATA_REPLICATION: CustomResource = CustomResource {
    group: "apigee.cloud.google.com",
    version: "v1alpha1",
    kind: "CassandraDataReplication",
    plural: "cassandradatareplications",
};

/// A Kubernetes Deployment (`apps/v1`), read like a custom resource.
pub const DEPLOYMENT: CustomResource =
    CustomResource { group: "apps", version: "v1", kind: "Deployment", plural: "deployments" };

/// Apigee's `ApigeeOrganization` (short name `apigeeorg`); its name has a generated suffix
/// (`my-org-a1b2c3d`), so it is read from the cluster, never derived from the org's name.
pub const APIGEE_ORGANIZATION: CustomResource = CustomResource {
    group: "apigee.cloud.google.com",
    version: "v1alpha1",
    kind: "ApigeeOrganization",
    plural: "apigeeorganizations",
};

/// Apigee's `ApigeeDatastore` (short name `apigeeds`); its status reports data replication.
pub const APIGEE_DATASTORE: CustomResource = CustomResource {
    group: "apigee.cloud.google.com",
    version: "v1alpha1",
    kind: "ApigeeDatastore",
    plural: "apigeedatastores",
};
