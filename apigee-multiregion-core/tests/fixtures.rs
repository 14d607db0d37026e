//! Every parser against real captured output: public samples (each file's first line says where
//! it comes from) and output captured from the sandbox's Cassandra 5.0.9.

use apigee_multiregion_core::nodetool::{
    LogEvent, NodeState, UpDown, parse_describecluster, parse_netstats, parse_status, scan_rebuild_log,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn status_two_datacenters_casskop() {
    let r = parse_status(&fixture("nodetool-status-2dc-casskop-cluster-ops.txt")).unwrap();
    assert_eq!(r.datacenters.len(), 2);
    assert_eq!(r.datacenters[0].name, "dc1");
    assert_eq!(r.datacenters[0].nodes.len(), 4);
    let n = &r.datacenters[1].nodes[2];
    assert_eq!((n.address.as_str(), n.load_bytes, n.tokens, n.owns_percent), ("172.18.88.9", Some(151_900), Some(32), Some(31.7)));
    assert_eq!(n.host_id, "fecdfb5d-3ad4-4204-8ca5-cc7f1c4c19c4");
    assert!(r.nodes().all(|(_, n)| n.is_up_normal()));
}

#[test]
fn status_joining_node_with_unknown_ownership() {
    let r = parse_status(&fixture("nodetool-status-1dc-uj-joining-sysdig.txt")).unwrap();
    let n = &r.datacenters[0].nodes[1];
    assert_eq!((n.status, n.state), (UpDown::Up, NodeState::Joining));
    assert_eq!(n.owns_percent, None);
    assert_eq!(n.load_bytes, Some(14_776)); // 14.43 KB
    assert_eq!(r.datacenters[0].nodes[0].load_bytes, Some(1_971_323)); // 1.88 MB
}

#[test]
fn status_captured_from_the_sandbox_with_blank_lines_between_datacenters() {
    let r = parse_status(&fixture("status-5.0-2dc-sandbox.txt")).unwrap();
    let names: Vec<&str> = r.datacenters.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["dc-1", "dc-2"]);
    assert!(r.nodes().all(|(_, n)| n.is_up_normal() && n.port.is_none() && n.rack == "ra-1"));
    assert!(r.datacenter("dc-2").unwrap().total_load_bytes() > 0);
}

#[test]
fn status_with_print_port() {
    let r = parse_status(&fixture("status-5.0-2dc-print-port-sandbox.txt")).unwrap();
    assert!(r.nodes().all(|(_, n)| n.port == Some(7000)));
    assert!(r.find_address("127.0.2.1").is_some());
}

#[test]
fn describecluster_4_0_with_an_unreachable_node() {
    let d = parse_describecluster(&fixture("describecluster-4.0.3-unreachable.txt")).unwrap();
    assert_eq!(d.name, "Test Cluster");
    assert_eq!(d.unreachable, ["127.0.0.1"]);
    assert!(!d.schema_agrees());
    assert_eq!(d.datacenters["datacenter1"].nodes, 3);
    assert_eq!(d.keyspaces["system_traces"].class, "SimpleStrategy");
    assert_eq!(d.keyspaces["system_traces"].replication["replication_factor"], 2);
}

#[test]
fn describecluster_captured_from_the_sandbox() {
    let d = parse_describecluster(&fixture("describecluster-5.0-2dc-sandbox.txt")).unwrap();
    assert_eq!(d.name, "apigeecluster");
    assert!(d.schema_agrees());
    assert_eq!(d.datacenters.len(), 2);
    for ks in ["kvm_sandbox_org_hybrid", "perses", "system_auth", "system_distributed", "system_traces"] {
        assert_eq!(d.keyspaces[ks].replicas_in("dc-2"), 2, "{ks}");
    }
}

#[test]
fn netstats_synthetic_4x_rebuild_layout() {
    let s = parse_netstats(&fixture("netstats-rebuild-cassandra-4x-SYNTHETIC-from-source.txt")).unwrap();
    assert_eq!(s.mode, "NORMAL");
    let plan = s.rebuild_plans().next().unwrap();
    assert_eq!(plan.peers.len(), 2);
    assert_eq!(s.rebuild_progress(), (26_214_400 + 1_048_576, 104_857_600 + 94_371_840));
}

#[test]
fn netstats_idle_from_the_sandbox() {
    let s = parse_netstats(&fixture("netstats-5.0-idle-sandbox.txt")).unwrap();
    assert_eq!(s.mode, "NORMAL");
    assert!(s.streams.is_empty());
}

#[test]
fn rebuild_log_captured_from_the_sandbox() {
    let ev = scan_rebuild_log(&fixture("log-rebuild-success-5.0-sandbox.txt"));
    assert!(matches!(&ev[0], LogEvent::RebuildStarted { source_dc: Some(dc), .. } if dc == "dc-1"), "{ev:?}");
    let plan = match &ev[1] {
        LogEvent::StreamPlanStarted { plan_id, operation, .. } => {
            assert_eq!(operation, "Rebuild");
            plan_id.clone()
        }
        other => panic!("{other:?}"),
    };
    assert!(ev.iter().any(|e| matches!(e, LogEvent::SessionComplete { peer, .. } if peer == "127.0.1.1")));
    assert!(matches!(ev.last(), Some(LogEvent::AllSessionsCompleted { plan_id, .. }) if *plan_id == plan));
}
