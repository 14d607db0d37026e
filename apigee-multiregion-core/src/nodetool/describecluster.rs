//! `nodetool describecluster`: cluster name, schema agreement, datacenters and, on 4.0+, every
//! keyspace's replication (what `check-replication` reads before a rebuild).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ParseError, first_line_hint, split_address};

const WHAT: &str = "nodetool describecluster";

/// Parsed `nodetool describecluster`. Output of 3.x has only name, snitch, partitioner and
/// schema versions; the other maps stay empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DescribeCluster {
    /// `cluster_name` (Apigee: `cassandra.clusterName`, default `apigeecluster`).
    pub name: String,
    /// Snitch class.
    pub snitch: String,
    /// Partitioner class.
    pub partitioner: String,
    /// Schema version -> addresses reporting it. More than one key means schema disagreement.
    pub schema_versions: BTreeMap<String, Vec<String>>,
    /// Addresses listed under the `UNREACHABLE` pseudo version.
    pub unreachable: Vec<String>,
    /// Datacenter -> node counts (4.0+).
    pub datacenters: BTreeMap<String, DatacenterCounts>,
    /// Keyspace -> replication (4.0+).
    pub keyspaces: BTreeMap<String, KeyspaceReplication>,
}

/// `dc-1 #Nodes: 3 #Down: 0`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DatacenterCounts {
    /// Nodes in the datacenter.
    pub nodes: u32,
    /// Of which down.
    pub down: u32,
}

/// `ks -> Replication class: NetworkTopologyStrategy {dc-1=3, dc-2=3}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyspaceReplication {
    /// Strategy class without the `org.apache.cassandra.locator.` prefix.
    pub class: String,
    /// Replication options: datacenter -> replicas for NetworkTopologyStrategy,
    /// `replication_factor` for SimpleStrategy. Transient replication (`3/1`) keeps the full count.
    pub replication: BTreeMap<String, u32>,
}

impl KeyspaceReplication {
    /// Replicas this keyspace keeps in `datacenter` (0 when it does not replicate there).
    pub fn replicas_in(&self, datacenter: &str) -> u32 {
        if self.class == "NetworkTopologyStrategy" { self.replication.get(datacenter).copied().unwrap_or(0) } else { 0 }
    }
}

impl DescribeCluster {
    /// All reachable nodes agree on one schema version.
    pub fn schema_agrees(&self) -> bool {
        self.schema_versions.len() <= 1 && self.unreachable.is_empty()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Section {
    Info,
    Schema,
    Stats,
    Datacenters,
    Versions,
    Keyspaces,
}

/// Parses `nodetool describecluster` output.
pub fn parse_describecluster(text: &str) -> Result<DescribeCluster, ParseError> {
    let mut out = DescribeCluster::default();
    let mut section: Option<Section> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        let header = match line {
            "Cluster Information:" => Some(Section::Info),
            "Stats for all nodes:" => Some(Section::Stats),
            "Data Centers:" => Some(Section::Datacenters),
            "Database versions:" => Some(Section::Versions),
            "Keyspaces:" => Some(Section::Keyspaces),
            "Schema versions:" if section.is_some() => Some(Section::Schema),
            _ => None,
        };
        if let Some(h) = header {
            section = Some(h);
            continue;
        }
        let Some(current) = section else { continue }; // noise before the first header
        if line.is_empty() {
            continue;
        }
        match current {
            Section::Info => {
                if let Some((key, value)) = line.split_once(':') {
                    let value = value.trim().to_owned();
                    match key.trim() {
                        "Name" => out.name = value,
                        "Snitch" => out.snitch = value,
                        "Partitioner" => out.partitioner = value,
                        _ => {}
                    }
                }
            }
            Section::Schema => {
                let (version, list) = line.split_once(": [").ok_or_else(|| {
                    ParseError::new(WHAT, n, format!("expected `<version>: [<addresses>]`, found `{line}`"))
                })?;
                let addresses: Vec<String> = list
                    .trim_end_matches(']')
                    .split(',')
                    .map(|a| split_address(a.trim()).0)
                    .filter(|a| !a.is_empty())
                    .collect();
                if version.trim() == "UNREACHABLE" {
                    out.unreachable.extend(addresses);
                } else {
                    out.schema_versions.insert(version.trim().to_owned(), addresses);
                }
            }
            Section::Datacenters => {
                let (name, counts) = parse_dc_line(line).ok_or_else(|| {
                    ParseError::new(WHAT, n, format!("expected `<dc> #Nodes: N #Down: N`, found `{line}`"))
                })?;
                out.datacenters.insert(name, counts);
            }
            Section::Keyspaces => {
                let (name, repl) = parse_keyspace_line(line).ok_or_else(|| {
                    ParseError::new(
                        WHAT,
                        n,
                        format!("expected `<keyspace> -> Replication class: <class> {{...}}`, found `{line}`"),
                    )
                })?;
                out.keyspaces.insert(name, repl);
            }
            Section::Stats | Section::Versions => {}
        }
    }
    if section.is_none() {
        return Err(ParseError::new(
            WHAT,
            1,
            format!("no `Cluster Information:` header found; {}", first_line_hint(text)),
        ));
    }
    Ok(out)
}

fn parse_dc_line(line: &str) -> Option<(String, DatacenterCounts)> {
    let (name, rest) = line.split_once(" #Nodes:")?;
    let (nodes, down) = rest.split_once("#Down:")?;
    Some((
        name.trim().to_owned(),
        DatacenterCounts { nodes: nodes.trim().parse().ok()?, down: down.trim().parse().ok()? },
    ))
}

fn parse_keyspace_line(line: &str) -> Option<(String, KeyspaceReplication)> {
    let (name, rest) = line.split_once(" -> ")?;
    let rest = rest.trim().strip_prefix("Replication class:")?.trim();
    let (class, options) = match rest.find('{') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "{}"),
    };
    let class = class.trim();
    let class = class.rsplit('.').next().unwrap_or(class).to_owned();
    let inner = options.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut replication = BTreeMap::new();
    for pair in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=')?;
        // Transient replication prints `3/1`: the first number is the replica count.
        let count = v.trim().split('/').next()?.trim().parse().ok()?;
        if k.trim() != "class" {
            replication.insert(k.trim().to_owned(), count);
        }
    }
    Some((name.trim().to_owned(), KeyspaceReplication { class, replication }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_replication_of_every_keyspace() {
        let text = "Cluster Information:\n\tName: apigeecluster\n\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch\n\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner\n\tSchema versions:\n\t\t1b8a4c1e-5b1a-3c2b-9d3e-aa0b1c2d3e4f: [127.0.1.1, 127.0.2.1]\n\nKeyspaces:\n\tkvm_org_hybrid -> Replication class: NetworkTopologyStrategy {dc-1=3, dc-2=3}\n\tperses -> Replication class: NetworkTopologyStrategy {dc-1=3}\n";
        let d = parse_describecluster(text).unwrap();
        assert!(d.schema_agrees());
        assert_eq!(d.keyspaces["kvm_org_hybrid"].replicas_in("dc-2"), 3);
        assert_eq!(d.keyspaces["perses"].replicas_in("dc-2"), 0);
    }

    #[test]
    fn a_3_11_output_has_only_the_cluster_information() {
        let text = "Cluster Information:\n\tName: c\n\tSnitch: s\n\tDynamicEndPointSnitch: enabled\n\tPartitioner: p\n\tSchema versions:\n\t\tv1: [10.0.0.1, 10.0.0.2]\n\t\tv2: [10.0.0.3]\n";
        let d = parse_describecluster(text).unwrap();
        assert_eq!(d.schema_versions.len(), 2);
        assert!(!d.schema_agrees());
        assert!(d.keyspaces.is_empty());
    }
}
