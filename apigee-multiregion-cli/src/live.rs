//! The live view of an expansion on a terminal, redrawn in place with `indicatif`: the current
//! step with a spinner and its elapsed time; during the rebuild one bar per target node (bytes
//! received of total, rate, ETA); finished steps collapse into one printed line each; findings,
//! warnings, notes and actions are printed above the bars.
//!
//! Times come from a [`Clock`], so a test can replay a recorded event sequence to an in-memory
//! terminal and get the same screen every time.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apigee_multiregion_core::expansion::{Event, EventSink, NodeState, StepId};
use apigee_multiregion_core::overrides::Severity;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::render::human;

/// Time since the run started.
pub trait Clock: Send + Sync {
    /// Elapsed since the start.
    fn elapsed(&self) -> Duration;
}

/// The wall clock.
pub struct SystemClock(Instant);

impl SystemClock {
    /// Starts now.
    pub fn new() -> Self {
        Self(Instant::now())
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }
}

/// The multi-progress of the live view being shown, if any: log lines (`-v`) are written
/// while it is suspended, so they do not tear the bars.
static ACTIVE: Mutex<Option<MultiProgress>> = Mutex::new(None);

/// Writes to stderr above the live view when one is shown (the `tracing` writer).
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let write = || std::io::stderr().write_all(buf);
        match active {
            Some(multi) => multi.suspend(write)?,
            None => write()?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The live view; an [`EventSink`].
pub struct LiveView {
    multi: MultiProgress,
    clock: Arc<dyn Clock>,
    color: bool,
    tick: Option<Duration>,
    global: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The running step's spinner.
    step: Option<(StepId, ProgressBar)>,
    /// The rebuild bars, in order of appearance.
    nodes: Vec<Node>,
    finished: bool,
}

struct Node {
    pod: String,
    bar: ProgressBar,
    /// First progress sample of the current attempt (time, bytes): the rate's origin.
    first: Option<(Duration, u64)>,
    received: u64,
    total: u64,
}

impl LiveView {
    /// On stdout, with a steady spinner.
    pub fn stdout(color: bool) -> Self {
        let mut view = Self::new(ProgressDrawTarget::stdout(), Arc::new(SystemClock::new()), color, true);
        view.global = true;
        *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(view.multi.clone());
        view
    }

    /// On any draw target with any clock; `animate`: the spinner turns on its own (a thread
    /// redraws it), else only on events.
    pub fn new(target: ProgressDrawTarget, clock: Arc<dyn Clock>, color: bool, animate: bool) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        Self {
            multi,
            clock,
            color,
            tick: animate.then_some(Duration::from_millis(120)),
            global: false,
            state: Mutex::new(State::default()),
        }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }

    fn print(&self, line: &str) {
        let _ = self.multi.println(line);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Clears what is still drawn and stops the spinner; later events are ignored.
    pub fn finish(&self) {
        let mut st = self.lock();
        if st.finished {
            return;
        }
        st.finished = true;
        self.clear_bars(&mut st);
        let _ = self.multi.clear();
        if self.global {
            *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    fn clear_bars(&self, st: &mut State) {
        if let Some((_, bar)) = st.step.take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        for n in st.nodes.drain(..) {
            n.bar.finish_and_clear();
            self.multi.remove(&n.bar);
        }
    }

    fn step_style(&self, started: Duration) -> ProgressStyle {
        let clock = self.clock.clone();
        let template = if self.color { "{spinner:.cyan} {msg} {clock:.dim}" } else { "{spinner} {msg} {clock}" };
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✓")
            .with_key("clock", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", clock_time(clock.elapsed().saturating_sub(started)));
            })
    }

    fn node_style(&self) -> ProgressStyle {
        let template = if self.color { "  {prefix} [{bar:30.cyan/blue}] {msg}" } else { "  {prefix} [{bar:30}] {msg}" };
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ")
    }

    fn node<'a>(&self, st: &'a mut State, pod: &str) -> &'a mut Node {
        let i = match st.nodes.iter().position(|n| n.pod == pod) {
            Some(i) => i,
            None => {
                let bar = self.multi.add(ProgressBar::new(0).with_style(self.node_style()));
                st.nodes.push(Node { pod: pod.to_owned(), bar, first: None, received: 0, total: 0 });
                // Align the bars: every prefix padded to the longest pod name.
                let width = st.nodes.iter().map(|n| n.pod.chars().count()).max().unwrap_or(0);
                for n in &st.nodes {
                    n.bar.set_prefix(format!("{:<width$}", n.pod));
                }
                st.nodes.len() - 1
            }
        };
        &mut st.nodes[i]
    }

    fn progress_message(&self, n: &Node) -> String {
        let pct = (n.received * 100).checked_div(n.total).unwrap_or(0);
        let mut msg = format!("{} / {} ({pct}%)", human(n.received), human(n.total));
        let now = self.clock.elapsed();
        if let Some((t0, r0)) = n.first {
            let secs = now.saturating_sub(t0).as_secs_f64();
            let rate = if secs > 0.0 { n.received.saturating_sub(r0) as f64 / secs } else { 0.0 };
            if rate > 0.0 {
                let eta = Duration::from_secs_f64(n.total.saturating_sub(n.received) as f64 / rate);
                let _ = write!(msg, "  {}/s  ETA {}", human(rate as u64), clock_time(eta));
            }
        }
        msg
    }
}

/// `7s`, `2m05s`, `1h02m`.
pub(crate) fn clock_time(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

fn secs(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

impl Drop for LiveView {
    fn drop(&mut self) {
        self.finish();
    }
}

impl EventSink for LiveView {
    fn emit(&self, event: Event) {
        let mut st = self.lock();
        if st.finished {
            return;
        }
        self.handle(&mut st, event);
        // Redraw the spinner: its elapsed time moves with every event, not only with its ticks.
        if let Some((_, bar)) = &st.step {
            bar.tick();
        }
    }
}

impl LiveView {
    fn handle(&self, st: &mut State, event: Event) {
        match event {
            Event::StepStarted { step } => {
                if let Some((_, old)) = st.step.take() {
                    old.finish_and_clear();
                    self.multi.remove(&old);
                }
                let bar = ProgressBar::new_spinner().with_style(self.step_style(self.clock.elapsed()));
                let bar = self.multi.insert(0, bar);
                bar.set_message(self.paint("1", step.as_str()));
                if let Some(t) = self.tick {
                    bar.enable_steady_tick(t);
                }
                st.step = Some((step, bar));
            }
            Event::StepFinished { step, duration_ms } => {
                self.clear_bars(st);
                self.print(&format!("{} {step} ({})", self.paint("32", "✓"), secs(duration_ms)));
            }
            Event::StepSkipped { step, reason } => {
                self.print(&format!("{} {step} skipped: {reason}", self.paint("36", "↷")));
            }
            Event::StepFailed { step, error } => {
                self.clear_bars(st);
                self.print(&format!("{} {step} failed: {error}", self.paint("31", "✗")));
            }
            Event::RebuildProgress { pod, node, all } => {
                let (received, total) = (node.received, node.total);
                if let Some((step, bar)) = &st.step {
                    let mut msg = format!(
                        "{} · all nodes {} / {}",
                        self.paint("1", step.as_str()),
                        human(all.received),
                        human(all.total)
                    );
                    if let (Some(r), Some(e)) = (all.bytes_per_second, all.eta_seconds) {
                        let _ = write!(msg, "  {}/s  ETA {}", human(r), clock_time(Duration::from_secs(e)));
                    }
                    bar.set_message(msg);
                }
                let now = self.clock.elapsed();
                let n = self.node(st, &pod);
                if n.first.is_none() {
                    n.first = Some((now, received));
                }
                n.received = received;
                n.total = total;
                n.bar.set_length(total);
                n.bar.set_position(received.min(total));
                n.bar.set_message(self.progress_message(n));
            }
            Event::RebuildNode { pod, state, attempt, message } => {
                let detail = message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                let n = self.node(st, &pod);
                let msg = match state {
                    NodeState::Started | NodeState::Retrying => {
                        n.first = None;
                        if state == NodeState::Started {
                            format!("started (attempt {attempt})")
                        } else {
                            format!("retrying (attempt {attempt})")
                        }
                    }
                    NodeState::Running => {
                        n.first = None;
                        format!("running (attempt {attempt})")
                    }
                    NodeState::Waiting => format!("waiting{detail}"),
                    NodeState::FailedAttempt => format!("attempt {attempt} failed; retrying after a pause"),
                    NodeState::Done => format!("done {}", human(n.total.max(n.received))),
                    NodeState::Failed => self.paint("31", "failed"),
                };
                n.bar.set_message(msg);
                match state {
                    NodeState::FailedAttempt => self
                        .print(&format!("{} rebuild {pod}: attempt {attempt} failed{detail}", self.paint("33", "!"))),
                    NodeState::Failed => self.print(&format!("{} rebuild {pod} failed{detail}", self.paint("31", "✗"))),
                    NodeState::Done => {
                        // A finished node collapses into one line too.
                        let bytes = human(n.total.max(n.received));
                        n.bar.finish_and_clear();
                        self.multi.remove(&n.bar);
                        st.nodes.retain(|n| n.pod != pod);
                        self.print(&format!("  {} rebuild {pod}: {bytes} (attempt {attempt})", self.paint("32", "✓")));
                    }
                    _ => {}
                }
            }
            Event::Note { step, message } => {
                if let Some((current, bar)) = &st.step
                    && *current == step
                {
                    bar.set_message(format!("{} · {message}", self.paint("1", step.as_str())));
                }
                self.print(&format!("  {step}: {message}"));
            }
            Event::Warning { step, message } => {
                self.print(&format!("{} {step}: {message}", self.paint("33", "!")));
            }
            Event::Finding { finding } => {
                let sev = if finding.severity == Severity::Error {
                    self.paint("31", "error")
                } else {
                    self.paint("33", "warning")
                };
                self.print(&format!("  {sev}[{}] {}", finding.code, finding.message));
            }
            Event::Action { step, description, commands } => {
                self.print(&format!("{} {step}: {description}", self.paint("33", "•")));
                for c in commands {
                    self.print(&format!("    {c}"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU64, Ordering};

    use apigee_multiregion_core::overrides::{Finding, Side};
    use indicatif::{InMemoryTerm, TermLike};

    use super::*;
    use crate::render::Renderer;

    /// A clock the test moves.
    #[derive(Default)]
    struct TestClock(AtomicU64);

    impl TestClock {
        fn advance(&self, ms: u64) {
            self.0.fetch_add(ms, Ordering::SeqCst);
        }
    }

    impl Clock for TestClock {
        fn elapsed(&self) -> Duration {
            Duration::from_millis(self.0.load(Ordering::SeqCst))
        }
    }

    const GIB: u64 = 1 << 30;

    fn node(pod: &str, state: NodeState, attempt: u32, message: Option<&str>) -> Event {
        Event::RebuildNode { pod: pod.into(), state, attempt, message: message.map(Into::into) }
    }

    fn progress(pod: &str, received: u64, total: u64) -> Event {
        use apigee_multiregion_core::expansion::progress::Rate;
        Event::RebuildProgress {
            pod: pod.into(),
            node: Rate { received, total, ..Rate::default() },
            all: Rate::default(),
        }
    }

    /// The rates and totals the engine's meter gives for the recorded progress, at its times.
    fn metered(events: Vec<(u64, Event)>) -> Vec<(u64, Event)> {
        let mut meter = apigee_multiregion_core::expansion::progress::Meter::default();
        let mut now = std::time::Instant::now();
        let mut out = Vec::with_capacity(events.len());
        for (ms, mut event) in events {
            now += Duration::from_millis(ms);
            if let Event::RebuildProgress { pod, node, all } = &mut event {
                (*node, *all) = meter.observe(pod, node.received, node.total, now);
            }
            out.push((ms, event));
        }
        out
    }

    /// A recorded run, as (milliseconds since the previous event, event). `MID` is the index
    /// after which the screen is shown in the middle of the rebuild.
    fn recording() -> Vec<(u64, Event)> {
        use StepId::*;
        metered(vec![
            (0, Event::StepStarted { step: Preflight }),
            (300, Event::Note { step: Preflight, message: "JMX credentials from the overrides files".into() }),
            (
                200,
                Event::Finding {
                    finding: Finding {
                        severity: Severity::Warning,
                        code: "no-rack",
                        message: "the target overrides set no rack; ra-1 is used".into(),
                        path: "cassandra.rack".into(),
                        side: Side::Target,
                        line: None,
                    },
                },
            ),
            (700, Event::StepFinished { step: Preflight, duration_ms: 1200 }),
            (10, Event::StepSkipped { step: SelectSeeds, reason: "the seed host is 10.1.0.4".into() }),
            (10, Event::StepStarted { step: Install }),
            (95_000, Event::Warning { step: Install, message: "apigeectl printed a deprecation warning".into() }),
            (30_000, Event::StepFinished { step: Install, duration_ms: 125_000 }),
            (10, Event::StepStarted { step: Rebuild }),
            (0, Event::Note { step: Rebuild, message: "2 node(s), 1 at a time".into() }),
            (100, node("apigee-cassandra-default-0", NodeState::Started, 1, None)),
            (0, node("apigee-cassandra-default-1", NodeState::Started, 1, None)),
            (10_000, progress("apigee-cassandra-default-0", GIB, 8 * GIB)),
            (0, progress("apigee-cassandra-default-1", GIB / 2, 6 * GIB)),
            (10_000, progress("apigee-cassandra-default-0", 3 * GIB, 8 * GIB)),
            (0, progress("apigee-cassandra-default-1", GIB, 6 * GIB)),
            (5_000, node("apigee-cassandra-default-1", NodeState::FailedAttempt, 1, Some("stream failed"))),
            (5_000, node("apigee-cassandra-default-1", NodeState::Retrying, 2, None)),
            (10_000, progress("apigee-cassandra-default-0", 6 * GIB, 8 * GIB)),
            (0, progress("apigee-cassandra-default-1", 2 * GIB, 6 * GIB)),
            // MID: the screen is shown here.
            (10_000, progress("apigee-cassandra-default-0", 8 * GIB, 8 * GIB)),
            (0, node("apigee-cassandra-default-0", NodeState::Done, 1, None)),
            (20_000, progress("apigee-cassandra-default-1", 6 * GIB, 6 * GIB)),
            (0, node("apigee-cassandra-default-1", NodeState::Done, 2, None)),
            (0, Event::StepFinished { step: Rebuild, duration_ms: 70_100 }),
            (10, Event::StepStarted { step: Verify }),
            (4_000, Event::StepFailed { step: Verify, error: "dc-2 load is 12% of dc-1 (min 25%)".into() }),
        ])
    }

    const MID: usize = 19;

    #[test]
    fn live_view_redrawn_in_place() {
        let term = InMemoryTerm::new(16, 110);
        let clock = Arc::new(TestClock::default());
        let view = LiveView::new(ProgressDrawTarget::term_like(Box::new(term.clone())), clock.clone(), false, false);
        let mut screens = Vec::new();
        for (i, (ms, event)) in recording().into_iter().enumerate() {
            clock.advance(ms);
            view.emit(event);
            if i == 1 || i == 6 || i == MID {
                screens.push(term.contents());
            }
        }
        view.finish();
        insta::assert_snapshot!("live_preflight_running", screens[0]);
        insta::assert_snapshot!("live_install_running", screens[1]);
        insta::assert_snapshot!("live_mid_rebuild", screens[2]);
        insta::assert_snapshot!("live_end", term.contents());
        assert_eq!(term.height(), 16);
    }

    /// A `Write` the test reads back.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn plain_text_of_the_same_run() {
        let buf = Buffer::default();
        let clock = Arc::new(TestClock::default());
        let r = Renderer::with_output(false, false, false, Box::new(buf.clone()), clock.clone());
        for (ms, event) in recording() {
            clock.advance(ms);
            r.emit(event);
        }
        insta::assert_snapshot!("plain_text", String::from_utf8(buf.0.lock().unwrap().clone()).unwrap());
    }

    #[test]
    fn json_lines_of_the_same_run_are_one_object_per_event() {
        let buf = Buffer::default();
        let r = Renderer::with_output(true, false, false, Box::new(buf.clone()), Arc::new(TestClock::default()));
        for (_, event) in recording() {
            r.emit(event);
        }
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), recording().len());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["event"].is_string(), "{line}");
        }
    }

    #[test]
    fn clock_time_reads_well() {
        assert_eq!(clock_time(Duration::from_secs(7)), "7s");
        assert_eq!(clock_time(Duration::from_secs(125)), "2m05s");
        assert_eq!(clock_time(Duration::from_secs(3720)), "1h02m");
    }
}
