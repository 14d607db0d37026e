//! `nodetool status` parser and the report's accessors: never panic.
#![no_main]

use apigee_multiregion_core::nodetool::parse_status;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(report) = parse_status(text) {
        for dc in &report.datacenters {
            let _ = report.datacenter(&dc.name);
            let _ = dc.total_load_bytes();
        }
        let _ = report.nodes().count();
    }
});
