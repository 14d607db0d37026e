//! `nodetool describering` parser, and the replication check on what it parsed: never panic.
#![no_main]

use apigee_multiregion_core::nodetool::{check_replication, evidence_from_rings, parse_describering};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(ring) = parse_describering(text) {
        let _ = ring.datacenters();
        let _ = check_replication(&evidence_from_rings([("ks", ring)]), "dc-2", "dc-1");
    }
});
