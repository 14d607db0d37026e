//! `CassandraAdmin`: nodetool operations on one Cassandra node.

use std::fmt;

use async_trait::async_trait;

use crate::model::Secret;
use crate::nodetool::{
    DescribeCluster, DescribeRing, NetStats, ParseError, RemovalStatus, StatusReport, StreamLimit, TableStats,
    Throughput,
};

use super::ClusterError;

/// JMX credentials for nodetool. The password never prints (`Debug`/`Display` redact it).
#[derive(Clone, PartialEq, Eq)]
pub enum JmxCredentials {
    /// Use these.
    Given {
        /// JMX user.
        username: String,
        /// JMX password.
        password: Secret,
    },
    /// Use the pod's own `APIGEE_JMX_USER` / `APIGEE_JMX_PASSWORD` environment variables (Apigee
    /// sets them in its Cassandra containers): the password never leaves the cluster.
    PodEnvironment,
    /// JMX without authentication.
    None,
}

impl fmt::Debug for JmxCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Given { username, .. } => {
                write!(f, "JmxCredentials::Given {{ username: {username:?}, password: <redacted> }}")
            }
            Self::PodEnvironment => f.write_str("JmxCredentials::PodEnvironment"),
            Self::None => f.write_str("JmxCredentials::None"),
        }
    }
}

/// A nodetool operation failed, by cause. Messages never hold the password.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    /// JMX refused the user or password.
    #[error(
        "pod {pod}: JMX authentication failed: the JMX user or password is wrong for this node; check the source the plan's `jmx.from` names (the overrides' cassandra.auth.jmx, the environment variables, or the pod's APIGEE_JMX_*), or `seeds --jmx-user/--jmx-password-env`"
    )]
    JmxAuthentication {
        /// The pod.
        pod: String,
    },
    /// nodetool could not connect to JMX.
    #[error("pod {pod}: cannot connect to Cassandra's JMX: {message}")]
    JmxUnreachable {
        /// The pod.
        pod: String,
        /// What nodetool said.
        message: String,
    },
    /// The rebuild source is not a datacenter of the ring.
    #[error("pod {pod}: `{source_dc}` is not a datacenter this node can stream from: {message}")]
    InvalidSourceDatacenter {
        /// The pod.
        pod: String,
        /// The requested source.
        source_dc: String,
        /// What Cassandra said.
        message: String,
    },
    /// A replica of some range in the source datacenter is down ("Unable to find sufficient
    /// sources"): transient, retried after a backoff.
    #[error(
        "pod {pod}: a source replica is down, so some ranges have no source to stream from: {message}. Bring every source node up (nodetool status), the rebuild is retried"
    )]
    InsufficientSources {
        /// The pod.
        pod: String,
        /// What Cassandra said.
        message: String,
    },
    /// A rebuild is already running on the node ("Node is still rebuilding"): running, not failed.
    #[error("pod {pod}: a rebuild is already running on this node")]
    RebuildAlreadyRunning {
        /// The pod.
        pod: String,
    },
    /// Streaming failed.
    #[error("pod {pod}: rebuild streaming failed: {reason}")]
    StreamFailed {
        /// The pod.
        pod: String,
        /// What Cassandra said.
        reason: String,
    },
    /// nodetool printed something the parser does not recognise.
    #[error("pod {pod}: {source}")]
    Parse {
        /// The pod.
        pod: String,
        /// The parse error.
        #[source]
        source: ParseError,
    },
    /// The exec itself failed.
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    /// Any other failure.
    #[error("pod {pod}: nodetool {command} failed: {message}")]
    Other {
        /// The pod.
        pod: String,
        /// The nodetool command.
        command: String,
        /// What it said.
        message: String,
    },
}

/// nodetool on one Cassandra node.
#[async_trait]
pub trait CassandraAdmin: Send + Sync {
    /// The pod this admin talks to.
    fn pod(&self) -> &str;
    /// `nodetool status`.
    async fn status(&self) -> Result<StatusReport, AdminError>;
    /// `nodetool describecluster`.
    async fn describecluster(&self) -> Result<DescribeCluster, AdminError>;
    /// `nodetool describering <keyspace>`: each token range with its replicas' datacenters
    /// (how replication is read on Cassandra 3.11, whose describecluster lists no keyspaces).
    async fn describering(&self, keyspace: &str) -> Result<DescribeRing, AdminError>;
    /// `nodetool tablestats`: the keyspace list on every Cassandra line.
    async fn tablestats(&self) -> Result<TableStats, AdminError>;
    /// `nodetool netstats`.
    async fn netstats(&self) -> Result<NetStats, AdminError>;
    /// `nodetool rebuild -- <source_dc>`; returns when the rebuild finished (minutes to hours).
    async fn rebuild(&self, source_dc: &str) -> Result<(), AdminError>;
    /// `nodetool flush`: writes every memtable to SSTables. Streaming sends SSTables only, so a
    /// source node is flushed before a rebuild, or its most recent writes are not streamed.
    async fn flush(&self) -> Result<(), AdminError>;
    /// The node's log, last `tail_lines` lines.
    async fn log(&self, tail_lines: Option<i64>) -> Result<String, AdminError>;
    /// `nodetool getinterdcstreamthroughput` or `getstreamthroughput`, in the unit it can be set
    /// back in (`-m` on 4.1+ when the value is not a whole number of megabits).
    async fn stream_throughput(&self, limit: StreamLimit) -> Result<Throughput, AdminError>;
    /// `nodetool setinterdcstreamthroughput` or `setstreamthroughput` (`-m` for mebibytes).
    async fn set_stream_throughput(&self, limit: StreamLimit, value: Throughput) -> Result<(), AdminError>;
    /// `nodetool removenode <host-id>`, run on a live node: the dead node's ranges are streamed to
    /// their new replicas. Returns when the removal finished (it goes on in Cassandra when the
    /// client is gone; this node then reports it in [`CassandraAdmin::removenode_status`]).
    async fn removenode(&self, host_id: &str) -> Result<(), AdminError>;
    /// `nodetool removenode status`: the removal this node coordinates, if any.
    async fn removenode_status(&self) -> Result<RemovalStatus, AdminError>;
    /// `nodetool assassinate <address>`: drops a node from gossip WITHOUT streaming its data
    /// (last resort, only with `--force`).
    async fn assassinate(&self, address: &str) -> Result<(), AdminError>;
}
