//! `nodetool netstats`: the node's mode and its active streaming plans with byte progress.
//!
//! This is what rebuild progress is read from: a plan whose operation is `Rebuild`, with one
//! entry per peer it is receiving from.

use serde::Serialize;

use super::{ParseError, first_line_hint, is_uuid, parse_size, split_address};

const WHAT: &str = "nodetool netstats";

/// Parsed `nodetool netstats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// `NORMAL`, `JOINING`, `LEAVING`, `DECOMMISSIONED`, `MOVING`, `DRAINING`, `DRAINED`, ...
    pub mode: String,
    /// Active streaming plans; empty when nodetool says `Not sending any streams.`
    pub streams: Vec<StreamPlan>,
}

/// One streaming plan (`Rebuild <plan id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamPlan {
    /// `Rebuild`, `Bootstrap`, `Unbootstrap`, `Repair`, ...
    pub operation: String,
    /// The plan id, as it also appears in the log (`[Stream #<plan id>]`).
    pub plan_id: String,
    /// Peers of this plan.
    pub peers: Vec<StreamPeer>,
}

/// One peer of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamPeer {
    /// The peer's address, without port.
    pub address: String,
    /// What this node receives from the peer.
    pub receiving: Option<StreamDirection>,
    /// What this node sends to the peer.
    pub sending: Option<StreamDirection>,
}

/// Files and bytes in one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamDirection {
    /// Files to transfer.
    pub files_total: u64,
    /// Bytes to transfer.
    pub bytes_total: u64,
    /// Files transferred so far.
    pub files_done: u64,
    /// Bytes transferred so far.
    pub bytes_done: u64,
}

impl NetStats {
    /// The `Rebuild` plans among the active streams.
    pub fn rebuild_plans(&self) -> impl Iterator<Item = &StreamPlan> {
        self.streams.iter().filter(|s| s.operation.eq_ignore_ascii_case("rebuild"))
    }

    /// Bytes received and to receive over every active rebuild plan: `(done, total)`.
    pub fn rebuild_progress(&self) -> (u64, u64) {
        self.rebuild_plans()
            .flat_map(|p| p.peers.iter())
            .filter_map(|p| p.receiving)
            .fold((0, 0), |(d, t), r| (d + r.bytes_done, t + r.bytes_total))
    }
}

/// Parses `nodetool netstats` output.
pub fn parse_netstats(text: &str) -> Result<NetStats, ParseError> {
    let mut mode: Option<String> = None;
    let mut streams: Vec<StreamPlan> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if let Some(m) = line.strip_prefix("Mode:") {
            mode = Some(m.trim().to_owned());
            continue;
        }
        if mode.is_none() {
            continue; // noise before the first section
        }
        if line.starts_with("Read Repair Statistics") {
            break; // the rest is counters and the pool table
        }
        if line.is_empty() || line.starts_with("Not sending any streams") {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(last) = words.last()
            && words.len() >= 2
            && is_uuid(last)
            && !line.starts_with('/')
        {
            streams.push(StreamPlan {
                operation: words[..words.len() - 1].join(" "),
                plan_id: (*last).to_owned(),
                peers: Vec::new(),
            });
            continue;
        }
        let Some(plan) = streams.last_mut() else {
            return Err(ParseError::new(
                WHAT,
                n,
                format!("expected a plan line such as `Rebuild <plan id>`, found `{line}`"),
            ));
        };
        // A peer line is `/10.0.0.1[:7000][ (using /10.0.0.1)]`; per-file lines also start with `/`.
        if line.starts_with('/') {
            let (address, _) = split_address(words.first().copied().unwrap_or(""));
            if address.parse::<std::net::IpAddr>().is_ok() {
                plan.peers.push(StreamPeer { address, receiving: None, sending: None });
            }
            continue;
        }
        let direction = if line.starts_with("Receiving ") {
            Some(true)
        } else if line.starts_with("Sending ") {
            Some(false)
        } else {
            None
        };
        if let Some(receiving) = direction {
            let Some(peer) = plan.peers.last_mut() else {
                return Err(ParseError::new(WHAT, n, "a Receiving/Sending line before any peer line"));
            };
            let progress = parse_direction(line).map_err(|m| ParseError::new(WHAT, n, m))?;
            if receiving {
                peer.receiving = Some(progress);
            } else {
                peer.sending = Some(progress);
            }
        }
        // Any other line inside a plan is a per-file progress line: not needed.
    }
    let Some(mode) = mode else {
        return Err(ParseError::new(WHAT, 1, format!("no `Mode:` line found; {}", first_line_hint(text))));
    };
    Ok(NetStats { mode, streams })
}

/// `Receiving 12 files, 104857600 bytes total. Already received 3 files (25.00%), 26214400 bytes total (25.00%)`
/// (3.11 prints no percentages; `-H` prints sizes with units).
fn parse_direction(line: &str) -> Result<StreamDirection, String> {
    let (total, done) =
        line.split_once("Already").ok_or_else(|| format!("expected `... total. Already ...` in `{line}`"))?;
    let (files_total, bytes_total) = parse_half(total).ok_or_else(|| format!("cannot read the totals of `{line}`"))?;
    let (files_done, bytes_done) = parse_half(done).ok_or_else(|| format!("cannot read the progress of `{line}`"))?;
    Ok(StreamDirection { files_total, bytes_total, files_done, bytes_done })
}

/// `<verb> <files> files[ (p%)], <size> total[. (p%)]` -> (files, bytes).
fn parse_half(half: &str) -> Option<(u64, u64)> {
    let words: Vec<&str> = half.split_whitespace().map(|w| w.trim_end_matches([',', '.'])).collect();
    let files: u64 = words.get(1)?.parse().ok()?;
    let t = words.iter().position(|w| w.starts_with("total"))?;
    let number = words.get(t.checked_sub(2)?)?;
    let unit = words.get(t - 1)?;
    Some((files, parse_size(number, unit)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_node_has_no_streams() {
        let s =
            parse_netstats("Mode: NORMAL\nNot sending any streams.\nRead Repair Statistics:\nAttempted: 0\n").unwrap();
        assert_eq!(s.mode, "NORMAL");
        assert!(s.streams.is_empty());
        assert_eq!(s.rebuild_progress(), (0, 0));
    }

    #[test]
    fn reads_3_11_progress_without_percentages() {
        let text = "Mode: NORMAL\nRebuild 3a1c2d30-0000-11ee-8000-000000000001\n    /10.0.1.11\n        Receiving 4 files, 4000 bytes total. Already received 1 files, 1000 bytes total\n";
        let s = parse_netstats(text).unwrap();
        let r = s.streams[0].peers[0].receiving.unwrap();
        assert_eq!((r.files_total, r.bytes_total, r.files_done, r.bytes_done), (4, 4000, 1, 1000));
    }

    #[test]
    fn reads_human_readable_sizes() {
        let text = "Mode: NORMAL\nRebuild 3a1c2d30-0000-11ee-8000-000000000001\n    /10.0.1.11:7000\n        Receiving 2 files, 1 MiB total. Already received 1 files (50.00%), 512 KiB total (50.00%)\n";
        let s = parse_netstats(text).unwrap();
        assert_eq!(s.rebuild_progress(), (524_288, 1_048_576));
        assert_eq!(s.streams[0].peers[0].address, "10.0.1.11");
    }

    #[test]
    fn output_without_mode_is_refused() {
        assert!(parse_netstats("error: JMX auth failed\n").unwrap_err().message.contains("Mode:"));
    }
}
