//! An in-memory world for the engine: two clusters, a ring, keyspaces, CA secrets, an installer
//! that reads the target overrides like the real one, and nodetool that can be told to fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apigee_multiregion_core::expansion::{AdminFactory, Deps, OtherCluster, Region};
use apigee_multiregion_core::model::{CassandraPod, PodPhase, SecretBytes};
use apigee_multiregion_core::nodetool::{
    DescribeCluster, DescribeRing, NetStats, RemovalStatus, StatusReport, StreamLimit, TableStats, Throughput,
    parse_describecluster, parse_describering, parse_netstats, parse_removal_status, parse_status, parse_tablestats,
};
use apigee_multiregion_core::overrides::OverridesDoc;
use apigee_multiregion_core::ports::{
    AccessCheck, AdminError, CassandraAdmin, ClusterError, ClusterOps, CustomResource, ExecArg, ExecOutput,
    HybridInstaller, InstallerError, LeaseMode, LeaseRecord, NodeFacts, Operation, ProbePodSpec, SanitizedObject,
};
use apigee_multiregion_core::probe::PROBE_POD;
use async_trait::async_trait;

#[derive(Debug, Clone)]
pub struct RingNode {
    pub dc: String,
    pub address: String,
    pub code: &'static str,
    pub load_kib: u64,
    /// A new host ID every time a node joins (a wiped node comes back with a new one).
    pub host_id: u32,
}

/// How a target node's `nodetool rebuild` behaves.
#[derive(Debug, Clone)]
pub enum Script {
    Succeed,
    /// Fails this many times with a stream failure, then succeeds.
    FailTimes(u32),
    /// Answers "still rebuilding" while a rebuild runs for `polls` netstats reads, then completes.
    AlreadyRunning(u32),
    /// The exec stream is cut (a load balancer idling it out) while the rebuild goes on for
    /// `polls` netstats reads, then completes.
    CutStream(u32),
    /// The exec stream is cut and never returns (a load balancer dropped the flow without a
    /// reset) while the rebuild goes on for this many netstats polls, then completes.
    HangingStream(u32),
    /// "Unable to find sufficient sources" this many times, then succeeds.
    InsufficientSources(u32),
}

#[derive(Debug, Default)]
pub struct World {
    /// Reads that `calls` (what changed the world) leaves out: `status <s|t>/<pod>`, `netstats <pod>`.
    pub reads: Vec<String>,
    /// Addresses another region's nodes see down (`FakeAdmin::other`).
    pub down_from_other: Vec<String>,
    pub source_pods: Vec<CassandraPod>,
    pub target_pods: Vec<CassandraPod>,
    pub ring: Vec<RingNode>,
    pub keyspaces: BTreeMap<String, BTreeMap<String, u32>>,
    pub simple_strategy: BTreeSet<String>,
    pub namespaces: [BTreeSet<String>; 2],
    pub secrets: [BTreeMap<String, SanitizedObject>; 2],
    pub leases: BTreeMap<String, LeaseRecord>,
    /// Another run, alive, that renews its Lease at this period (on a clock far behind ours).
    pub lease_renewer: Option<Renewer>,
    /// When another holder's Lease was refused to a run, and when a run took one over.
    pub lease_log: Vec<(std::time::Instant, &'static str)>,
    /// Lease versions written so far.
    pub lease_versions: u64,
    pub logs: BTreeMap<String, String>,
    pub scripts: BTreeMap<String, Script>,
    pub running_rebuild: BTreeMap<String, u32>,
    pub calls: Vec<String>,
    pub schema_setup: bool,
    pub join_as: Option<String>,
    pub concurrent: usize,
    pub max_concurrent: usize,
    pub plan_counter: u32,
    /// A CassandraDataReplication was applied and not yet processed by the fake operator.
    pub cdr_pending: bool,
    /// The fake operator's ApigeeDatastore status.
    pub cdr_status: serde_json::Value,
    /// Reports `complete` at the top level while a pod is not (a lying operator).
    pub cdr_lies: bool,
    /// Cassandra 3.11: `describecluster` lists no keyspaces (replication is read from
    /// `tablestats` and `describering`).
    pub cassandra_311: bool,
    /// Host IDs handed out to joining nodes so far.
    pub host_counter: u32,
    /// Target pod listings left before the rolling restart that a datastore apply started
    /// restarts every target pod (`None`: no restart pending).
    pub rollout_left: Option<u32>,
    /// The operator never restarts the pods after a datastore apply.
    pub no_rollout: bool,
    /// Lease renewals fail after this many successful takes.
    pub lease_fails_after: Option<u32>,
    /// Lease renewals fail once a stream throttle has been set (the lock is lost during the
    /// rebuild, after the throttle, however slow the machine).
    pub lease_fails_once_throttled: bool,
    /// Lease takes so far.
    pub lease_takes: u32,
    /// `nodetool netstats` through exec is refused (HTTP 403).
    pub netstats_forbidden: bool,
    /// `metadata.generation` of the fake ApigeeDatastore.
    pub datastore_generation: i64,
    /// Target datastore reads left before the operator has started Cassandra after an install
    /// (as with Helm, whose `--wait` returns first): until then the datastore is `releasing`
    /// and the new pods are not Ready. `u32::MAX`: never.
    pub releasing_reads: u32,
    /// Each cluster's ApigeeOrganizations (name -> status.state); the installer's `apply`
    /// creates the source's in the target, `releasing` for `org_releasing_reads` reads.
    pub organizations: [BTreeMap<String, String>; 2],
    /// Target organization reads left before the operator reports it `running`.
    pub org_releasing_reads: u32,
    /// The namespace each cluster runs the Apigee operator's Deployment in.
    pub operator_at: [Option<String>; 2],
    /// The surviving region's datastore re-apply fails this many more times.
    pub surviving_apply_fails: u32,
    /// Permissions this identity lacks: `"<cluster index> <AccessCheck as displayed>"`.
    pub denied: BTreeSet<String>,
    /// Every permission asked, in the same form.
    pub access_asked: Vec<String>,
    /// A running `removenode`: (host ID number, coordinating pod, status reads left until done).
    pub removing: Option<(u32, String, u32)>,
    /// How many polls a removal takes.
    pub removenode_polls: u32,
    /// The operator takes region-2's datacenter out of the ring when its datastore is deleted.
    pub graceful_removal: bool,
    /// Region-2's ApigeeDatastore was deleted.
    pub datastore_gone: bool,
    /// Each node's stream throttles (`s/<pod>` or `t/<pod>` -> inter-DC, total); a node not
    /// listed has Cassandra's defaults, 200 Mb/s each.
    pub throughput: BTreeMap<String, (Throughput, Throughput)>,
    /// Setting a throttle on these nodes fails (`s/<pod>`, `t/<pod>`).
    pub throughput_set_fails: BTreeSet<String>,
    /// Probe pods that exist in the target (`namespace/name` -> the spec they were created with).
    pub probe_pods: BTreeMap<String, ProbePodSpec>,
    /// What happened to probe pods, in order: `create ns/name on node`, `delete ns/name`, `exec ns/name`.
    pub probe_log: Vec<String>,
    /// `host:port` that refuse connections from the target's nodes.
    pub closed_ports: BTreeSet<String>,
    /// The target node's own hostname does not resolve.
    pub hostname_unresolved: bool,
    /// The exec into the probe pod fails (the API server drops the stream).
    pub probe_exec_fails: bool,
    /// The probe pod never becomes Ready (an image that cannot be pulled).
    pub probe_never_ready: bool,
    /// Every probe pod created, as it was asked for.
    pub probe_created: Vec<ProbePodSpec>,
}

impl World {
    /// A node's (inter-DC, total) stream throttles.
    pub fn throttles(&self, key: &str) -> (Throughput, Throughput) {
        self.throughput.get(key).copied().unwrap_or((Throughput::Megabits(200), Throughput::Megabits(200)))
    }
}

impl World {
    /// Another datacenter's nodes in the ring, all `UN`, host IDs from `first_host_id`.
    pub fn add_datacenter(&mut self, dc: &str, addresses: &[&str], load_kib: u64, first_host_id: u32) {
        for (i, address) in addresses.iter().enumerate() {
            self.ring.push(RingNode {
                dc: dc.into(),
                address: (*address).into(),
                code: "UN",
                load_kib,
                host_id: first_host_id + i as u32,
            });
        }
    }

    /// The removal of `host` completes: the node leaves the ring.
    fn complete_removal(&mut self, host: u32) {
        self.ring.retain(|n| n.host_id != host);
        self.removing = None;
    }

    /// The operator's setup job: every keyspace replicates only to datacenters that have nodes.
    pub fn setup_job(&mut self) {
        let dcs: BTreeSet<String> = self.ring.iter().map(|n| n.dc.clone()).collect();
        for r in self.keyspaces.values_mut() {
            r.retain(|dc, _| dcs.contains(dc));
        }
    }
}

/// Another run that holds a Lease and renews it.
#[derive(Debug)]
pub struct Renewer {
    pub name: String,
    pub every: Duration,
    pub started: std::time::Instant,
}

/// A Lease held by `holder`, renewed (by its clock) in 2001.
pub fn others_lease(holder: &str, duration: Duration) -> LeaseRecord {
    LeaseRecord {
        holder: holder.into(),
        renew_time: Some("2001-01-01T00:00:00.000000Z".into()),
        duration,
        resource_version: "other-0".into(),
    }
}

impl World {
    /// The other run's renewals that happened by now.
    fn tick_renewer(&mut self) {
        let Some(r) = &self.lease_renewer else { return };
        let n = r.started.elapsed().as_millis() / r.every.as_millis().max(1);
        if let Some(l) = self.leases.get_mut(&r.name)
            && l.resource_version.starts_with("other-")
        {
            l.resource_version = format!("other-{n}");
            l.renew_time = Some(format!("2001-01-01T00:00:{:02}.000000Z", n % 60));
        }
    }

    /// Every target pod's container restarts: a new incarnation and an empty log (kubelet).
    pub fn restart_target_pods(&mut self) {
        for p in &mut self.target_pods {
            let n = p.incarnation.as_deref().and_then(|i| i.rsplit('/').next()?.parse::<u32>().ok()).unwrap_or(0) + 1;
            p.incarnation = Some(format!("{}/{n}", p.name));
            self.logs.insert(format!("t/{}", p.name), "INFO Starting listening for CQL clients\n".into());
        }
    }
}

pub type Shared = Arc<Mutex<World>>;

impl World {
    /// One rebuild of a target pod: log lines, load, and the pod's script.
    pub fn rebuild_pod(&mut self, pod: &str, source_dc: &str) -> Result<(), String> {
        self.plan_counter += 1;
        let id = format!("00000000-0000-0000-0000-{:012}", self.plan_counter);
        let key = format!("t/{pod}");
        let log = self.logs.entry(key.clone()).or_default();
        log.push_str(&format!("INFO rebuild from dc: {source_dc}, (All keyspaces), (All tokens)\nINFO [Stream #{id}] Executing streaming plan for Rebuild\n"));
        if let Some(Script::FailTimes(n)) = self.scripts.get(pod).cloned()
            && n > 0
        {
            self.scripts.insert(pod.into(), Script::FailTimes(n - 1));
            self.logs.entry(key).or_default().push_str(&format!(
                "WARN [Stream #{id}] Stream failed\nERROR Error while rebuilding node: Stream failed\n"
            ));
            return Err("Stream failed".into());
        }
        self.logs.entry(key).or_default().push_str(&format!(
            "INFO [Stream #{id}] Session with /10.1.0.1:7000 is complete\nINFO [Stream #{id}] All sessions completed\n"
        ));
        let address = self.target_pods.iter().find(|p| p.name == pod).and_then(|p| p.pod_ip).map(|a| a.to_string());
        if let Some(n) = self.ring.iter_mut().find(|r| Some(&r.address) == address.as_ref()) {
            n.load_kib = 900;
        }
        Ok(())
    }
}

/// A Ready Cassandra pod `apigee-cassandra-default-<i>` on the host network at `ip`.
pub fn pod(i: u32, ip: &str) -> CassandraPod {
    CassandraPod {
        name: format!("apigee-cassandra-default-{i}"),
        ordinal: Some(i),
        pod_ip: ip.parse().ok(),
        host_ip: ip.parse().ok(),
        node_name: Some(format!("node-{ip}")),
        phase: PodPhase::Running,
        ready: true,
        host_network: true,
        rack: None,
        incarnation: None,
    }
}

fn ca(data: &str) -> SanitizedObject {
    SanitizedObject {
        api_version: "v1".into(),
        kind: "Secret".into(),
        name: "apigee-ca".into(),
        namespace: Some("cert-manager".into()),
        labels: Default::default(),
        annotations: Default::default(),
        secret_type: Some("kubernetes.io/tls".into()),
        data: [("tls.key".to_owned(), SecretBytes::new(data))].into(),
    }
}

/// A healthy region-1 (dc-1, two nodes, data) and an empty region-2.
pub fn healthy() -> Shared {
    let mut w = World { schema_setup: true, ..Default::default() };
    w.organizations[0].insert("org-4f2a".into(), "running".into());
    w.source_pods = vec![pod(0, "10.1.0.1"), pod(1, "10.1.0.2")];
    w.ring = vec![
        RingNode { dc: "dc-1".into(), address: "10.1.0.1".into(), code: "UN", load_kib: 1000, host_id: 1 },
        RingNode { dc: "dc-1".into(), address: "10.1.0.2".into(), code: "UN", load_kib: 1000, host_id: 2 },
    ];
    for ks in ["system_auth", "system_distributed", "system_traces", "kvm_org_hybrid", "perses"] {
        w.keyspaces.insert(ks.into(), [("dc-1".to_owned(), 2)].into());
    }
    w.namespaces[0].insert("apigee".into());
    w.namespaces[0].insert("cert-manager".into());
    w.namespaces[1].insert("cert-manager".into());
    w.secrets[0].insert("cert-manager/apigee-ca".into(), ca("-----BEGIN TEST PRIVATE KEY-----region1"));
    for p in &w.source_pods {
        w.logs.insert(format!("s/{}", p.name), "INFO Starting listening for CQL clients\n".into());
    }
    Arc::new(Mutex::new(w))
}

pub fn other_ca() -> SanitizedObject {
    ca("-----BEGIN TEST PRIVATE KEY-----another")
}

fn status_text(ring: &[RingNode]) -> String {
    let mut t = String::new();
    let mut dcs: Vec<&str> = ring.iter().map(|n| n.dc.as_str()).collect();
    dcs.dedup();
    for dc in dcs {
        t.push_str(&format!("Datacenter: {dc}\n=====\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address  Load  Tokens  Owns  Host ID  Rack\n"));
        for n in ring.iter().filter(|n| n.dc == dc) {
            t.push_str(&format!(
                "{}  {}  {} KiB  16  50%  00000000-0000-0000-0000-{:012}  ra-1\n",
                n.code, n.address, n.load_kib, n.host_id
            ));
        }
    }
    t
}

pub struct FakeCluster {
    pub world: Shared,
    pub index: usize,
}

#[async_trait]
impl ClusterOps for FakeCluster {
    fn context(&self) -> &str {
        if self.index == 0 { "region-1" } else { "region-2" }
    }
    async fn list_cassandra_pods(&self, _: &str, _: &str) -> Result<Vec<CassandraPod>, ClusterError> {
        let mut w = self.world.lock().unwrap();
        if self.index == 1 {
            match w.rollout_left {
                Some(0) => {
                    w.rollout_left = None;
                    w.restart_target_pods();
                }
                Some(n) => w.rollout_left = Some(n - 1),
                None => {}
            }
        }
        Ok(if self.index == 0 { w.source_pods.clone() } else { w.target_pods.clone() })
    }
    async fn access_allowed(&self, check: &AccessCheck) -> Result<bool, ClusterError> {
        let key = format!("{} {check}", self.index);
        let mut w = self.world.lock().unwrap();
        w.access_asked.push(key.clone());
        Ok(!w.denied.contains(&key))
    }
    async fn node_facts(&self) -> Result<Vec<NodeFacts>, ClusterError> {
        if self.world.lock().unwrap().denied.contains(&format!("{} list nodes (cluster-wide)", self.index)) {
            return Err(ClusterError::Forbidden { context: self.context().into(), message: "list nodes".into() });
        }
        let prefix = if self.index == 0 { "10.1.0." } else { "10.2.0." };
        Ok((1..=3)
            .map(|i| NodeFacts {
                name: format!("n{i}"),
                internal_ips: vec![format!("{prefix}{i}")],
                pod_cidrs: vec![],
                ready: true,
                unschedulable: false,
                labels: [("cloud.google.com/gke-nodepool".to_owned(), "apigee-data".to_owned())].into(),
            })
            .collect())
    }
    async fn export_namespace(&self, name: &str) -> Result<Option<SanitizedObject>, ClusterError> {
        let w = self.world.lock().unwrap();
        Ok(w.namespaces[self.index].contains(name).then(|| SanitizedObject {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            name: name.into(),
            namespace: None,
            labels: Default::default(),
            annotations: Default::default(),
            secret_type: None,
            data: Default::default(),
        }))
    }
    async fn export_secret(&self, ns: &str, name: &str) -> Result<Option<SanitizedObject>, ClusterError> {
        Ok(self.world.lock().unwrap().secrets[self.index].get(&format!("{ns}/{name}")).cloned())
    }
    async fn apply(&self, o: &SanitizedObject) -> Result<(), ClusterError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("apply {} {} in {}", o.kind, o.name, self.index));
        if o.kind == "Namespace" {
            w.namespaces[self.index].insert(o.name.clone());
        } else {
            let key = format!("{}/{}", o.namespace.clone().unwrap_or_default(), o.name);
            w.secrets[self.index].insert(key, o.clone());
        }
        Ok(())
    }
    async fn exec(
        &self,
        ns: &str,
        pod: &str,
        _: Option<&str>,
        command: &[ExecArg],
        _: Duration,
    ) -> Result<ExecOutput, ClusterError> {
        if pod != PROBE_POD {
            return Ok(ExecOutput::default());
        }
        // The probe's script, as the target's network answers it: `sh -c <script> probe <timeout> <host> <port>...`.
        let mut w = self.world.lock().unwrap();
        let key = format!("{ns}/{pod}");
        w.probe_log.push(format!("exec {key}"));
        let err = |message: &str| ClusterError::Exec {
            context: "region-2".into(),
            pod: key.clone(),
            message: message.into(),
        };
        let Some(spec) = w.probe_pods.get(&key).cloned() else { return Err(err("pod not found")) };
        if w.probe_exec_fails {
            return Err(err("error dialing backend: connection reset by peer"));
        }
        let args: Vec<&str> = command.iter().map(ExecArg::shown).collect();
        assert_eq!((&args[..2], args[3]), (&["sh", "-c"][..], "probe"), "{args:?}");
        let mut stdout = String::new();
        for pair in args[5..].chunks(2) {
            let (host, port) = (pair[0], pair[1]);
            if w.closed_ports.contains(&format!("{host}:{port}")) {
                stdout.push_str(&format!("tcp {host} {port} fail 1 bash: connect: Connection refused\n"));
            } else {
                stdout.push_str(&format!("tcp {host} {port} ok\n"));
            }
        }
        let hostname = spec.node_name;
        if w.hostname_unresolved {
            stdout.push_str(&format!("dns {hostname} fail does not resolve\n"));
        } else {
            stdout.push_str(&format!("dns {hostname} ok 10.2.0.1\n"));
        }
        Ok(ExecOutput { stdout, stderr: String::new(), success: true, message: None })
    }
    async fn start_probe_pod(&self, spec: &ProbePodSpec, timeout: Duration) -> Result<String, ClusterError> {
        assert_eq!(self.index, 1, "the probe runs in the target only");
        let mut w = self.world.lock().unwrap();
        let key = format!("{}/{}", spec.namespace, spec.name);
        if w.probe_pods.remove(&key).is_some() {
            w.probe_log.push(format!("delete leftover {key}"));
        }
        if !w.namespaces[1].contains(&spec.namespace) && spec.namespace != "default" {
            return Err(ClusterError::NotFound {
                context: "region-2".into(),
                kind: "Namespace",
                name: spec.namespace.clone(),
            });
        }
        w.probe_log.push(format!("create {key} on {}", spec.node_name));
        w.probe_pods.insert(key.clone(), spec.clone());
        w.probe_created.push(spec.clone());
        if w.probe_never_ready {
            return Err(ClusterError::Timeout {
                context: "region-2".into(),
                what: format!("the probe pod {key} to be Ready (ErrImagePull: {})", spec.image),
                seconds: timeout.as_secs(),
            });
        }
        Ok(spec.node_name.clone())
    }
    async fn delete_pod(&self, ns: &str, name: &str) -> Result<(), ClusterError> {
        let mut w = self.world.lock().unwrap();
        let key = format!("{ns}/{name}");
        w.probe_pods.remove(&key);
        w.probe_log.push(format!("delete {key}"));
        Ok(())
    }
    async fn logs(&self, _: &str, pod: &str, _: Option<&str>, _: Option<i64>) -> Result<String, ClusterError> {
        let side = if self.index == 0 { "s" } else { "t" };
        Ok(self.world.lock().unwrap().logs.get(&format!("{side}/{pod}")).cloned().unwrap_or_default())
    }
    async fn wait_pods_ready(
        &self,
        ns: &str,
        sel: &str,
        _: usize,
        _: Duration,
    ) -> Result<Vec<CassandraPod>, ClusterError> {
        self.list_cassandra_pods(ns, sel).await
    }
    async fn acquire_lease(
        &self,
        _: &str,
        name: &str,
        holder: &str,
        ttl: Duration,
        mode: LeaseMode<'_>,
    ) -> Result<(), ClusterError> {
        let take_over = match mode {
            LeaseMode::Acquire { take_over } => take_over,
            LeaseMode::Renew => None,
        };
        let mut w = self.world.lock().unwrap();
        w.lease_takes += 1;
        let throttled =
            w.lease_fails_once_throttled && w.calls.iter().any(|c| c.starts_with("setinterdcstreamthroughput"));
        if throttled || w.lease_fails_after.is_some_and(|n| w.lease_takes > n) {
            return Err(ClusterError::Api {
                context: "region-2".into(),
                message: "the API server is unavailable".into(),
            });
        }
        w.tick_renewer();
        if matches!(mode, LeaseMode::Renew) && !w.leases.contains_key(name) {
            return Err(ClusterError::NotFound { context: "region-2".into(), kind: "Lease", name: name.into() });
        }
        // As the API server with the adapter: another holder's Lease is taken over only when the
        // caller shows it the very state it holds (resourceVersion precondition).
        if let Some(l) = w.leases.get(name)
            && l.holder != holder
        {
            if !take_over.is_some_and(|t| t.unchanged(l)) {
                let lease = Box::new(l.clone());
                w.lease_log.push((std::time::Instant::now(), "refused"));
                return Err(ClusterError::Locked { context: "region-2".into(), name: name.into(), lease });
            }
            w.lease_log.push((std::time::Instant::now(), "taken over"));
        }
        w.lease_versions += 1;
        let v = w.lease_versions;
        w.leases.insert(
            name.into(),
            LeaseRecord {
                holder: holder.into(),
                renew_time: Some(format!("2026-01-01T00:00:{:02}Z", v % 60)),
                duration: ttl,
                resource_version: v.to_string(),
            },
        );
        Ok(())
    }
    async fn release_lease(&self, _: &str, name: &str, holder: &str) -> Result<(), ClusterError> {
        let mut w = self.world.lock().unwrap();
        if w.leases.get(name).is_some_and(|l| l.holder == holder) {
            w.leases.remove(name);
        }
        Ok(())
    }
    async fn lease(&self, _: &str, name: &str) -> Result<Option<LeaseRecord>, ClusterError> {
        let mut w = self.world.lock().unwrap();
        w.tick_renewer();
        Ok(w.leases.get(name).cloned())
    }
    async fn apply_custom(&self, r: &CustomResource, _: &str, body: &serde_json::Value) -> Result<(), ClusterError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("apply {} force={}", r.kind, body["spec"]["force"]));
        assert_eq!(body["spec"]["source"]["region"], "dc-1");
        w.cdr_pending = true;
        w.cdr_status = serde_json::json!({"state": "running", "rebuildDetails": {}});
        Ok(())
    }
    async fn list_custom(&self, r: &CustomResource, _: &str) -> Result<Vec<String>, ClusterError> {
        assert_eq!(r.kind, "ApigeeOrganization");
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("list ApigeeOrganization in {}", self.index));
        Ok(w.organizations[self.index].keys().cloned().collect())
    }
    async fn get_custom(
        &self,
        r: &CustomResource,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, ClusterError> {
        let mut w = self.world.lock().unwrap();
        if r.kind == "Deployment" {
            assert_eq!(name, "apigee-controller-manager");
            return Ok((w.operator_at[self.index].as_deref() == Some(namespace))
                .then(|| serde_json::json!({"metadata": {"name": name, "namespace": namespace}})));
        }
        if r.kind == "ApigeeOrganization" {
            w.calls.push(format!("get ApigeeOrganization {name} in {}", self.index));
            if self.index == 1 && w.org_releasing_reads > 0 {
                w.org_releasing_reads -= 1;
                if w.org_releasing_reads == 0 {
                    for state in w.organizations[1].values_mut() {
                        *state = "running".into();
                    }
                }
            }
            return Ok(w.organizations[self.index]
                .get(name)
                .map(|state| serde_json::json!({"metadata": {"name": name}, "status": {"state": state}})));
        }
        assert_eq!(r.kind, "ApigeeDatastore");
        if self.index == 1 && w.datastore_gone {
            return Ok(None);
        }
        if w.cdr_pending {
            // The fake operator: rebuild every target pod, as the real one does.
            w.cdr_pending = false;
            let pods: Vec<String> = w.target_pods.iter().map(|p| p.name.clone()).collect();
            let mut details = serde_json::Map::new();
            for p in &pods {
                let result = w.rebuild_pod(p, "dc-1");
                let state = if result.is_ok() { "complete" } else { "error" };
                details.insert(
                    p.clone(),
                    serde_json::json!({"state": state, "message": result.err().unwrap_or_default()}),
                );
            }
            if w.cdr_lies {
                details.insert(pods[1].clone(), serde_json::json!({"state": "running"}));
            }
            let all = details.values().all(|d| d["state"] == "complete") || w.cdr_lies;
            w.cdr_status =
                serde_json::json!({"state": if all { "complete" } else { "error" }, "rebuildDetails": details});
        }
        let g = w.datastore_generation;
        if self.index == 1 && w.releasing_reads > 0 {
            if w.releasing_reads != u32::MAX {
                w.releasing_reads -= 1;
            }
            let ready = w.releasing_reads == 0;
            for p in &mut w.target_pods {
                p.ready = ready;
            }
            if !ready {
                return Ok(Some(serde_json::json!({"metadata": {"generation": g}, "status": {"state": "releasing"}})));
            }
        }
        Ok(Some(
            serde_json::json!({"metadata": {"generation": g}, "status": {"state": "running", "observedGeneration": g, "cassandraDataReplication": w.cdr_status.clone()}}),
        ))
    }
}

/// The installer: reads the target overrides and creates pods that join the ring.
pub struct FakeInstaller {
    pub world: Shared,
}

#[async_trait]
impl HybridInstaller for FakeInstaller {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn describe(&self, op: Operation, p: &Path) -> Vec<String> {
        vec![format!("fake {op:?} {}", p.display())]
    }
    async fn init(&self, _: &Path) -> Result<(), InstallerError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push("installer init".into());
        w.namespaces[1].insert("apigee".into());
        Ok(())
    }
    async fn apply(&self, overrides: &Path) -> Result<(), InstallerError> {
        let view = OverridesDoc::parse(&std::fs::read_to_string(overrides).unwrap()).unwrap().view().unwrap();
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("installer apply seed={:?}", view.cassandra.multi_region_seed_host));
        let same_ca = w.secrets[0].get("cert-manager/apigee-ca") == w.secrets[1].get("cert-manager/apigee-ca");
        let dc = w.join_as.clone().unwrap_or_else(|| view.cassandra.effective_datacenter().to_owned());
        let n = view.cassandra.replica_count.unwrap_or(1) as u32; // the product's default
        for i in 0..n {
            let ip = format!("10.2.0.{}", i + 1);
            if !w.target_pods.iter().any(|p| p.name.ends_with(&format!("-{i}"))) {
                let mut p = pod(i, &ip);
                p.incarnation = Some(format!("{}/0", p.name));
                p.ready = w.releasing_reads == 0;
                w.target_pods.push(p);
                w.logs.insert(
                    format!("t/apigee-cassandra-default-{i}"),
                    "INFO Starting listening for CQL clients\n".into(),
                );
            }
            if same_ca && view.cassandra.multi_region_seed_host.is_some() && !w.ring.iter().any(|r| r.address == ip) {
                w.host_counter += 1;
                let host_id = 100 + w.host_counter;
                w.ring.push(RingNode { dc: dc.clone(), address: ip, code: "UN", load_kib: 10, host_id });
            }
        }
        // The org comes with the rest of Apigee, reconciled by the operator a little later.
        let state = if w.org_releasing_reads > 0 { "releasing" } else { "running" };
        let orgs: Vec<String> = w.organizations[0].keys().cloned().collect();
        for o in orgs {
            w.organizations[1].entry(o).or_insert_with(|| state.into());
        }
        if w.schema_setup {
            for r in w.keyspaces.values_mut() {
                r.entry(dc.clone()).or_insert(2);
            }
        }
        Ok(())
    }
    async fn apply_datastore(&self, o: &Path) -> Result<(), InstallerError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push("installer apply-datastore".into());
        let _ = o;
        // The operator rolls the pods one by one, after a while.
        if !w.no_rollout {
            w.rollout_left = Some(3);
        }
        w.datastore_generation += 1;
        Ok(())
    }
    async fn wait_ready(&self, _: &Path, _: Duration) -> Result<(), InstallerError> {
        Ok(())
    }
    async fn delete(&self, _: &Path) -> Result<(), InstallerError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push("installer delete".into());
        w.target_pods.clear();
        w.datastore_gone = true;
        if w.graceful_removal {
            // The operator's remove-dc: out of the ring, then out of the keyspaces.
            w.ring.retain(|n| !n.address.starts_with("10.2."));
            w.setup_job();
        } else {
            for n in w.ring.iter_mut().filter(|n| n.address.starts_with("10.2.")) {
                n.code = "DN";
            }
        }
        Ok(())
    }
}

/// Region-1's installer: a datastore re-apply runs the operator's setup job.
pub struct SurvivingInstaller {
    pub world: Shared,
}

#[async_trait]
impl HybridInstaller for SurvivingInstaller {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn describe(&self, op: Operation, p: &Path) -> Vec<String> {
        vec![format!("fake region-1 {op:?} {}", p.display())]
    }
    async fn init(&self, _: &Path) -> Result<(), InstallerError> {
        unreachable!("a decommission never installs")
    }
    async fn apply(&self, _: &Path) -> Result<(), InstallerError> {
        unreachable!("a decommission never installs")
    }
    async fn apply_datastore(&self, _: &Path) -> Result<(), InstallerError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push("surviving apply-datastore".into());
        if w.surviving_apply_fails > 0 {
            w.surviving_apply_fails -= 1;
            return Err(InstallerError {
                command: "apigeectl apply --datastore".into(),
                context: Some("region-1".into()),
                message: "Error: context deadline exceeded".into(),
            });
        }
        w.setup_job();
        Ok(())
    }
    async fn wait_ready(&self, _: &Path, _: Duration) -> Result<(), InstallerError> {
        Ok(())
    }
    async fn delete(&self, _: &Path) -> Result<(), InstallerError> {
        unreachable!("the surviving region is never deleted")
    }
}

pub struct FakeAdmin {
    pub world: Shared,
    pub region: Region,
    pub pod: String,
    /// A pod of another existing region's cluster (`others[].context`): its `status` is recorded
    /// as `other status` and shows `World::down_from_other` down.
    pub other: bool,
}

impl FakeAdmin {
    fn log_key(&self) -> String {
        format!("{}/{}", if self.region == Region::Source { "s" } else { "t" }, self.pod)
    }
    fn append(w: &mut World, key: &str, text: &str) {
        w.logs.entry(key.into()).or_default().push_str(text);
    }
    /// A full rebuild from `source_dc` begins streaming in the node and goes on for `polls`
    /// netstats polls (the log gets `All sessions completed` when netstats shows it ended).
    fn start_streaming(&self, w: &mut World, source_dc: &str, polls: u32) {
        let key = self.log_key();
        Self::append(
            w,
            &key,
            &format!(
                "INFO rebuild from dc: {source_dc}, (All keyspaces), (All tokens)\nINFO [Stream #00000000-0000-0000-0000-00000000bbbb] Executing streaming plan for Rebuild\n"
            ),
        );
        w.scripts.insert(self.pod.clone(), Script::Succeed);
        w.running_rebuild.insert(self.pod.clone(), polls);
    }
}

#[async_trait]
impl CassandraAdmin for FakeAdmin {
    fn pod(&self) -> &str {
        &self.pod
    }
    async fn status(&self) -> Result<StatusReport, AdminError> {
        let mut w = self.world.lock().unwrap();
        if !self.other {
            let key = self.log_key();
            w.reads.push(format!("status {key}"));
            return Ok(parse_status(&status_text(&w.ring)).unwrap());
        }
        w.calls.push(format!("other status {}", self.pod));
        let mut ring = w.ring.clone();
        for n in ring.iter_mut().filter(|n| w.down_from_other.contains(&n.address)) {
            n.code = "DN";
        }
        Ok(parse_status(&status_text(&ring)).unwrap())
    }
    async fn describecluster(&self) -> Result<DescribeCluster, AdminError> {
        let w = self.world.lock().unwrap();
        let mut t =
            String::from("Cluster Information:\n\tName: apigeecluster\n\tSchema versions:\n\t\tv1: [10.1.0.1]\n");
        if w.cassandra_311 {
            return Ok(parse_describecluster(&t).unwrap());
        }
        t.push_str("Keyspaces:\n");
        for (ks, r) in &w.keyspaces {
            if w.simple_strategy.contains(ks) {
                t.push_str(&format!("\t{ks} -> Replication class: SimpleStrategy {{replication_factor=1}}\n"));
            } else {
                let m: Vec<String> = r.iter().map(|(k, v)| format!("{k}={v}")).collect();
                t.push_str(&format!("\t{ks} -> Replication class: NetworkTopologyStrategy {{{}}}\n", m.join(", ")));
            }
        }
        Ok(parse_describecluster(&t).unwrap())
    }
    async fn tablestats(&self) -> Result<TableStats, AdminError> {
        let w = self.world.lock().unwrap();
        let mut t = format!("Total number of tables: {}\n----------------\n", w.keyspaces.len() + 1);
        for ks in std::iter::once("system").chain(w.keyspaces.keys().map(String::as_str)) {
            t.push_str(&format!(
                "Keyspace : {ks}\n\tRead Count: 0\n\t\tTable: t\n\t\tSSTable count: 1\n\n----------------\n"
            ));
        }
        Ok(parse_tablestats(&t).unwrap())
    }
    async fn describering(&self, keyspace: &str) -> Result<DescribeRing, AdminError> {
        let w = self.world.lock().unwrap();
        let dcs: Vec<String> = w.keyspaces.get(keyspace).map(|r| r.keys().cloned().collect()).unwrap_or_default();
        // One range; its replicas are the ring's nodes of every datacenter the keyspace names.
        let nodes: Vec<&RingNode> = w.ring.iter().filter(|n| dcs.contains(&n.dc)).collect();
        let hosts = nodes.iter().map(|n| n.address.as_str()).collect::<Vec<_>>().join(", ");
        let details = nodes
            .iter()
            .map(|n| format!("EndpointDetails(host:{}, datacenter:{}, rack:ra-1)", n.address, n.dc))
            .collect::<Vec<_>>()
            .join(", ");
        let t = format!(
            "Schema Version:5b9c5d2e-1f0a-3c4b-8d7e-6f5a4b3c2d1e\nTokenRange: \n\tTokenRange(start_token:1, end_token:2, endpoints:[{hosts}], rpc_endpoints:[{hosts}], endpoint_details:[{details}])\n"
        );
        Ok(parse_describering(&t).unwrap())
    }
    async fn netstats(&self) -> Result<NetStats, AdminError> {
        let mut w = self.world.lock().unwrap();
        w.reads.push(format!("netstats {}", self.pod));
        if w.netstats_forbidden {
            return Err(AdminError::Cluster(ClusterError::Forbidden {
                context: "region-2".into(),
                message: "pods/exec".into(),
            }));
        }
        let mut t = String::from("Mode: NORMAL\n");
        if let Some(left) = w.running_rebuild.get_mut(&self.pod) {
            if *left == 0 {
                w.running_rebuild.remove(&self.pod);
                let key = self.log_key();
                Self::append(&mut w, &key, "[Stream #00000000-0000-0000-0000-00000000bbbb] All sessions completed\n");
                let address =
                    w.target_pods.iter().find(|p| p.name == self.pod).and_then(|p| p.pod_ip).map(|a| a.to_string());
                if let Some(n) = w.ring.iter_mut().find(|r| Some(&r.address) == address.as_ref()) {
                    n.load_kib = 900;
                }
            } else {
                *left -= 1;
                t.push_str("Rebuild 00000000-0000-0000-0000-00000000bbbb\n    /10.1.0.1\n        Receiving 2 files, 1000 bytes total. Already received 1 files, 500 bytes total\n");
            }
        } else {
            t.push_str("Not sending any streams.\n");
        }
        Ok(parse_netstats(&t).unwrap())
    }
    async fn rebuild(&self, source_dc: &str) -> Result<(), AdminError> {
        let hang = {
            let mut w = self.world.lock().unwrap();
            w.calls.push(format!("rebuild {}", self.pod));
            w.concurrent += 1;
            w.max_concurrent = w.max_concurrent.max(w.concurrent);
            if let Some(Script::HangingStream(polls)) = w.scripts.get(&self.pod).cloned() {
                self.start_streaming(&mut w, source_dc, polls);
                true
            } else {
                false
            }
        };
        if hang {
            return std::future::pending().await;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut w = self.world.lock().unwrap();
        w.concurrent -= 1;
        if !w.ring.iter().any(|r| r.dc == source_dc) {
            return Err(AdminError::InvalidSourceDatacenter {
                pod: self.pod.clone(),
                source_dc: source_dc.into(),
                message: "not a valid datacenter".into(),
            });
        }
        if matches!(w.scripts.get(&self.pod), Some(Script::AlreadyRunning(_))) {
            let Some(Script::AlreadyRunning(polls)) = w.scripts.get(&self.pod).cloned() else { unreachable!() };
            self.start_streaming(&mut w, source_dc, polls);
            return Err(AdminError::RebuildAlreadyRunning { pod: self.pod.clone() });
        }
        if let Some(Script::CutStream(polls)) = w.scripts.get(&self.pod).cloned() {
            self.start_streaming(&mut w, source_dc, polls);
            return Err(AdminError::Cluster(ClusterError::Exec {
                context: "region-2".into(),
                pod: self.pod.clone(),
                message: "connection reset by peer".into(),
            }));
        }
        if let Some(Script::InsufficientSources(n)) = w.scripts.get(&self.pod).cloned()
            && n > 0
        {
            w.scripts.insert(self.pod.clone(), Script::InsufficientSources(n - 1));
            return Err(AdminError::InsufficientSources {
                pod: self.pod.clone(),
                message: "Unable to find sufficient sources for streaming range (1,2] in keyspace perses".into(),
            });
        }
        w.rebuild_pod(&self.pod, source_dc).map_err(|reason| AdminError::StreamFailed { pod: self.pod.clone(), reason })
    }
    async fn log(&self, _: Option<i64>) -> Result<String, AdminError> {
        Ok(self.world.lock().unwrap().logs.get(&self.log_key()).cloned().unwrap_or_default())
    }
    async fn flush(&self) -> Result<(), AdminError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("flush {}", self.log_key()));
        Ok(())
    }
    async fn stream_throughput(&self, limit: StreamLimit) -> Result<Throughput, AdminError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("{} {}", limit.get_verb(), self.log_key()));
        let (interdc, total) = w.throttles(&self.log_key());
        Ok(if limit == StreamLimit::InterDc { interdc } else { total })
    }
    async fn set_stream_throughput(&self, limit: StreamLimit, value: Throughput) -> Result<(), AdminError> {
        let mut w = self.world.lock().unwrap();
        let key = self.log_key();
        w.calls.push(format!("{} {key} {}", limit.set_verb(), value.set_args().join(" ")));
        if w.throughput_set_fails.contains(&key) {
            return Err(AdminError::JmxUnreachable { pod: self.pod.clone(), message: "Connection refused".into() });
        }
        let mut t = w.throttles(&key);
        if limit == StreamLimit::InterDc {
            t.0 = value;
        } else {
            t.1 = value;
        }
        w.throughput.insert(key, t);
        Ok(())
    }
    async fn removenode(&self, host_id: &str) -> Result<(), AdminError> {
        let host = {
            let mut w = self.world.lock().unwrap();
            w.calls.push(format!("removenode {host_id}"));
            let Some(node) = w.ring.iter().find(|n| format!("00000000-0000-0000-0000-{:012}", n.host_id) == host_id)
            else {
                return Err(AdminError::Other {
                    pod: self.pod.clone(),
                    command: "removenode".into(),
                    message: "Host ID not found.".into(),
                });
            };
            if node.code.starts_with('U') {
                return Err(AdminError::Other {
                    pod: self.pod.clone(),
                    command: "removenode".into(),
                    message: format!(
                        "Node /{} is alive and owns this ID. Use decommission command to remove it from the ring",
                        node.address
                    ),
                });
            }
            let host = node.host_id;
            w.removing = Some((host, self.pod.clone(), w.removenode_polls));
            host
        };
        // nodetool returns when the removal is over; the removal goes on in Cassandra when the
        // client goes away (this future dropped).
        loop {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let mut w = self.world.lock().unwrap();
            match w.removing.clone() {
                Some((h, _, 0)) if h == host => {
                    w.complete_removal(host);
                    return Ok(());
                }
                Some((h, c, n)) if h == host => w.removing = Some((h, c, n - 1)),
                _ => return Ok(()),
            }
        }
    }
    async fn removenode_status(&self) -> Result<RemovalStatus, AdminError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("removenode status on {}", self.pod));
        let text = match w.removing.clone() {
            Some((h, c, 0)) if c == self.pod => {
                w.complete_removal(h);
                "RemovalStatus: No token removals in process.".to_owned()
            }
            Some((h, c, n)) if c == self.pod => {
                w.removing = Some((h, c, n - 1));
                format!(
                    "RemovalStatus: Removing token ([{h}]). Waiting for replication confirmation from [/10.1.0.2:7000]."
                )
            }
            // Only the coordinator knows about a removal.
            _ => "RemovalStatus: No token removals in process.".to_owned(),
        };
        Ok(parse_removal_status(&text).unwrap())
    }
    async fn assassinate(&self, address: &str) -> Result<(), AdminError> {
        let mut w = self.world.lock().unwrap();
        w.calls.push(format!("assassinate {address}"));
        w.ring.retain(|n| n.address != address);
        Ok(())
    }
}

pub struct FakeAdmins {
    pub world: Shared,
}

impl AdminFactory for FakeAdmins {
    fn admin(&self, region: Region, pod: &str) -> Arc<dyn CassandraAdmin> {
        Arc::new(FakeAdmin { world: self.world.clone(), region, pod: pod.into(), other: false })
    }
}

/// nodetool on the pods of another existing region.
pub struct OtherFakeAdmins {
    pub world: Shared,
}

impl AdminFactory for OtherFakeAdmins {
    fn admin(&self, region: Region, pod: &str) -> Arc<dyn CassandraAdmin> {
        Arc::new(FakeAdmin { world: self.world.clone(), region, pod: pod.into(), other: true })
    }
}

/// Another existing region's cluster, for `Deps::others`: its pods are the source's (`index` 0)
/// or the target's (1) (the fake has one pod list per side), its nodetool answers through
/// [`OtherFakeAdmins`].
pub fn other_cluster(world: &Shared, datacenter: &str, index: usize) -> OtherCluster {
    OtherCluster {
        datacenter: datacenter.into(),
        namespace: "apigee".into(),
        selector: "app=apigee-cassandra".into(),
        cluster: Arc::new(FakeCluster { world: world.clone(), index }),
        admins: Arc::new(OtherFakeAdmins { world: world.clone() }),
    }
}

pub fn deps(world: &Shared) -> Deps {
    Deps {
        source: Arc::new(FakeCluster { world: world.clone(), index: 0 }),
        target: Arc::new(FakeCluster { world: world.clone(), index: 1 }),
        installer: Arc::new(FakeInstaller { world: world.clone() }),
        admins: Arc::new(FakeAdmins { world: world.clone() }),
        notes: vec![],
        others: vec![],
    }
}
