//! Embedding the pure layer: parse a ring, choose a seed host, and write it into an overrides
//! file without losing anything else. Run: `cargo run --example embed`.

use apigee_multiregion_core::model::{CassandraPod, DatacenterName, PodPhase};
use apigee_multiregion_core::nodetool::parse_status;
use apigee_multiregion_core::overrides::{OverridesDoc, check_pair};
use apigee_multiregion_core::seeds::{SeedPolicy, select_seeds};

const RING: &str = include_str!("../tests/fixtures/status-5.0-2dc-sandbox.txt");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ring = parse_status(RING)?;
    let pods: Vec<CassandraPod> = (0..2)
        .map(|i| CassandraPod {
            name: format!("apigee-cassandra-default-{i}"),
            ordinal: Some(i),
            pod_ip: format!("127.0.1.{}", i + 1).parse().ok(),
            host_ip: format!("127.0.1.{}", i + 1).parse().ok(),
            node_name: Some(format!("r1-apigee-data-{i}")),
            phase: PodPhase::Running,
            ready: true,
            host_network: true,
            rack: None,
            incarnation: None,
        })
        .collect();
    let chosen =
        select_seeds(&pods, Some(&ring), &SeedPolicy { source_dc: Some(DatacenterName::new("dc-1")?), count: 2 })?;
    println!(
        "seed host: {} ({}), alternates: {:?}",
        chosen.seed_host.address,
        chosen.seed_host.pod,
        chosen.alternates.iter().map(|s| s.address).collect::<Vec<_>>()
    );

    let source = OverridesDoc::parse("cassandra:\n  hostNetwork: true\n  datacenter: dc-1\n")?;
    let mut target = OverridesDoc::parse("# the new region\ncassandra:\n  hostNetwork: true   # island network\n")?;
    target.set_datacenter(&DatacenterName::new("dc-2")?)?;
    target.set_seed_host(&chosen.seed_host.address.to_string())?;
    print!("{}", target.text());
    let findings = check_pair(&source, &target)?;
    println!("pair check: {} finding(s)", findings.len());
    assert!(findings.is_empty());
    Ok(())
}
