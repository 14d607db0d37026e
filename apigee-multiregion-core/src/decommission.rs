//! The judgement of a region's decommission, pure: which findings refuse it before anything
//! changes, which keyspaces still name the leaving datacenter, and what proves it gone. The
//! facts are gathered by `expansion::decommission` from the surviving region.
//!
//! Keyspace placement comes from the same evidence as the expansion's replication check: the
//! replication map of `describecluster` (4.0+), or on 3.11 each keyspace's `describering` (the
//! keyspace list from `tablestats`). A ring shows only the nodes that exist: once the leaving
//! datacenter's nodes are gone, no range of any keyspace has a replica there, even if its
//! replication map still names it. So on 3.11 "no keyspace names it" is proven only as far as the
//! ring shows, and the verification says so.

use std::collections::{BTreeMap, BTreeSet};

use crate::nodetool::{DescribeCluster, KeyspaceEvidence, LOCAL_KEYSPACES, StatusReport};
use crate::overrides::{Finding, Severity, Side};
use crate::verify::{Check, VerifyReport};

/// Everything the decommission's preflight judges.
#[derive(Debug, Clone, Default)]
pub struct DecommissionFacts {
    /// The datacenter to remove.
    pub leaving_dc: String,
    /// The surviving region's datacenter (from the plan).
    pub surviving_dc: String,
    /// The region is lost: no uninstall; its nodes must be down.
    pub lost_region: bool,
    /// An earlier run of this plan already changed something (the journal says so).
    pub started: bool,
    /// The ring as a surviving node sees it.
    pub ring: Option<StatusReport>,
    /// Why the ring could not be read.
    pub ring_error: Option<String>,
    /// `describecluster` from the same node.
    pub cluster: Option<DescribeCluster>,
    /// Keyspace -> its placement.
    pub keyspaces: BTreeMap<String, KeyspaceEvidence>,
    /// Addresses of the leaving datacenter's nodes (the ring's, and those an earlier run recorded).
    pub leaving_addresses: BTreeSet<String>,
    /// `cassandra.multiRegionSeedHost` of the surviving overrides, with its line.
    pub surviving_seed: Option<(String, Option<usize>)>,
}

use crate::preflight::finding;

/// The datacenters of the ring other than the leaving one.
pub fn surviving_datacenters<'a>(ring: &'a StatusReport, leaving_dc: &str) -> Vec<&'a str> {
    ring.datacenters.iter().map(|d| d.name.as_str()).filter(|d| *d != leaving_dc).collect()
}

/// Whether the evidence shows the keyspace placing replicas in `dc`.
fn names(evidence: &KeyspaceEvidence, dc: &str) -> bool {
    match evidence {
        KeyspaceEvidence::Replication(r) => r.replicas_in(dc) > 0,
        KeyspaceEvidence::Ring(ring) => ring.any_range_has_replica_in(dc),
    }
}

/// Whether every replica set of the keyspace keeps a copy in one of `dcs`.
fn kept_in(evidence: &KeyspaceEvidence, dcs: &[&str]) -> bool {
    match evidence {
        KeyspaceEvidence::Replication(r) => dcs.iter().any(|d| r.replicas_in(d) > 0),
        KeyspaceEvidence::Ring(ring) => {
            !ring.ranges.is_empty() && ring.ranges.iter().all(|t| dcs.iter().any(|d| t.has_replica_in(d)))
        }
    }
}

/// Keyspaces whose replication (or ring) still names `dc`, local keyspaces left out.
pub fn keyspaces_naming(keyspaces: &BTreeMap<String, KeyspaceEvidence>, dc: &str) -> Vec<String> {
    keyspaces
        .iter()
        .filter(|(k, e)| !LOCAL_KEYSPACES.contains(&k.as_str()) && names(e, dc))
        .map(|(k, _)| k.clone())
        .collect()
}

/// Preflight of a decommission: every finding, errors first. Any error refuses the run.
pub fn judge_preflight(f: &DecommissionFacts) -> Vec<Finding> {
    use Severity::{Error, Warning};
    let mut out = vec![finding(
        Warning,
        "move-traffic-first",
        format!(
            "traffic must already be moved off the region of `{}` (DNS or load balancer pointing at the surviving region's ingress): the tool does not check this, and every request still sent there fails once it is uninstalled",
            f.leaving_dc
        ),
    )];
    let Some(ring) = &f.ring else {
        out.push(finding(
            Error,
            "ring-unreadable",
            format!(
                "cannot read the ring from the surviving region: {}",
                f.ring_error.as_deref().unwrap_or("no answer")
            ),
        ));
        return sorted(out);
    };
    let leaving = ring.datacenter(&f.leaving_dc);
    let named = keyspaces_naming(&f.keyspaces, &f.leaving_dc);
    let dcs: Vec<&str> = ring.datacenters.iter().map(|d| d.name.as_str()).collect();
    if leaving.is_none_or(|d| d.nodes.is_empty()) && named.is_empty() && !f.started {
        out.push(finding(
            Error,
            "datacenter-not-found",
            format!(
                "no node and no keyspace names datacenter `{}`: nothing to decommission. Check `leaving.datacenter` in the plan (the ring has {})",
                f.leaving_dc,
                dcs.join(", ")
            ),
        ));
    }
    let surviving = surviving_datacenters(ring, &f.leaving_dc);
    if surviving.is_empty() {
        out.push(finding(
            Error,
            "last-datacenter",
            format!(
                "`{}` is the ring's only datacenter: removing it would remove the data. Expand to a new region first (apigee-multiregion expand)",
                f.leaving_dc
            ),
        ));
    } else if !surviving.contains(&f.surviving_dc.as_str()) {
        out.push(finding(
            Error,
            "surviving-datacenter-not-found",
            format!(
                "the plan's surviving datacenter `{}` is not in the ring (it has {}): check `surviving.datacenter`",
                f.surviving_dc,
                dcs.join(", ")
            ),
        ));
    }
    for dc in ring.datacenters.iter().filter(|d| d.name != f.leaving_dc) {
        for n in dc.nodes.iter().filter(|n| !n.is_up_normal()) {
            out.push(finding(
                Error,
                "surviving-node-not-up",
                format!(
                    "{} in surviving datacenter `{}` is {}: removing nodes streams their ranges to the survivors, which must all be up. Bring it up (or replace it) first",
                    n.address,
                    dc.name,
                    n.code()
                ),
            ));
        }
    }
    if let Some(c) = &f.cluster {
        let survivors: BTreeSet<&str> = ring
            .datacenters
            .iter()
            .filter(|d| d.name != f.leaving_dc)
            .flat_map(|d| d.nodes.iter().map(|n| n.address.as_str()))
            .collect();
        let versions: Vec<&String> = c
            .schema_versions
            .iter()
            .filter(|(_, addrs)| addrs.iter().any(|a| survivors.contains(a.as_str())))
            .map(|(v, _)| v)
            .collect();
        if versions.len() > 1 {
            out.push(finding(
                Error,
                "schema-disagreement",
                format!(
                    "the surviving nodes report {} schema versions ({}): wait for schema agreement (nodetool describecluster) before changing the ring",
                    versions.len(),
                    versions.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for (ks, e) in f.keyspaces.iter().filter(|(k, _)| !LOCAL_KEYSPACES.contains(&k.as_str())) {
        let is_auth = ks == "system_auth";
        if let KeyspaceEvidence::Replication(r) = e
            && r.class != "NetworkTopologyStrategy"
        {
            if r.class != "LocalStrategy" {
                out.push(finding(
                    Warning,
                    "keyspace-ignores-datacenters",
                    format!(
                        "keyspace {ks} uses {}, which ignores datacenters: removing the nodes moves its replicas to the survivors",
                        r.class
                    ),
                ));
            }
            continue;
        }
        if surviving.is_empty() || !(is_auth || names(e, &f.leaving_dc)) || kept_in(e, &surviving) {
            continue;
        }
        out.push(finding(
            Error,
            if is_auth { "system-auth-not-in-surviving-dc" } else { "keyspace-only-in-leaving-dc" },
            format!(
                "keyspace {ks} keeps no replica in a surviving datacenter ({}): removing `{}` would lose it{}. Add the surviving datacenter to its replication (ALTER KEYSPACE {ks} WITH replication = {{'class': 'NetworkTopologyStrategy', '{}': 3, '{}': 3}}), run `nodetool rebuild -- {}` on each surviving node, then run again",
                surviving.join(", "),
                f.leaving_dc,
                if is_auth { " (and every login with it)" } else { "" },
                f.surviving_dc,
                f.leaving_dc,
                f.leaving_dc
            ),
        ));
    }
    if let Some((seed, line)) = &f.surviving_seed
        && seed.split(',').map(str::trim).any(|s| f.leaving_addresses.contains(s))
    {
        out.push(Finding {
            severity: Error,
            code: "seed-host-in-leaving-dc",
            message: format!(
                "the surviving overrides set cassandra.multiRegionSeedHost to {seed}, a node of `{}`: once it is gone, a restarted surviving node finds no seed. Remove it (apigee-multiregion overrides clear-seed FILE --in-place) and re-apply the datastore, or set a surviving node",
                f.leaving_dc
            ),
            path: "cassandra.multiRegionSeedHost".into(),
            side: Side::Source,
            line: *line,
        });
    }
    if let Some(dc) = leaving
        && f.lost_region
    {
        for n in dc.nodes.iter().filter(|n| n.is_up_normal()) {
            out.push(finding(
                    Error,
                    "leaving-node-alive",
                    format!(
                        "{} of `{}` is UN, so the region is not lost: Cassandra refuses `removenode` for a live node. Run without --lost-region (the region is then uninstalled first)",
                        n.address, f.leaving_dc
                    ),
                ));
        }
    }
    if f.lost_region {
        out.push(finding(
            Warning,
            "lost-region",
            format!(
                "--lost-region: the uninstall and the operator's graceful removal are skipped; each node of `{}` is removed from the surviving region with nodetool removenode",
                f.leaving_dc
            ),
        ));
    }
    sorted(out)
}

fn sorted(mut v: Vec<Finding>) -> Vec<Finding> {
    v.sort_by_key(|f| f.severity != Severity::Error);
    v
}

/// What the verification of a decommission reads, from a surviving node.
#[derive(Debug, Clone)]
pub struct DecommissionVerifyFacts {
    /// The removed datacenter.
    pub leaving_dc: String,
    /// The ring.
    pub ring: StatusReport,
    /// `describecluster`.
    pub cluster: DescribeCluster,
    /// Keyspace -> its placement.
    pub keyspaces: BTreeMap<String, KeyspaceEvidence>,
}

/// Schema agreement among the nodes of the ring. Gossip goes on listing removed nodes as
/// unreachable in `describecluster` (Cassandra keeps a removed endpoint in quarantine for days):
/// those are not part of the ring and do not count; a node of the ring that is unreachable does.
fn schema_agreement(f: &DecommissionVerifyFacts) -> Check {
    let in_ring: BTreeSet<&str> = f.ring.nodes().map(|(_, n)| n.address.as_str()).collect();
    let versions: Vec<&String> = f
        .cluster
        .schema_versions
        .iter()
        .filter(|(_, addrs)| addrs.iter().any(|a| in_ring.contains(a.as_str())))
        .map(|(v, _)| v)
        .collect();
    let (unreachable, removed): (Vec<&String>, Vec<&String>) =
        f.cluster.unreachable.iter().partition(|a| in_ring.contains(a.as_str()));
    let passed = versions.len() <= 1 && unreachable.is_empty();
    let mut detail = if passed {
        "one schema version among the ring's nodes, none unreachable".to_owned()
    } else {
        format!("schema versions {versions:?} among the ring's nodes, unreachable {unreachable:?}")
    };
    if !removed.is_empty() {
        detail.push_str(&format!(
            "; gossip still lists removed node(s) {removed:?} as unreachable (not in the ring: Cassandra forgets them after its quarantine)"
        ));
    }
    Check { name: "schema-agreement".into(), passed, detail }
}

/// The verification: no node of the datacenter in the ring, no keyspace naming it, the
/// survivors all UN and agreeing on the schema.
pub fn verify_decommission(f: &DecommissionVerifyFacts) -> VerifyReport {
    let check = |name: &str, passed: bool, detail: String| Check { name: name.into(), passed, detail };
    let left: Vec<String> = f.ring.datacenter(&f.leaving_dc).map_or_else(Vec::new, |d| {
        d.nodes.iter().map(|n| format!("{} ({}, host ID {})", n.address, n.code(), n.host_id)).collect()
    });
    let named = keyspaces_naming(&f.keyspaces, &f.leaving_dc);
    let from_rings = f.keyspaces.values().any(|e| matches!(e, KeyspaceEvidence::Ring(_)));
    let down: Vec<String> = f.ring.nodes().filter(|(_, n)| !n.is_up_normal()).map(|(_, n)| n.address.clone()).collect();
    let checks = vec![
        check(
            "datacenter-gone-from-ring",
            left.is_empty(),
            if left.is_empty() {
                format!("no node of {} in nodetool status", f.leaving_dc)
            } else {
                format!("still in the ring: {}", left.join(", "))
            },
        ),
        check(
            "no-keyspace-names-datacenter",
            named.is_empty(),
            match (named.is_empty(), from_rings) {
                (false, _) => format!("these keyspaces still name {}: {}", f.leaving_dc, named.join(", ")),
                (true, false) => format!("no keyspace's replication names {} (describecluster)", f.leaving_dc),
                (true, true) => format!(
                    "no token range of any keyspace has a replica in {} (Cassandra 3.11: describering shows only existing nodes; confirm the maps with cqlsh: SELECT keyspace_name, replication FROM system_schema.keyspaces)",
                    f.leaving_dc
                ),
            },
        ),
        check(
            "surviving-nodes-up",
            down.is_empty(),
            if down.is_empty() { "every node is UN".into() } else { format!("not UN: {}", down.join(", ")) },
        ),
        schema_agreement(f),
    ];
    VerifyReport { checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodetool::{KeyspaceReplication, parse_describering, parse_status};

    fn ring() -> StatusReport {
        parse_status(
            "Datacenter: dc-1\n=====\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address  Load  Tokens  Owns  Host ID  Rack\nUN  10.1.0.1  1 KiB  16  50%  00000000-0000-0000-0000-000000000001  ra-1\nDatacenter: dc-2\n=====\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address  Load  Tokens  Owns  Host ID  Rack\nDN  10.2.0.1  1 KiB  16  50%  00000000-0000-0000-0000-000000000101  ra-1\n",
        )
        .unwrap()
    }

    fn nts(pairs: &[(&str, u32)]) -> KeyspaceEvidence {
        KeyspaceEvidence::Replication(KeyspaceReplication {
            class: "NetworkTopologyStrategy".into(),
            replication: pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        })
    }

    fn facts() -> DecommissionFacts {
        DecommissionFacts {
            leaving_dc: "dc-2".into(),
            surviving_dc: "dc-1".into(),
            ring: Some(ring()),
            keyspaces: [("system_auth".to_owned(), nts(&[("dc-1", 3), ("dc-2", 3)]))].into(),
            leaving_addresses: ["10.2.0.1".to_owned()].into(),
            ..Default::default()
        }
    }

    fn errors(f: &DecommissionFacts) -> Vec<&'static str> {
        judge_preflight(f).into_iter().filter(|f| f.severity == Severity::Error).map(|f| f.code).collect()
    }

    #[test]
    fn a_healthy_decommission_only_warns_about_traffic() {
        let all = judge_preflight(&facts());
        assert_eq!(all.iter().map(|f| f.code).collect::<Vec<_>>(), ["move-traffic-first"]);
    }

    #[test]
    fn system_auth_must_keep_a_surviving_replica_even_when_it_does_not_name_the_leaving_dc() {
        let mut f = facts();
        f.keyspaces.insert("system_auth".into(), nts(&[("dc-3", 3)]));
        assert_eq!(errors(&f), ["system-auth-not-in-surviving-dc"]);
    }

    #[test]
    fn a_lost_region_must_be_down_and_a_seed_may_hide_in_a_list() {
        let mut f = facts();
        f.lost_region = true;
        assert_eq!(errors(&f), Vec::<&str>::new(), "DN nodes: a lost region");
        f.surviving_seed = Some(("10.1.0.1, 10.2.0.1".into(), Some(7)));
        assert_eq!(errors(&f), ["seed-host-in-leaving-dc"]);
    }

    #[test]
    fn on_311_the_ring_decides_and_verify_says_what_it_proved() {
        let one_range = |hosts: &[(&str, &str)]| {
            let eps = hosts.iter().map(|(h, _)| *h).collect::<Vec<_>>().join(", ");
            let details = hosts
                .iter()
                .map(|(h, dc)| format!("EndpointDetails(host:{h}, datacenter:{dc}, rack:ra-1)"))
                .collect::<Vec<_>>()
                .join(", ");
            KeyspaceEvidence::Ring(
                parse_describering(&format!(
                    "TokenRange: \n\tTokenRange(start_token:1, end_token:2, endpoints:[{eps}], rpc_endpoints:[{eps}], endpoint_details:[{details}])\n"
                ))
                .unwrap(),
            )
        };
        let mut f = facts();
        f.keyspaces = [("perses".to_owned(), one_range(&[("10.2.0.1", "dc-2")]))].into();
        assert_eq!(errors(&f), ["keyspace-only-in-leaving-dc"]);
        f.keyspaces = [("perses".to_owned(), one_range(&[("10.1.0.1", "dc-1"), ("10.2.0.1", "dc-2")]))].into();
        assert!(errors(&f).is_empty());
        let v = verify_decommission(&DecommissionVerifyFacts {
            leaving_dc: "dc-2".into(),
            ring: ring(),
            cluster: DescribeCluster::default(),
            keyspaces: f.keyspaces.clone(),
        });
        let failed: Vec<&str> = v.checks.iter().filter(|c| !c.passed).map(|c| c.name.as_str()).collect();
        assert_eq!(failed, ["datacenter-gone-from-ring", "no-keyspace-names-datacenter", "surviving-nodes-up"]);
    }

    #[test]
    fn removed_nodes_gossip_still_lists_as_unreachable_do_not_break_schema_agreement() {
        let survivors = parse_status(
            "Datacenter: dc-1\n=====\nStatus=Up/Down\n|/ State=Normal/Leaving/Joining/Moving\n--  Address  Load  Tokens  Owns  Host ID  Rack\nUN  10.1.0.1  1 KiB  16  100%  00000000-0000-0000-0000-000000000001  ra-1\n",
        )
        .unwrap();
        let cluster = |unreachable: &[&str]| DescribeCluster {
            schema_versions: [("e9443ae4".to_owned(), vec!["10.1.0.1".to_owned()])].into(),
            unreachable: unreachable.iter().map(|a| (*a).to_owned()).collect(),
            ..Default::default()
        };
        let agreement = |c: DescribeCluster, ring: StatusReport| {
            let v = verify_decommission(&DecommissionVerifyFacts {
                leaving_dc: "dc-2".into(),
                ring,
                cluster: c,
                keyspaces: BTreeMap::new(),
            });
            v.checks.into_iter().find(|c| c.name == "schema-agreement").unwrap()
        };
        // The leaving datacenter's nodes, removed: gossip still lists them, the ring does not.
        let c = agreement(cluster(&["10.2.0.1"]), survivors.clone());
        assert!(c.passed, "{}", c.detail);
        assert!(c.detail.contains("10.2.0.1") && c.detail.contains("not in the ring"), "{}", c.detail);
        // A node of the ring that is unreachable does count.
        let mut with_down = ring();
        with_down.datacenters.retain(|d| d.name == "dc-1");
        let c = agreement(cluster(&["10.1.0.1"]), with_down);
        assert!(!c.passed, "{}", c.detail);
    }
}
