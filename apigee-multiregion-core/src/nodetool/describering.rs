//! `nodetool describering <keyspace>`: every token range of one keyspace with its replicas and
//! their datacenters. This is how the replication check sees, on every Cassandra line, whether a
//! keyspace has replicas in the new datacenter (3.11's `describecluster` has no keyspace section).
//!
//! Layout (3.11, 4.0, 4.1, 5.0; `DescribeRing` prints a header, then one tab-indented line per range):
//!
//! ```text
//! Schema Version:<uuid>
//! TokenRange:
//!     TokenRange(start_token:-9, end_token:42, endpoints:[10.0.0.1, 10.0.1.1], rpc_endpoints:[10.0.0.1, 10.0.1.1], endpoint_details:[EndpointDetails(host:10.0.0.1, datacenter:dc-1, rack:ra-1), EndpointDetails(host:10.0.1.1, datacenter:dc-2, rack:ra-1)])
//! ```
//!
//! - 3.11 prints the Thrift `TokenRange.toString()`; 4.0+ reproduces it on purpose
//!   (`org.apache.cassandra.service.TokenRange`, "format matters for backward compatibility").
//! - 4.0+ with `-pp` prints `host:port` in `endpoints`, `rpc_endpoints` and `host:` (`[v6]:port` for IPv6).
//! - `datacenter:` and `rack:` are left out when the snitch does not know them; Thrift (3.11) prints
//!   `null` for a list that was never set.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{ParseError, first_line_hint, split_address};

const WHAT: &str = "nodetool describering";

/// Parsed `nodetool describering <keyspace>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct DescribeRing {
    /// `Schema Version:` of the node that answered, when printed.
    pub schema_version: Option<String>,
    /// The keyspace's token ranges, in printed order.
    pub ranges: Vec<TokenRange>,
}

/// One `TokenRange(...)` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenRange {
    /// `start_token` (exclusive), as printed.
    pub start_token: String,
    /// `end_token` (inclusive), as printed.
    pub end_token: String,
    /// The replicas of this range, in printed order.
    pub endpoints: Vec<RangeEndpoint>,
}

/// One replica of a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RangeEndpoint {
    /// The replica's address, without port.
    pub address: String,
    /// The storage port, when printed (4.0+ `-pp`).
    pub port: Option<u16>,
    /// Its datacenter, when `endpoint_details` names one.
    pub datacenter: Option<String>,
    /// Its rack, when `endpoint_details` names one.
    pub rack: Option<String>,
}

impl TokenRange {
    /// Whether at least one replica of this range is in `datacenter`.
    pub fn has_replica_in(&self, datacenter: &str) -> bool {
        self.endpoints.iter().any(|e| e.datacenter.as_deref() == Some(datacenter))
    }

    /// How many replicas of this range are in `datacenter`.
    pub fn replicas_in(&self, datacenter: &str) -> usize {
        self.endpoints.iter().filter(|e| e.datacenter.as_deref() == Some(datacenter)).count()
    }
}

impl DescribeRing {
    /// Every datacenter that holds a replica of some range.
    pub fn datacenters(&self) -> BTreeSet<&str> {
        self.ranges.iter().flat_map(|r| r.endpoints.iter().filter_map(|e| e.datacenter.as_deref())).collect()
    }

    /// The number of ranges with no replica in `datacenter`.
    pub fn ranges_without_replica_in(&self, datacenter: &str) -> usize {
        self.ranges.iter().filter(|r| !r.has_replica_in(datacenter)).count()
    }

    /// Every range has at least one replica in `datacenter` (false when there are no ranges).
    pub fn every_range_has_replica_in(&self, datacenter: &str) -> bool {
        !self.ranges.is_empty() && self.ranges_without_replica_in(datacenter) == 0
    }

    /// Some range has a replica in `datacenter`.
    pub fn any_range_has_replica_in(&self, datacenter: &str) -> bool {
        self.ranges.iter().any(|r| r.has_replica_in(datacenter))
    }
}

/// Parses `nodetool describering <keyspace>` output.
///
/// Lines before the `Schema Version:` / `TokenRange:` header (or before the first
/// `TokenRange(` line when the header is missing) are skipped; after it, every non-blank line
/// must be a `TokenRange(...)`.
pub fn parse_describering(text: &str) -> Result<DescribeRing, ParseError> {
    let mut out = DescribeRing::default();
    let mut started = false;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if let Some(v) = line.strip_prefix("Schema Version:") {
            out.schema_version = Some(v.trim().to_owned()).filter(|v| !v.is_empty());
            started = true;
            continue;
        }
        if line == "TokenRange:" {
            started = true;
            continue;
        }
        if line.starts_with("TokenRange(") {
            started = true;
            out.ranges.push(parse_range(line).map_err(|m| ParseError::new(WHAT, n, m))?);
            continue;
        }
        if !started || line.is_empty() {
            continue; // noise before the header
        }
        return Err(ParseError::new(
            WHAT,
            n,
            format!("expected a `TokenRange(start_token:..., ...)` line, found `{}`", shorten(line)),
        ));
    }
    if !started {
        return Err(ParseError::new(
            WHAT,
            1,
            format!("no `TokenRange:` header or `TokenRange(` line found; {}", first_line_hint(text)),
        ));
    }
    Ok(out)
}

fn shorten(line: &str) -> String {
    line.chars().take(160).collect()
}

/// The value after `key` up to the first `end` (exclusive), and the rest after `end`.
fn field<'a>(s: &'a str, key: &str, end: &str) -> Option<(&'a str, &'a str)> {
    let rest = s.strip_prefix(key)?;
    let at = rest.find(end)?;
    Some((&rest[..at], &rest[at + end.len()..]))
}

/// A printed Java list: `[a, b]` or `null`; returns the items and the rest after `]`.
fn list<'a>(s: &'a str, key: &str) -> Option<(Vec<&'a str>, &'a str)> {
    let rest = s.strip_prefix(key)?;
    if let Some(after) = rest.strip_prefix("null") {
        return Some((Vec::new(), after));
    }
    let rest = rest.strip_prefix('[')?;
    let end = closing_bracket(rest)?;
    let items = rest[..end].split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    Some((items, &rest[end + 1..]))
}

/// The index of the `]` that closes a list whose `[` was just before `s`, skipping the brackets
/// of IPv6 addresses with a port (`[::1]:7000`).
fn closing_bracket(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' if depth == 0 => return Some(i),
            ']' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn parse_range(line: &str) -> Result<TokenRange, String> {
    let bad = |what: &str| format!("{what} in `{}`", shorten(line));
    let body = line.strip_prefix("TokenRange(").ok_or_else(|| bad("no `TokenRange(`"))?;
    let (start, rest) = field(body, "start_token:", ", ").ok_or_else(|| bad("no `start_token:`"))?;
    let (end, rest) = field(rest, "end_token:", ", ").ok_or_else(|| bad("no `end_token:`"))?;
    let (hosts, mut rest) = list(rest, "endpoints:").ok_or_else(|| bad("no `endpoints:[...]`"))?;
    if let Some(r) = rest.strip_prefix(", ")
        && r.starts_with("rpc_endpoints:")
    {
        rest = list(r, "rpc_endpoints:").ok_or_else(|| bad("an unterminated `rpc_endpoints:[...]`"))?.1;
    }
    let details = match rest.strip_prefix(", endpoint_details:") {
        Some(r) => Some(parse_details(r).ok_or_else(|| bad("an unreadable `endpoint_details:[...]`"))?),
        None => None,
    };
    if start.trim().is_empty() || end.trim().is_empty() {
        return Err(bad("an empty token"));
    }
    let endpoints = match details {
        Some(d) if !d.is_empty() => d,
        _ => hosts
            .iter()
            .map(|h| {
                let (address, port) = split_address(h);
                RangeEndpoint { address, port, datacenter: None, rack: None }
            })
            .collect(),
    };
    Ok(TokenRange { start_token: start.trim().to_owned(), end_token: end.trim().to_owned(), endpoints })
}

/// `[EndpointDetails(host:a, datacenter:d, rack:r), EndpointDetails(...)])` or `null)`.
fn parse_details(s: &str) -> Option<Vec<RangeEndpoint>> {
    if s.starts_with("null") {
        return Some(Vec::new());
    }
    let mut rest = s.strip_prefix('[')?;
    let mut out = Vec::new();
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.starts_with(']') {
            return Some(out);
        }
        let inner = rest.strip_prefix("EndpointDetails(")?;
        let close = inner.find(')')?;
        let mut ep = RangeEndpoint { address: String::new(), port: None, datacenter: None, rack: None };
        for pair in inner[..close].split(", ") {
            let (k, v) = pair.split_once(':')?;
            let v = v.trim();
            match k.trim() {
                "host" => (ep.address, ep.port) = split_address(v),
                "datacenter" => ep.datacenter = Some(v.to_owned()),
                "rack" => ep.rack = Some(v.to_owned()),
                _ => {}
            }
        }
        if ep.address.is_empty() {
            return None;
        }
        out.push(ep);
        rest = &inner[close + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_DC: &str = "\
Defaulted container \"apigee-cassandra\" out of: apigee-cassandra
Schema Version:2b2b5f3c-4f2d-3c6a-9b0e-5a1f7c1d9e11
TokenRange: 
\tTokenRange(start_token:-9223372036854775808, end_token:-3074457345618258603, endpoints:[10.0.0.1, 10.0.1.1], rpc_endpoints:[10.0.0.1, 10.0.1.1], endpoint_details:[EndpointDetails(host:10.0.0.1, datacenter:dc-1, rack:ra-1), EndpointDetails(host:10.0.1.1, datacenter:dc-2, rack:ra-1)])
\tTokenRange(start_token:-3074457345618258603, end_token:3074457345618258602, endpoints:[10.0.0.2], rpc_endpoints:[10.0.0.2], endpoint_details:[EndpointDetails(host:10.0.0.2, datacenter:dc-1, rack:ra-1)])
";

    #[test]
    fn reads_every_range_with_its_replicas_and_their_datacenters() {
        let r = parse_describering(TWO_DC).unwrap();
        assert_eq!(r.schema_version.as_deref(), Some("2b2b5f3c-4f2d-3c6a-9b0e-5a1f7c1d9e11"));
        assert_eq!(r.ranges.len(), 2);
        assert_eq!(r.ranges[0].start_token, "-9223372036854775808");
        assert_eq!(r.ranges[0].endpoints[1].datacenter.as_deref(), Some("dc-2"));
        assert_eq!(r.ranges[0].endpoints[1].rack.as_deref(), Some("ra-1"));
        assert_eq!(r.datacenters().into_iter().collect::<Vec<_>>(), ["dc-1", "dc-2"]);
    }

    #[test]
    fn a_range_without_a_replica_in_the_new_dc_is_counted() {
        let r = parse_describering(TWO_DC).unwrap();
        assert_eq!(r.ranges_without_replica_in("dc-2"), 1);
        assert!(!r.every_range_has_replica_in("dc-2"));
        assert!(r.any_range_has_replica_in("dc-2"));
        assert!(r.every_range_has_replica_in("dc-1"));
    }

    #[test]
    fn print_port_addresses_keep_their_port_apart() {
        let line = "TokenRange(start_token:1, end_token:2, endpoints:[127.0.1.1:7000, [::1]:7000], rpc_endpoints:[127.0.1.1:9042, [::1]:9042], endpoint_details:[EndpointDetails(host:127.0.1.1:7000, datacenter:dc-1, rack:ra-1), EndpointDetails(host:[::1]:7000, datacenter:dc-2, rack:ra-1)])";
        let r = parse_describering(line).unwrap();
        let e = &r.ranges[0].endpoints;
        assert_eq!((e[0].address.as_str(), e[0].port), ("127.0.1.1", Some(7000)));
        assert_eq!((e[1].address.as_str(), e[1].port, e[1].datacenter.as_deref()), ("::1", Some(7000), Some("dc-2")));
    }

    #[test]
    fn endpoints_without_details_have_no_datacenter() {
        let r = parse_describering("TokenRange:\n\tTokenRange(start_token:1, end_token:2, endpoints:[10.0.0.1], rpc_endpoints:null, endpoint_details:null)\n").unwrap();
        assert_eq!(r.ranges[0].endpoints[0].address, "10.0.0.1");
        assert_eq!(r.ranges[0].endpoints[0].datacenter, None);
        assert!(!r.every_range_has_replica_in("dc-1"));
    }

    #[test]
    fn details_without_datacenter_or_rack_are_read() {
        let r = parse_describering("TokenRange(start_token:1, end_token:2, endpoints:[10.0.0.1], rpc_endpoints:[10.0.0.1], endpoint_details:[EndpointDetails(host:10.0.0.1)])").unwrap();
        assert_eq!(r.ranges[0].endpoints[0].datacenter, None);
    }

    #[test]
    fn a_missing_keyspace_is_not_a_ring() {
        let err = parse_describering("error: The keyspace perses, does not exist\n-- StackTrace --\n").unwrap_err();
        assert_eq!(err.line, 1);
        assert!(err.message.contains("does not exist"), "{err}");
    }

    #[test]
    fn garbage_after_the_header_names_its_line() {
        let err = parse_describering("Schema Version:x\nTokenRange: \n\tTokenRange(start_token:1, end_token:2, endpoints:[a], rpc_endpoints:[a], endpoint_details:[EndpointDetails(host:a, datacenter:d, rack:r)])\nsomething else\n").unwrap_err();
        assert_eq!(err.line, 4);
        let err = parse_describering("TokenRange: \n\tTokenRange(start_token:1, endpoints:[a])\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("end_token"), "{err}");
    }

    #[test]
    fn an_empty_ring_parses_to_no_ranges() {
        let r = parse_describering("Schema Version:x\nTokenRange: \n").unwrap();
        assert!(r.ranges.is_empty());
        assert!(!r.every_range_has_replica_in("dc-1"));
    }
}
