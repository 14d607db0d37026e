//! The replication check's judgement, on every Cassandra line: which keyspaces already replicate
//! to the new datacenter, which must but do not yet, and which do not matter for the expansion.
//!
//! The evidence per keyspace is either its replication map (`describecluster`'s `Keyspaces:`
//! section, 4.0+) or its ring (`describering`, every version; the keyspace list then comes from
//! `tablestats` on 3.11). Pure: no I/O.
//!
//! Rules:
//! - `system`, `system_schema`, the virtual keyspaces (`system_views`, `system_virtual_schema`)
//!   and any `LocalStrategy` keyspace are local to each node: not relevant.
//! - `system_auth`, `system_distributed` and `system_traces` must replicate to the target
//!   whatever they replicate to now (users, repair history and traces of the new region).
//! - Any other keyspace must replicate to the target when it replicates to the source
//!   (`NetworkTopologyStrategy` with the source datacenter, or a ring with replicas there);
//!   a keyspace that does not replicate to the source is not relevant.
//! - `SimpleStrategy` and unknown strategies ignore datacenters: they must be altered to
//!   `NetworkTopologyStrategy` before the rebuild.
//! - From a ring: the keyspace replicates to the target when every range has at least one
//!   replica in the target datacenter.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::{DescribeCluster, DescribeRing, KeyspaceReplication};

/// Keyspaces that live on each node only, whatever their strategy.
pub const LOCAL_KEYSPACES: [&str; 4] = ["system", "system_schema", "system_views", "system_virtual_schema"];

/// System keyspaces that must replicate to every datacenter of an Apigee hybrid cluster.
pub const REPLICATED_SYSTEM_KEYSPACES: [&str; 3] = ["system_auth", "system_distributed", "system_traces"];

/// What is known about one keyspace's placement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "kebab-case")]
pub enum KeyspaceEvidence {
    /// Its replication map (`describecluster`, 4.0+).
    Replication(KeyspaceReplication),
    /// Its token ranges with their replicas' datacenters (`describering`).
    Ring(DescribeRing),
}

/// Why a keyspace does not matter for the expansion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum NotRelevantReason {
    /// Local to each node (`system`, `system_schema`, virtual keyspaces, `LocalStrategy`).
    LocalOnly,
    /// It does not replicate to the source datacenter either.
    NotInSourceDatacenter,
}

/// Why a keyspace that must replicate to the target does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum MissingReason {
    /// `NetworkTopologyStrategy` without the target datacenter.
    NoReplicasInTarget {
        /// Replicas it keeps in the source datacenter.
        source_replicas: u32,
    },
    /// `SimpleStrategy` places replicas without regard to datacenters.
    SimpleStrategy,
    /// A strategy class the tool cannot reason about.
    UnknownStrategy {
        /// The class, as printed.
        class: String,
    },
    /// Ranges of its ring without a replica in the target datacenter.
    RangesWithoutTargetReplica {
        /// Ranges with no replica in the target.
        missing: usize,
        /// All ranges.
        total: usize,
    },
    /// `describering` printed no ranges: nothing proves the keyspace is replicated.
    NoRanges,
}

/// The verdict for one keyspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum KeyspaceVerdict {
    /// It already replicates to the target datacenter.
    Replicated,
    /// It must replicate to the target datacenter but does not (yet).
    Missing {
        /// Why.
        reason: MissingReason,
    },
    /// It does not matter for the expansion.
    NotRelevant {
        /// Why.
        reason: NotRelevantReason,
    },
}

/// A keyspace that blocks the rebuild, with a sentence for the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingKeyspace {
    /// The keyspace.
    pub keyspace: String,
    /// What is wrong and what to do, in one sentence.
    pub reason: String,
}

/// The whole check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationCheck {
    /// The datacenter being added.
    pub target_dc: String,
    /// The datacenter the data is rebuilt from.
    pub source_dc: String,
    /// Every keyspace with its verdict.
    pub keyspaces: BTreeMap<String, KeyspaceVerdict>,
    /// The keyspaces that must be altered before the rebuild, in name order.
    pub missing: Vec<MissingKeyspace>,
}

impl ReplicationCheck {
    /// No keyspace is missing the target datacenter.
    pub fn is_ready(&self) -> bool {
        self.missing.is_empty()
    }

    /// The keyspaces that already replicate to the target.
    pub fn replicated(&self) -> impl Iterator<Item = &str> {
        self.keyspaces.iter().filter(|(_, v)| **v == KeyspaceVerdict::Replicated).map(|(k, _)| k.as_str())
    }
}

impl fmt::Display for NotRelevantReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LocalOnly => f.write_str("local to each node"),
            Self::NotInSourceDatacenter => f.write_str("does not replicate to the source datacenter"),
        }
    }
}

impl MissingReason {
    /// One sentence for the operator, naming the datacenters.
    pub fn describe(&self, keyspace: &str, target_dc: &str, source_dc: &str) -> String {
        match self {
            Self::NoReplicasInTarget { source_replicas } => format!(
                "{keyspace} replicates to {source_dc} ({source_replicas} replicas) but not to {target_dc}: \
                 ALTER KEYSPACE {keyspace} to add '{target_dc}' to its NetworkTopologyStrategy"
            ),
            Self::SimpleStrategy => format!(
                "{keyspace} uses SimpleStrategy, which ignores datacenters: ALTER KEYSPACE {keyspace} to \
                 NetworkTopologyStrategy with '{source_dc}' and '{target_dc}'"
            ),
            Self::UnknownStrategy { class } => format!(
                "{keyspace} uses {class}, which the tool cannot check: make it NetworkTopologyStrategy with \
                 '{source_dc}' and '{target_dc}'"
            ),
            Self::RangesWithoutTargetReplica { missing, total } => format!(
                "{missing} of {total} token ranges of {keyspace} have no replica in {target_dc}: \
                 ALTER KEYSPACE {keyspace} to add '{target_dc}' to its NetworkTopologyStrategy"
            ),
            Self::NoRanges => {
                format!(
                    "nodetool describering {keyspace} printed no token ranges, so nothing shows it replicates to {target_dc}"
                )
            }
        }
    }
}

/// Classifies one keyspace.
pub fn classify_keyspace(name: &str, evidence: &KeyspaceEvidence, target_dc: &str, source_dc: &str) -> KeyspaceVerdict {
    use KeyspaceVerdict::{Missing, NotRelevant, Replicated};
    if LOCAL_KEYSPACES.contains(&name) {
        return NotRelevant { reason: NotRelevantReason::LocalOnly };
    }
    let must = REPLICATED_SYSTEM_KEYSPACES.contains(&name);
    match evidence {
        KeyspaceEvidence::Replication(r) => match r.class.as_str() {
            "LocalStrategy" => NotRelevant { reason: NotRelevantReason::LocalOnly },
            "NetworkTopologyStrategy" => {
                let source_replicas = r.replicas_in(source_dc);
                if r.replicas_in(target_dc) > 0 {
                    Replicated
                } else if must || source_replicas > 0 {
                    Missing { reason: MissingReason::NoReplicasInTarget { source_replicas } }
                } else {
                    NotRelevant { reason: NotRelevantReason::NotInSourceDatacenter }
                }
            }
            "SimpleStrategy" => Missing { reason: MissingReason::SimpleStrategy },
            other => Missing { reason: MissingReason::UnknownStrategy { class: other.to_owned() } },
        },
        KeyspaceEvidence::Ring(ring) => {
            if ring.ranges.is_empty() {
                return Missing { reason: MissingReason::NoRanges };
            }
            let missing = ring.ranges_without_replica_in(target_dc);
            if missing == 0 {
                Replicated
            } else if must || ring.any_range_has_replica_in(source_dc) {
                Missing { reason: MissingReason::RangesWithoutTargetReplica { missing, total: ring.ranges.len() } }
            } else {
                NotRelevant { reason: NotRelevantReason::NotInSourceDatacenter }
            }
        }
    }
}

/// Classifies every keyspace and lists the ones that block the rebuild.
pub fn check_replication(
    keyspaces: &BTreeMap<String, KeyspaceEvidence>,
    target_dc: &str,
    source_dc: &str,
) -> ReplicationCheck {
    let mut out = ReplicationCheck {
        target_dc: target_dc.to_owned(),
        source_dc: source_dc.to_owned(),
        keyspaces: BTreeMap::new(),
        missing: Vec::new(),
    };
    for (name, evidence) in keyspaces {
        let verdict = classify_keyspace(name, evidence, target_dc, source_dc);
        if let KeyspaceVerdict::Missing { reason } = &verdict {
            out.missing
                .push(MissingKeyspace { keyspace: name.clone(), reason: reason.describe(name, target_dc, source_dc) });
        }
        out.keyspaces.insert(name.clone(), verdict);
    }
    out
}

/// The evidence `describecluster` gives (4.0+; empty on 3.11, which prints no keyspaces).
pub fn evidence_from_describecluster(d: &DescribeCluster) -> BTreeMap<String, KeyspaceEvidence> {
    d.keyspaces.iter().map(|(k, r)| (k.clone(), KeyspaceEvidence::Replication(r.clone()))).collect()
}

/// The evidence from one `describering` per keyspace (the keyspace list from `tablestats`).
pub fn evidence_from_rings<I, S>(rings: I) -> BTreeMap<String, KeyspaceEvidence>
where
    I: IntoIterator<Item = (S, DescribeRing)>,
    S: Into<String>,
{
    rings.into_iter().map(|(k, r)| (k.into(), KeyspaceEvidence::Ring(r))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodetool::{RangeEndpoint, TokenRange};

    fn nts(pairs: &[(&str, u32)]) -> KeyspaceEvidence {
        KeyspaceEvidence::Replication(KeyspaceReplication {
            class: "NetworkTopologyStrategy".into(),
            replication: pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        })
    }

    fn class(c: &str) -> KeyspaceEvidence {
        KeyspaceEvidence::Replication(KeyspaceReplication { class: c.into(), replication: BTreeMap::new() })
    }

    fn ring(ranges: &[&[&str]]) -> KeyspaceEvidence {
        KeyspaceEvidence::Ring(DescribeRing {
            schema_version: None,
            ranges: ranges
                .iter()
                .enumerate()
                .map(|(i, dcs)| TokenRange {
                    start_token: i.to_string(),
                    end_token: (i + 1).to_string(),
                    endpoints: dcs
                        .iter()
                        .map(|dc| RangeEndpoint {
                            address: format!("10.0.{i}.1"),
                            port: None,
                            datacenter: Some((*dc).to_owned()),
                            rack: Some("ra-1".into()),
                        })
                        .collect(),
                })
                .collect(),
        })
    }

    fn verdict(name: &str, e: KeyspaceEvidence) -> KeyspaceVerdict {
        classify_keyspace(name, &e, "dc-2", "dc-1")
    }

    #[test]
    fn a_keyspace_with_the_new_dc_is_replicated() {
        assert_eq!(verdict("kvm_org_hybrid", nts(&[("dc-1", 3), ("dc-2", 3)])), KeyspaceVerdict::Replicated);
    }

    #[test]
    fn a_keyspace_without_the_new_dc_is_reported() {
        let mut ks = BTreeMap::new();
        ks.insert("perses".to_owned(), nts(&[("dc-1", 3)]));
        ks.insert("kvm_org_hybrid".to_owned(), nts(&[("dc-1", 3), ("dc-2", 3)]));
        let c = check_replication(&ks, "dc-2", "dc-1");
        assert!(!c.is_ready());
        assert_eq!(c.missing.len(), 1);
        assert_eq!(c.missing[0].keyspace, "perses");
        assert!(
            c.missing[0].reason.contains("not to dc-2") && c.missing[0].reason.contains("ALTER KEYSPACE perses"),
            "{}",
            c.missing[0].reason
        );
        assert_eq!(c.replicated().collect::<Vec<_>>(), ["kvm_org_hybrid"]);
    }

    #[test]
    fn replicated_system_keyspaces_must_reach_the_new_dc_even_when_not_in_the_source() {
        for ks in REPLICATED_SYSTEM_KEYSPACES {
            assert!(matches!(verdict(ks, nts(&[("dc-3", 3)])), KeyspaceVerdict::Missing { .. }), "{ks}");
            assert!(matches!(verdict(ks, ring(&[&["dc-1"]])), KeyspaceVerdict::Missing { .. }), "{ks}");
        }
        assert!(matches!(
            verdict("system_traces", class("SimpleStrategy")),
            KeyspaceVerdict::Missing { reason: MissingReason::SimpleStrategy }
        ));
    }

    #[test]
    fn local_keyspaces_are_not_relevant() {
        let local = KeyspaceVerdict::NotRelevant { reason: NotRelevantReason::LocalOnly };
        assert_eq!(verdict("system", class("LocalStrategy")), local);
        assert_eq!(verdict("system_schema", nts(&[])), local);
        assert_eq!(verdict("system_views", ring(&[])), local);
        assert_eq!(verdict("my_local", class("LocalStrategy")), local);
    }

    #[test]
    fn a_keyspace_that_does_not_replicate_to_the_source_is_not_relevant() {
        let other = KeyspaceVerdict::NotRelevant { reason: NotRelevantReason::NotInSourceDatacenter };
        assert_eq!(verdict("analytics", nts(&[("dc-3", 3)])), other);
        assert_eq!(verdict("analytics", ring(&[&["dc-3"], &["dc-3"]])), other);
    }

    #[test]
    fn simple_and_unknown_strategies_must_be_altered() {
        assert!(matches!(
            verdict("app", class("SimpleStrategy")),
            KeyspaceVerdict::Missing { reason: MissingReason::SimpleStrategy }
        ));
        assert!(matches!(
            verdict("app", class("EverywhereStrategy")),
            KeyspaceVerdict::Missing { reason: MissingReason::UnknownStrategy { class } } if class == "EverywhereStrategy"
        ));
    }

    #[test]
    fn a_ring_replicates_to_the_new_dc_only_when_every_range_has_a_replica_there() {
        assert_eq!(verdict("perses", ring(&[&["dc-1", "dc-2"], &["dc-2", "dc-1"]])), KeyspaceVerdict::Replicated);
        assert_eq!(
            verdict("perses", ring(&[&["dc-1", "dc-2"], &["dc-1", "dc-1"]])),
            KeyspaceVerdict::Missing { reason: MissingReason::RangesWithoutTargetReplica { missing: 1, total: 2 } }
        );
    }

    #[test]
    fn an_empty_ring_proves_nothing() {
        assert_eq!(verdict("perses", ring(&[])), KeyspaceVerdict::Missing { reason: MissingReason::NoRanges });
    }

    #[test]
    fn evidence_comes_from_describecluster_or_from_rings() {
        let mut d = DescribeCluster::default();
        if let KeyspaceEvidence::Replication(r) = nts(&[("dc-1", 3)]) {
            d.keyspaces.insert("perses".into(), r);
        }
        let e = evidence_from_describecluster(&d);
        assert!(matches!(e["perses"], KeyspaceEvidence::Replication(_)));
        let KeyspaceEvidence::Ring(r) = ring(&[&["dc-1"]]) else { unreachable!() };
        let e = evidence_from_rings([("perses", r)]);
        assert!(matches!(e["perses"], KeyspaceEvidence::Ring(_)));
        assert_eq!(check_replication(&e, "dc-2", "dc-1").missing.len(), 1);
    }
}
