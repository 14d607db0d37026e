//! Parsers for `nodetool` output and a scanner for Cassandra's rebuild log lines.
//!
//! Every parser:
//! - accepts the Cassandra 3.11, 4.0, 4.1 and 5.0 layouts;
//! - skips noise before the first section header (what `kubectl exec` prints, a shell prompt);
//! - never panics, whatever the input (property-tested);
//! - returns a [`ParseError`] with a 1-based line number for text that is not the expected output.
//!
//! The parsed values serialize to the JSON shapes the CLI prints (`apigee-multiregion parse ...`),
//! which are documented in `docs/cli.md` and kept stable.

mod describecluster;
mod describering;
mod info;
mod log;
mod netstats;
mod removal;
mod replication;
mod size;
mod status;
mod tablestats;
mod throughput;

pub use describecluster::{DescribeCluster, KeyspaceReplication, parse_describecluster};
pub use describering::{DescribeRing, RangeEndpoint, TokenRange, parse_describering};
pub use info::{NodeInfo, parse_info};
pub use log::{
    LogEvent, RebuildFailureKind, RebuildOutcome, RebuildScope, classify_rebuild_failure, last_full_rebuild_outcome,
    last_rebuild_outcome, scan_rebuild_log,
};
pub use netstats::{NetStats, StreamDirection, StreamPeer, StreamPlan, parse_netstats};
pub use removal::{RemovalStatus, parse_removal_status};
pub use replication::{
    KeyspaceEvidence, KeyspaceVerdict, LOCAL_KEYSPACES, MissingKeyspace, MissingReason, NotRelevantReason,
    REPLICATED_SYSTEM_KEYSPACES, ReplicationCheck, check_replication, classify_keyspace, evidence_from_describecluster,
    evidence_from_rings,
};
pub use size::parse_size;
pub use status::{DatacenterStatus, NodeState, NodeStatus, StatusReport, UpDown, parse_status};
pub use tablestats::{TableStats, TableStatsKeyspace, parse_tablestats};
pub use throughput::{StreamLimit, Throughput, needs_mebibytes, parse_stream_throughput};

/// Text that is not the output a parser expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} output, line {line}: {message}")]
pub struct ParseError {
    /// Which command's output was being parsed (`nodetool status`, ...).
    pub what: &'static str,
    /// 1-based line number in the input.
    pub line: usize,
    /// What was wrong, and what was expected instead.
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(what: &'static str, line: usize, message: impl Into<String>) -> Self {
        Self { what, line, message: message.into() }
    }
}

/// Whether `s` has the shape of a UUID (`8-4-4-4-12` hex digits).
pub(crate) fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && [8, 4, 4, 4, 12].iter().zip(&parts).all(|(n, p)| p.len() == *n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The first non-blank line of `text`, shortened, for error messages about unexpected output
/// (for example `nodetool: Failed to connect to ...`).
pub(crate) fn first_line_hint(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    let short: String = line.chars().take(160).collect();
    if short.is_empty() { "the input is empty".to_owned() } else { format!("it starts with `{short}`") }
}

/// Splits an address printed by nodetool into address and port: `10.0.0.1`, `10.0.0.1:7000`,
/// `/10.0.0.1:7000`, `[::1]:7000`, `::1` (a bare IPv6 address has no port).
pub(crate) fn split_address(raw: &str) -> (String, Option<u16>) {
    let raw = raw.trim_start_matches('/');
    if let Some(rest) = raw.strip_prefix('[') {
        if let Some((host, port)) = rest.split_once("]:") {
            return (host.to_owned(), port.parse().ok());
        }
        return (rest.trim_end_matches(']').to_owned(), None);
    }
    match raw.matches(':').count() {
        1 => {
            let (host, port) = raw.split_once(':').unwrap_or((raw, ""));
            match port.parse() {
                Ok(p) => (host.to_owned(), Some(p)),
                Err(_) => (raw.to_owned(), None),
            }
        }
        _ => (raw.to_owned(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_addresses_with_and_without_ports() {
        assert_eq!(split_address("10.0.0.1"), ("10.0.0.1".into(), None));
        assert_eq!(split_address("/10.0.0.1:7000"), ("10.0.0.1".into(), Some(7000)));
        assert_eq!(split_address("[::1]:7000"), ("::1".into(), Some(7000)));
        assert_eq!(split_address("::1"), ("::1".into(), None));
    }

    #[test]
    fn recognises_uuids() {
        assert!(is_uuid("99121365-4543-4e50-ae6f-a9a9cb720b7c"));
        assert!(!is_uuid("99121365-4543-4e50-ae6f"));
        assert!(!is_uuid("rack1"));
    }
}
