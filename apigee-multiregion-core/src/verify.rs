//! Pure judgement of a finished expansion over gathered facts: the ring from both sides, the
//! loads, and what proves each new node's rebuild. No I/O here; the engine gathers, this decides.
//!
//! A rebuild's proof must survive container restarts and log rotation: a real pod's log starts
//! empty after a restart, and finalize restarts every target pod. So the proof is, first, the
//! journal's record of the completed rebuild *for the node's host ID* (a wiped or replaced node
//! gets a new host ID and is rebuilt again), and only then the node's current log.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::nodetool::{LogEvent, StatusReport};

/// Everything verification looks at.
#[derive(Debug, Clone)]
pub struct VerifyFacts {
    /// The existing datacenter.
    pub source_dc: String,
    /// The new datacenter.
    pub target_dc: String,
    /// `nodetool status` from a source node.
    pub from_source: StatusReport,
    /// `nodetool status` from a target node.
    pub from_target: StatusReport,
    /// `nodetool status` from a node of each other existing region the plan names with a context
    /// (datacenter, view); empty for a second region.
    pub from_others: Vec<(String, StatusReport)>,
    /// The target Cassandra pods' addresses.
    pub target_addresses: Vec<String>,
    /// Target pod -> what proves (or disproves) its rebuild ([`rebuild_evidence`]).
    pub rebuilds: BTreeMap<String, RebuildEvidence>,
    /// Minimum target/source load ratio.
    pub min_load_fraction: f64,
    /// Address -> Load as the node itself reports it. Remote Load in `nodetool status` comes from
    /// gossip, broadcast once a minute, so right after a rebuild only a node's own figure is
    /// current; addresses missing here fall back to `from_source`.
    pub own_loads: BTreeMap<String, u64>,
}

/// What proves a node's rebuild, or why nothing does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RebuildEvidence {
    /// The journal recorded a completed rebuild for this node's current host ID.
    Recorded {
        /// The node's host ID.
        host_id: String,
        /// The Rebuild stream plan id, when known.
        plan_id: Option<String>,
    },
    /// The node's current log shows a full rebuild from the source completed.
    Logged {
        /// The Rebuild stream plan id.
        plan_id: Option<String>,
    },
    /// The journal's record is for another host ID: the node was wiped or replaced since.
    Replaced {
        /// The host ID the rebuild was recorded for.
        recorded_host_id: String,
        /// The node's host ID now.
        current_host_id: String,
    },
    /// The log shows the last rebuild failed.
    Failed {
        /// Why.
        reason: String,
    },
    /// Nothing shows a completed rebuild.
    Missing,
}

impl RebuildEvidence {
    /// Whether this proves a completed rebuild.
    pub fn proves_done(&self) -> bool {
        matches!(self, Self::Recorded { .. } | Self::Logged { .. })
    }

    fn problem(&self, pod: &str) -> Option<String> {
        match self {
            Self::Recorded { .. } | Self::Logged { .. } => None,
            Self::Replaced { recorded_host_id, current_host_id } => Some(format!(
                "{pod}: replaced since its rebuild (host ID {recorded_host_id} then, {current_host_id} now): rebuild it again"
            )),
            Self::Failed { reason } => Some(format!("{pod}: the last rebuild failed: {reason}")),
            Self::Missing => Some(format!("{pod}: no completed rebuild recorded or in its log")),
        }
    }
}

/// A rebuild the journal recorded as completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedRebuild<'a> {
    /// The node's host ID when it completed (absent in journals of older versions).
    pub host_id: Option<&'a str>,
    /// Its Rebuild stream plan id.
    pub plan_id: Option<&'a str>,
}

/// Judges one node's rebuild from the journal's record, the node's current host ID (from the
/// ring) and its current log. Only a rebuild of all keyspaces and all tokens from `source_dc`
/// counts.
pub fn rebuild_evidence(
    recorded: Option<RecordedRebuild<'_>>,
    current_host_id: Option<&str>,
    log: &[LogEvent],
    source_dc: &str,
) -> RebuildEvidence {
    if let (Some(RecordedRebuild { host_id: Some(h), plan_id }), Some(c)) = (recorded, current_host_id)
        && h == c
    {
        return RebuildEvidence::Recorded { host_id: h.to_owned(), plan_id: plan_id.map(str::to_owned) };
    }
    match full_rebuild_outcome(log, source_dc) {
        Some(o) if o.completed && o.failure.is_none() => return RebuildEvidence::Logged { plan_id: o.plan_id },
        Some(o) if o.failure.is_some() && recorded.is_none() => {
            return RebuildEvidence::Failed { reason: o.failure.unwrap_or_default() };
        }
        _ => {}
    }
    match (recorded, current_host_id) {
        (Some(RecordedRebuild { host_id: Some(h), .. }), Some(c)) => {
            RebuildEvidence::Replaced { recorded_host_id: h.to_owned(), current_host_id: c.to_owned() }
        }
        _ => RebuildEvidence::Missing,
    }
}

/// The last full rebuild (all keyspaces, all tokens) from `source_dc` in the log.
pub fn full_rebuild_outcome(log: &[LogEvent], source_dc: &str) -> Option<crate::nodetool::RebuildOutcome> {
    crate::nodetool::last_full_rebuild_outcome(log, source_dc)
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// Stable kebab-case name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was seen.
    pub detail: String,
}

/// The verification result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl VerifyReport {
    /// Every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The failed checks, one line each.
    pub fn failures(&self) -> Vec<String> {
        self.checks.iter().filter(|c| !c.passed).map(|c| format!("{}: {}", c.name, c.detail)).collect()
    }
}

fn check(name: &str, passed: bool, detail: String) -> Check {
    Check { name: name.into(), passed, detail }
}

fn ring_checks(side: &str, view: &StatusReport, f: &VerifyFacts, out: &mut Vec<Check>) {
    let not_up: Vec<String> = view
        .nodes()
        .filter(|(_, n)| !n.is_up_normal())
        .map(|(dc, n)| format!("{} ({dc}) is {}", n.address, n.code()))
        .collect();
    out.push(check(
        &format!("all-up-from-{side}"),
        not_up.is_empty(),
        if not_up.is_empty() { format!("{} nodes, all UN", view.nodes().count()) } else { not_up.join(", ") },
    ));
    let in_target: BTreeSet<&str> =
        view.datacenter(&f.target_dc).map(|d| d.nodes.iter().map(|n| n.address.as_str()).collect()).unwrap_or_default();
    let missing: Vec<&str> = f.target_addresses.iter().map(String::as_str).filter(|a| !in_target.contains(a)).collect();
    out.push(check(
        &format!("target-dc-complete-from-{side}"),
        missing.is_empty() && view.datacenter(&f.source_dc).is_some(),
        if missing.is_empty() {
            format!("{} sees {} nodes in {} and datacenter {}", side, in_target.len(), f.target_dc, f.source_dc)
        } else {
            format!("{side} does not see {} in {}", missing.join(", "), f.target_dc)
        },
    ));
}

/// Whether two sides see the same nodes; `same` is the detail when they do.
fn same_ring(
    name: &str,
    (x, seen): (&str, &BTreeSet<String>),
    (y, other): (&str, &BTreeSet<String>),
    same: String,
) -> Check {
    let detail = if seen == other {
        same
    } else {
        format!(
            "only {x} sees {:?}; only {y} sees {:?}",
            seen.difference(other).collect::<Vec<_>>(),
            other.difference(seen).collect::<Vec<_>>()
        )
    };
    check(name, seen == other, detail)
}

/// Judges the facts.
pub fn verify(f: &VerifyFacts) -> VerifyReport {
    let mut checks = Vec::new();
    ring_checks("source", &f.from_source, f, &mut checks);
    ring_checks("target", &f.from_target, f, &mut checks);
    for (dc, view) in &f.from_others {
        ring_checks(dc, view, f, &mut checks);
    }

    let addresses = |v: &StatusReport| v.nodes().map(|(_, n)| n.address.clone()).collect::<BTreeSet<_>>();
    let (a, b) = (addresses(&f.from_source), addresses(&f.from_target));
    let same = format!("both sides see the same {} nodes", a.len());
    checks.push(same_ring("same-ring-from-both-sides", ("the source", &a), ("the target", &b), same));
    for (dc, view) in &f.from_others {
        let c = addresses(view);
        let same = format!("{dc} sees the same {} nodes as the source", c.len());
        checks.push(same_ring(&format!("same-ring-from-{dc}"), (dc, &c), ("the source", &a), same));
    }

    let load = |dc: &str| {
        f.from_source
            .datacenter(dc)
            .map(|d| {
                d.nodes.iter().map(|n| f.own_loads.get(&n.address).copied().or(n.load_bytes).unwrap_or(0)).sum::<u64>()
            })
            .unwrap_or(0)
    };
    let (src, tgt) = (load(&f.source_dc), load(&f.target_dc));
    let ratio = if src == 0 { 1.0 } else { tgt as f64 / src as f64 };
    checks.push(check(
        "target-load",
        ratio >= f.min_load_fraction,
        format!(
            "{} holds {tgt} bytes, {} holds {src} bytes ({:.0}% of the source; at least {:.0}% required)",
            f.target_dc,
            f.source_dc,
            ratio * 100.0,
            f.min_load_fraction * 100.0
        ),
    ));

    let problems: Vec<String> = f.rebuilds.iter().filter_map(|(pod, e)| e.problem(pod)).collect();
    let recorded = f.rebuilds.values().filter(|e| matches!(e, RebuildEvidence::Recorded { .. })).count();
    checks.push(check(
        "rebuild-completed-on-every-node",
        problems.is_empty() && !f.rebuilds.is_empty(),
        if problems.is_empty() {
            format!(
                "{} nodes completed a full rebuild ({recorded} recorded for their host ID, {} in their log)",
                f.rebuilds.len(),
                f.rebuilds.len() - recorded
            )
        } else {
            problems.join("; ")
        },
    ));
    VerifyReport { checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nodetool::parse_status;

    fn ring(rows: &[(&str, &str, &str, &str)]) -> StatusReport {
        let mut t = String::new();
        let mut dc = "";
        for (i, (d, code, ip, load)) in rows.iter().enumerate() {
            if *d != dc {
                t.push_str(&format!("Datacenter: {d}\n--  Address  Load  Tokens  Owns  Host ID  Rack\n"));
                dc = d;
            }
            t.push_str(&format!("{code}  {ip}  {load} KiB  16  50%  00000000-0000-0000-0000-00000000000{i}  ra-1\n"));
        }
        parse_status(&t).unwrap()
    }

    fn facts() -> VerifyFacts {
        let r = ring(&[
            ("dc-1", "UN", "10.0.1.1", "100"),
            ("dc-1", "UN", "10.0.1.2", "100"),
            ("dc-2", "UN", "10.0.2.1", "90"),
            ("dc-2", "UN", "10.0.2.2", "95"),
        ]);
        let done = |p: &str| RebuildEvidence::Logged { plan_id: Some(p.into()) };
        VerifyFacts {
            source_dc: "dc-1".into(),
            target_dc: "dc-2".into(),
            from_source: r.clone(),
            from_target: r,
            from_others: vec![],
            target_addresses: vec!["10.0.2.1".into(), "10.0.2.2".into()],
            rebuilds: [("p0".to_owned(), done("a")), ("p1".to_owned(), done("b"))].into(),
            min_load_fraction: 0.5,
            own_loads: BTreeMap::new(),
        }
    }

    #[test]
    fn a_complete_expansion_passes_every_check() {
        let r = verify(&facts());
        assert!(r.passed(), "{:?}", r.failures());
        assert_eq!(r.checks.len(), 7);
    }

    #[test]
    fn a_down_node_seen_from_the_target_fails() {
        let mut f = facts();
        f.from_target = ring(&[
            ("dc-1", "DN", "10.0.1.1", "100"),
            ("dc-1", "UN", "10.0.1.2", "100"),
            ("dc-2", "UN", "10.0.2.1", "90"),
            ("dc-2", "UN", "10.0.2.2", "95"),
        ]);
        let r = verify(&f);
        assert_eq!(r.failures(), ["all-up-from-target: 10.0.1.1 (dc-1) is DN"]);
    }

    #[test]
    fn a_third_region_s_view_is_checked_like_the_two_others() {
        let three = |dc3: &str| {
            ring(&[
                ("dc-1", "UN", "10.0.1.1", "100"),
                ("dc-2", "UN", "10.0.2.1", "90"),
                ("dc-3", dc3, "10.0.3.1", "100"),
                ("dc-2", "UN", "10.0.2.2", "95"),
            ])
        };
        let mut f = facts();
        f.from_source = ring(&[
            ("dc-1", "UN", "10.0.1.1", "100"),
            ("dc-1", "UN", "10.0.1.2", "100"),
            ("dc-2", "UN", "10.0.2.1", "90"),
            ("dc-2", "UN", "10.0.2.2", "95"),
        ]);
        f.from_others = vec![("dc-3".into(), three("DN"))];
        let r = verify(&f);
        assert_eq!(r.checks.len(), 10, "{:?}", r.checks);
        let failures = r.failures();
        assert!(failures.iter().any(|l| l == "all-up-from-dc-3: 10.0.3.1 (dc-3) is DN"), "{failures:?}");
        assert!(failures.iter().any(|l| l.starts_with("same-ring-from-dc-3: only dc-3 sees")), "{failures:?}");
        // The new datacenter missing from the third region's view fails too.
        f.from_others = vec![("dc-3".into(), ring(&[("dc-1", "UN", "10.0.1.1", "100")]))];
        let failures = verify(&f).failures();
        assert!(failures.iter().any(|l| l.starts_with("target-dc-complete-from-dc-3:")), "{failures:?}");
        // The same ring, all up, from the third side passes.
        f.from_others = vec![("dc-3".into(), f.from_source.clone())];
        assert!(verify(&f).passed(), "{:?}", verify(&f).failures());
    }

    #[test]
    fn an_empty_new_datacenter_fails_the_load_check() {
        let mut f = facts();
        f.from_source = ring(&[
            ("dc-1", "UN", "10.0.1.1", "100"),
            ("dc-1", "UN", "10.0.1.2", "100"),
            ("dc-2", "UN", "10.0.2.1", "1"),
            ("dc-2", "UN", "10.0.2.2", "1"),
        ]);
        let r = verify(&f);
        assert!(r.failures().iter().any(|l| l.starts_with("target-load")), "{:?}", r.failures());
    }

    #[test]
    fn a_node_s_own_load_beats_the_gossiped_one() {
        let mut f = facts();
        f.from_source = ring(&[
            ("dc-1", "UN", "10.0.1.1", "100"),
            ("dc-1", "UN", "10.0.1.2", "100"),
            ("dc-2", "UN", "10.0.2.1", "1"),
            ("dc-2", "UN", "10.0.2.2", "1"),
        ]);
        assert!(!verify(&f).passed(), "stale gossip alone fails");
        f.own_loads = [("10.0.2.1".to_owned(), 90 * 1024), ("10.0.2.2".to_owned(), 95 * 1024)].into();
        assert!(verify(&f).passed(), "{:?}", verify(&f).failures());
    }

    #[test]
    fn a_failed_or_missing_rebuild_is_never_passed() {
        let mut f = facts();
        f.rebuilds.insert("p1".into(), RebuildEvidence::Failed { reason: "stream failed".into() });
        assert!(!verify(&f).passed());
        f.rebuilds.insert("p2".into(), RebuildEvidence::Missing);
        assert!(verify(&f).failures().iter().any(|l| l.contains("p2: no completed rebuild")));
    }

    const FULL: &str = "rebuild from dc: dc-1, (All keyspaces), (All tokens)\n[Stream #p1] Executing streaming plan for Rebuild\n[Stream #p1] All sessions completed\n";

    #[test]
    fn a_recorded_rebuild_survives_an_empty_log_after_a_restart() {
        let rec = RecordedRebuild { host_id: Some("h1"), plan_id: Some("p1") };
        let e = rebuild_evidence(Some(rec), Some("h1"), &[], "dc-1");
        assert_eq!(e, RebuildEvidence::Recorded { host_id: "h1".into(), plan_id: Some("p1".into()) });
    }

    #[test]
    fn a_replaced_node_is_not_done() {
        let rec = RecordedRebuild { host_id: Some("h1"), plan_id: Some("p1") };
        let e = rebuild_evidence(Some(rec), Some("h2"), &[], "dc-1");
        assert_eq!(e, RebuildEvidence::Replaced { recorded_host_id: "h1".into(), current_host_id: "h2".into() });
        assert!(!e.proves_done());
    }

    #[test]
    fn without_a_record_the_current_log_decides() {
        let log = crate::nodetool::scan_rebuild_log(FULL);
        assert_eq!(
            rebuild_evidence(None, Some("h1"), &log, "dc-1"),
            RebuildEvidence::Logged { plan_id: Some("p1".into()) }
        );
        assert_eq!(rebuild_evidence(None, Some("h1"), &[], "dc-1"), RebuildEvidence::Missing);
    }

    #[test]
    fn a_keyspace_scoped_rebuild_is_not_a_rebuild() {
        let log = crate::nodetool::scan_rebuild_log(&FULL.replace("(All keyspaces)", "perses"));
        assert_eq!(rebuild_evidence(None, Some("h1"), &log, "dc-1"), RebuildEvidence::Missing);
    }

    #[test]
    fn a_node_only_one_side_sees_fails() {
        let mut f = facts();
        f.from_target = ring(&[
            ("dc-1", "UN", "10.0.1.1", "100"),
            ("dc-1", "UN", "10.0.1.2", "100"),
            ("dc-2", "UN", "10.0.2.1", "90"),
        ]);
        let r = verify(&f);
        assert!(r.failures().iter().any(|l| l.starts_with("target-dc-complete-from-target")));
        assert!(r.failures().iter().any(|l| l.starts_with("same-ring-from-both-sides")));
    }
}
