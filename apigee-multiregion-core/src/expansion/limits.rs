//! The bound on concurrent `nodetool` execs per cluster (`limits.exec_per_cluster`), enforced
//! here and only here: every run (expansion, decommission, `verify`) reaches nodetool through
//! [`bounded`]'s [`AdminFactory`], which makes each call take a permit of its cluster's semaphore
//! for as long as the call lasts. Steps fan out freely (reads in parallel across nodes and both
//! sides); the fan-out waits here.
//!
//! Outside the bound: `rebuild` and `removenode`, which last as long as their streaming (hours):
//! `rebuild.concurrency` bounds the rebuilds and removals run one at a time. Holding a permit for
//! them would starve the progress reads, and with every permit held by rebuilds the netstats read
//! of a running rebuild would wait for a permit its own rebuild holds. `log` is not an exec.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::nodetool::{
    DescribeCluster, DescribeRing, NetStats, RemovalStatus, StatusReport, StreamLimit, TableStats, Throughput,
};
use crate::ports::{AdminError, CassandraAdmin};

use super::{AdminFactory, Deps, Region};

/// `deps` with every nodetool exec bounded to `per_cluster` at once in each cluster.
pub(crate) fn bounded(deps: &Deps, per_cluster: usize) -> Deps {
    let n = per_cluster.clamp(1, Semaphore::MAX_PERMITS);
    Deps {
        admins: Arc::new(Bounded {
            inner: deps.admins.clone(),
            permits: [Arc::new(Semaphore::new(n)), Arc::new(Semaphore::new(n))],
        }),
        others: deps
            .others
            .iter()
            .map(|o| super::OtherCluster {
                admins: Arc::new(Bounded {
                    inner: o.admins.clone(),
                    permits: [Arc::new(Semaphore::new(n)), Arc::new(Semaphore::new(n))],
                }),
                ..o.clone()
            })
            .collect(),
        ..deps.clone()
    }
}

struct Bounded {
    inner: Arc<dyn AdminFactory>,
    /// Source, target.
    permits: [Arc<Semaphore>; 2],
}

impl AdminFactory for Bounded {
    fn admin(&self, region: Region, pod: &str) -> Arc<dyn CassandraAdmin> {
        let permits = self.permits[usize::from(region == Region::Target)].clone();
        Arc::new(BoundedAdmin { inner: self.inner.admin(region, pod), permits })
    }
}

struct BoundedAdmin {
    inner: Arc<dyn CassandraAdmin>,
    permits: Arc<Semaphore>,
}

impl BoundedAdmin {
    /// A permit of this cluster, held until dropped. The semaphore is never closed; if it were,
    /// the call would go ahead unbounded rather than fail.
    async fn permit(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.acquire().await.ok()
    }
}

#[async_trait]
impl CassandraAdmin for BoundedAdmin {
    fn pod(&self) -> &str {
        self.inner.pod()
    }
    async fn status(&self) -> Result<StatusReport, AdminError> {
        let _p = self.permit().await;
        self.inner.status().await
    }
    async fn describecluster(&self) -> Result<DescribeCluster, AdminError> {
        let _p = self.permit().await;
        self.inner.describecluster().await
    }
    async fn describering(&self, keyspace: &str) -> Result<DescribeRing, AdminError> {
        let _p = self.permit().await;
        self.inner.describering(keyspace).await
    }
    async fn tablestats(&self) -> Result<TableStats, AdminError> {
        let _p = self.permit().await;
        self.inner.tablestats().await
    }
    async fn netstats(&self) -> Result<NetStats, AdminError> {
        let _p = self.permit().await;
        self.inner.netstats().await
    }
    async fn rebuild(&self, source_dc: &str) -> Result<(), AdminError> {
        // Hours long: bounded by `rebuild.concurrency` (module header).
        self.inner.rebuild(source_dc).await
    }
    async fn flush(&self) -> Result<(), AdminError> {
        let _p = self.permit().await;
        self.inner.flush().await
    }
    async fn log(&self, tail_lines: Option<i64>) -> Result<String, AdminError> {
        // `kubectl logs`, not an exec.
        self.inner.log(tail_lines).await
    }
    async fn stream_throughput(&self, limit: StreamLimit) -> Result<Throughput, AdminError> {
        let _p = self.permit().await;
        self.inner.stream_throughput(limit).await
    }
    async fn set_stream_throughput(&self, limit: StreamLimit, value: Throughput) -> Result<(), AdminError> {
        let _p = self.permit().await;
        self.inner.set_stream_throughput(limit, value).await
    }
    async fn removenode(&self, host_id: &str) -> Result<(), AdminError> {
        // Blocks until the removal ends: removals run one at a time (module header).
        self.inner.removenode(host_id).await
    }
    async fn removenode_status(&self) -> Result<RemovalStatus, AdminError> {
        let _p = self.permit().await;
        self.inner.removenode_status().await
    }
    async fn assassinate(&self, address: &str) -> Result<(), AdminError> {
        let _p = self.permit().await;
        self.inner.assassinate(address).await
    }
}
