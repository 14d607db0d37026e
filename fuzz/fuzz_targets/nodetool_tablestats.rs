//! `nodetool tablestats` (`cfstats`) parser: never panics.
#![no_main]

use apigee_multiregion_core::nodetool::parse_tablestats;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = parse_tablestats(text);
});
