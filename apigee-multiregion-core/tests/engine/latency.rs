//! Latency and metering around the fakes: every cluster call and every nodetool call sleeps a
//! given time (a `kubectl exec` with a JVM start, an API request), and each cluster's nodetool
//! execs are counted, with how many ran at once. Used by the engine tests (the exec bound) and
//! by `benches/expansion.rs` (the engine's overhead).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apigee_multiregion_core::expansion::{AdminFactory, Deps, Region};
use apigee_multiregion_core::model::CassandraPod;
use apigee_multiregion_core::nodetool::{
    DescribeCluster, DescribeRing, NetStats, RemovalStatus, StatusReport, StreamLimit, TableStats, Throughput,
};
use apigee_multiregion_core::ports::{
    AccessCheck, AdminError, CassandraAdmin, ClusterError, ClusterOps, CustomResource, ExecArg, ExecOutput, LeaseMode,
    LeaseRecord, NodeFacts, ProbePodSpec, SanitizedObject,
};
use async_trait::async_trait;

/// One cluster's nodetool execs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExecCount {
    /// Every exec (each nodetool call but `log`, which is `kubectl logs`).
    pub total: usize,
    /// The most short execs (all but `rebuild` and `removenode`) running at once.
    pub max_short: usize,
    /// The most long execs (`rebuild`, `removenode`) running at once.
    pub max_long: usize,
    short_now: usize,
    long_now: usize,
}

/// Source and target.
#[derive(Debug, Default)]
pub struct Meter(Mutex<[ExecCount; 2]>);

impl Meter {
    /// The counts of a region.
    pub fn of(&self, region: Region) -> ExecCount {
        self.0.lock().unwrap()[usize::from(region == Region::Target)]
    }

    fn enter(&self, region: Region, long: bool) {
        let mut m = self.0.lock().unwrap();
        let c = &mut m[usize::from(region == Region::Target)];
        c.total += 1;
        if long {
            c.long_now += 1;
            c.max_long = c.max_long.max(c.long_now);
        } else {
            c.short_now += 1;
            c.max_short = c.max_short.max(c.short_now);
        }
    }

    fn leave(&self, region: Region, long: bool) {
        let mut m = self.0.lock().unwrap();
        let c = &mut m[usize::from(region == Region::Target)];
        if long {
            c.long_now -= 1;
        } else {
            c.short_now -= 1;
        }
    }
}

/// Counts an exec while it runs (also when its future is dropped).
struct InFlight<'a> {
    meter: &'a Meter,
    region: Region,
    long: bool,
}

impl<'a> InFlight<'a> {
    fn new(meter: &'a Meter, region: Region, long: bool) -> Self {
        meter.enter(region, long);
        Self { meter, region, long }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.meter.leave(self.region, self.long);
    }
}

/// `deps` with `latency` added to every cluster call and nodetool call, nodetool execs counted
/// in `meter`. The installer is left as it is.
pub fn slow(deps: Deps, latency: Duration, meter: Arc<Meter>) -> Deps {
    Deps {
        source: Arc::new(SlowCluster { inner: deps.source, latency }),
        target: Arc::new(SlowCluster { inner: deps.target, latency }),
        admins: Arc::new(MeteredAdmins { inner: deps.admins, latency, meter }),
        ..deps
    }
}

struct MeteredAdmins {
    inner: Arc<dyn AdminFactory>,
    latency: Duration,
    meter: Arc<Meter>,
}

impl AdminFactory for MeteredAdmins {
    fn admin(&self, region: Region, pod: &str) -> Arc<dyn CassandraAdmin> {
        Arc::new(MeteredAdmin {
            inner: self.inner.admin(region, pod),
            region,
            latency: self.latency,
            meter: self.meter.clone(),
        })
    }
}

struct MeteredAdmin {
    inner: Arc<dyn CassandraAdmin>,
    region: Region,
    latency: Duration,
    meter: Arc<Meter>,
}

impl MeteredAdmin {
    /// A short exec: counted while it runs, `latency` long plus the fake's own time.
    async fn exec<T>(&self, call: impl Future<Output = T>) -> T {
        let _in = InFlight::new(&self.meter, self.region, false);
        tokio::time::sleep(self.latency).await;
        call.await
    }

    async fn long<T>(&self, call: impl Future<Output = T>) -> T {
        let _in = InFlight::new(&self.meter, self.region, true);
        tokio::time::sleep(self.latency).await;
        call.await
    }
}

#[async_trait]
impl CassandraAdmin for MeteredAdmin {
    fn pod(&self) -> &str {
        self.inner.pod()
    }
    async fn status(&self) -> Result<StatusReport, AdminError> {
        self.exec(self.inner.status()).await
    }
    async fn describecluster(&self) -> Result<DescribeCluster, AdminError> {
        self.exec(self.inner.describecluster()).await
    }
    async fn describering(&self, keyspace: &str) -> Result<DescribeRing, AdminError> {
        self.exec(self.inner.describering(keyspace)).await
    }
    async fn tablestats(&self) -> Result<TableStats, AdminError> {
        self.exec(self.inner.tablestats()).await
    }
    async fn netstats(&self) -> Result<NetStats, AdminError> {
        self.exec(self.inner.netstats()).await
    }
    async fn rebuild(&self, source_dc: &str) -> Result<(), AdminError> {
        self.long(self.inner.rebuild(source_dc)).await
    }
    async fn flush(&self) -> Result<(), AdminError> {
        self.exec(self.inner.flush()).await
    }
    async fn log(&self, tail_lines: Option<i64>) -> Result<String, AdminError> {
        // `kubectl logs`: a cluster call, not an exec.
        tokio::time::sleep(self.latency).await;
        self.inner.log(tail_lines).await
    }
    async fn stream_throughput(&self, limit: StreamLimit) -> Result<Throughput, AdminError> {
        self.exec(self.inner.stream_throughput(limit)).await
    }
    async fn set_stream_throughput(&self, limit: StreamLimit, value: Throughput) -> Result<(), AdminError> {
        self.exec(self.inner.set_stream_throughput(limit, value)).await
    }
    async fn removenode(&self, host_id: &str) -> Result<(), AdminError> {
        self.long(self.inner.removenode(host_id)).await
    }
    async fn removenode_status(&self) -> Result<RemovalStatus, AdminError> {
        self.exec(self.inner.removenode_status()).await
    }
    async fn assassinate(&self, address: &str) -> Result<(), AdminError> {
        self.exec(self.inner.assassinate(address)).await
    }
}

/// A cluster whose every call takes `latency` more.
struct SlowCluster {
    inner: Arc<dyn ClusterOps>,
    latency: Duration,
}

impl SlowCluster {
    async fn wait(&self) {
        tokio::time::sleep(self.latency).await;
    }
}

#[async_trait]
impl ClusterOps for SlowCluster {
    fn context(&self) -> &str {
        self.inner.context()
    }
    async fn list_cassandra_pods(&self, ns: &str, sel: &str) -> Result<Vec<CassandraPod>, ClusterError> {
        self.wait().await;
        self.inner.list_cassandra_pods(ns, sel).await
    }
    async fn node_facts(&self) -> Result<Vec<NodeFacts>, ClusterError> {
        self.wait().await;
        self.inner.node_facts().await
    }
    async fn export_namespace(&self, name: &str) -> Result<Option<SanitizedObject>, ClusterError> {
        self.wait().await;
        self.inner.export_namespace(name).await
    }
    async fn export_secret(&self, ns: &str, name: &str) -> Result<Option<SanitizedObject>, ClusterError> {
        self.wait().await;
        self.inner.export_secret(ns, name).await
    }
    async fn apply(&self, o: &SanitizedObject) -> Result<(), ClusterError> {
        self.wait().await;
        self.inner.apply(o).await
    }
    async fn exec(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        command: &[ExecArg],
        timeout: Duration,
    ) -> Result<ExecOutput, ClusterError> {
        self.wait().await;
        self.inner.exec(ns, pod, container, command, timeout).await
    }
    async fn logs(
        &self,
        ns: &str,
        pod: &str,
        container: Option<&str>,
        tail: Option<i64>,
    ) -> Result<String, ClusterError> {
        self.wait().await;
        self.inner.logs(ns, pod, container, tail).await
    }
    async fn wait_pods_ready(
        &self,
        ns: &str,
        sel: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<CassandraPod>, ClusterError> {
        self.wait().await;
        self.inner.wait_pods_ready(ns, sel, count, timeout).await
    }
    async fn access_allowed(&self, check: &AccessCheck) -> Result<bool, ClusterError> {
        self.wait().await;
        self.inner.access_allowed(check).await
    }
    async fn acquire_lease(
        &self,
        ns: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
        mode: LeaseMode<'_>,
    ) -> Result<(), ClusterError> {
        self.wait().await;
        self.inner.acquire_lease(ns, name, holder, ttl, mode).await
    }
    async fn release_lease(&self, ns: &str, name: &str, holder: &str) -> Result<(), ClusterError> {
        self.wait().await;
        self.inner.release_lease(ns, name, holder).await
    }
    async fn lease(&self, ns: &str, name: &str) -> Result<Option<LeaseRecord>, ClusterError> {
        self.wait().await;
        self.inner.lease(ns, name).await
    }
    async fn start_probe_pod(&self, spec: &ProbePodSpec, timeout: Duration) -> Result<String, ClusterError> {
        self.wait().await;
        self.inner.start_probe_pod(spec, timeout).await
    }
    async fn delete_pod(&self, ns: &str, name: &str) -> Result<(), ClusterError> {
        self.wait().await;
        self.inner.delete_pod(ns, name).await
    }
    async fn apply_custom(&self, r: &CustomResource, ns: &str, body: &serde_json::Value) -> Result<(), ClusterError> {
        self.wait().await;
        self.inner.apply_custom(r, ns, body).await
    }
    async fn list_custom(&self, r: &CustomResource, ns: &str) -> Result<Vec<String>, ClusterError> {
        self.wait().await;
        self.inner.list_custom(r, ns).await
    }
    async fn get_custom(
        &self,
        r: &CustomResource,
        ns: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, ClusterError> {
        self.wait().await;
        self.inner.get_custom(r, ns, name).await
    }
}
