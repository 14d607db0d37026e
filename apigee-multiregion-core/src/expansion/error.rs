//! Why a step or a run stopped. Every variant is a sentence an operator can act on, with the
//! cause attached; none carries a secret. The faces map [`ExpansionError::kind`] to their own
//! vocabulary (exit codes, Python exceptions) in one place each.

use std::path::PathBuf;

use crate::copy::CopyError;
use crate::overrides::{Finding, OverridesError, OverridesFileError, Severity};
use crate::ports::{AdminError, ClusterError, InstallerError};
use crate::seeds::SeedError;

use super::journal::JournalError;
use super::lock::LockError;
use super::plan::PlanError;
use super::step_id::StepId;

/// What stopped a step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// A Kubernetes call failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// A nodetool call failed.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The installer failed.
    #[error(transparent)]
    Installer(#[from] InstallerError),
    /// An overrides file cannot be read, parsed or written.
    #[error(transparent)]
    OverridesFile(#[from] OverridesFileError),
    /// An overrides edit was refused.
    #[error("{}: {source}", path.display())]
    Overrides {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: OverridesError,
    },
    /// The journal could not be written.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Copying the namespace or the CA failed.
    #[error(transparent)]
    Copy(#[from] CopyError),
    /// No seed host can be chosen.
    #[error(transparent)]
    Seeds(#[from] SeedError),
    /// The run lost its lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Preflight found errors.
    #[error("preflight refused to proceed ({} error(s))", .0.iter().filter(|f| f.severity == Severity::Error).count())]
    Refused(Vec<Finding>),
    /// A region has no Ready Cassandra pod to ask.
    #[error("no Ready Cassandra pod in context `{context}` (namespace {namespace}, -l {selector})")]
    NoReadyPod {
        /// Context.
        context: String,
        /// Namespace.
        namespace: String,
        /// Label selector.
        selector: String,
    },
    /// A step needs the seed host, and none was chosen.
    #[error(
        "no seed host was chosen: run the select-seeds step first (run the whole expansion, or --until select-seeds)"
    )]
    NoSeedChosen,
    /// Fewer target pods than the overrides ask for.
    #[error(
        "only {found} of {want} target Cassandra pods exist: the install is not complete (check the installer's output and `kubectl get pods -l app=apigee-cassandra`)"
    )]
    InstallIncomplete {
        /// Pods found.
        found: usize,
        /// `cassandra.replicaCount`.
        want: usize,
    },
    /// `replication: cr`: the organization to name cannot be found, or is not running.
    #[error("the CassandraDataReplication cannot be applied yet: {why}")]
    Organization {
        /// What is wrong, and what to do.
        why: String,
    },
    /// The installer returned, but the cluster did not show the datastore ready in time.
    #[error(
        "the target was not ready within {seconds}s (timeouts.install) after the installer returned: {why}. The operator creates and starts Cassandra after the charts or apigeectl return; check `kubectl -n {namespace} get apigeedatastore,pods` and the operator's log"
    )]
    NotReady {
        /// The timeout.
        seconds: u64,
        /// What was still missing.
        why: String,
        /// The target namespace.
        namespace: String,
    },
    /// A new node joined under another datacenter name.
    #[error(
        "{address} joined as datacenter `{found}`, but the plan says `{expected}`: check cassandra.datacenter in the target overrides; do not rebuild"
    )]
    WrongDatacenter {
        /// The node.
        address: String,
        /// The datacenter it joined as.
        found: String,
        /// The plan's target datacenter.
        expected: String,
    },
    /// The new nodes did not join in time.
    #[error(
        "the new nodes did not join within {seconds}s: {why}. Check that the seed host is reachable from the target on ports 7000/7001, that the target uses the source's CA (copy-ca), and that clusterName matches"
    )]
    NotJoined {
        /// The timeout.
        seconds: u64,
        /// What was still missing.
        why: String,
    },
    /// Keyspaces do not replicate to the new datacenter.
    #[error("these keyspaces do not replicate to {target_dc}, so a rebuild would stream nothing for them: {}. Apigee's setup jobs extend replication when the new region is installed; check them (kubectl -n {namespace} get jobs), or extend it yourself, e.g. ALTER KEYSPACE <ks> WITH replication = {{'class': 'NetworkTopologyStrategy', '{source_dc}': 3, '{target_dc}': 3}}", keyspaces.join(", "))]
    ReplicationMissing {
        /// Keyspaces (with their replication).
        keyspaces: Vec<String>,
        /// The target datacenter.
        target_dc: String,
        /// The source datacenter.
        source_dc: String,
        /// The Apigee namespace.
        namespace: String,
    },
    /// One or more nodes failed their rebuild.
    #[error("{}", failures.join("; "))]
    RebuildFailed {
        /// One sentence per failed node.
        failures: Vec<String>,
    },
    /// A node's rebuild ran past its timeout.
    #[error(
        "{pod}: the rebuild still runs after {seconds}s (rebuild.timeout); it goes on in Cassandra: run again to follow it"
    )]
    RebuildTimeout {
        /// The pod.
        pod: String,
        /// The timeout.
        seconds: u64,
    },
    /// The CassandraDataReplication resource did not complete.
    #[error("CassandraDataReplication {name} did not complete after {attempts} attempt(s): {}", failures.join("; "))]
    DataReplication {
        /// The resource.
        name: String,
        /// Attempts made.
        attempts: u32,
        /// Per pod, what is wrong.
        failures: Vec<String>,
    },
    /// Stream throttles could not be set back after the rebuild.
    #[error("the stream throughput could not be set back: {}. The journal keeps the values from before the rebuild: run the same command again (any step) to set them back, or run the nodetool commands named on each pod", failures.join("; "))]
    ThroughputRestore {
        /// One sentence per node, with the commands that set it back.
        failures: Vec<String>,
    },
    /// Verification failed.
    #[error("verification failed: {}", failures.join("; "))]
    Verification {
        /// Each failed check.
        failures: Vec<String>,
    },
    /// The seed host is still in the typed view after it was cleared (a merge key carries it).
    #[error("{}: after clearing cassandra.multiRegionSeedHost the file still sets it to {seed} (through a merge key `<<:` or an anchor): remove it there by hand, then run again", path.display())]
    SeedHostRemains {
        /// The overrides file.
        path: PathBuf,
        /// The value left.
        seed: String,
    },
    /// After finalize the rollout did not finish.
    #[error(
        "after re-applying the datastore without the seed host, the rolling restart did not finish within timeouts.rollout: {why}"
    )]
    FinalizeNotHealthy {
        /// What is wrong.
        why: String,
    },
    /// A decommission step ran outside a decommission (a wiring mistake, never a user's).
    #[error("step `{step}` belongs to a decommission: run `apigee-multiregion decommission --plan PLAN`")]
    NotADecommission {
        /// The step.
        step: StepId,
    },
    /// The uninstalled region still has its datastore or Cassandra pods after `timeouts.removal`.
    #[error(
        "the operator did not remove the datastore of context `{context}` within timeouts.removal: {why}. Check the operator's logs (kubectl -n apigee-system logs deploy/apigee-controller-manager) and the ApigeeDatastore's finalizers; run again to keep waiting, or use --lost-region if the region is gone"
    )]
    NotRemoved {
        /// The leaving region's context.
        context: String,
        /// What is still there.
        why: String,
    },
    /// A node of the leaving datacenter is UN: `removenode` refuses live nodes.
    #[error(
        "{address} (host ID {host_id}) of `{datacenter}` is still up: Cassandra refuses to removenode a live node. Uninstall the region first (run without --lost-region), or stop that node"
    )]
    NodeAlive {
        /// Its address.
        address: String,
        /// Its host ID.
        host_id: String,
        /// The leaving datacenter.
        datacenter: String,
    },
    /// A `removenode` failed or did not finish.
    #[error("removing {address} (host ID {host_id}) from the ring: {why}")]
    RemovalFailed {
        /// Its address.
        address: String,
        /// Its host ID.
        host_id: String,
        /// What happened and what to do.
        why: String,
    },
    /// Keyspaces still name the leaving datacenter after the re-apply.
    #[error(
        "these keyspaces still name `{leaving_dc}` after the surviving datastore was re-applied: {}. The operator's setup job rewrites replication (kubectl -n {namespace} get jobs); or do it yourself, e.g. ALTER KEYSPACE <ks> WITH replication = {{'class': 'NetworkTopologyStrategy', '{surviving_dc}': 3}} (system_auth last, once no node of `{leaving_dc}` is left), then run again", keyspaces.join(", "))]
    ReplicationNamesDatacenter {
        /// The keyspaces.
        keyspaces: Vec<String>,
        /// The removed datacenter.
        leaving_dc: String,
        /// The surviving datacenter.
        surviving_dc: String,
        /// The surviving Apigee namespace.
        namespace: String,
    },
    /// Nodes of the leaving datacenter remain where they must be gone.
    #[error(
        "nodes of `{datacenter}` are still in the ring ({}): replication cannot drop a datacenter that has nodes (Cassandra 4.1+ refuses it for system_auth). Run the remove-nodes step first (run the whole decommission again)", nodes.join(", "))]
    NodesRemain {
        /// The datacenter.
        datacenter: String,
        /// Its nodes.
        nodes: Vec<String>,
    },
}

impl From<crate::ring::WrongDatacenter> for StepError {
    fn from(w: crate::ring::WrongDatacenter) -> Self {
        Self::WrongDatacenter { address: w.address, found: w.found, expected: w.expected }
    }
}

impl StepError {
    /// An overrides edit refused on `path`.
    pub(crate) fn overrides(path: PathBuf, source: OverridesError) -> Self {
        Self::Overrides { path, source }
    }
}

/// Why an expansion stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpansionError {
    /// The plan is unusable.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The journal is unusable.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Preflight found errors: nothing was changed.
    #[error("preflight refused to proceed ({} error(s)); nothing was changed:\n{}", .findings.iter().filter(|f| f.severity == Severity::Error).count(), .findings.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Refused {
        /// Every finding, errors first.
        findings: Vec<Finding>,
    },
    /// A step failed.
    #[error("step `{step}` failed: {source}\n{}", resume_hint(journal.as_deref()))]
    Step {
        /// The step.
        step: StepId,
        /// What failed and what to do.
        #[source]
        source: StepError,
        /// The journal that records where the run stopped; `None` when nothing is recorded (a dry
        /// run, `verify`).
        journal: Option<PathBuf>,
    },
    /// Another run holds the lock, or it could not be taken.
    #[error(transparent)]
    Locked(LockError),
    /// The run was cancelled (Ctrl-C); the journal holds every finished action.
    #[error("interrupted during `{step}`. Every finished action is in the journal {}; run the same command again to continue (a rebuild or removenode that was running goes on in Cassandra and is picked up).", journal.display())]
    Cancelled {
        /// The step that was running.
        step: StepId,
        /// The journal path.
        journal: PathBuf,
    },
}

/// The kind of an [`ExpansionError`], for the faces' exit codes and exception classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Bad input (plan, journal): nothing was changed.
    Input,
    /// A check refused to proceed: nothing was changed.
    Refused,
    /// Another run holds the lock.
    Locked,
    /// A step failed.
    Failed,
    /// Interrupted.
    Cancelled,
}

impl ExpansionError {
    /// The step that failed, when a step failed.
    pub fn step(&self) -> Option<StepId> {
        match self {
            Self::Step { step, .. } | Self::Cancelled { step, .. } => Some(*step),
            _ => None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Plan(_) | Self::Journal(_) => ErrorKind::Input,
            Self::Refused { .. } => ErrorKind::Refused,
            Self::Locked(_) => ErrorKind::Locked,
            Self::Step { .. } => ErrorKind::Failed,
            Self::Cancelled { .. } => ErrorKind::Cancelled,
        }
    }

    /// The findings, when preflight refused.
    pub fn findings(&self) -> &[Finding] {
        match self {
            Self::Refused { findings } => findings,
            _ => &[],
        }
    }
}

fn resume_hint(journal: Option<&std::path::Path>) -> String {
    match journal {
        Some(j) => format!(
            "The journal {} records where the run stopped: fix the cause, then run the same command again to continue.",
            j.display()
        ),
        None => "Nothing was changed or recorded by this read-only run: fix the cause and run it again.".to_owned(),
    }
}
