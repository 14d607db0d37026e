//! Rebuild progress: bytes, rate and time left per node and over every node, from the
//! successive `netstats` readings (pure; the clock is passed in).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

/// Bytes received of bytes to receive, with the average rate since the first reading and the
/// time left at that rate (`None` until two readings apart in time show bytes moving).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct Rate {
    /// Bytes received.
    pub received: u64,
    /// Bytes to receive.
    pub total: u64,
    /// Average bytes per second since the first reading.
    pub bytes_per_second: Option<u64>,
    /// Seconds left at that rate.
    pub eta_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    first: (Instant, u64),
    received: u64,
    total: u64,
}

/// Every node's readings of one rebuild step.
#[derive(Debug, Default)]
pub struct Meter {
    nodes: BTreeMap<String, Node>,
}

fn rate(received: u64, total: u64, moved: u64, elapsed: Duration) -> Rate {
    let secs = elapsed.as_secs_f64();
    let bytes_per_second = (secs >= 0.5 && moved > 0).then(|| (moved as f64 / secs) as u64).filter(|r| *r > 0);
    let eta_seconds = bytes_per_second.map(|r| total.saturating_sub(received).div_ceil(r));
    Rate { received, total, bytes_per_second, eta_seconds }
}

impl Meter {
    /// A new reading of `pod`: that node's rate, and the rate over every node read so far (the
    /// total counts the nodes that have started streaming; nodes not yet started add later).
    /// A reading below the last one (a new attempt) starts the node's average again.
    pub fn observe(&mut self, pod: &str, received: u64, total: u64, now: Instant) -> (Rate, Rate) {
        let node = self.nodes.entry(pod.to_owned()).or_insert(Node { first: (now, received), received, total });
        if received < node.received {
            node.first = (now, received);
        }
        node.received = received;
        node.total = total;
        let this =
            rate(received, total, received.saturating_sub(node.first.1), now.saturating_duration_since(node.first.0));
        let (mut all_received, mut all_total, mut moved) = (0u64, 0u64, 0u64);
        let mut since = now;
        for n in self.nodes.values() {
            all_received = all_received.saturating_add(n.received);
            all_total = all_total.saturating_add(n.total);
            moved = moved.saturating_add(n.received.saturating_sub(n.first.1));
            since = since.min(n.first.0);
        }
        (this, rate(all_received, all_total, moved, now.saturating_duration_since(since)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    #[test]
    fn rate_and_eta_per_node_and_over_every_node() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        let (a, _) = m.observe("a", 0, 100 * MB, t0);
        assert_eq!((a.bytes_per_second, a.eta_seconds), (None, None), "one reading shows no rate");
        let (a, all) = m.observe("a", 20 * MB, 100 * MB, t0 + Duration::from_secs(10));
        assert_eq!(a.bytes_per_second, Some(2 * MB));
        assert_eq!(a.eta_seconds, Some(40));
        assert_eq!((all.received, all.total, all.eta_seconds), (20 * MB, 100 * MB, Some(40)));
        let (b, all) = m.observe("b", 10 * MB, 50 * MB, t0 + Duration::from_secs(20));
        assert_eq!(b.bytes_per_second, None, "b's first reading");
        assert_eq!((all.received, all.total), (30 * MB, 150 * MB));
        // 20 MB moved (only a's) in the 20 s since the first reading.
        assert_eq!((all.bytes_per_second, all.eta_seconds), (Some(MB), Some(120)));
    }

    #[test]
    fn a_new_attempt_starts_the_node_s_average_again() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.observe("a", 0, 100, t0);
        m.observe("a", 80, 100, t0 + Duration::from_secs(8));
        let (a, _) = m.observe("a", 0, 100, t0 + Duration::from_secs(9));
        assert_eq!((a.received, a.bytes_per_second), (0, None));
        let (a, _) = m.observe("a", 30, 100, t0 + Duration::from_secs(12));
        assert_eq!((a.bytes_per_second, a.eta_seconds), (Some(10), Some(7)));
    }

    #[test]
    fn nothing_moving_and_huge_numbers_give_no_rate_and_no_overflow() {
        let t0 = Instant::now();
        let mut m = Meter::default();
        m.observe("a", 5, u64::MAX, t0);
        let (a, all) = m.observe("a", 5, u64::MAX, t0 + Duration::from_secs(60));
        assert_eq!((a.bytes_per_second, all.eta_seconds), (None, None));
        m.observe("b", u64::MAX, u64::MAX, t0);
        let (_, all) = m.observe("b", u64::MAX, u64::MAX, t0 + Duration::from_secs(1));
        assert_eq!(all.received, u64::MAX);
    }
}

#[cfg(test)]
mod event_shape {
    use super::Rate;
    use crate::expansion::Event;

    #[test]
    fn the_progress_event_keeps_its_documented_json_keys() {
        let node = Rate { received: 5, total: 10, bytes_per_second: Some(1), eta_seconds: Some(5) };
        let e = Event::RebuildProgress { pod: "p".into(), node, all: node };
        let v = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"event": "rebuild-progress", "pod": "p", "received": 5, "total": 10,
                "bytes_per_second": 1, "eta_seconds": 5,
                "all": {"received": 5, "total": 10, "bytes_per_second": 1, "eta_seconds": 5}})
        );
    }
}
