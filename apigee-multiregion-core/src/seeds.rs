//! Choosing the seed host for `cassandra.multiRegionSeedHost` from the live source ring.
//!
//! The runbook says "any Running pod IP"; peers take pod 0 or the first IP printed. Both go
//! wrong when that pod is not Ready or its node is not `UN`. Here a pod is eligible only when it
//! is Running and Ready, has an address, and (when the ring is given) that address is `UN` in the
//! source datacenter. The choice is deterministic and spread: distinct racks first, then distinct
//! nodes, then the lowest ordinal.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use crate::model::{CassandraPod, DatacenterName, PodPhase, SeedHost};
use crate::nodetool::StatusReport;

/// What to choose.
#[derive(Debug, Clone)]
pub struct SeedPolicy {
    /// The source datacenter; pods whose ring entry is in another datacenter are not eligible.
    pub source_dc: Option<DatacenterName>,
    /// How many seeds to return in all (the seed host plus alternates). At least 1.
    pub count: usize,
}

impl Default for SeedPolicy {
    fn default() -> Self {
        Self { source_dc: None, count: 3 }
    }
}

/// Why a pod cannot be a seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Ineligible {
    /// The pod is not Running.
    NotRunning {
        /// Its phase.
        phase: String,
    },
    /// The pod is Running but not Ready.
    NotReady,
    /// The pod has no pod IP (or host IP with hostNetwork) yet.
    NoAddress,
    /// The pod's address is not in the ring at all.
    NotInRing {
        /// The address looked up.
        address: String,
    },
    /// The ring lists the address, but not up and normal.
    NotUpNormal {
        /// The address.
        address: String,
        /// The two-letter code nodetool printed (`DN`, `UJ`, ...).
        code: String,
    },
    /// The ring lists the address in another datacenter.
    OtherDatacenter {
        /// The address.
        address: String,
        /// The datacenter the ring puts it in.
        datacenter: String,
    },
}

impl fmt::Display for Ineligible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRunning { phase } => write!(f, "phase is {phase}, not Running"),
            Self::NotReady => f.write_str("Running but not Ready"),
            Self::NoAddress => f.write_str("has no IP address yet"),
            Self::NotInRing { address } => write!(f, "{address} is not in the ring (nodetool status)"),
            Self::NotUpNormal { address, code } => write!(f, "{address} is {code} in the ring, not UN"),
            Self::OtherDatacenter { address, datacenter } => {
                write!(f, "{address} is in datacenter {datacenter}, not the source datacenter")
            }
        }
    }
}

/// The verdict on one pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodVerdict {
    /// Pod name.
    pub pod: String,
    /// Its Cassandra address, when it has one.
    pub address: Option<String>,
    /// `None` when eligible, else why not.
    pub ineligible: Option<Ineligible>,
}

/// The result of seed selection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedSelection {
    /// The seed host to write into `multiRegionSeedHost`.
    pub seed_host: SeedHost,
    /// Ranked alternates, for when the seed host goes away.
    pub alternates: Vec<SeedHost>,
    /// The verdict on every pod, eligible or not, in ordinal order.
    pub verdicts: Vec<PodVerdict>,
}

/// No pod can be a seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    /// No Cassandra pods were found at all.
    #[error(
        "no Cassandra pods were found: check the context, the namespace and the label selector `app=apigee-cassandra`"
    )]
    NoPods,
    /// Pods exist but none is eligible.
    #[error("no Cassandra pod can be a seed host:\n{}", list(.verdicts))]
    NoneEligible {
        /// Why each pod is not eligible.
        verdicts: Vec<PodVerdict>,
    },
}

fn list(verdicts: &[PodVerdict]) -> String {
    verdicts
        .iter()
        .map(|v| match &v.ineligible {
            Some(why) => format!("  - {}: {why}", v.pod),
            None => format!("  - {}: eligible", v.pod),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn judge(pod: &CassandraPod, ring: Option<&StatusReport>, policy: &SeedPolicy) -> Result<String, Ineligible> {
    if pod.phase != PodPhase::Running {
        return Err(Ineligible::NotRunning { phase: pod.phase.to_string() });
    }
    if !pod.ready {
        return Err(Ineligible::NotReady);
    }
    let address = pod.cassandra_address().ok_or(Ineligible::NoAddress)?.to_string();
    if let Some(ring) = ring {
        let Some((dc, node)) = ring.find_address(&address) else {
            return Err(Ineligible::NotInRing { address });
        };
        if let Some(source) = &policy.source_dc
            && source.as_str() != dc
        {
            return Err(Ineligible::OtherDatacenter { address, datacenter: dc.to_owned() });
        }
        if !node.is_up_normal() {
            return Err(Ineligible::NotUpNormal { address, code: node.code() });
        }
    }
    Ok(address)
}

/// Chooses the seed host and ranked alternates. See the module documentation for the rules.
pub fn select_seeds(
    pods: &[CassandraPod],
    ring: Option<&StatusReport>,
    policy: &SeedPolicy,
) -> Result<SeedSelection, SeedError> {
    if pods.is_empty() {
        return Err(SeedError::NoPods);
    }
    let mut sorted: Vec<&CassandraPod> = pods.iter().collect();
    sorted.sort_by(|a, b| (a.ordinal.unwrap_or(u32::MAX), &a.name).cmp(&(b.ordinal.unwrap_or(u32::MAX), &b.name)));

    let mut verdicts = Vec::with_capacity(sorted.len());
    let mut eligible: Vec<SeedHost> = Vec::new();
    for pod in sorted {
        match judge(pod, ring, policy) {
            Ok(address) => {
                let ring_rack = ring.and_then(|r| r.find_address(&address)).map(|(_, n)| n.rack.clone());
                // `judge` returned the string form of this very address, so it parses back.
                if let Some(ip) = pod.cassandra_address() {
                    eligible.push(SeedHost {
                        address: ip,
                        pod: pod.name.clone(),
                        node_name: pod.node_name.clone(),
                        rack: ring_rack.or_else(|| pod.rack.clone()),
                    });
                }
                verdicts.push(PodVerdict { pod: pod.name.clone(), address: Some(address), ineligible: None });
            }
            Err(why) => verdicts.push(PodVerdict {
                pod: pod.name.clone(),
                address: pod.cassandra_address().map(|a| a.to_string()),
                ineligible: Some(why),
            }),
        }
    }
    if eligible.is_empty() {
        return Err(SeedError::NoneEligible { verdicts });
    }

    // Greedy spread: each pick prefers a rack not yet used, then a node not yet used; the
    // candidates are in ordinal order, so ties go to the lowest ordinal.
    let mut chosen: Vec<SeedHost> = Vec::new();
    let mut racks: HashSet<Option<String>> = HashSet::new();
    let mut nodes: HashSet<Option<String>> = HashSet::new();
    let want = policy.count.max(1);
    while chosen.len() < want && !eligible.is_empty() {
        let score = |s: &SeedHost| (!racks.contains(&s.rack), !nodes.contains(&s.node_name));
        let best = eligible
            .iter()
            .enumerate()
            .max_by(|(ia, a), (ib, b)| score(a).cmp(&score(b)).then(ib.cmp(ia)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        let pick = eligible.remove(best);
        racks.insert(pick.rack.clone());
        nodes.insert(pick.node_name.clone());
        chosen.push(pick);
    }
    let seed_host = chosen.remove(0);
    Ok(SeedSelection { seed_host, alternates: chosen, verdicts })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodetool::parse_status;

    fn pod(ordinal: u32, ip: &str, node: &str, rack: &str) -> CassandraPod {
        CassandraPod {
            name: format!("apigee-cassandra-default-{ordinal}"),
            ordinal: Some(ordinal),
            pod_ip: Some(ip.parse().unwrap()),
            host_ip: Some(ip.parse().unwrap()),
            node_name: Some(node.to_owned()),
            phase: PodPhase::Running,
            ready: true,
            host_network: true,
            rack: Some(rack.to_owned()),
            incarnation: None,
        }
    }

    fn ring(rows: &[(&str, &str, &str)]) -> StatusReport {
        let mut text = String::from("Datacenter: dc-1\n--  Address  Load  Tokens  Owns (effective)  Host ID  Rack\n");
        for (i, (code, ip, rack)) in rows.iter().enumerate() {
            text.push_str(&format!("{code}  {ip}  1 KiB  16  33.3%  00000000-0000-0000-0000-00000000000{i}  {rack}\n"));
        }
        parse_status(&text).unwrap()
    }

    fn dc1() -> SeedPolicy {
        SeedPolicy { source_dc: Some(DatacenterName::new("dc-1").unwrap()), count: 3 }
    }

    #[test]
    fn picks_the_lowest_ordinal_when_everything_is_healthy() {
        let pods = vec![pod(1, "10.0.0.2", "n2", "ra-1"), pod(0, "10.0.0.1", "n1", "ra-1")];
        let r = ring(&[("UN", "10.0.0.1", "ra-1"), ("UN", "10.0.0.2", "ra-1")]);
        let s = select_seeds(&pods, Some(&r), &dc1()).unwrap();
        assert_eq!(s.seed_host.address.to_string(), "10.0.0.1");
        assert_eq!(s.alternates.len(), 1);
    }

    #[test]
    fn skips_a_pod_whose_node_is_down_in_the_ring() {
        let pods = vec![pod(0, "10.0.0.1", "n1", "ra-1"), pod(1, "10.0.0.2", "n2", "ra-1")];
        let r = ring(&[("DN", "10.0.0.1", "ra-1"), ("UN", "10.0.0.2", "ra-1")]);
        let s = select_seeds(&pods, Some(&r), &dc1()).unwrap();
        assert_eq!(s.seed_host.pod, "apigee-cassandra-default-1");
        assert_eq!(
            s.verdicts[0].ineligible,
            Some(Ineligible::NotUpNormal { address: "10.0.0.1".into(), code: "DN".into() })
        );
    }

    #[test]
    fn prefers_distinct_racks_then_distinct_nodes() {
        let pods = vec![
            pod(0, "10.0.0.1", "n1", "ra-1"),
            pod(1, "10.0.0.2", "n1", "ra-1"),
            pod(2, "10.0.0.3", "n2", "ra-1"),
            pod(3, "10.0.0.4", "n3", "ra-2"),
        ];
        let s = select_seeds(&pods, None, &SeedPolicy::default()).unwrap();
        let order: Vec<String> =
            std::iter::once(&s.seed_host).chain(&s.alternates).map(|h| h.address.to_string()).collect();
        assert_eq!(order, ["10.0.0.1", "10.0.0.4", "10.0.0.3"]);
    }

    #[test]
    fn refuses_when_no_pod_is_ready_and_names_every_pod() {
        let mut a = pod(0, "10.0.0.1", "n1", "ra-1");
        a.ready = false;
        let mut b = pod(1, "10.0.0.2", "n2", "ra-1");
        b.phase = PodPhase::Pending;
        let err = select_seeds(&[a, b], None, &SeedPolicy::default()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("apigee-cassandra-default-0: Running but not Ready"), "{msg}");
        assert!(msg.contains("apigee-cassandra-default-1: phase is Pending"), "{msg}");
    }

    #[test]
    fn refuses_a_pod_that_the_ring_places_in_another_datacenter() {
        let pods = vec![pod(0, "10.0.0.1", "n1", "ra-1")];
        let r = ring(&[("UN", "10.0.0.1", "ra-1")]);
        let policy = SeedPolicy { source_dc: Some(DatacenterName::new("dc-9").unwrap()), count: 2 };
        let err = select_seeds(&pods, Some(&r), &policy).unwrap_err();
        assert!(err.to_string().contains("in datacenter dc-1"), "{err}");
    }

    #[test]
    fn uses_the_node_ip_with_host_network() {
        let mut p = pod(0, "10.0.0.1", "n1", "ra-1");
        p.pod_ip = Some("192.168.0.9".parse().unwrap());
        let s = select_seeds(&[p.clone()], None, &SeedPolicy::default()).unwrap();
        assert_eq!(s.seed_host.address.to_string(), "10.0.0.1");
        p.host_network = false;
        let s = select_seeds(&[p], None, &SeedPolicy::default()).unwrap();
        assert_eq!(s.seed_host.address.to_string(), "192.168.0.9");
    }

    #[test]
    fn no_pods_at_all_says_where_to_look() {
        assert!(
            select_seeds(&[], None, &SeedPolicy::default()).unwrap_err().to_string().contains("app=apigee-cassandra")
        );
    }
}
