//! Pure judgement of a finished expansion over gathered facts: the ring from both sides, the
//! loads, and the rebuild log events. No I/O here; the engine gathers, this decides.

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
    /// The target Cassandra pods' addresses.
    pub target_addresses: Vec<String>,
    /// Target pod -> rebuild plan id recorded for it (None when unknown).
    pub rebuild_plans: BTreeMap<String, Option<String>>,
    /// Target pod -> events from its log.
    pub log_events: BTreeMap<String, Vec<LogEvent>>,
    /// Minimum target/source load ratio.
    pub min_load_fraction: f64,
    /// Address -> Load as the node itself reports it. Remote Load in `nodetool status` comes from
    /// gossip, broadcast once a minute, so right after a rebuild only a node's own figure is
    /// current; addresses missing here fall back to `from_source`.
    pub own_loads: BTreeMap<String, u64>,
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
    let not_up: Vec<String> = view.nodes().filter(|(_, n)| !n.is_up_normal()).map(|(dc, n)| format!("{} ({dc}) is {}", n.address, n.code())).collect();
    out.push(check(
        &format!("all-up-from-{side}"),
        not_up.is_empty(),
        if not_up.is_empty() { format!("{} nodes, all UN", view.nodes().count()) } else { not_up.join(", ") },
    ));
    let in_target: BTreeSet<&str> = view.datacenter(&f.target_dc).map(|d| d.nodes.iter().map(|n| n.address.as_str()).collect()).unwrap_or_default();
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

/// Judges the facts.
pub fn verify(f: &VerifyFacts) -> VerifyReport {
    let mut checks = Vec::new();
    ring_checks("source", &f.from_source, f, &mut checks);
    ring_checks("target", &f.from_target, f, &mut checks);

    let addresses = |v: &StatusReport| v.nodes().map(|(_, n)| n.address.clone()).collect::<BTreeSet<_>>();
    let (a, b) = (addresses(&f.from_source), addresses(&f.from_target));
    checks.push(check(
        "same-ring-from-both-sides",
        a == b,
        if a == b { format!("both sides see the same {} nodes", a.len()) } else { format!("only the source sees {:?}; only the target sees {:?}", a.difference(&b).collect::<Vec<_>>(), b.difference(&a).collect::<Vec<_>>()) },
    ));

    let load = |dc: &str| {
        f.from_source
            .datacenter(dc)
            .map(|d| d.nodes.iter().map(|n| f.own_loads.get(&n.address).copied().or(n.load_bytes).unwrap_or(0)).sum::<u64>())
            .unwrap_or(0)
    };
    let (src, tgt) = (load(&f.source_dc), load(&f.target_dc));
    let ratio = if src == 0 { 1.0 } else { tgt as f64 / src as f64 };
    checks.push(check(
        "target-load",
        ratio >= f.min_load_fraction,
        format!("{} holds {tgt} bytes, {} holds {src} bytes ({:.0}% of the source; at least {:.0}% required)", f.target_dc, f.source_dc, ratio * 100.0, f.min_load_fraction * 100.0),
    ));

    let mut problems = Vec::new();
    for (pod, plan) in &f.rebuild_plans {
        let events = f.log_events.get(pod).map(Vec::as_slice).unwrap_or(&[]);
        match plan {
            None => problems.push(format!("{pod}: no rebuild recorded")),
            Some(p) => {
                let completed = events.iter().any(|e| matches!(e, LogEvent::AllSessionsCompleted { plan_id, .. } if plan_id == p));
                let failed = events.iter().any(|e| matches!(e, LogEvent::StreamFailed { plan_id, .. } if plan_id == p));
                if failed {
                    problems.push(format!("{pod}: stream plan {p} failed"));
                } else if !completed {
                    problems.push(format!("{pod}: the log does not show stream plan {p} completed"));
                }
            }
        }
    }
    checks.push(check(
        "rebuild-completed-on-every-node",
        problems.is_empty() && !f.rebuild_plans.is_empty(),
        if problems.is_empty() { format!("{} nodes: All sessions completed, no stream failed", f.rebuild_plans.len()) } else { problems.join("; ") },
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
        let r = ring(&[("dc-1", "UN", "10.0.1.1", "100"), ("dc-1", "UN", "10.0.1.2", "100"), ("dc-2", "UN", "10.0.2.1", "90"), ("dc-2", "UN", "10.0.2.2", "95")]);
        let done = |p: &str| vec![LogEvent::AllSessionsCompleted { line: 9, plan_id: p.into() }];
        VerifyFacts {
            source_dc: "dc-1".into(),
            target_dc: "dc-2".into(),
            from_source: r.clone(),
            from_target: r,
            target_addresses: vec!["10.0.2.1".into(), "10.0.2.2".into()],
            rebuild_plans: [("p0".to_owned(), Some("a".to_owned())), ("p1".to_owned(), Some("b".to_owned()))].into(),
            log_events: [("p0".to_owned(), done("a")), ("p1".to_owned(), done("b"))].into(),
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
        f.from_target = ring(&[("dc-1", "DN", "10.0.1.1", "100"), ("dc-1", "UN", "10.0.1.2", "100"), ("dc-2", "UN", "10.0.2.1", "90"), ("dc-2", "UN", "10.0.2.2", "95")]);
        let r = verify(&f);
        assert_eq!(r.failures(), ["all-up-from-target: 10.0.1.1 (dc-1) is DN"]);
    }

    #[test]
    fn an_empty_new_datacenter_fails_the_load_check() {
        let mut f = facts();
        f.from_source = ring(&[("dc-1", "UN", "10.0.1.1", "100"), ("dc-1", "UN", "10.0.1.2", "100"), ("dc-2", "UN", "10.0.2.1", "1"), ("dc-2", "UN", "10.0.2.2", "1")]);
        let r = verify(&f);
        assert!(r.failures().iter().any(|l| l.starts_with("target-load")), "{:?}", r.failures());
    }

    #[test]
    fn a_node_s_own_load_beats_the_gossiped_one() {
        let mut f = facts();
        f.from_source = ring(&[("dc-1", "UN", "10.0.1.1", "100"), ("dc-1", "UN", "10.0.1.2", "100"), ("dc-2", "UN", "10.0.2.1", "1"), ("dc-2", "UN", "10.0.2.2", "1")]);
        assert!(!verify(&f).passed(), "stale gossip alone fails");
        f.own_loads = [("10.0.2.1".to_owned(), 90 * 1024), ("10.0.2.2".to_owned(), 95 * 1024)].into();
        assert!(verify(&f).passed(), "{:?}", verify(&f).failures());
    }

    #[test]
    fn a_failed_stream_is_never_passed() {
        let mut f = facts();
        f.log_events.get_mut("p1").unwrap().push(LogEvent::StreamFailed { line: 10, plan_id: "b".into(), reason: None });
        assert!(!verify(&f).passed());
        f.rebuild_plans.insert("p2".into(), None);
        assert!(verify(&f).failures().iter().any(|l| l.contains("p2: no rebuild recorded")));
    }

    #[test]
    fn a_node_only_one_side_sees_fails() {
        let mut f = facts();
        f.from_target = ring(&[("dc-1", "UN", "10.0.1.1", "100"), ("dc-1", "UN", "10.0.1.2", "100"), ("dc-2", "UN", "10.0.2.1", "90")]);
        let r = verify(&f);
        assert!(r.failures().iter().any(|l| l.starts_with("target-dc-complete-from-target")));
        assert!(r.failures().iter().any(|l| l.starts_with("same-ring-from-both-sides")));
    }
}
