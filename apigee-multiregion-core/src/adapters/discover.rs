//! Reading seeds from a live cluster: its Cassandra pods and the ring a Ready pod reports, then
//! [`crate::seeds::select_seeds`]. Used by the `seeds` command and the Python package.

use std::sync::Arc;

use super::NodetoolOverExec;
use crate::ports::{CassandraAdmin, ClusterOps, JmxCredentials};
use crate::seeds::{SeedPolicy, SeedSelection, select_seeds};

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
) -> Result<SeedSelection, String> {
    let pods = cluster.list_cassandra_pods(&at.namespace, &at.selector).await.map_err(|e| e.to_string())?;
    let ring = match pods.iter().find(|p| p.ready) {
        Some(p) => Some(
            NodetoolOverExec::new(cluster.clone(), &at.namespace, &p.name, Some(&at.container), credentials)
                .status()
                .await
                .map_err(|e| format!("cannot read the ring: {e}"))?,
        ),
        None => None,
    };
    select_seeds(&pods, ring.as_ref(), policy).map_err(|e| e.to_string())
}
