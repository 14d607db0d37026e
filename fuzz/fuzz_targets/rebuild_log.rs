//! The Cassandra log scanner for rebuilds and the rebuild failure classifier: never panic.
#![no_main]

use apigee_multiregion_core::nodetool::{
    classify_rebuild_failure, last_full_rebuild_outcome, last_rebuild_outcome, scan_rebuild_log,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let events = scan_rebuild_log(text);
    let _ = last_rebuild_outcome(&events, "dc-1");
    let _ = last_full_rebuild_outcome(&events, "dc-1");
    let _ = classify_rebuild_failure(text);
});
