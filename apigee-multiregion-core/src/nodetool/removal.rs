//! `nodetool removenode status`. Cassandra (3.11, 4.0, 4.1, 5.0: `StorageService.getRemovalStatus`)
//! prints `RemovalStatus: ` and then either `No token removals in process.` or
//! `Removing token (<tokens>). Waiting for replication confirmation from [<nodes>].`, the nodes
//! joined by `,`, each `/10.0.0.2` (or `/10.0.0.2:7000` on 4.0+ with `--print-port`). Only the node
//! that coordinates a removal reports it: every other node says no removal is in process.

use serde::Serialize;

use super::ParseError;

const WHAT: &str = "nodetool removenode status";

/// What one node says about a removal it coordinates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum RemovalStatus {
    /// No removal is coordinated by this node.
    Idle,
    /// A removal is running: the removed node's tokens, and the nodes that still stream its data.
    Removing {
        /// The tokens as printed (one token on 3.11, a list `[t1, t2]` on 4.0+).
        tokens: String,
        /// Addresses (without `/` and port) that have not confirmed yet.
        waiting_for: Vec<String>,
    },
}

/// Reads `nodetool removenode status`.
pub fn parse_removal_status(text: &str) -> Result<RemovalStatus, ParseError> {
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let Some(rest) = line.strip_prefix("RemovalStatus:").map(str::trim) else { continue };
        if rest.starts_with("No token removals in process") || rest.starts_with("No removals in process") {
            return Ok(RemovalStatus::Idle);
        }
        let Some(after) = rest.strip_prefix("Removing token (") else {
            return Err(ParseError::new(WHAT, i + 1, format!("unknown removal status `{rest}`")));
        };
        let Some((tokens, tail)) = after.split_once("). Waiting for replication confirmation from [") else {
            return Err(ParseError::new(WHAT, i + 1, "expected `). Waiting for replication confirmation from [`"));
        };
        let Some((nodes, _)) = tail.rsplit_once(']') else {
            return Err(ParseError::new(WHAT, i + 1, "the list of nodes has no closing `]`"));
        };
        let waiting_for = nodes.split(',').map(str::trim).filter(|n| !n.is_empty()).map(address_of).collect();
        return Ok(RemovalStatus::Removing { tokens: tokens.to_owned(), waiting_for });
    }
    Err(ParseError::new(WHAT, 1, "no `RemovalStatus:` line"))
}

/// `/10.0.0.2:7000` or `hostname/10.0.0.2` -> `10.0.0.2`; `[::1]:7000` -> `::1`.
fn address_of(node: &str) -> String {
    let a = node.rsplit('/').next().unwrap_or(node);
    if let Some(inner) = a.strip_prefix('[') {
        return inner.split(']').next().unwrap_or(inner).to_owned();
    }
    match a.rsplit_once(':') {
        // One colon: an IPv4 address with its port. More: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
        _ => a.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_idle_on_every_line() {
        assert_eq!(
            parse_removal_status("RemovalStatus: No token removals in process.\n").unwrap(),
            RemovalStatus::Idle
        );
        // Older wording, still seen in third-party tooling.
        assert_eq!(parse_removal_status("RemovalStatus: No removals in process.").unwrap(), RemovalStatus::Idle);
    }

    #[test]
    fn reads_a_running_removal_311_and_40() {
        let s = parse_removal_status(
            "RemovalStatus: Removing token (-3074457345618258603). Waiting for replication confirmation from [/10.0.1.11,/10.0.1.12].\n",
        )
        .unwrap();
        assert_eq!(
            s,
            RemovalStatus::Removing {
                tokens: "-3074457345618258603".into(),
                waiting_for: vec!["10.0.1.11".into(), "10.0.1.12".into()]
            }
        );
        let s = parse_removal_status(
            "RemovalStatus: Removing token ([-42, 7]). Waiting for replication confirmation from [/10.0.0.2:7000].",
        )
        .unwrap();
        assert_eq!(s, RemovalStatus::Removing { tokens: "[-42, 7]".into(), waiting_for: vec!["10.0.0.2".into()] });
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        assert!(parse_removal_status("error: connection refused").unwrap_err().message.contains("RemovalStatus"));
        assert!(parse_removal_status("RemovalStatus: Paused").unwrap_err().message.contains("Paused"));
        assert!(parse_removal_status("RemovalStatus: Removing token (1). Waiting").is_err());
    }

    #[test]
    fn addresses_lose_their_slash_and_port() {
        assert_eq!(address_of("/10.0.0.2:7000"), "10.0.0.2");
        assert_eq!(address_of("host/10.0.0.2"), "10.0.0.2");
        assert_eq!(address_of("/[fd00::1]:7000"), "fd00::1");
        assert_eq!(address_of("/fd00::1"), "fd00::1");
    }
}
