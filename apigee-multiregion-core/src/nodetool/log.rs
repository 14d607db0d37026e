//! Scans Cassandra log text (`kubectl logs` of a Cassandra pod, or `system.log`) for the events
//! that tell whether a rebuild started, streamed, finished or failed.
//!
//! The scanner looks for Cassandra's message templates anywhere in a line, so it works whatever
//! the log prefix (logback pattern, CRI timestamp, JSON wrapping with escaped newlines).

use serde::Serialize;

/// One event found in the log, with its 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum LogEvent {
    /// `rebuild from dc: dc-1, (All keyspaces), (All tokens)`; `source_dc` is `None` for `(any dc)`.
    RebuildStarted {
        /// Line number.
        line: usize,
        /// The source datacenter.
        source_dc: Option<String>,
    },
    /// `[Stream #<id>] Executing streaming plan for Rebuild`.
    StreamPlanStarted {
        /// Line number.
        line: usize,
        /// The plan id.
        plan_id: String,
        /// `Rebuild`, `Bootstrap`, ...
        operation: String,
    },
    /// `[Stream #<id>] Session with /<peer> is complete`.
    SessionComplete {
        /// Line number.
        line: usize,
        /// The plan id.
        plan_id: String,
        /// The peer's address.
        peer: String,
    },
    /// `[Stream #<id>] All sessions completed`: the plan succeeded.
    AllSessionsCompleted {
        /// Line number.
        line: usize,
        /// The plan id.
        plan_id: String,
    },
    /// `[Stream #<id>] Stream failed` (3.x) or `Stream failed: Session peer ... <reason>` (4.1+),
    /// or `Session with /<peer> is failed|aborted`.
    StreamFailed {
        /// Line number.
        line: usize,
        /// The plan id.
        plan_id: String,
        /// What Cassandra said, when it said it.
        reason: Option<String>,
    },
    /// `Some ranges of ... are already available. Skipping streaming those ranges.` (a resumed rebuild).
    RangesAlreadyAvailable {
        /// Line number.
        line: usize,
    },
    /// `Error while rebuilding node`.
    RebuildError {
        /// Line number.
        line: usize,
        /// The message after the template, if any.
        message: Option<String>,
    },
}

impl LogEvent {
    /// The event's line number.
    pub fn line(&self) -> usize {
        match self {
            Self::RebuildStarted { line, .. }
            | Self::StreamPlanStarted { line, .. }
            | Self::SessionComplete { line, .. }
            | Self::AllSessionsCompleted { line, .. }
            | Self::StreamFailed { line, .. }
            | Self::RangesAlreadyAvailable { line }
            | Self::RebuildError { line, .. } => *line,
        }
    }
}

/// The plan id in `[Stream #<id>]` or `[Stream #<id> ID#0]` / `[Stream #<id>, ID#0]`.
fn stream_id(line: &str) -> Option<(&str, &str)> {
    let start = line.find("[Stream #")? + "[Stream #".len();
    let rest = &line[start..];
    let end = rest.find(']')?;
    let id = rest[..end].split([' ', ',']).next()?;
    Some((id, &rest[end + 1..]))
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// Scans log text for rebuild and streaming events, in order.
pub fn scan_rebuild_log(text: &str) -> Vec<LogEvent> {
    let lines: Vec<&str> = text.lines().collect();
    let mut events = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if let Some(pos) = line.find("rebuild from dc: ") {
            let rest = &line[pos + "rebuild from dc: ".len()..];
            let dc = rest.split(',').next().unwrap_or("").trim();
            let source_dc = (!dc.is_empty() && dc != "(any dc)").then(|| dc.to_owned());
            events.push(LogEvent::RebuildStarted { line: n, source_dc });
            continue;
        }
        if let Some(pos) = line.find("Error while rebuilding node") {
            let rest = &line[pos + "Error while rebuilding node".len()..];
            events.push(LogEvent::RebuildError { line: n, message: non_empty(rest.trim_start_matches(':')) });
            continue;
        }
        if line.contains("are already available. Skipping streaming those ranges") {
            events.push(LogEvent::RangesAlreadyAvailable { line: n });
            continue;
        }
        let Some((id, rest)) = stream_id(line) else { continue };
        let plan_id = id.to_owned();
        let rest = rest.trim();
        if let Some(op) = rest.strip_prefix("Executing streaming plan for ") {
            events.push(LogEvent::StreamPlanStarted { line: n, plan_id, operation: op.trim().to_owned() });
        } else if rest.starts_with("All sessions completed") {
            events.push(LogEvent::AllSessionsCompleted { line: n, plan_id });
        } else if let Some(after) = rest.strip_prefix("Stream failed") {
            let mut reason = non_empty(after.trim_start_matches(':'));
            // 4.1+ puts the reason on the next line: `Session peer /x.x.x.x:7000 ...`.
            if reason.is_none()
                && let Some(next) = lines.get(i + 1)
                && let Some(p) = next.find("Session peer")
            {
                reason = non_empty(&next[p..]);
            }
            events.push(LogEvent::StreamFailed { line: n, plan_id, reason });
        } else if let Some(session) = rest.strip_prefix("Session with ") {
            // `Session with /10.0.0.1 is complete` (3.x) or `... is <state>` (4.1+).
            if let Some((peer, state)) = session.rsplit_once(" is ") {
                let peer = super::split_address(peer.trim()).0;
                match state.trim() {
                    "complete" => events.push(LogEvent::SessionComplete { line: n, plan_id, peer }),
                    "failed" | "aborted" => events.push(LogEvent::StreamFailed {
                        line: n,
                        plan_id,
                        reason: Some(format!("session with {peer} {}", state.trim())),
                    }),
                    _ => {}
                }
            }
        }
    }
    events
}

/// How the last rebuild from a source datacenter went, as the log tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RebuildOutcome {
    /// The Rebuild stream plan id, once the plan started.
    pub plan_id: Option<String>,
    /// `All sessions completed` for that plan.
    pub completed: bool,
    /// The failure, when the plan or the rebuild failed.
    pub failure: Option<String>,
}

/// The outcome of the last `rebuild from dc: <source_dc>` in the events, or `None` when the log
/// shows no rebuild from that datacenter.
pub fn last_rebuild_outcome(events: &[LogEvent], source_dc: &str) -> Option<RebuildOutcome> {
    let start = events.iter().rposition(|e| matches!(e, LogEvent::RebuildStarted { source_dc: Some(dc), .. } if dc == source_dc))?;
    let mut out = RebuildOutcome { plan_id: None, completed: false, failure: None };
    for e in &events[start + 1..] {
        match e {
            LogEvent::RebuildStarted { .. } => break, // another rebuild began
            LogEvent::StreamPlanStarted { plan_id, operation, .. } if operation == "Rebuild" && out.plan_id.is_none() => {
                out.plan_id = Some(plan_id.clone());
            }
            LogEvent::AllSessionsCompleted { plan_id, .. } if out.plan_id.as_ref() == Some(plan_id) => out.completed = true,
            LogEvent::StreamFailed { plan_id, reason, .. } if out.plan_id.as_ref() == Some(plan_id) => {
                out.failure = Some(reason.clone().unwrap_or_else(|| "stream failed".into()));
            }
            LogEvent::RebuildError { message, .. } => {
                out.failure.get_or_insert_with(|| message.clone().unwrap_or_else(|| "error while rebuilding node".into()));
            }
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str = "\
INFO  [RMI TCP Connection(2)-127.0.0.1] 2026-11-27 10:00:00,000 StorageService.java:1400 - rebuild from dc: dc-1, (All keyspaces), (All tokens)
INFO  [RMI TCP Connection(2)-127.0.0.1] 2026-11-27 10:00:00,100 StreamResultFuture.java:98 - [Stream #5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21] Executing streaming plan for Rebuild
INFO  [Stream-Deserializer-/127.0.1.1:7000-1] 2026-11-27 10:00:01,000 StreamResultFuture.java:187 - [Stream #5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21] Session with /127.0.1.1:7000 is complete
INFO  [Stream-Deserializer-/127.0.1.1:7000-1] 2026-11-27 10:00:01,001 StreamResultFuture.java:243 - [Stream #5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21] All sessions completed
";

    #[test]
    fn finds_the_whole_successful_rebuild() {
        let ev = scan_rebuild_log(SUCCESS);
        assert_eq!(ev.len(), 4);
        assert_eq!(ev[0], LogEvent::RebuildStarted { line: 1, source_dc: Some("dc-1".into()) });
        assert!(matches!(&ev[2], LogEvent::SessionComplete { peer, .. } if peer == "127.0.1.1"));
        assert!(matches!(&ev[3], LogEvent::AllSessionsCompleted { plan_id, .. } if plan_id == "5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21"));
    }

    #[test]
    fn takes_the_4_1_failure_reason_from_the_next_line() {
        let text = "WARN  [Stream #abc] Stream failed: \nSession peer /127.0.1.1:7000 Failed because of an unknown exception\nERROR Error while rebuilding node: Stream failed\n";
        let ev = scan_rebuild_log(text);
        assert!(matches!(&ev[0], LogEvent::StreamFailed { reason: Some(r), .. } if r.starts_with("Session peer /127.0.1.1")));
        assert!(matches!(&ev[1], LogEvent::RebuildError { message: Some(m), .. } if m == "Stream failed"));
    }

    #[test]
    fn the_last_rebuild_from_the_source_decides() {
        let ev = scan_rebuild_log(SUCCESS);
        let o = last_rebuild_outcome(&ev, "dc-1").unwrap();
        assert!(o.completed && o.failure.is_none());
        assert_eq!(o.plan_id.as_deref(), Some("5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21"));
        assert_eq!(last_rebuild_outcome(&ev, "dc-9"), None);
        let failed = format!("{SUCCESS}rebuild from dc: dc-1, (All keyspaces), (All tokens)\n[Stream #p2] Executing streaming plan for Rebuild\n[Stream #p2] Stream failed\n");
        let o = last_rebuild_outcome(&scan_rebuild_log(&failed), "dc-1").unwrap();
        assert_eq!((o.plan_id.as_deref(), o.completed, o.failure.as_deref()), (Some("p2"), false, Some("stream failed")));
        let started = "rebuild from dc: dc-1, (All keyspaces), (All tokens)\n[Stream #p3] Executing streaming plan for Rebuild\n";
        let o = last_rebuild_outcome(&scan_rebuild_log(started), "dc-1").unwrap();
        assert!(!o.completed && o.failure.is_none(), "still running");
    }

    #[test]
    fn any_dc_has_no_source() {
        let ev = scan_rebuild_log("rebuild from dc: (any dc), (All keyspaces), (All tokens)");
        assert_eq!(ev, vec![LogEvent::RebuildStarted { line: 1, source_dc: None }]);
    }

    #[test]
    fn a_resumed_rebuild_is_noticed() {
        let ev = scan_rebuild_log("INFO Some ranges of [(1,2]] are already available. Skipping streaming those ranges.");
        assert_eq!(ev, vec![LogEvent::RangesAlreadyAvailable { line: 1 }]);
    }
}
