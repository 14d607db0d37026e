//! Scans Cassandra log text (`kubectl logs` of a Cassandra pod, or `system.log`) for the events
//! that tell whether a rebuild started, streamed, finished or failed.
//! (Over 400 lines because of its tests: the scanner itself is about 400 lines, one match arm
//! per log line shape across Cassandra 3.11 to 5.0.)
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
        /// What the rebuild was asked to stream: everything, or one keyspace / some tokens.
        scope: RebuildScope,
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
    /// `Unable to find sufficient sources for streaming range <range> in keyspace <ks>` (a source
    /// replica is down), or 4.0+'s `A node required to move the data consistently is down` that
    /// precedes it. `fatal` is false for the RF=1 warning that ends `Keyspace might be missing
    /// data.` (streaming goes on without that range).
    InsufficientSources {
        /// Line number.
        line: usize,
        /// The keyspace, when the line names it.
        keyspace: Option<String>,
        /// The range, when the line names it.
        range: Option<String>,
        /// The rebuild stops (true) or goes on without the range (false).
        fatal: bool,
    },
}

/// What a rebuild was asked to stream, from its `rebuild from dc:` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RebuildScope {
    /// `(All keyspaces), (All tokens)`: every keyspace, every range of this node. Also the old
    /// `rebuild from dc: <dc>` line without a scope (Cassandra 2.x), which could only rebuild all.
    Full,
    /// `nodetool rebuild -ks <keyspace> [-ts <tokens>]`: part of the data only.
    Scoped {
        /// The keyspace; `None` for `(All keyspaces)`.
        keyspace: Option<String>,
        /// The token ranges as the operator gave them; `None` for `(All tokens)`.
        tokens: Option<String>,
    },
}

impl RebuildScope {
    /// Every keyspace and every token: the only rebuild that counts as a finished expansion.
    pub fn is_full(&self) -> bool {
        *self == Self::Full
    }
}

/// Why a rebuild failed, in the kinds the engine treats differently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RebuildFailureKind {
    /// `Unable to find sufficient sources for streaming range ...`: a replica in the source
    /// datacenter is down (retry after backoff). On 3.11 and 4.0, which do not validate the source
    /// datacenter, an unknown source datacenter fails the same way: see
    /// [`RebuildFailureKind::given_ring_datacenters`].
    InsufficientSources {
        /// The keyspace, when named.
        keyspace: Option<String>,
        /// The range, when named.
        range: Option<String>,
    },
    /// `Provided datacenter 'x' is not a valid datacenter, available datacenters are: a,b` (4.1+),
    /// or (after [`RebuildFailureKind::given_ring_datacenters`]) a source datacenter that the ring
    /// does not have.
    InvalidSourceDatacenter {
        /// The datacenter asked for, when known.
        datacenter: Option<String>,
        /// The datacenters Cassandra offered, when it listed them.
        available: Vec<String>,
    },
    /// `Node is still rebuilding. Check nodetool netstats.`
    AlreadyRebuilding,
    /// A stream session or the plan failed (`Stream failed`, `Session with ... is failed`,
    /// `Error while rebuilding node: ...`).
    StreamFailed,
    /// Any other failure.
    Other,
}

impl RebuildFailureKind {
    /// On 3.11 and 4.0 an unknown source datacenter also gives "insufficient sources": with the
    /// datacenters of the ring (from `nodetool status`), tell the two apart. Other kinds are
    /// returned unchanged.
    pub fn given_ring_datacenters(self, source_dc: &str, ring_datacenters: &[&str]) -> Self {
        match self {
            Self::InsufficientSources { .. } if !ring_datacenters.contains(&source_dc) => {
                Self::InvalidSourceDatacenter {
                    datacenter: Some(source_dc.to_owned()),
                    available: ring_datacenters.iter().map(|d| (*d).to_owned()).collect(),
                }
            }
            other => other,
        }
    }
}

/// Classifies what a failed `nodetool rebuild` printed, or a rebuild failure message from the log.
/// `None` when the text shows no rebuild failure this module knows.
pub fn classify_rebuild_failure(text: &str) -> Option<RebuildFailureKind> {
    if let Some(pos) = text.find("Provided datacenter '") {
        let rest = &text[pos + "Provided datacenter '".len()..];
        let datacenter = rest.split_once('\'').map(|(dc, _)| dc.to_owned());
        let available = rest
            .split_once("available datacenters are:")
            .map(|(_, list)| {
                let list = list.lines().next().unwrap_or("");
                list.split(',').map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        return Some(RebuildFailureKind::InvalidSourceDatacenter { datacenter, available });
    }
    if let Some((keyspace, range)) = insufficient_sources(text) {
        return Some(RebuildFailureKind::InsufficientSources { keyspace, range });
    }
    if text.contains("A node required to move the data consistently is down") {
        return Some(RebuildFailureKind::InsufficientSources { keyspace: None, range: None });
    }
    if text.contains("Node is still rebuilding") {
        return Some(RebuildFailureKind::AlreadyRebuilding);
    }
    if text.contains("Stream failed")
        || text.contains("Error while rebuilding node")
        || text.contains("Streaming error occurred")
    {
        return Some(RebuildFailureKind::StreamFailed);
    }
    None
}

/// The keyspace and range of an `Unable to find sufficient sources for streaming range <r> in
/// keyspace <ks>` message (`unable` in lower case before 3.0).
fn insufficient_sources(text: &str) -> Option<(Option<String>, Option<String>)> {
    const NEEDLE: &str = "nable to find sufficient sources for streaming range";
    let pos = text.find(NEEDLE)?;
    let rest = &text[pos + NEEDLE.len()..];
    let rest = rest.lines().next().unwrap_or("");
    let (range, keyspace) = match rest.split_once(" in keyspace ") {
        Some((range, after)) => {
            let ks = after.split_whitespace().next().unwrap_or("").trim_end_matches(['.', ',', '"']);
            (range.trim(), (!ks.is_empty()).then(|| ks.to_owned()))
        }
        None => (rest.trim(), None),
    };
    Some((keyspace, (!range.is_empty()).then(|| range.to_owned())))
}

/// Reads the part of a `rebuild from dc:` line after the template:
/// `<dc or (any dc)>, <keyspace or (All keyspaces)>, <tokens or (All tokens)>`.
fn rebuild_start(rest: &str) -> (Option<String>, RebuildScope) {
    let mut parts = rest.splitn(3, ',');
    let dc = parts.next().unwrap_or("").trim();
    let source_dc = (!dc.is_empty() && dc != "(any dc)").then(|| dc.to_owned());
    let (Some(keyspace), Some(tokens)) = (parts.next(), parts.next()) else {
        // `rebuild from dc: <dc>` (2.x): no scope was possible.
        return (source_dc, RebuildScope::Full);
    };
    let keyspace = keyspace.trim();
    let keyspace = (keyspace != "(All keyspaces)" && !keyspace.is_empty()).then(|| keyspace.to_owned());
    let tokens = tokens.trim();
    let tokens = if tokens.starts_with("(All tokens)") {
        None
    } else {
        // Ranges as the operator gave them: `(a,b],(c,d]`; drop what a log wrapper appends.
        let end = tokens.rfind(']').map_or(tokens.len(), |i| i + 1);
        Some(tokens[..end].to_owned()).filter(|t| !t.is_empty())
    };
    let scope = if keyspace.is_none() && tokens.is_none() {
        RebuildScope::Full
    } else {
        RebuildScope::Scoped { keyspace, tokens }
    };
    (source_dc, scope)
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
            | Self::RebuildError { line, .. }
            | Self::InsufficientSources { line, .. } => *line,
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
            let (source_dc, scope) = rebuild_start(&line[pos + "rebuild from dc: ".len()..]);
            events.push(LogEvent::RebuildStarted { line: n, source_dc, scope });
            continue;
        }
        if let Some((keyspace, range)) = insufficient_sources(line) {
            let fatal = !line.contains("might be missing data");
            events.push(LogEvent::InsufficientSources { line: n, keyspace, range, fatal });
            continue;
        }
        if line.contains("A node required to move the data consistently is down") {
            events.push(LogEvent::InsufficientSources { line: n, keyspace: None, range: None, fatal: true });
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
    /// What the rebuild was asked to stream (from its `rebuild from dc:` line).
    pub scope: RebuildScope,
    /// The kind of `failure`, when there is one.
    pub failure_kind: Option<RebuildFailureKind>,
}

impl RebuildOutcome {
    /// A rebuild of every keyspace and every token that completed without failure: the only
    /// outcome that proves a node holds the source datacenter's data.
    pub fn is_full_success(&self) -> bool {
        self.completed && self.failure.is_none() && self.scope.is_full()
    }
}

/// The outcome of the rebuild that starts at `events[start]`, up to the next rebuild.
fn outcome_from(events: &[LogEvent], start: usize) -> RebuildOutcome {
    let scope = match &events[start] {
        LogEvent::RebuildStarted { scope, .. } => scope.clone(),
        _ => RebuildScope::Full,
    };
    let mut out = RebuildOutcome { plan_id: None, completed: false, failure: None, scope, failure_kind: None };
    fn fail(out: &mut RebuildOutcome, message: String, kind: RebuildFailureKind, overwrite: bool) {
        if overwrite || out.failure.is_none() {
            out.failure = Some(message);
            out.failure_kind = Some(kind);
        }
    }
    for e in &events[start + 1..] {
        match e {
            LogEvent::RebuildStarted { .. } => break, // another rebuild began
            LogEvent::StreamPlanStarted { plan_id, operation, .. }
                if operation == "Rebuild" && out.plan_id.is_none() =>
            {
                out.plan_id = Some(plan_id.clone());
            }
            LogEvent::AllSessionsCompleted { plan_id, .. } if out.plan_id.as_ref() == Some(plan_id) => {
                out.completed = true
            }
            LogEvent::StreamFailed { plan_id, reason, .. } if out.plan_id.as_ref() == Some(plan_id) => {
                let message = reason.clone().unwrap_or_else(|| "stream failed".into());
                fail(&mut out, message, RebuildFailureKind::StreamFailed, true);
            }
            LogEvent::RebuildError { message, .. } => {
                let kind =
                    message.as_deref().and_then(classify_rebuild_failure).unwrap_or(RebuildFailureKind::StreamFailed);
                let message = message.clone().unwrap_or_else(|| "error while rebuilding node".into());
                fail(&mut out, message, kind, false);
            }
            LogEvent::InsufficientSources { keyspace, range, fatal: true, .. } => {
                let message = match (keyspace, range) {
                    (Some(k), Some(r)) => {
                        format!("unable to find sufficient sources for streaming range {r} in keyspace {k}")
                    }
                    (Some(k), None) => format!("unable to find sufficient sources in keyspace {k}"),
                    _ => "a source replica needed to stream the data is down".to_owned(),
                };
                let kind = RebuildFailureKind::InsufficientSources { keyspace: keyspace.clone(), range: range.clone() };
                fail(&mut out, message, kind, false);
            }
            _ => {}
        }
    }
    out
}

/// The outcome of the last `rebuild from dc: <source_dc>` in the events, whatever its scope, or
/// `None` when the log shows no rebuild from that datacenter. A keyspace- or token-scoped rebuild
/// says so in [`RebuildOutcome::scope`]: only [`RebuildOutcome::is_full_success`] proves a node
/// was rebuilt (see also [`last_full_rebuild_outcome`]).
pub fn last_rebuild_outcome(events: &[LogEvent], source_dc: &str) -> Option<RebuildOutcome> {
    let start = events
        .iter()
        .rposition(|e| matches!(e, LogEvent::RebuildStarted { source_dc: Some(dc), .. } if dc == source_dc))?;
    Some(outcome_from(events, start))
}

/// The outcome of the last rebuild of **all keyspaces and all tokens** from `source_dc`, ignoring
/// keyspace- or token-scoped rebuilds (an operator's manual attempt streams part of the data only
/// and never counts); `None` when the log shows no full rebuild from that datacenter.
pub fn last_full_rebuild_outcome(events: &[LogEvent], source_dc: &str) -> Option<RebuildOutcome> {
    let start = events.iter().rposition(|e| e.is_full_rebuild_start(source_dc))?;
    Some(outcome_from(events, start))
}

impl LogEvent {
    /// `rebuild from dc: <source_dc>, (All keyspaces), (All tokens)`: the start of a full rebuild.
    pub fn is_full_rebuild_start(&self, source_dc: &str) -> bool {
        matches!(self, LogEvent::RebuildStarted { source_dc: Some(dc), scope, .. } if dc == source_dc && scope.is_full())
    }
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
        assert_eq!(
            ev[0],
            LogEvent::RebuildStarted { line: 1, source_dc: Some("dc-1".into()), scope: RebuildScope::Full }
        );
        assert!(matches!(&ev[2], LogEvent::SessionComplete { peer, .. } if peer == "127.0.1.1"));
        assert!(
            matches!(&ev[3], LogEvent::AllSessionsCompleted { plan_id, .. } if plan_id == "5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21")
        );
    }

    #[test]
    fn takes_the_4_1_failure_reason_from_the_next_line() {
        let text = "WARN  [Stream #abc] Stream failed: \nSession peer /127.0.1.1:7000 Failed because of an unknown exception\nERROR Error while rebuilding node: Stream failed\n";
        let ev = scan_rebuild_log(text);
        assert!(
            matches!(&ev[0], LogEvent::StreamFailed { reason: Some(r), .. } if r.starts_with("Session peer /127.0.1.1"))
        );
        assert!(matches!(&ev[1], LogEvent::RebuildError { message: Some(m), .. } if m == "Stream failed"));
    }

    #[test]
    fn the_last_rebuild_from_the_source_decides() {
        let ev = scan_rebuild_log(SUCCESS);
        let o = last_rebuild_outcome(&ev, "dc-1").unwrap();
        assert!(o.completed && o.failure.is_none());
        assert_eq!(o.plan_id.as_deref(), Some("5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21"));
        assert_eq!(last_rebuild_outcome(&ev, "dc-9"), None);
        let failed = format!(
            "{SUCCESS}rebuild from dc: dc-1, (All keyspaces), (All tokens)\n[Stream #p2] Executing streaming plan for Rebuild\n[Stream #p2] Stream failed\n"
        );
        let o = last_rebuild_outcome(&scan_rebuild_log(&failed), "dc-1").unwrap();
        assert_eq!(
            (o.plan_id.as_deref(), o.completed, o.failure.as_deref()),
            (Some("p2"), false, Some("stream failed"))
        );
        let started =
            "rebuild from dc: dc-1, (All keyspaces), (All tokens)\n[Stream #p3] Executing streaming plan for Rebuild\n";
        let o = last_rebuild_outcome(&scan_rebuild_log(started), "dc-1").unwrap();
        assert!(!o.completed && o.failure.is_none(), "still running");
    }

    #[test]
    fn any_dc_has_no_source() {
        let ev = scan_rebuild_log("rebuild from dc: (any dc), (All keyspaces), (All tokens)");
        assert_eq!(ev, vec![LogEvent::RebuildStarted { line: 1, source_dc: None, scope: RebuildScope::Full }]);
    }

    #[test]
    fn a_keyspace_scoped_rebuild_carries_its_scope() {
        let ev = scan_rebuild_log(
            "INFO  [RMI TCP Connection(4)-127.0.0.1] 2026-11-27 11:00:00,000 StorageService.java:1260 - rebuild from dc: dc-1, perses, (All tokens)",
        );
        let LogEvent::RebuildStarted { source_dc, scope, .. } = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(source_dc.as_deref(), Some("dc-1"));
        assert_eq!(*scope, RebuildScope::Scoped { keyspace: Some("perses".into()), tokens: None });
        assert!(!scope.is_full());
    }

    #[test]
    fn a_token_scoped_rebuild_keeps_its_ranges_with_their_commas() {
        let ev = scan_rebuild_log("rebuild from dc: dc-1, perses, (-9223372036854775808,-3074457345618258603],(1,2]");
        let LogEvent::RebuildStarted { scope, .. } = &ev[0] else { panic!("{ev:?}") };
        assert_eq!(
            *scope,
            RebuildScope::Scoped {
                keyspace: Some("perses".into()),
                tokens: Some("(-9223372036854775808,-3074457345618258603],(1,2]".into())
            }
        );
    }

    #[test]
    fn the_old_one_field_line_is_a_full_rebuild() {
        let ev = scan_rebuild_log("INFO 10:00:00 rebuild from dc: DC1");
        assert_eq!(
            ev,
            vec![LogEvent::RebuildStarted { line: 1, source_dc: Some("DC1".into()), scope: RebuildScope::Full }]
        );
    }

    #[test]
    fn a_completed_scoped_rebuild_is_not_a_full_rebuild() {
        let scoped = SUCCESS.replace("(All keyspaces), (All tokens)", "perses, (All tokens)");
        let ev = scan_rebuild_log(&scoped);
        let o = last_rebuild_outcome(&ev, "dc-1").unwrap();
        assert!(o.completed && o.failure.is_none());
        assert!(!o.is_full_success(), "a keyspace-scoped rebuild never counts");
        assert_eq!(last_full_rebuild_outcome(&ev, "dc-1"), None);
        assert!(last_full_rebuild_outcome(&scan_rebuild_log(SUCCESS), "dc-1").unwrap().is_full_success());
    }

    #[test]
    fn a_full_rebuild_still_counts_after_a_later_scoped_one() {
        let text = format!(
            "{SUCCESS}rebuild from dc: dc-1, perses, (All tokens)\n[Stream #p9] Executing streaming plan for Rebuild\n[Stream #p9] Stream failed\n"
        );
        let ev = scan_rebuild_log(&text);
        let last = last_rebuild_outcome(&ev, "dc-1").unwrap();
        assert_eq!((last.completed, last.failure_kind.clone()), (false, Some(RebuildFailureKind::StreamFailed)));
        let full = last_full_rebuild_outcome(&ev, "dc-1").unwrap();
        assert!(full.is_full_success());
        assert_eq!(full.plan_id.as_deref(), Some("5b6e3f10-ac3c-11f0-8b5c-4f5a0d3c1e21"));
    }

    #[test]
    fn a_down_source_replica_is_its_own_failure() {
        let text = "rebuild from dc: dc-1, (All keyspaces), (All tokens)\nWARN  [RMI TCP Connection(2)-127.0.0.1] RangeStreamer.java:440 - A node required to move the data consistently is down\n";
        let ev = scan_rebuild_log(text);
        assert_eq!(ev[1], LogEvent::InsufficientSources { line: 2, keyspace: None, range: None, fatal: true });
        let o = last_rebuild_outcome(&ev, "dc-1").unwrap();
        assert!(matches!(o.failure_kind, Some(RebuildFailureKind::InsufficientSources { .. })), "{o:?}");
        assert!(!o.completed);
    }

    #[test]
    fn the_rf1_warning_is_not_fatal() {
        let ev = scan_rebuild_log(
            "WARN  RangeStreamer.java:400 - Unable to find sufficient sources for streaming range (1,2] in keyspace perses with RF=1. Keyspace might be missing data.",
        );
        assert_eq!(
            ev,
            vec![LogEvent::InsufficientSources {
                line: 1,
                keyspace: Some("perses".into()),
                range: Some("(1,2]".into()),
                fatal: false
            }]
        );
        let ev = scan_rebuild_log(
            "rebuild from dc: dc-1, (All keyspaces), (All tokens)\nWARN Unable to find sufficient sources for streaming range (1,2] in keyspace perses with RF=1. Keyspace might be missing data.\n",
        );
        assert_eq!(last_rebuild_outcome(&ev, "dc-1").unwrap().failure, None);
    }

    #[test]
    fn nodetool_failures_are_classified() {
        let invalid = "nodetool: Provided datacenter 'dc-9' is not a valid datacenter, available datacenters are: dc-1,dc-2\nSee 'nodetool help' or 'nodetool help <command>'.";
        assert_eq!(
            classify_rebuild_failure(invalid),
            Some(RebuildFailureKind::InvalidSourceDatacenter {
                datacenter: Some("dc-9".into()),
                available: vec!["dc-1".into(), "dc-2".into()]
            })
        );
        let down = "error: Unable to find sufficient sources for streaming range (-3074457345618258603,3074457345618258602] in keyspace system_auth\n-- StackTrace --\njava.lang.IllegalStateException: Unable to find sufficient sources for streaming range";
        assert_eq!(
            classify_rebuild_failure(down),
            Some(RebuildFailureKind::InsufficientSources {
                keyspace: Some("system_auth".into()),
                range: Some("(-3074457345618258603,3074457345618258602]".into())
            })
        );
        assert_eq!(
            classify_rebuild_failure("nodetool: Node is still rebuilding. Check nodetool netstats."),
            Some(RebuildFailureKind::AlreadyRebuilding)
        );
        assert_eq!(
            classify_rebuild_failure("error: Error while rebuilding node: Stream failed"),
            Some(RebuildFailureKind::StreamFailed)
        );
        assert_eq!(classify_rebuild_failure("all fine"), None);
    }

    #[test]
    fn an_unknown_source_dc_on_3_11_is_told_from_a_down_replica_by_the_ring() {
        let kind = RebuildFailureKind::InsufficientSources { keyspace: Some("perses".into()), range: None };
        assert_eq!(kind.clone().given_ring_datacenters("dc-1", &["dc-1", "dc-2"]), kind);
        assert_eq!(
            kind.given_ring_datacenters("dc-9", &["dc-1", "dc-2"]),
            RebuildFailureKind::InvalidSourceDatacenter {
                datacenter: Some("dc-9".into()),
                available: vec!["dc-1".into(), "dc-2".into()]
            }
        );
    }

    #[test]
    fn a_resumed_rebuild_is_noticed() {
        let ev =
            scan_rebuild_log("INFO Some ranges of [(1,2]] are already available. Skipping streaming those ranges.");
        assert_eq!(ev, vec![LogEvent::RangesAlreadyAvailable { line: 1 }]);
    }
}
