//! Preflight: read-only facts from both clusters and both overrides files, then a pure
//! judgement that refuses the expansion (exit 3, every finding listed) before anything changes.

use std::collections::BTreeSet;

use crate::model::CassandraPod;
use crate::network::{Cidr, RangeKind, RegionRange, overlaps};
use crate::nodetool::{DescribeCluster, StatusReport};
use crate::overrides::{Finding, Severity, Side};
use crate::ports::NodeFacts;

/// Keyspaces whose replication is local to each node, never to extend.
const LOCAL_KEYSPACES: &[&str] = &["system", "system_schema", "system_views", "system_virtual_schema"];

/// Everything preflight judges.
#[derive(Debug, Clone)]
pub struct PreflightFacts {
    /// The source datacenter name from the plan.
    pub source_dc: String,
    /// The target datacenter name from the plan.
    pub target_dc: String,
    /// The datacenters of the installation's other existing regions (the plan's `others`).
    pub other_dcs: Vec<String>,
    /// Island network mode.
    pub island: bool,
    /// Findings of the overrides pair check (target as it will be written).
    pub pair_findings: Vec<Finding>,
    /// The datacenter the source overrides name.
    pub source_overrides_dc: String,
    /// Source Cassandra pods.
    pub source_pods: Vec<CassandraPod>,
    /// The ring as a source node sees it (`None` when no source node answered).
    pub ring: Option<StatusReport>,
    /// Why the ring could not be read.
    pub ring_error: Option<String>,
    /// `describecluster` from the same node.
    pub cluster: Option<DescribeCluster>,
    /// Target Cassandra pods that already exist (a resumed or repeated run).
    pub target_pods: Vec<CassandraPod>,
    /// Nodes of both clusters.
    pub source_nodes: Vec<NodeFacts>,
    /// Nodes of the target cluster.
    pub target_nodes: Vec<NodeFacts>,
    /// Extra ranges from the plan.
    pub source_ranges: Vec<Cidr>,
    /// Extra ranges from the plan.
    pub target_ranges: Vec<Cidr>,
    /// The target holds a CA secret different from the source's (and --force-ca was not given).
    pub target_ca_differs: bool,
    /// The source has no CA secret.
    pub source_ca_missing: bool,
}

/// A finding about the clusters (no overrides key or line).
pub(crate) fn finding(severity: Severity, code: &'static str, message: String) -> Finding {
    Finding { severity, code, message, path: String::new(), side: Side::Source, line: None }
}

fn ranges(nodes: &[NodeFacts], extra: &[Cidr]) -> Vec<RegionRange> {
    let mut out = Vec::new();
    for n in nodes {
        for ip in &n.internal_ips {
            if let Ok(c) = format!("{ip}/{}", if ip.contains(':') { 128 } else { 32 }).parse() {
                out.push(RegionRange { kind: RangeKind::Node, cidr: c });
            }
        }
        for c in &n.pod_cidrs {
            if let Ok(c) = c.parse() {
                out.push(RegionRange { kind: RangeKind::Pod, cidr: c });
            }
        }
    }
    out.extend(extra.iter().map(|c| RegionRange { kind: RangeKind::Node, cidr: *c }));
    out
}

/// Judges the facts. Errors first. An empty list (or warnings only) means go.
pub fn judge_preflight(f: &PreflightFacts) -> Vec<Finding> {
    use Severity::{Error, Warning};
    let mut out = f.pair_findings.clone();
    let target_is_ours: BTreeSet<String> =
        f.target_pods.iter().filter_map(|p| p.cassandra_address()).map(|a| a.to_string()).collect();

    if f.source_overrides_dc != f.source_dc {
        out.push(finding(
            Error,
            "source-datacenter-mismatch",
            format!(
                "the plan says the source datacenter is `{}` but the source overrides say `{}`; fix the plan",
                f.source_dc, f.source_overrides_dc
            ),
        ));
    }
    if f.source_pods.is_empty() {
        out.push(finding(
            Error,
            "no-source-pods",
            "no Cassandra pods found in the source region: check the source context, namespace and selector".into(),
        ));
    }
    if f.source_ca_missing {
        out.push(finding(
            Error,
            "source-ca-missing",
            "the source region has no CA secret (cert-manager/apigee-ca by default): check the plan's `ca` section"
                .into(),
        ));
    }
    if f.target_ca_differs {
        out.push(finding(Error, "target-ca-differs", "the target region already has a DIFFERENT CA secret: its Cassandra would not be trusted by the source; delete it (and any installation made with it) or pass --force-ca".into()));
    }
    match (&f.ring, &f.ring_error) {
        (None, e) => out.push(finding(
            Error,
            "ring-unreadable",
            format!("could not read the source ring with nodetool: {}", e.as_deref().unwrap_or("no Ready source pod")),
        )),
        (Some(ring), _) => {
            if ring.datacenter(&f.source_dc).is_none() {
                let dcs: Vec<&str> = ring.datacenters.iter().map(|d| d.name.as_str()).collect();
                out.push(finding(
                    Error,
                    "source-datacenter-missing",
                    format!(
                        "the ring has no datacenter `{}` (it has {}): the rebuild would find no source",
                        f.source_dc,
                        dcs.join(", ")
                    ),
                ));
            }
            for dc in &f.other_dcs {
                if ring.datacenter(dc).is_none() {
                    let dcs: Vec<&str> = ring.datacenters.iter().map(|d| d.name.as_str()).collect();
                    out.push(finding(
                        Error,
                        "other-datacenter-missing",
                        format!(
                            "the plan names `{dc}` among the other regions (`others`), but the ring has no such datacenter (it has {}): fix the name, or remove it from `others`",
                            dcs.join(", ")
                        ),
                    ));
                }
            }
            for d in &ring.datacenters {
                let named = d.name == f.source_dc || d.name == f.target_dc || f.other_dcs.contains(&d.name);
                if !named {
                    out.push(finding(Warning, "unnamed-datacenter", format!("the ring also has datacenter `{}`, which the plan does not name: its region's overrides are not checked against the new region's (cluster name, credentials, datacenter name); add it to the plan's `others` with its overrides file", d.name)));
                }
            }
            for (dc, n) in ring.nodes() {
                if dc == f.target_dc {
                    if !target_is_ours.contains(&n.address) {
                        out.push(finding(Error, "target-datacenter-exists", format!("datacenter `{}` already exists in the ring ({} is {}), but not as this plan's pods: choose another name, or remove the stale nodes (nodetool removenode/assassinate) if that region was deleted without decommissioning", f.target_dc, n.address, n.code())));
                    }
                } else if !n.is_up_normal() {
                    out.push(finding(
                        Error,
                        "source-node-not-up",
                        format!(
                            "{} in {dc} is {}, not UN: every existing node must be up and normal before expanding",
                            n.address,
                            n.code()
                        ),
                    ));
                }
            }
            let target_ips: BTreeSet<&str> =
                f.target_nodes.iter().flat_map(|n| n.internal_ips.iter().map(String::as_str)).collect();
            for (dc, n) in ring.nodes() {
                if dc != f.target_dc && target_ips.contains(n.address.as_str()) {
                    out.push(finding(Error, "stale-ring-entry", format!("{} is already in the ring (as {dc}, {}) and is also a node IP of the target cluster: a new node there fails with `A node with address {} already exists, cancelling join`; remove the stale entry first (nodetool removenode)", n.address, n.code(), n.address)));
                }
            }
        }
    }
    if let Some(c) = &f.cluster {
        if !c.schema_agrees() {
            out.push(finding(Error, "schema-disagreement", format!("schema versions disagree ({} versions, unreachable: {:?}): wait for agreement or fix the unreachable nodes", c.schema_versions.len(), c.unreachable)));
        }
        for (ks, r) in &c.keyspaces {
            if LOCAL_KEYSPACES.contains(&ks.as_str()) {
                continue;
            }
            if r.class == "SimpleStrategy" {
                out.push(finding(Error, "simple-strategy-keyspace", format!("keyspace `{ks}` uses SimpleStrategy, which ignores datacenters: switch it to NetworkTopologyStrategy {{'{}': N}} before expanding", f.source_dc)));
            }
        }
    }
    let found = overlaps(&ranges(&f.source_nodes, &f.source_ranges), &ranges(&f.target_nodes, &f.target_ranges));
    for o in found.iter().take(5) {
        out.push(finding(Error, "cidr-overlap", format!("{o}: the regions need non-overlapping address ranges")));
    }
    if f.island {
        let off: Vec<&str> = f.source_pods.iter().filter(|p| !p.host_network).map(|p| p.name.as_str()).collect();
        if !off.is_empty() {
            out.push(finding(Error, "host-network-disabled", format!("source pods {} do not use hostNetwork: in island mode enable cassandra.hostNetwork on the existing region first (and re-apply it)", off.join(", "))));
        }
    }
    let ready = f.source_pods.iter().filter(|p| p.ready).count();
    if ready == 1 {
        out.push(finding(
            Warning,
            "single-seed",
            "only one source pod is Ready: the seed host has no alternate".into(),
        ));
    }
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PodPhase;
    use crate::nodetool::{parse_describecluster, parse_status};

    fn pod(i: u32, ip: &str) -> CassandraPod {
        CassandraPod {
            name: format!("apigee-cassandra-default-{i}"),
            ordinal: Some(i),
            pod_ip: ip.parse().ok(),
            host_ip: ip.parse().ok(),
            node_name: Some(format!("n{i}")),
            phase: PodPhase::Running,
            ready: true,
            host_network: true,
            rack: None,
            incarnation: None,
        }
    }

    fn node(ip: &str) -> NodeFacts {
        NodeFacts {
            name: ip.into(),
            internal_ips: vec![ip.into()],
            pod_cidrs: vec![],
            ready: true,
            unschedulable: false,
            labels: Default::default(),
        }
    }

    fn facts(status: &str) -> PreflightFacts {
        PreflightFacts {
            other_dcs: vec![],
            source_dc: "dc-1".into(),
            target_dc: "dc-2".into(),
            island: true,
            pair_findings: vec![],
            source_overrides_dc: "dc-1".into(),
            source_pods: vec![pod(0, "10.0.1.1"), pod(1, "10.0.1.2")],
            ring: Some(parse_status(status).unwrap()),
            ring_error: None,
            cluster: Some(parse_describecluster("Cluster Information:\n\tName: c\n\tSchema versions:\n\t\tv1: [10.0.1.1, 10.0.1.2]\nKeyspaces:\n\tperses -> Replication class: NetworkTopologyStrategy {dc-1=3}\n").unwrap()),
            target_pods: vec![],
            source_nodes: vec![node("10.0.1.1"), node("10.0.1.2")],
            target_nodes: vec![node("10.0.2.1"), node("10.0.2.2")],
            source_ranges: vec![],
            target_ranges: vec![],
            target_ca_differs: false,
            source_ca_missing: false,
        }
    }

    const HEADER: &str = "--  Address  Load  Tokens  Owns  Host ID  Rack\n";

    fn status(rows: &[(&str, &str, &str)]) -> String {
        let mut t = String::new();
        let mut dc = "";
        for (i, (d, code, ip)) in rows.iter().enumerate() {
            if *d != dc {
                t.push_str(&format!("Datacenter: {d}\n{HEADER}"));
                dc = d;
            }
            t.push_str(&format!("{code}  {ip}  1 KiB  16  50%  00000000-0000-0000-0000-00000000000{i}  ra-1\n"));
        }
        t
    }

    fn codes(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.code).collect()
    }

    #[test]
    fn a_healthy_source_and_empty_target_pass() {
        let f = facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "UN", "10.0.1.2")]));
        assert_eq!(codes(&judge_preflight(&f)), Vec::<&str>::new());
    }

    #[test]
    fn refuses_when_a_source_node_is_down() {
        let f = facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "DN", "10.0.1.2")]));
        assert_eq!(codes(&judge_preflight(&f)), ["source-node-not-up"]);
    }

    #[test]
    fn refuses_when_new_dc_name_exists_in_the_ring() {
        let f = facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "UN", "10.0.1.2"), ("dc-2", "DN", "10.9.9.9")]));
        assert_eq!(codes(&judge_preflight(&f)), ["target-datacenter-exists"]);
    }

    #[test]
    fn a_target_dc_made_of_this_plan_s_pods_is_a_resume_not_a_conflict() {
        let mut f =
            facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "UN", "10.0.1.2"), ("dc-2", "UN", "10.0.2.1")]));
        f.target_pods = vec![pod(0, "10.0.2.1")];
        assert_eq!(codes(&judge_preflight(&f)), Vec::<&str>::new());
    }

    #[test]
    fn refuses_a_stale_entry_whose_ip_the_target_reuses() {
        let f = facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "UN", "10.0.1.2"), ("dc-3", "DN", "10.0.2.1")]));
        let got = codes(&judge_preflight(&f));
        assert!(got.contains(&"stale-ring-entry"), "{got:?}");
    }

    #[test]
    fn refuses_simple_strategy_schema_disagreement_and_overlap() {
        let mut f = facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "UN", "10.0.1.2")]));
        f.cluster = Some(parse_describecluster("Cluster Information:\n\tSchema versions:\n\t\tv1: [10.0.1.1]\n\t\tv2: [10.0.1.2]\nKeyspaces:\n\tsystem_auth -> Replication class: SimpleStrategy {replication_factor=1}\n\tsystem -> Replication class: LocalStrategy {}\n").unwrap());
        f.target_nodes = vec![node("10.0.1.2")];
        let got = codes(&judge_preflight(&f));
        assert!(
            got.contains(&"schema-disagreement")
                && got.contains(&"simple-strategy-keyspace")
                && got.contains(&"cidr-overlap"),
            "{got:?}"
        );
    }

    #[test]
    fn refuses_a_different_target_ca_and_a_wrong_source_dc() {
        let mut f = facts(&status(&[("dc-1", "UN", "10.0.1.1"), ("dc-1", "UN", "10.0.1.2")]));
        f.target_ca_differs = true;
        f.source_dc = "dc-9".into();
        let got = codes(&judge_preflight(&f));
        assert!(
            got.contains(&"target-ca-differs")
                && got.contains(&"source-datacenter-mismatch")
                && got.contains(&"source-datacenter-missing"),
            "{got:?}"
        );
    }
}
