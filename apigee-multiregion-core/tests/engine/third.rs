//! Expanding an installation that already has two datacenters to a third.

use apigee_multiregion_core::expansion::RunOptions;

use super::world::{RingNode, healthy};
use super::{TARGET, calls, run, setup};

/// dc-1 (the source) and dc-2 (another region, not in the plan) are in the ring; the plan adds
/// dc-3. The seeds come from the source datacenter, every node rebuilds from it, dc-2 is kept in
/// every keyspace, and verify sees the whole ring of three datacenters.
#[tokio::test]
async fn a_third_datacenter_is_added_next_to_two_and_none_is_dropped() {
    let mut s = setup("");
    s.plan.target.datacenter = "dc-3".parse().unwrap();
    std::fs::write(&s.target, TARGET.replace("  replicaCount: 2\n", "  replicaCount: 2\n  datacenter: dc-3\n"))
        .unwrap();
    let w = healthy();
    {
        let mut w = w.lock().unwrap();
        for (i, address) in ["10.3.0.1", "10.3.0.2"].into_iter().enumerate() {
            w.ring.push(RingNode {
                dc: "dc-2".into(),
                address: address.into(),
                code: "UN",
                load_kib: 1000,
                host_id: 101 + i as u32,
            });
        }
        w.host_counter = 200;
        for r in w.keyspaces.values_mut() {
            r.insert("dc-2".into(), 2);
        }
    }
    let (r, _) = run(&s, &w, RunOptions::default()).await;
    let report = r.unwrap();
    assert_eq!(report.seed_host.as_deref(), Some("10.1.0.1"), "a seed of the source datacenter");
    assert!(report.seed_alternates.iter().all(|a| a.starts_with("10.1.")), "{:?}", report.seed_alternates);
    let verify = report.verify.unwrap();
    assert!(verify.passed(), "{:?}", verify.failures());
    assert!(verify.checks.iter().any(|c| c.name == "all-up-from-source" && c.detail.starts_with("6 nodes")));
    assert_eq!(calls(&w, "rebuild "), 2);
    let w = w.lock().unwrap();
    assert!(w.logs.values().filter(|l| l.contains("rebuild from dc")).all(|l| l.contains("rebuild from dc: dc-1")));
    for (ks, r) in &w.keyspaces {
        assert_eq!(r.keys().map(String::as_str).collect::<Vec<_>>(), ["dc-1", "dc-2", "dc-3"], "{ks}");
    }
    let dcs: std::collections::BTreeSet<&str> = w.ring.iter().map(|n| n.dc.as_str()).collect();
    assert_eq!(dcs.into_iter().collect::<Vec<_>>(), ["dc-1", "dc-2", "dc-3"]);
}
