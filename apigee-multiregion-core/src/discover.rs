//! Reading seeds from a live cluster: its Cassandra pods and the ring a Ready pod reports, then
//! [`crate::seeds::select_seeds`]. Used by the `seeds` command and the Python package.

use std::sync::Arc;

use crate::adapters::NodetoolOverExec;
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
        Self { namespace: "apigee".into(), selector: "app=apigee-cassandra".into(), container: "apigee-cassandra".into() }
    }
}

/// Seed selection on a live cluster. Without a Ready pod to read the ring from, pods are judged
/// on their Kubernetes state alone and `ring_error` says why.
pub async fn seeds_from_cluster(cluster: Arc<dyn ClusterOps>, at: &PodsAt, credentials: JmxCredentials, policy: &SeedPolicy) -> Result<(SeedSelection, Option<String>), String> {
    let pods = cluster.list_cassandra_pods(&at.namespace, &at.selector).await.map_err(|e| e.to_string())?;
    let mut ring_error = None;
    let ring = match pods.iter().find(|p| p.ready) {
        Some(p) => match NodetoolOverExec::new(cluster.clone(), &at.namespace, &p.name, Some(&at.container), credentials).status().await {
            Ok(r) => Some(r),
            Err(e) => {
                ring_error = Some(e.to_string());
                None
            }
        },
        None => None,
    };
    if ring.is_none() && ring_error.is_some() {
        return Err(format!("cannot read the ring: {}", ring_error.unwrap_or_default()));
    }
    select_seeds(&pods, ring.as_ref(), policy).map(|s| (s, ring_error)).map_err(|e| e.to_string())
}
