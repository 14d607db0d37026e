//! The plan file: which two regions, which installer, how to rebuild, how long to wait.
//! (Long because it is the plan's whole schema: one struct per section with its defaults and
//! documentation, the validation, and its tests; splitting it would split one file format.)
//!
//! Read with `yaml_serde` into typed structs; unknown keys are refused (a typo must not be
//! silently ignored at 3 a.m.), errors carry line and column. Paths are relative to the plan
//! file's folder. Secrets are never inline: JMX credentials come from the overrides file, from
//! environment variables, or from the pod's own environment.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{DatacenterName, RackName};

/// A plan that cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    /// The file could not be read.
    #[error("cannot read plan {path}: {message}")]
    Read {
        /// The plan path.
        path: String,
        /// Why.
        message: String,
    },
    /// The YAML is invalid or does not match the plan's shape.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The plan path.
        path: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A value is not acceptable.
    #[error("{path}: {message}")]
    Value {
        /// The plan path.
        path: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// One region of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    /// kubeconfig context.
    pub context: String,
    /// kubeconfig file (default: `$KUBECONFIG` or `~/.kube/config`).
    #[serde(default)]
    pub kubeconfig: Option<PathBuf>,
    /// Apigee's namespace.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// The region's overrides file.
    pub overrides: PathBuf,
    /// The region's Cassandra datacenter name.
    pub datacenter: DatacenterName,
    /// The region's rack (target only; default `ra-1`).
    #[serde(default)]
    pub rack: Option<RackName>,
    /// Label selector of the Cassandra pods.
    #[serde(default = "default_selector")]
    pub selector: String,
    /// Container name of Cassandra in its pods.
    #[serde(default = "default_container")]
    pub container: String,
}

fn default_namespace() -> String {
    "apigee".into()
}
fn default_selector() -> String {
    "app=apigee-cassandra".into()
}
fn default_container() -> String {
    "apigee-cassandra".into()
}

/// An Apigee hybrid release, `MAJOR.MINOR` or `MAJOR.MINOR.PATCH` (`1.12`, `1.13.2`), as the
/// Helm charts' version says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HybridVersion {
    /// Major (1).
    pub major: u32,
    /// Minor (12).
    pub minor: u32,
    /// Patch, when given.
    pub patch: Option<u32>,
}

impl HybridVersion {
    /// The namespace of the operator's Helm release: `apigee-system` for hybrid 1.11 and 1.12
    /// (installed with `--create-namespace`), Apigee's own namespace from 1.13.
    pub fn operator_namespace<'a>(&self, apigee_namespace: &'a str) -> &'a str {
        if (self.major, self.minor) <= (1, 12) { "apigee-system" } else { apigee_namespace }
    }
}

impl std::fmt::Display for HybridVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.patch {
            Some(p) => write!(f, "{}.{}.{p}", self.major, self.minor),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

impl std::str::FromStr for HybridVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not an Apigee hybrid release: write it as 1.12 or 1.13.2 (`helm show chart <charts>/apigee-operator` says which)"
            )
        };
        let t = s.trim().trim_start_matches('v');
        let parts: Vec<&str> = t.split('.').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let n = |p: &str| p.parse::<u32>().map_err(|_| bad());
        let v = Self { major: n(parts[0])?, minor: n(parts[1])?, patch: parts.get(2).map(|p| n(p)).transpose()? };
        if (v.major, v.minor) < (1, 11) {
            return Err(format!(
                "Apigee hybrid {v} has no Helm charts (they start with 1.11): use `installer: {{kind: apigeectl}}`"
            ));
        }
        Ok(v)
    }
}

impl Serialize for HybridVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HybridVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A YAML `1.12` is a number: take whatever scalar was written, as text.
        let v = yaml_serde::Value::deserialize(d)?;
        let text = match &v {
            yaml_serde::Value::String(s) => s.clone(),
            // `1.20` would read as 1.2: a number with one digit after the point is ambiguous.
            yaml_serde::Value::Number(n) if n.to_string().split('.').nth(1).is_some_and(|m| m.len() == 1) => {
                return Err(serde::de::Error::custom(format!(
                    "installer.version: {n} is a YAML number, which drops trailing zeros (1.20 reads as 1.2): write the release in quotes, as \"{n}0\" or \"{n}\""
                )));
            }
            yaml_serde::Value::Number(n) => n.to_string(),
            _ => return Err(serde::de::Error::custom("installer.version: write the hybrid release as 1.12 or 1.13.2")),
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// How Apigee is installed in the new region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum InstallerSpec {
    /// apigeectl (hybrid 1.11 and older).
    Apigeectl {
        /// The apigeectl program (default: `apigeectl` on PATH).
        #[serde(default)]
        program: Option<PathBuf>,
        /// The folder apigeectl runs in.
        #[serde(default)]
        workdir: Option<PathBuf>,
    },
    /// Helm charts (hybrid 1.11 and newer).
    Helm {
        /// The helm program (default: `helm` on PATH).
        #[serde(default)]
        program: Option<PathBuf>,
        /// The kubectl program that applies the CRDs first (default: `kubectl` on PATH).
        #[serde(default)]
        kubectl: Option<PathBuf>,
        /// The Apigee hybrid release the charts are (`1.12.3`): it decides where the operator
        /// release lives (`apigee-system` for 1.11 and 1.12, the Apigee namespace from 1.13).
        version: HybridVersion,
        /// The folder with the Apigee charts.
        charts: PathBuf,
        /// The org release name.
        org_release: String,
        /// Environments.
        #[serde(default)]
        environments: Vec<String>,
        /// Environment groups.
        #[serde(default)]
        env_groups: Vec<String>,
    },
}

/// Where nodetool's JMX credentials come from. Never inline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "from", rename_all = "kebab-case", deny_unknown_fields)]
pub enum JmxSpec {
    /// `cassandra.auth.jmx.username/password` of the source overrides file.
    Overrides,
    /// Environment variables of this process.
    Env {
        /// Variable holding the user.
        username_env: String,
        /// Variable holding the password.
        password_env: String,
    },
    /// `APIGEE_JMX_USER`/`APIGEE_JMX_PASSWORD` inside the Cassandra containers.
    PodEnv,
    /// JMX without authentication.
    None,
}

/// How many nodes rebuild at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// At most this many (at least 1).
    Limit(usize),
    /// Every node at once.
    All,
}

impl Serialize for Concurrency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Limit(n) => s.serialize_u64(*n as u64),
            Self::All => s.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Concurrency;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number of nodes (at least 1) or `all`")
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Concurrency, E> {
                match n {
                    0 => Err(E::custom("0 rebuilds at once would never finish: use at least 1, or `all`")),
                    n => Ok(Concurrency::Limit(usize::try_from(n).unwrap_or(usize::MAX))),
                }
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Concurrency, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::custom(format!("`{n}`: use a number of nodes (at least 1), or `all`"))),
                }
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Concurrency, E> {
                match s {
                    "all" => Ok(Concurrency::All),
                    _ => Err(E::custom(format!("`{s}`: use a number of nodes (at least 1), or `all`"))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl Concurrency {
    /// As a number of concurrent rebuilds.
    pub fn limit(self) -> usize {
        match self {
            Self::Limit(n) => n.max(1),
            Self::All => usize::MAX,
        }
    }
}

/// A duration written as `90s`, `10m`, `2h`, `1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}s", self.0.as_secs()))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Span;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration like `90s`, `10m`, `2h` or `1h30m`")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Span, E> {
                parse_duration(s).map(Span).ok_or_else(|| {
                    E::custom(format!("`{s}` is not a duration: write it like `90s`, `10m`, `2h` or `1h30m`"))
                })
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Span, E> {
                Err(E::custom(format!("`{n}` has no unit: write it like `{n}s` or `{n}m`")))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Span, E> {
                Err(E::custom(format!("`{n}` is not a duration: write it like `90s`, `10m`, `2h` or `1h30m`")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `90s`, `10m`, `2h`, `1h30m`, `500ms`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut number = String::new();
    let mut chars = s.trim().chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().ok()?;
        number.clear();
        let unit = match c {
            'h' => Duration::from_secs(n.checked_mul(3600)?),
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                Duration::from_millis(n)
            }
            'm' => Duration::from_secs(n.checked_mul(60)?),
            's' => Duration::from_secs(n),
            _ => return None,
        };
        total = total.checked_add(unit)?;
        any = true;
    }
    (number.is_empty() && any).then_some(total)
}

/// Rebuild settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildSpec {
    /// How many nodes rebuild at once (default 1, like the most careful peer).
    #[serde(default = "default_concurrency")]
    pub concurrency: Concurrency,
    /// How many times a failed rebuild is retried (a retry resumes where it stopped).
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// How long one node's rebuild may take.
    #[serde(default = "default_rebuild_timeout")]
    pub timeout: Span,
    /// How often progress is read from `nodetool netstats`.
    #[serde(default = "default_progress_interval")]
    pub progress_interval: Span,
    /// The pause before the first retry of a failed rebuild; doubled for each further retry.
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff: Span,
    /// The longest pause between retries.
    #[serde(default = "default_retry_backoff_max")]
    pub retry_backoff_max: Span,
    /// Stream throttles set on every source and target node for the rebuild, then set back.
    /// Absent (the default): the tool neither reads nor changes them.
    #[serde(default)]
    pub throughput: Option<ThroughputSpec>,
}

/// `rebuild.throughput`: the stream throttles for the rebuild, in megabits per second (the unit
/// `nodetool set(interdc)streamthroughput` takes on every version; 0 = unlimited). The values a
/// node had are read first, journaled, and set back after the rebuild, whatever its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputSpec {
    /// `nodetool setinterdcstreamthroughput`: streaming to another datacenter.
    #[serde(default)]
    pub interdc_megabits: Option<u32>,
    /// `nodetool setstreamthroughput`: all streaming of a node.
    #[serde(default)]
    pub total_megabits: Option<u32>,
}

/// The largest throttle Cassandra accepts (4.1+ refuse `Integer.MAX_VALUE`).
pub const MAX_STREAM_MEGABITS: u32 = i32::MAX as u32 - 1;

fn default_retry_backoff() -> Span {
    Span(Duration::from_secs(5))
}
fn default_retry_backoff_max() -> Span {
    Span(Duration::from_secs(120))
}

fn default_concurrency() -> Concurrency {
    Concurrency::Limit(1)
}
fn default_retries() -> u32 {
    2
}
fn default_rebuild_timeout() -> Span {
    Span(Duration::from_secs(24 * 3600))
}
fn default_progress_interval() -> Span {
    Span(Duration::from_secs(10))
}

impl Default for RebuildSpec {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            retries: default_retries(),
            timeout: default_rebuild_timeout(),
            progress_interval: default_progress_interval(),
            retry_backoff: default_retry_backoff(),
            retry_backoff_max: default_retry_backoff_max(),
            throughput: None,
        }
    }
}

/// How long to wait for things.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Install until the installer says ready.
    #[serde(default = "t30m")]
    pub install: Span,
    /// New nodes Ready and UN from both sides.
    #[serde(default = "t20m")]
    pub join: Span,
    /// Apigee's setup jobs extending keyspace replication to the new datacenter.
    #[serde(default = "t10m")]
    pub replication: Span,
    /// The rolling restart after finalize's re-apply (every target pod restarted, the
    /// datastore running again).
    #[serde(default = "t30m")]
    pub rollout: Span,
    /// Pause between polls.
    #[serde(default = "t5s")]
    pub poll: Span,
}

pub(super) fn t30m() -> Span {
    Span(Duration::from_secs(1800))
}
fn t20m() -> Span {
    Span(Duration::from_secs(1200))
}
pub(super) fn t10m() -> Span {
    Span(Duration::from_secs(600))
}
pub(super) fn t5s() -> Span {
    Span(Duration::from_secs(5))
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { install: t30m(), join: t20m(), replication: t10m(), rollout: t30m(), poll: t5s() }
    }
}

/// `limits`: how hard the tool may press on each cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// At most this many `nodetool` calls through `kubectl exec` at once in each cluster
    /// (default 8): the status, netstats, describe and throttle reads, the flushes and the
    /// throttle changes of every step, each a JVM start in a Cassandra pod. `nodetool rebuild`
    /// and `removenode`, which last as long as their streaming, are outside it: `rebuild.concurrency`
    /// bounds the rebuilds, removals run one at a time.
    #[serde(default = "default_exec_per_cluster")]
    pub exec_per_cluster: usize,
}

fn default_exec_per_cluster() -> usize {
    8
}

impl Default for Limits {
    fn default() -> Self {
        Self { exec_per_cluster: default_exec_per_cluster() }
    }
}

/// `preflight`: the checks made before anything changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PreflightSpec {
    /// The network probe from a target node.
    #[serde(default)]
    pub network_probe: NetworkProbeSpec,
}

/// `preflight.network_probe`: a short-lived pod on the host network of a target node connects to
/// each seed's internode port and resolves the node's own hostname, before anything is installed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkProbeSpec {
    /// Whether the probe runs (default true); `false` skips it with a warning.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The probe's image. Default: the Cassandra image of the target overrides
    /// (`cassandra.image.url:tag`) when set, else [`DEFAULT_PROBE_IMAGE`].
    #[serde(default)]
    pub image: Option<String>,
    /// The namespace the probe pod runs in. Default: the target's Apigee namespace when it exists
    /// already, else the namespace of the run's lock (`default`).
    #[serde(default)]
    pub namespace: Option<String>,
    /// The seeds' internode port (default 7001, Apigee hybrid's internode TLS port).
    #[serde(default = "default_internode_port")]
    pub port: u16,
    /// How long the probe pod may take to become Ready (image pull included).
    #[serde(default = "default_probe_timeout")]
    pub timeout: Span,
    /// How long each TCP connection may take.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: Span,
}

/// The probe's image when neither the plan nor the target overrides name one.
pub const DEFAULT_PROBE_IMAGE: &str = "busybox:1.36";

fn default_true() -> bool {
    true
}
fn default_internode_port() -> u16 {
    7001
}
fn default_probe_timeout() -> Span {
    Span(Duration::from_secs(60))
}
fn default_connect_timeout() -> Span {
    Span(Duration::from_secs(3))
}

impl Default for NetworkProbeSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            namespace: None,
            port: default_internode_port(),
            timeout: default_probe_timeout(),
            connect_timeout: default_connect_timeout(),
        }
    }
}

/// Network mode and extra ranges for the overlap check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// `island` (default; AKS, EKS, OpenShift) requires hostNetwork; `flat` does not.
    #[serde(default)]
    pub mode: NetworkMode,
    /// Extra CIDR blocks of the source region (VNet, service range) to check for overlap.
    #[serde(default)]
    pub source_ranges: Vec<crate::network::Cidr>,
    /// Extra CIDR blocks of the target region.
    #[serde(default)]
    pub target_ranges: Vec<crate::network::Cidr>,
}

/// Whether pods of the two clusters can reach each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// They cannot: Cassandra must use node IPs (hostNetwork).
    #[default]
    Island,
    /// They can.
    Flat,
}

/// Verification thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifySpec {
    /// The target datacenter's total Load must be at least this fraction of the source's.
    /// On-disk load differs between datacenters (compaction state, overwritten rows, hints), so
    /// the default only catches a rebuild that streamed (almost) nothing; the data check is the
    /// logs' `All sessions completed` on every node.
    #[serde(default = "default_fraction")]
    pub min_load_fraction: f64,
}

fn default_fraction() -> f64 {
    0.25
}

impl Default for VerifySpec {
    fn default() -> Self {
        Self { min_load_fraction: default_fraction() }
    }
}

/// Where the CA secret is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaSpec {
    /// Namespace of the CA secret.
    #[serde(default = "default_ca_ns")]
    pub namespace: String,
    /// Name of the CA secret.
    #[serde(default = "default_ca_name")]
    pub secret: String,
}

fn default_ca_ns() -> String {
    "cert-manager".into()
}
fn default_ca_name() -> String {
    "apigee-ca".into()
}

impl Default for CaSpec {
    fn default() -> Self {
        Self { namespace: default_ca_ns(), secret: default_ca_name() }
    }
}

/// How data reaches the new datacenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationMethod {
    /// `nodetool rebuild -- <source dc>` on every new node.
    #[default]
    Nodetool,
    /// Apigee's `CassandraDataReplication` resource (hybrid 1.11+): the operator rebuilds, the
    /// tool applies the resource and follows `ApigeeDatastore.status.cassandraDataReplication`.
    Cr,
}

/// How data reaches the new datacenter, with what each way needs (validated when the plan is read).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Replication<'a> {
    /// `nodetool rebuild` on every new node.
    Nodetool,
    /// The `CassandraDataReplication` resource.
    Cr(&'a CrSpec),
}

/// The `CassandraDataReplication` resource to apply (`replication: cr`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrSpec {
    /// `spec.organizationRef`: the ApigeeOrganization resource's name (`kubectl get apigeeorg -n
    /// apigee`). When omitted, the one ApigeeOrganization of the source region's namespace.
    #[serde(default)]
    pub organization: Option<String>,
    /// The resource's name.
    #[serde(default = "default_cr_name")]
    pub name: String,
    /// The ApigeeDatastore whose status reports the replication.
    #[serde(default = "default_datastore")]
    pub datastore: String,
}

fn default_cr_name() -> String {
    "region-expansion".into()
}
fn default_datastore() -> String {
    "default".into()
}

/// Another existing region of the installation (neither the rebuild's source nor the new one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtherRegion {
    /// Its overrides file (relative to the plan's folder).
    pub overrides: PathBuf,
    /// Its Cassandra datacenter.
    pub datacenter: DatacenterName,
    /// Its kubeconfig context. When given, the ring is also read from one of its Cassandra pods:
    /// preflight refuses when it cannot be, and `verify` checks the ring from this side too.
    /// Without it, the region's datacenter is seen through the source and the target only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Its kubeconfig file (default: `$KUBECONFIG` or `~/.kube/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// Apigee's namespace there.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Label selector of its Cassandra pods.
    #[serde(default = "default_selector")]
    pub selector: String,
    /// Container name of Cassandra in its pods.
    #[serde(default = "default_container")]
    pub container: String,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpansionPlan {
    /// A name for messages and the journal file.
    #[serde(default = "default_name")]
    pub name: String,
    /// The existing region.
    pub source: RegionSpec,
    /// The new region.
    pub target: RegionSpec,
    /// How to install in the new region.
    pub installer: InstallerSpec,
    /// How data is replicated.
    #[serde(default)]
    pub replication: ReplicationMethod,
    /// The CassandraDataReplication resource (required with `replication: cr`).
    #[serde(default)]
    pub cr: Option<CrSpec>,
    /// JMX credentials.
    #[serde(default = "default_jmx")]
    pub jmx: JmxSpec,
    /// Rebuild settings.
    #[serde(default)]
    pub rebuild: RebuildSpec,
    /// Timeouts.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Network.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Verification.
    #[serde(default)]
    pub verify: VerifySpec,
    /// The CA secret.
    #[serde(default)]
    pub ca: CaSpec,
    /// Bounds on the tool's calls into each cluster.
    #[serde(default)]
    pub limits: Limits,
    /// Preflight checks (the network probe).
    #[serde(default)]
    pub preflight: PreflightSpec,
    /// The installation's other existing regions, when the new region is its third (or later):
    /// each one's overrides file is checked against the new region's like the source's, and its
    /// datacenter must be in the ring, every node up.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<OtherRegion>,
    /// The folder paths are relative to (the plan file's folder). Not part of the file.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

fn default_name() -> String {
    "expansion".into()
}
fn default_jmx() -> JmxSpec {
    JmxSpec::Overrides
}

impl ExpansionPlan {
    /// Reads and validates a plan file.
    pub fn from_file(path: &Path) -> Result<Self, PlanError> {
        let (text, shown, base) = read_plan(path)?;
        Self::from_str_at(&text, &shown, base)
    }

    /// Parses plan text; `shown` names it in errors, `base_dir` anchors relative paths.
    pub fn from_str_at(text: &str, shown: &str, base_dir: PathBuf) -> Result<Self, PlanError> {
        let mut plan: Self = parse_plan(text, shown)?;
        plan.base_dir = base_dir;
        let value = |message: String| PlanError::Value { path: shown.into(), message };
        check_common(
            shown,
            &plan.name,
            &[
                ("rebuild.timeout", plan.rebuild.timeout.0),
                ("rebuild.progress_interval", plan.rebuild.progress_interval.0),
                ("rebuild.retry_backoff", plan.rebuild.retry_backoff.0),
                ("rebuild.retry_backoff_max", plan.rebuild.retry_backoff_max.0),
                ("timeouts.install", plan.timeouts.install.0),
                ("timeouts.join", plan.timeouts.join.0),
                ("timeouts.replication", plan.timeouts.replication.0),
                ("timeouts.rollout", plan.timeouts.rollout.0),
                ("timeouts.poll", plan.timeouts.poll.0),
                ("preflight.network_probe.timeout", plan.preflight.network_probe.timeout.0),
                ("preflight.network_probe.connect_timeout", plan.preflight.network_probe.connect_timeout.0),
            ],
            &[("timeouts.poll", plan.timeouts.poll.0), ("rebuild.progress_interval", plan.rebuild.progress_interval.0)],
        )?;
        if plan.source.datacenter == plan.target.datacenter {
            return Err(value(format!(
                "source and target datacenter are both `{}`: the new region needs a new datacenter name",
                plan.target.datacenter
            )));
        }
        for (i, other) in plan.others.iter().enumerate() {
            let named_before = [&plan.source.datacenter, &plan.target.datacenter]
                .into_iter()
                .chain(plan.others[..i].iter().map(|o| &o.datacenter))
                .any(|dc| *dc == other.datacenter);
            if named_before {
                return Err(value(format!(
                    "others[{i}].datacenter `{}` is already named as the source, the target or another region: each datacenter appears once",
                    other.datacenter
                )));
            }
        }
        if plan.source.context == plan.target.context && plan.source.kubeconfig == plan.target.kubeconfig {
            return Err(value(format!(
                "source and target use the same context `{}`: the new region is another cluster",
                plan.source.context
            )));
        }
        if plan.replication == ReplicationMethod::Cr && plan.cr.is_none() {
            // Every key of `cr:` has a default (the organization: the source's only one).
            plan.cr = Some(CrSpec { organization: None, name: default_cr_name(), datastore: default_datastore() });
        }
        if let Some(t) = &plan.rebuild.throughput {
            if t.interdc_megabits.is_none() && t.total_megabits.is_none() {
                return Err(value("rebuild.throughput: give interdc_megabits and/or total_megabits (megabits per second, 0 = unlimited), or remove the section to leave the nodes' throttles alone".into()));
            }
            for (key, v) in [("interdc_megabits", t.interdc_megabits), ("total_megabits", t.total_megabits)] {
                if v.is_some_and(|v| v > MAX_STREAM_MEGABITS) {
                    return Err(value(format!(
                        "rebuild.throughput.{key}: at most {MAX_STREAM_MEGABITS} (megabits per second; 0 = unlimited)"
                    )));
                }
            }
        }
        if plan.limits.exec_per_cluster == 0 {
            return Err(value(
                "limits.exec_per_cluster: 0 calls at once would never finish: use at least 1 (default 8)".into(),
            ));
        }
        let probe = &plan.preflight.network_probe;
        if probe.port == 0 {
            return Err(value("preflight.network_probe.port: 0 is not a port (Apigee hybrid: 7001)".into()));
        }
        if probe.connect_timeout.0 < Duration::from_secs(1) || probe.timeout.0 < Duration::from_secs(1) {
            return Err(value(
                "preflight.network_probe: timeout and connect_timeout are at least 1s (the probe counts whole seconds)"
                    .into(),
            ));
        }
        if probe.image.as_deref().is_some_and(|i| i.trim().is_empty())
            || probe.namespace.as_deref().is_some_and(|n| n.trim().is_empty())
        {
            return Err(value(
                "preflight.network_probe: image and namespace, when given, are not empty (remove the key for the default)"
                    .into(),
            ));
        }
        if !(0.0..=1.0).contains(&plan.verify.min_load_fraction) {
            return Err(value("verify.min_load_fraction must be between 0 and 1".into()));
        }
        Ok(plan)
    }

    /// A path from the plan, made absolute against the plan's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.base_dir.join(p) }
    }

    /// A program named in the plan (`installer.program`, `installer.kubectl`): a bare name
    /// (`helm`, `kubectl`) is looked up on PATH, as a shell does; a path (`./bin/helm`,
    /// `/usr/local/bin/helm`) is resolved like every other plan path.
    pub fn resolve_program(&self, p: &Path) -> PathBuf {
        if p.components().count() == 1 && !p.is_absolute() { p.to_path_buf() } else { self.resolve(p) }
    }

    /// How data is replicated, with its settings.
    pub fn replication(&self) -> Replication<'_> {
        match (&self.replication, &self.cr) {
            (ReplicationMethod::Cr, Some(cr)) => Replication::Cr(cr),
            // `from_str_at` gives `cr` without a `cr:` section the defaults.
            _ => Replication::Nodetool,
        }
    }

    /// The target rack (default `ra-1`).
    pub fn target_rack(&self) -> RackName {
        self.target.rack.clone().unwrap_or_default()
    }

    /// A hash of what changes the outcome of an expansion: the regions (contexts, namespaces,
    /// overrides files, datacenters, rack), the installer, the replication method and its
    /// resource, the JMX source, the CA and the network mode. A journal from another plan is
    /// refused; a changed timeout, concurrency, retry count or threshold is not "another plan".
    pub fn hash(&self) -> String {
        let outcome = serde_json::json!({
            "name": self.name,
            "source": self.source,
            "target": self.target,
            "installer": self.installer,
            "replication": self.replication,
            "cr": self.cr,
            "jmx": self.jmx,
            "ca": self.ca,
            "network_mode": self.network.mode,
        });
        let mut outcome = outcome;
        if !self.others.is_empty() {
            // Only when there are others: the hash of every plan written before `others` existed
            // stays the same, so their journals still open.
            // Where the tool reads them from (context, kubeconfig, namespace) is not part of it.
            let others: Vec<_> = self
                .others
                .iter()
                .map(|o| serde_json::json!({"overrides": o.overrides, "datacenter": o.datacenter}))
                .collect();
            outcome["others"] = serde_json::json!(others);
        }
        short_hash(&outcome)
    }
}

/// The first 12 bytes of the SHA-256 of a JSON value, in hex: a plan's identity in its journal.
pub(super) fn short_hash(outcome: &serde_json::Value) -> String {
    Sha256::digest(outcome.to_string().as_bytes()).iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// A plan file's text, its name for messages, and the absolute folder its relative paths start
/// from (absolute, so paths handed to an installer that runs in another folder still point here).
pub(crate) fn read_plan(path: &Path) -> Result<(String, String, PathBuf), PlanError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| PlanError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let base = std::path::absolute(&parent).unwrap_or(parent);
    Ok((text, path.display().to_string(), base))
}

/// Plan text as `T`, its errors naming the key path and line (`shown` names the file).
pub(crate) fn parse_plan<T: serde::de::DeserializeOwned>(text: &str, shown: &str) -> Result<T, PlanError> {
    yaml_serde::from_str(text).map_err(|e| {
        let d = super::plan_errors::describe(text, &e);
        PlanError::Invalid { path: shown.into(), line: d.line, column: d.column, message: d.message }
    })
}

/// What every plan checks: the name (it becomes part of file names), every duration in `spans`
/// bounded (an `Instant` plus a huge duration would overflow), every poll in `polls` not 0.
pub(crate) fn check_common(
    shown: &str,
    name: &str,
    spans: &[(&str, Duration)],
    polls: &[(&str, Duration)],
) -> Result<(), PlanError> {
    let value = |message: String| PlanError::Value { path: shown.into(), message };
    if !valid_plan_name(name) {
        return Err(value(format!(
            "name `{name}`: use lowercase letters, digits and `-` (at most 63, like a Kubernetes name); it names the journal file"
        )));
    }
    if let Some((key, _)) = spans.iter().find(|(_, d)| *d > Duration::from_secs(30 * 24 * 3600)) {
        return Err(value(format!("{key}: at most 30 days")));
    }
    if let Some((key, _)) = polls.iter().find(|(_, d)| *d < Duration::from_millis(10)) {
        return Err(value(format!("{key}: at least 10ms (a poll of 0 would spin)")));
    }
    Ok(())
}

/// Whether a plan name can name the journal file: lowercase letters, digits and `-`, at most 63,
/// not starting or ending with `-` (like a Kubernetes name).
fn valid_plan_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "\
name: demo
source: {context: east, overrides: east.yaml, datacenter: dc-1}
target: {context: west, overrides: west.yaml, datacenter: dc-2, rack: ra-1}
installer: {kind: apigeectl, program: ./apigeectl}
rebuild: {concurrency: all, retries: 3, timeout: 2h30m}
";

    #[test]
    fn reads_a_plan_with_defaults() {
        let p = ExpansionPlan::from_str_at(PLAN, "plan.yaml", "/plans".into()).unwrap();
        assert_eq!(p.source.namespace, "apigee");
        assert_eq!(p.rebuild.concurrency, Concurrency::All);
        assert_eq!(p.rebuild.timeout.0, Duration::from_secs(9000));
        assert_eq!(p.jmx, JmxSpec::Overrides);
        assert_eq!(p.resolve(Path::new("west.yaml")), PathBuf::from("/plans/west.yaml"));
        assert_eq!(p.hash().len(), 24);
    }

    #[test]
    fn other_regions_change_the_hash_only_when_named() {
        let p = ExpansionPlan::from_str_at(PLAN, "plan.yaml", "/plans".into()).unwrap();
        // The hash this plan had before `others` existed: its journals still open.
        assert_eq!(p.hash(), "390c059bf76823542b840ccf");
        let text = format!("{PLAN}others: [{{overrides: south.yaml, datacenter: dc-3}}]\n");
        let three = ExpansionPlan::from_str_at(&text, "plan.yaml", "/plans".into()).unwrap();
        assert_eq!(three.others[0].datacenter.to_string(), "dc-3");
        assert_ne!(three.hash(), p.hash());
        // Where the other region is read from does not make it another plan.
        let text =
            format!("{PLAN}others: [{{overrides: south.yaml, datacenter: dc-3, context: south, namespace: x}}]\n");
        let read = ExpansionPlan::from_str_at(&text, "plan.yaml", "/plans".into()).unwrap();
        assert_eq!(read.others[0].context.as_deref(), Some("south"));
        assert_eq!(read.hash(), three.hash());
        let text = format!("{PLAN}others: [{{overrides: south.yaml, datacenter: dc-2}}]\n");
        let err = ExpansionPlan::from_str_at(&text, "plan.yaml", "/plans".into()).unwrap_err().to_string();
        assert!(err.contains("others[0].datacenter `dc-2` is already named"), "{err}");
    }

    #[test]
    fn a_helm_plan_names_its_hybrid_release_which_places_the_operator() {
        let helm = |v: &str| {
            let text = PLAN.replace(
                "{kind: apigeectl, program: ./apigeectl}",
                &format!("{{kind: helm, version: {v}, charts: ./charts, org_release: my-org}}"),
            );
            ExpansionPlan::from_str_at(&text, "plan.yaml", "/plans".into())
        };
        let version = |p: ExpansionPlan| match p.installer {
            InstallerSpec::Helm { version, .. } => version,
            other => panic!("{other:?}"),
        };
        assert_eq!(version(helm("1.12.3").unwrap()).to_string(), "1.12.3");
        assert_eq!(version(helm("1.12.3").unwrap()).operator_namespace("apigee"), "apigee-system");
        assert_eq!(version(helm("\"1.13\"").unwrap()).operator_namespace("apigee"), "apigee");
        // A YAML number with two digits after the point keeps them; one digit is ambiguous.
        assert_eq!(version(helm("1.14").unwrap()).to_string(), "1.14");
        let e = helm("1.20").unwrap_err().to_string();
        assert!(e.contains("write the release in quotes"), "{e}");
        let e = helm("1.10.4").unwrap_err().to_string();
        assert!(e.contains("no Helm charts") && e.contains("apigeectl"), "{e}");
        let e = helm("latest").unwrap_err().to_string();
        assert!(e.contains("not an Apigee hybrid release"), "{e}");
        let missing =
            PLAN.replace("{kind: apigeectl, program: ./apigeectl}", "{kind: helm, charts: c, org_release: o}");
        let e = ExpansionPlan::from_str_at(&missing, "plan.yaml", "".into()).unwrap_err().to_string();
        assert!(e.contains("version"), "{e}");
    }

    #[test]
    fn a_bare_program_name_is_looked_up_on_path_and_a_path_is_resolved() {
        let p = ExpansionPlan::from_str_at(PLAN, "plan.yaml", "/plans".into()).unwrap();
        assert_eq!(p.resolve_program(Path::new("kubectl")), PathBuf::from("kubectl"));
        assert_eq!(p.resolve_program(Path::new("./apigeectl")), PathBuf::from("/plans/./apigeectl"));
        assert_eq!(p.resolve_program(Path::new("bin/helm")), PathBuf::from("/plans/bin/helm"));
        assert_eq!(p.resolve_program(Path::new("/usr/bin/helm")), PathBuf::from("/usr/bin/helm"));
    }

    /// The example plans users copy must read as they are.
    #[test]
    fn every_example_plan_reads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plans");
        let mut read = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                ExpansionPlan::from_str_at(&text, &path.display().to_string(), dir.clone())
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                read += 1;
            }
        }
        assert!(read >= 2, "the example plans are in {}", dir.display());
    }

    #[test]
    fn unknown_keys_are_refused_with_line_and_column() {
        let err =
            ExpansionPlan::from_str_at(&PLAN.replace("retries: 3", "retires: 3"), "plan.yaml", "".into()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("plan.yaml:5:"), "{msg}");
        assert!(msg.contains("retires"), "{msg}");
    }

    #[test]
    fn the_same_datacenter_twice_is_refused() {
        let err = ExpansionPlan::from_str_at(&PLAN.replace("dc-2", "dc-1"), "plan.yaml", "".into()).unwrap_err();
        assert!(err.to_string().contains("needs a new datacenter name"));
    }

    #[test]
    fn bad_names_and_durations_say_what_is_wrong() {
        assert!(
            ExpansionPlan::from_str_at(&PLAN.replace("dc-2", "dc 2"), "p", "".into())
                .unwrap_err()
                .to_string()
                .contains("' '")
        );
        assert!(
            ExpansionPlan::from_str_at(&PLAN.replace("2h30m", "forever"), "p", "".into())
                .unwrap_err()
                .to_string()
                .contains("not a duration")
        );
        assert!(
            ExpansionPlan::from_str_at(&PLAN.replace("concurrency: all", "concurrency: 0"), "p", "".into()).is_err()
        );
    }

    #[test]
    fn the_exec_bound_defaults_to_8_and_refuses_0_and_unknown_keys() {
        let p = ExpansionPlan::from_str_at(PLAN, "plan.yaml", "/plans".into()).unwrap();
        assert_eq!(p.limits.exec_per_cluster, 8);
        let with = |limits: &str| ExpansionPlan::from_str_at(&format!("{PLAN}limits: {limits}\n"), "p", "".into());
        let three = with("{exec_per_cluster: 3}").unwrap();
        assert_eq!(three.limits.exec_per_cluster, 3);
        assert_eq!(three.hash(), p.hash(), "a bound changes no outcome: the journal stays usable");
        let zero = with("{exec_per_cluster: 0}").unwrap_err().to_string();
        assert!(zero.contains("limits.exec_per_cluster") && zero.contains("at least 1"), "{zero}");
        let typo = with("{exec_per_clustr: 3}").unwrap_err().to_string();
        assert!(typo.contains("exec_per_clustr"), "{typo}");
    }

    #[test]
    fn waiting_longer_is_the_same_plan_another_datacenter_is_not() {
        let p = ExpansionPlan::from_str_at(PLAN, "plan.yaml", "/plans".into()).unwrap();
        let slower = ExpansionPlan::from_str_at(
            &PLAN
                .replace("retries: 3, timeout: 2h30m", "retries: 9, timeout: 9h")
                .replace("concurrency: all", "concurrency: 1"),
            "plan.yaml",
            "/plans".into(),
        )
        .unwrap();
        assert_eq!(p.hash(), slower.hash(), "timeouts, retries and concurrency do not force --restart");
        let other = ExpansionPlan::from_str_at(&PLAN.replace("dc-2", "dc-3"), "plan.yaml", "/plans".into()).unwrap();
        assert_ne!(p.hash(), other.hash());
    }

    #[test]
    fn a_name_that_could_leave_the_journal_folder_is_refused() {
        for bad in ["../x", "a/b", "UPPER", "-x", ""] {
            let text = PLAN.replace("name: demo", &format!("name: \"{bad}\""));
            let e = ExpansionPlan::from_str_at(&text, "p", "".into()).unwrap_err().to_string();
            assert!(e.contains("journal file"), "{bad}: {e}");
        }
    }

    #[test]
    fn zero_and_huge_durations_are_refused_not_overflowed() {
        let e = ExpansionPlan::from_str_at(&format!("{PLAN}timeouts: {{poll: 0s}}\n"), "p", "".into()).unwrap_err();
        assert!(e.to_string().contains("at least 10ms"), "{e}");
        let e = ExpansionPlan::from_str_at(&PLAN.replace("2h30m", "999999999999999h"), "p", "".into()).unwrap_err();
        assert!(e.to_string().contains("not a duration") || e.to_string().contains("30 days"), "{e}");
        let e = ExpansionPlan::from_str_at(&PLAN.replace("2h30m", "9000h"), "p", "".into()).unwrap_err();
        assert!(e.to_string().contains("at most 30 days"), "{e}");
        assert_eq!(parse_duration("18446744073709551615h"), None);
    }

    #[test]
    fn the_throughput_section_is_optional_and_checked() {
        let p = ExpansionPlan::from_str_at(PLAN, "p", "".into()).unwrap();
        assert_eq!(p.rebuild.throughput, None, "absent: the throttles are left alone");
        let text = PLAN.replace("timeout: 2h30m}", "timeout: 2h30m, throughput: {interdc_megabits: 200}}");
        let p = ExpansionPlan::from_str_at(&text, "p", "".into()).unwrap();
        assert_eq!(p.rebuild.throughput, Some(ThroughputSpec { interdc_megabits: Some(200), total_megabits: None }));
        let empty = PLAN.replace("timeout: 2h30m}", "timeout: 2h30m, throughput: {}}");
        let e = ExpansionPlan::from_str_at(&empty, "p", "".into()).unwrap_err().to_string();
        assert!(e.contains("interdc_megabits and/or total_megabits"), "{e}");
        let huge = PLAN.replace("timeout: 2h30m}", "timeout: 2h30m, throughput: {total_megabits: 2147483647}}");
        let e = ExpansionPlan::from_str_at(&huge, "p", "".into()).unwrap_err().to_string();
        assert!(e.contains("rebuild.throughput.total_megabits: at most 2147483646"), "{e}");
        let typo = PLAN.replace("timeout: 2h30m}", "timeout: 2h30m, throughput: {interdc_mbps: 200}}");
        let e = ExpansionPlan::from_str_at(&typo, "p", "".into()).unwrap_err().to_string();
        assert!(e.contains("interdc_mbps"), "{e}");
        let without = ExpansionPlan::from_str_at(PLAN, "p", "".into()).unwrap();
        assert_eq!(without.hash(), p.hash(), "a throttle is not another plan: its journal is kept");
    }

    #[test]
    fn the_network_probe_is_on_by_default_and_its_settings_are_not_another_plan() {
        let p = ExpansionPlan::from_str_at(PLAN, "p", "".into()).unwrap();
        let probe = &p.preflight.network_probe;
        assert!(probe.enabled && probe.image.is_none() && probe.namespace.is_none());
        assert_eq!(
            (probe.port, probe.timeout.0, probe.connect_timeout.0),
            (7001, Duration::from_secs(60), Duration::from_secs(3))
        );
        let with =
            |s: &str| ExpansionPlan::from_str_at(&format!("{PLAN}preflight: {{network_probe: {s}}}\n"), "p", "".into());
        let off = with("{enabled: false}").unwrap();
        assert!(!off.preflight.network_probe.enabled);
        assert_eq!(off.hash(), p.hash(), "turning the probe off is not another plan");
        let tuned = with(
            "{image: registry.local/busybox:1.36, namespace: probes, port: 7000, timeout: 2m, connect_timeout: 5s}",
        )
        .unwrap();
        assert_eq!(tuned.preflight.network_probe.port, 7000);
        assert_eq!(tuned.preflight.network_probe.image.as_deref(), Some("registry.local/busybox:1.36"));
        assert_eq!(tuned.hash(), p.hash(), "the probe's settings change no outcome: the journal stays usable");
        for (bad, says) in [
            ("{port: 0}", "not a port"),
            ("{connect_timeout: 10ms}", "at least 1s"),
            ("{image: \"\"}", "not empty"),
            ("{timeout: 9000h}", "at most 30 days"),
            ("{enable: false}", "enable"),
        ] {
            let e = with(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration(""), None);
    }
}
