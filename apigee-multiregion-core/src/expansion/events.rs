//! What an expansion reports while it runs. The CLI renders these as progress or JSON lines;
//! Python receives them in a callback. No event carries a secret.

use serde::Serialize;

use crate::overrides::Finding;

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A step begins.
    StepStarted {
        /// Step id.
        step: &'static str,
    },
    /// A step was already done (the world shows it).
    StepSkipped {
        /// Step id.
        step: &'static str,
        /// Why.
        reason: String,
    },
    /// A step finished.
    StepFinished {
        /// Step id.
        step: &'static str,
        /// Milliseconds.
        duration_ms: u64,
    },
    /// A step failed.
    StepFailed {
        /// Step id.
        step: &'static str,
        /// The error.
        error: String,
    },
    /// Bytes received by one node's rebuild.
    RebuildProgress {
        /// Target pod.
        pod: String,
        /// Bytes received.
        received: u64,
        /// Bytes to receive.
        total: u64,
    },
    /// A node's rebuild changed state.
    RebuildNode {
        /// Target pod.
        pod: String,
        /// `started`, `running`, `retrying`, `done`, `failed`.
        state: String,
        /// Attempt number.
        attempt: u32,
        /// Details.
        message: Option<String>,
    },
    /// Something worth knowing that does not stop the run.
    Warning {
        /// Step id.
        step: &'static str,
        /// What.
        message: String,
    },
    /// A preflight or overrides finding.
    Finding {
        /// The finding.
        finding: Finding,
    },
    /// What a step would do (dry run), as the equivalent command.
    Action {
        /// Step id.
        step: &'static str,
        /// What it does.
        description: String,
        /// Equivalent commands, passwords redacted.
        commands: Vec<String>,
    },
}

/// Receives events. Must not block for long.
pub trait EventSink: Send + Sync {
    /// Called for each event, in order.
    fn emit(&self, event: Event);
}

impl<F: Fn(Event) + Send + Sync> EventSink for F {
    fn emit(&self, event: Event) {
        self(event)
    }
}
