//! Rendering engine events: text (the default) is a live view redrawn in place on a terminal
//! ([`crate::live`]) and plain lines otherwise (CI logs); `-o json` is one JSON object per line,
//! so scripts can follow an expansion. [`View::choose`] is the one place that picks among them.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use apigee_multiregion_core::expansion::{Event, EventSink, ExpansionReport, StepOutcome};
use apigee_multiregion_core::overrides::Severity;

use crate::live::{Clock, LiveView, SystemClock};
use crate::output::Format;

/// How events are shown: the live view on a terminal, else the line renderer (text or JSON).
pub enum View {
    /// Plain lines or JSON lines.
    Lines(Renderer),
    /// The live view; the renderer prints the final report once the view is cleared.
    Live(LiveView, Renderer),
}

impl View {
    /// The one place the view is chosen. JSON when asked; for text, the live view on a terminal
    /// (not `-q`, not `TERM=dumb`), plain lines otherwise.
    pub fn choose(format: Format, quiet: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let text = format == Format::Text;
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        let renderer = Renderer::new(format, quiet);
        if tty && text && !quiet && !dumb {
            View::Live(LiveView::stdout(color_wanted(tty)), renderer)
        } else {
            View::Lines(renderer)
        }
    }

    /// The final report (after the live view, if any, is cleared).
    pub fn report(&self, report: &ExpansionReport) {
        match self {
            View::Lines(r) => r.report(report),
            View::Live(live, r) => {
                live.finish();
                r.report(report);
            }
        }
    }

    /// Clears the live view, if any (before printing anything else on stdout).
    pub fn finish(&self) {
        if let View::Live(live, _) = self {
            live.finish();
        }
    }
}

impl EventSink for View {
    fn emit(&self, event: Event) {
        match self {
            View::Lines(r) => r.emit(event),
            View::Live(live, _) => live.emit(event),
        }
    }
}

fn color_wanted(tty: bool) -> bool {
    tty && std::env::var_os("NO_COLOR").is_none()
}

/// Prints events as they come, one line each (or one JSON object each).
pub struct Renderer {
    json: bool,
    color: bool,
    quiet: bool,
    clock: Arc<dyn Clock>,
    out: Mutex<Box<dyn Write + Send>>,
    last_progress: Mutex<std::collections::HashMap<String, u64>>,
}

impl Renderer {
    /// JSON when asked, text otherwise.
    pub fn new(format: Format, quiet: bool) -> Self {
        let tty = std::io::stdout().is_terminal();
        let json = format == Format::Json;
        Self::with_output(json, color_wanted(tty), quiet, Box::new(std::io::stdout()), Arc::new(SystemClock::new()))
    }

    /// To any writer, with any clock (tests).
    pub fn with_output(
        json: bool,
        color: bool,
        quiet: bool,
        out: Box<dyn Write + Send>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { json, color, quiet, clock, out: Mutex::new(out), last_progress: Mutex::new(Default::default()) }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    }

    fn line(&self, s: &str) {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "{s}");
        let _ = out.flush();
    }

    /// The final report.
    pub fn report(&self, report: &ExpansionReport) {
        if self.json {
            let mut v = serde_json::to_value(report).unwrap_or_default();
            v["event"] = "report".into();
            self.line(&v.to_string());
            return;
        }
        if self.quiet {
            return;
        }
        self.line("");
        self.line(&format!("{} {}", self.paint("1", "plan"), report.plan));
        for s in &report.steps {
            let mark = match s.outcome {
                StepOutcome::Done => self.paint("32", "done   "),
                StepOutcome::Skipped => self.paint("36", "skipped"),
                StepOutcome::Planned => self.paint("33", "planned"),
                StepOutcome::Failed => self.paint("31", "FAILED "),
                StepOutcome::NotRun => "-      ".to_owned(),
            };
            self.line(&format!("  {mark} {:<18} {:>8.1}s", s.id.as_str(), s.duration_ms as f64 / 1000.0));
        }
        if let Some(seed) = &report.seed_host {
            self.line(&format!(
                "  seed host {seed} (alternates: {})",
                if report.seed_alternates.is_empty() { "none".into() } else { report.seed_alternates.join(", ") }
            ));
        }
        if let Some(v) = &report.verify {
            for c in &v.checks {
                self.line(&format!(
                    "  {} {}: {}",
                    if c.passed { self.paint("32", "ok  ") } else { self.paint("31", "FAIL") },
                    c.name,
                    c.detail
                ));
            }
        }
        self.line(&format!("  journal {}", report.journal.display()));
        self.line(&format!("  total {:.1}s", report.total_ms as f64 / 1000.0));
    }
}

/// Bytes for people: `1.5 GiB`.
pub fn human(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1} {}", units[i])
}

impl EventSink for Renderer {
    fn emit(&self, event: Event) {
        if self.json {
            self.line(&serde_json::to_string(&event).unwrap_or_default());
            return;
        }
        if self.quiet && !matches!(event, Event::StepFailed { .. }) {
            return;
        }
        let t = format!("[{:>6.1}s]", self.clock.elapsed().as_secs_f64());
        match event {
            Event::StepStarted { step } => self.line(&format!("{t} {} {step}", self.paint("1", "▶"))),
            Event::StepSkipped { step, reason } => {
                self.line(&format!("{t} {} {step}: already done ({reason})", self.paint("36", "↷")))
            }
            Event::StepFinished { step, duration_ms } => {
                self.line(&format!("{t} {} {step} ({:.1}s)", self.paint("32", "✓"), duration_ms as f64 / 1000.0))
            }
            Event::StepFailed { step, error } => self.line(&format!("{t} {} {step}: {error}", self.paint("31", "✗"))),
            Event::RebuildProgress { pod, node, all } => {
                let (received, total) = (node.received, node.total);
                // At most one line per pod per 5%.
                let pct = received.saturating_mul(100).checked_div(total).unwrap_or(0);
                let mut last = self.last_progress.lock().unwrap_or_else(|p| p.into_inner());
                if last.get(&pod).is_none_or(|p| pct >= p + 5 || pct == 100 && *p != 100) {
                    last.insert(pod.clone(), pct);
                    let speed = |r: &apigee_multiregion_core::expansion::progress::Rate| match (
                        r.bytes_per_second,
                        r.eta_seconds,
                    ) {
                        (Some(r), Some(e)) => format!(
                            " at {}/s, {} left",
                            human(r),
                            crate::live::clock_time(std::time::Duration::from_secs(e))
                        ),
                        _ => String::new(),
                    };
                    self.line(&format!(
                        "{t}   rebuild {pod}: {} / {} ({pct}%){}; all nodes {} / {}{}",
                        human(received),
                        human(total),
                        speed(&node),
                        human(all.received),
                        human(all.total),
                        speed(&all)
                    ));
                }
            }
            Event::RebuildNode { pod, state, attempt, message } => {
                let extra = message.map(|m| format!(": {m}")).unwrap_or_default();
                let state =
                    serde_json::to_value(state).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                self.line(&format!("{t}   rebuild {pod}: {state} (attempt {attempt}){extra}"));
            }
            Event::Note { step, message } => self.line(&format!("{t}   {step}: {message}")),
            Event::Warning { step, message } => self.line(&format!("{t} {} {step}: {message}", self.paint("33", "!"))),
            Event::Finding { finding } => {
                let sev = if finding.severity == Severity::Error {
                    self.paint("31", "error")
                } else {
                    self.paint("33", "warning")
                };
                self.line(&format!("{t}   {sev}[{}] {}", finding.code, finding.message));
            }
            Event::Action { step, description, commands } => {
                self.line(&format!("{t} {} {step}: {description}", self.paint("33", "•")));
                for c in commands {
                    self.line(&format!("           {c}"));
                }
            }
        }
    }
}
