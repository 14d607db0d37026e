//! `nodetool status`: datacenters, and per node up/down, state, address, load, ownership, host
//! id and rack.
//!
//! Layouts handled: vnodes (`Tokens` count column before `Owns`), one token per node (`Token`
//! value column after `Host ID`), `-pp` (`ip:port` addresses), `?` for Load or Owns, the
//! trailing `Note:` line, blank lines between datacenters, and noise before the first header.

use serde::Serialize;

use super::{ParseError, first_line_hint, parse_size, split_address};

const WHAT: &str = "nodetool status";

/// The whole ring as one node sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// Datacenters in the order nodetool printed them.
    pub datacenters: Vec<DatacenterStatus>,
}

/// One `Datacenter: <name>` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatacenterStatus {
    /// The datacenter name.
    pub name: String,
    /// Its nodes, in printed order.
    pub nodes: Vec<NodeStatus>,
}

/// The first letter of a row: is the node up or down (as gossip sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UpDown {
    /// `U`
    Up,
    /// `D`
    Down,
}

/// The second letter of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeState {
    /// `N`
    Normal,
    /// `L`
    Leaving,
    /// `J`
    Joining,
    /// `M`
    Moving,
}

/// One row of a datacenter's table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeStatus {
    /// Up or down.
    pub status: UpDown,
    /// Normal, leaving, joining or moving.
    pub state: NodeState,
    /// The node's address, without port.
    pub address: String,
    /// The storage port, when printed (`-pp`).
    pub port: Option<u16>,
    /// Load in bytes; `None` when nodetool printed `?`.
    pub load_bytes: Option<u64>,
    /// Number of tokens (vnodes layout).
    pub tokens: Option<u32>,
    /// The token value (one-token layout).
    pub token: Option<String>,
    /// Effective ownership in percent; `None` when nodetool printed `?`.
    pub owns_percent: Option<f64>,
    /// Host ID.
    pub host_id: String,
    /// Rack.
    pub rack: String,
}

impl NodeStatus {
    /// `UN`: up and normal, the only state in which a node is a safe seed or a finished member.
    pub fn is_up_normal(&self) -> bool {
        self.status == UpDown::Up && self.state == NodeState::Normal
    }

    /// The two-letter code nodetool printed (`UN`, `DN`, `UJ`, ...).
    pub fn code(&self) -> String {
        let s = match self.status {
            UpDown::Up => 'U',
            UpDown::Down => 'D',
        };
        let t = match self.state {
            NodeState::Normal => 'N',
            NodeState::Leaving => 'L',
            NodeState::Joining => 'J',
            NodeState::Moving => 'M',
        };
        format!("{s}{t}")
    }
}

impl StatusReport {
    /// The datacenter of that name, if the ring has it.
    pub fn datacenter(&self, name: &str) -> Option<&DatacenterStatus> {
        self.datacenters.iter().find(|d| d.name == name)
    }

    /// Every node with its datacenter name.
    pub fn nodes(&self) -> impl Iterator<Item = (&str, &NodeStatus)> {
        self.datacenters.iter().flat_map(|d| d.nodes.iter().map(move |n| (d.name.as_str(), n)))
    }

    /// The node with that address, with its datacenter name.
    pub fn find_address(&self, address: &str) -> Option<(&str, &NodeStatus)> {
        self.nodes().find(|(_, n)| n.address == address)
    }
}

impl DatacenterStatus {
    /// Sum of the known loads of this datacenter's nodes.
    pub fn total_load_bytes(&self) -> u64 {
        self.nodes.iter().filter_map(|n| n.load_bytes).sum()
    }
}

/// Which columns the header announced.
#[derive(Clone, Copy)]
struct Layout {
    /// `Tokens` count column between Load and Owns.
    token_count: bool,
    /// `Token` value column between Host ID and Rack.
    token_value: bool,
}

impl Layout {
    fn from_header(line: &str) -> Self {
        let words: Vec<&str> = line.split_whitespace().collect();
        Self { token_count: words.contains(&"Tokens"), token_value: words.contains(&"Token") }
    }
}

/// Parses `nodetool status` output.
pub fn parse_status(text: &str) -> Result<StatusReport, ParseError> {
    let mut datacenters: Vec<DatacenterStatus> = Vec::new();
    // Until a header says otherwise, assume the vnodes layout (the default since 3.0).
    let mut layout = Layout { token_count: true, token_value: false };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if let Some(name) = line.strip_prefix("Datacenter:") {
            let name = name.trim();
            if name.is_empty() {
                return Err(ParseError::new(WHAT, n, "`Datacenter:` header without a name"));
            }
            datacenters.push(DatacenterStatus { name: name.to_owned(), nodes: Vec::new() });
            continue;
        }
        let Some(dc) = datacenters.last_mut() else { continue }; // noise before the first header
        if line.is_empty()
            || line.chars().all(|c| c == '=')
            || line.starts_with("Status=")
            || line.starts_with("|/")
            || line.starts_with("Note:")
        {
            continue;
        }
        if line.starts_with("--") {
            layout = Layout::from_header(line);
            continue;
        }
        dc.nodes.push(parse_row(line, layout).map_err(|m| ParseError::new(WHAT, n, m))?);
    }
    if datacenters.is_empty() {
        return Err(ParseError::new(WHAT, 1, format!("no `Datacenter:` header found; {}", first_line_hint(text))));
    }
    Ok(StatusReport { datacenters })
}

fn parse_row(line: &str, layout: Layout) -> Result<NodeStatus, String> {
    let mut words = line.split_whitespace().peekable();
    let code = words.next().unwrap_or("");
    let mut letters = code.chars();
    let status = match letters.next() {
        Some('U') => UpDown::Up,
        Some('D') => UpDown::Down,
        _ => return Err(format!("expected a node row starting with a status such as `UN`, found `{line}`")),
    };
    let state = match (letters.next(), letters.next()) {
        (Some('N'), None) => NodeState::Normal,
        (Some('L'), None) => NodeState::Leaving,
        (Some('J'), None) => NodeState::Joining,
        (Some('M'), None) => NodeState::Moving,
        _ => return Err(format!("unknown status `{code}`: expected U or D followed by N, L, J or M")),
    };
    let (address, port) = split_address(words.next().ok_or("the row has no address")?);

    let load_number = words.next().ok_or("the row has no load")?;
    let load_bytes = if load_number == "?" {
        None
    } else {
        let unit = words.next().ok_or("the load has no unit")?;
        Some(parse_size(load_number, unit).ok_or_else(|| format!("`{load_number} {unit}` is not a size"))?)
    };

    let tokens = if layout.token_count {
        let w = words.next().ok_or("the row has no token count")?;
        Some(w.parse::<u32>().map_err(|_| format!("token count `{w}` is not a number"))?)
    } else {
        None
    };

    let owns = words.next().ok_or("the row has no ownership")?;
    let owns_percent = if owns == "?" {
        None
    } else {
        let number = owns.strip_suffix('%').ok_or_else(|| format!("ownership `{owns}` is not a percentage"))?;
        Some(number.parse::<f64>().map_err(|_| format!("ownership `{owns}` is not a percentage"))?)
    };

    let host_id = words.next().ok_or("the row has no host id")?.to_owned();
    let token = if layout.token_value { Some(words.next().ok_or("the row has no token")?.to_owned()) } else { None };
    let rack: Vec<&str> = words.collect();
    if rack.is_empty() {
        return Err("the row has no rack".to_owned());
    }
    Ok(NodeStatus {
        status,
        state,
        address,
        port,
        load_bytes,
        tokens,
        token,
        owns_percent,
        host_id,
        rack: rack.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_TOKEN: &str = "\
Datacenter: datacenter1
=======================
Status=Up/Down
|/ State=Normal/Leaving/Joining/Moving
--  Address    Load       Owns (effective)  Host ID                               Token                                    Rack
UN  127.0.0.1  47.66 KiB  33.3%             aaa1b7c1-6049-4a08-ad3e-3697a0e30e10  -9223372036854775808                     rack1
DN  127.0.0.2  ?          33.3%             1848c369-4306-4874-afdf-5c1e95b8732e  -3074457345618258603                     rack1

Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless
";

    #[test]
    fn reads_the_one_token_layout_with_token_after_host_id() {
        let r = parse_status(ONE_TOKEN).unwrap();
        let n = &r.datacenters[0].nodes;
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].token.as_deref(), Some("-9223372036854775808"));
        assert_eq!(n[0].tokens, None);
        assert_eq!(n[0].rack, "rack1");
        assert_eq!(n[1].load_bytes, None);
        assert_eq!(n[1].code(), "DN");
    }

    #[test]
    fn reads_ip_port_addresses_from_print_port() {
        let text = "Datacenter: dc-1\n--  Address         Load        Tokens  Owns (effective)  Host ID                               Rack\nUN  127.0.1.1:7000  1.02 MiB    16      100.0%            aaa1b7c1-6049-4a08-ad3e-3697a0e30e10  ra-1\n";
        let n = &parse_status(text).unwrap().datacenters[0].nodes[0];
        assert_eq!((n.address.as_str(), n.port), ("127.0.1.1", Some(7000)));
        assert_eq!(n.load_bytes, Some(1_069_548));
    }

    #[test]
    fn a_connection_error_is_not_a_ring() {
        let err =
            parse_status("nodetool: Failed to connect to '127.0.0.1:7199' - ConnectException: 'Connection refused'.\n")
                .unwrap_err();
        assert!(err.message.contains("Failed to connect"), "{err}");
    }

    #[test]
    fn a_garbled_row_names_its_line() {
        let text =
            "Datacenter: dc-1\n--  Address  Load  Tokens  Owns  Host ID  Rack\nUN  10.0.0.1  1 KB  many  1%  x  r\n";
        let err = parse_status(text).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("token count"), "{err}");
    }
}
