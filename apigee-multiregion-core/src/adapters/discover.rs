//! Reading seeds from a live cluster: its Cassandra pods and the ring a Ready pod reports, then
//! [`crate::seeds::select_seeds`]. Used by the `seeds` command and the Python package.

use std::sync::Arc;

use super::NodetoolOverExec;
use crate::ports::{AdminError, CassandraAdmin, ClusterError, ClusterOps, JmxCredentials};
use crate::seeds::{SeedError, SeedPolicy, SeedSelection, select_seeds};

/// Why no seed could be chosen on a live cluster.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The pods could not be listed.
    #[error(transparent)]
    Pods(ClusterError),
    /// The ring could not be read from a Ready pod (JMX credentials, JMX unreachable, ...).
    #[error("cannot read the ring: {0}")]
    Ring(AdminError),
    /// No pod is eligible.
    #[error(transparent)]
    Select(SeedError),
}

/// Where the Cassandra pods are.
#[derive(Debug, Clone)]
pub struct PodsAt {
    /// Namespace.
    pub namespace: String,
    /// Label selector.
    pub selector: String,
    /// Cassandra's container name.
    pub container: String,
}

impl Default for PodsAt {
    fn default() -> Self {
        Self {
            namespace: "apigee".into(),
            selector: "app=apigee-cassandra".into(),
            container: "apigee-cassandra".into(),
        }
    }
}

/// Seed selection on a live cluster. The ring is read from the first Ready pod; without a Ready
/// pod no pod is eligible anyway, and the error names every pod and why.
pub async fn seeds_from_cluster(
    cluster: Arc<dyn ClusterOps>,
    at: &PodsAt,
    credentials: JmxCredentials,
    policy: &SeedPolicy,
) -> Result<SeedSelection, DiscoverError> {
    let pods = cluster.list_cassandra_pods(&at.namespace, &at.selector).await.map_err(DiscoverError::Pods)?;
    let ring = match pods.iter().find(|p| p.ready) {
        Some(p) => Some(
            NodetoolOverExec::new(cluster.clone(), &at.namespace, &p.name, Some(&at.container), credentials)
                .status()
                .await
                .map_err(DiscoverError::Ring)?,
        ),
        None => None,
    };
    select_seeds(&pods, ring.as_ref(), policy).map_err(DiscoverError::Select)
}
