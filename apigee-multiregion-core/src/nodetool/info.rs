//! `nodetool info`: the node's own view of itself. What the engine needs from it: the host ID (a
//! node wiped or replaced gets a new one, so a recorded rebuild no longer counts), whether gossip
//! and the native transport run, the load, and the node's datacenter and rack.
//!
//! Layout (`Info`, 3.11 to 5.0): `printf("%-23s: %s%n", name, value)` lines. 3.11 prints
//! `Thrift active`; 4.0 dropped it. When the heap cannot be read, Cassandra prints
//! `Heap Memory (MB)       : N/A` without a newline, so the next field shares its line: that
//! line is read as the heap field and the next field is lost (it is never one we need).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ParseError, first_line_hint, is_uuid, parse_size};

const WHAT: &str = "nodetool info";

/// Parsed `nodetool info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeInfo {
    /// `ID`: the node's host ID.
    pub host_id: String,
    /// `Gossip active`.
    pub gossip_active: bool,
    /// `Thrift active` (3.11 and older only).
    pub thrift_active: Option<bool>,
    /// `Native Transport active`.
    pub native_transport_active: bool,
    /// `Load` in bytes, when it reads as a size.
    pub load_bytes: Option<u64>,
    /// `Generation No` (0 when gossip is not running).
    pub generation: Option<u64>,
    /// `Uptime (seconds)`, unless `N/A`.
    pub uptime_seconds: Option<u64>,
    /// `Data Center`.
    pub datacenter: String,
    /// `Rack`.
    pub rack: String,
    /// `Exceptions` counter.
    pub exceptions: Option<u64>,
    /// `Token`: `false` when the node says `(node is not joined to the cluster)`.
    pub joined: bool,
    /// Every `name : value` line, as printed (the last one wins for repeated names such as `Token`).
    pub fields: BTreeMap<String, String>,
}

fn parse_bool(n: usize, name: &str, v: &str) -> Result<bool, ParseError> {
    match v {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ParseError::new(WHAT, n, format!("`{name}` should be true or false, found `{v}`"))),
    }
}

/// Parses `nodetool info` output.
///
/// Lines before the `ID :` line are skipped. After it, lines without a `name : value` shape are
/// ignored (Cassandra adds no such lines, but a wrapped terminal or a pasted capture can); a
/// malformed value of a field the engine needs is an error naming its line, and so is a missing
/// one (named at the `ID` line).
pub fn parse_info(text: &str) -> Result<NodeInfo, ParseError> {
    let mut id_line = None;
    let mut fields: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let Some((name, value)) = raw.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if id_line.is_none() {
            if name != "ID" {
                continue; // noise before the first field
            }
            id_line = Some(n);
        }
        if name.is_empty() {
            continue;
        }
        fields.insert(name.to_owned(), (n, value.to_owned()));
    }
    let Some(id_n) = id_line else {
        return Err(ParseError::new(WHAT, 1, format!("no `ID : <host id>` line found; {}", first_line_hint(text))));
    };
    let need = |name: &str| -> Result<(usize, &str), ParseError> {
        fields
            .get(name)
            .map(|(n, v)| (*n, v.as_str()))
            .ok_or_else(|| ParseError::new(WHAT, id_n, format!("no `{name}` line after the `ID` line")))
    };
    let number = |name: &str| -> Option<u64> { fields.get(name).and_then(|(_, v)| v.parse().ok()) };

    let (n, host_id) = need("ID")?;
    let host_id = host_id.trim_matches('"');
    if !is_uuid(host_id) {
        return Err(ParseError::new(WHAT, n, format!("the host ID `{host_id}` is not a UUID")));
    }
    let (n, v) = need("Gossip active")?;
    let gossip_active = parse_bool(n, "Gossip active", v)?;
    let (n, v) = need("Native Transport active")?;
    let native_transport_active = parse_bool(n, "Native Transport active", v)?;
    let thrift_active = match fields.get("Thrift active") {
        Some((n, v)) => Some(parse_bool(*n, "Thrift active", v)?),
        None => None,
    };
    let (_, datacenter) = need("Data Center")?;
    let (_, rack) = need("Rack")?;
    let load_bytes = fields.get("Load").and_then(|(_, v)| {
        let mut w = v.split_whitespace();
        let (number, unit) = (w.next()?, w.next().unwrap_or("bytes"));
        parse_size(number, unit)
    });
    let joined = fields.get("Token").is_none_or(|(_, v)| !v.contains("not joined"));
    Ok(NodeInfo {
        host_id: host_id.to_owned(),
        gossip_active,
        thrift_active,
        native_transport_active,
        load_bytes,
        generation: number("Generation No"),
        uptime_seconds: number("Uptime (seconds)"),
        datacenter: datacenter.to_owned(),
        rack: rack.to_owned(),
        exceptions: number("Exceptions"),
        joined,
        fields: fields.into_iter().map(|(k, (_, v))| (k, v)).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO_4_0: &str = "\
ID                     : 2f8a6e1c-3d0b-4c5e-9a7f-1b2c3d4e5f60
Gossip active          : true
Native Transport active: true
Load                   : 1.02 MiB
Generation No          : 1764200000
Uptime (seconds)       : 3600
Heap Memory (MB)       : 120.50 / 512.00
Off Heap Memory (MB)   : 0.01
Data Center            : dc-2
Rack                   : ra-1
Exceptions             : 0
Percent Repaired       : 0.0%
Token                  : (invoke with -T/--tokens to see all 16 tokens)
";

    #[test]
    fn reads_the_host_id_and_the_node_s_place() {
        let i = parse_info(INFO_4_0).unwrap();
        assert_eq!(i.host_id, "2f8a6e1c-3d0b-4c5e-9a7f-1b2c3d4e5f60");
        assert!(i.gossip_active && i.native_transport_active && i.joined);
        assert_eq!(i.thrift_active, None);
        assert_eq!((i.datacenter.as_str(), i.rack.as_str()), ("dc-2", "ra-1"));
        assert_eq!(i.load_bytes, Some(1_069_548));
        assert_eq!((i.generation, i.uptime_seconds, i.exceptions), (Some(1_764_200_000), Some(3600), Some(0)));
    }

    #[test]
    fn a_node_with_gossip_off_and_not_joined_says_so() {
        let text = INFO_4_0
            .replace("Gossip active          : true", "Gossip active          : false")
            .replace("(invoke with -T/--tokens to see all 16 tokens)", "(node is not joined to the cluster)");
        let i = parse_info(&format!("Defaulted container \"apigee-cassandra\"\n{text}")).unwrap();
        assert!(!i.gossip_active && !i.joined);
    }

    #[test]
    fn the_heap_line_without_newline_does_not_break_the_rest() {
        let text = INFO_4_0
            .replace("Heap Memory (MB)       : 120.50 / 512.00\nOff Heap", "Heap Memory (MB)       : N/AOff Heap");
        assert_eq!(parse_info(&text).unwrap().datacenter, "dc-2");
    }

    #[test]
    fn a_bad_flag_or_a_missing_field_names_its_line() {
        let err = parse_info(&INFO_4_0.replace("Native Transport active: true", "Native Transport active: maybe"))
            .unwrap_err();
        assert_eq!(err.line, 3);
        let err =
            parse_info(&format!("noise\n{}", INFO_4_0.replace("Rack                   : ra-1\n", ""))).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("Rack"), "{err}");
        let err = parse_info("ID : not-a-uuid\n").unwrap_err();
        assert!(err.message.contains("not a UUID"), "{err}");
    }

    #[test]
    fn a_connection_error_is_not_info() {
        let err =
            parse_info("nodetool: Failed to connect to '127.0.0.1:7199' - ConnectException: 'Connection refused'.")
                .unwrap_err();
        assert!(err.message.contains("Failed to connect"), "{err}");
    }
}
