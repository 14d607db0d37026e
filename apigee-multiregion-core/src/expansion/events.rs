//! What an expansion reports while it runs. The CLI renders these as progress or JSON lines;
//! Python receives them in a callback. No event carries a secret.

use serde::Serialize;

use crate::overrides::Finding;

use super::step_id::StepId;

/// A target node's rebuild state, as events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeState {
    /// The first attempt started.
    Started,
    /// The node answers again after a pause.
    Running,
    /// The node cannot be asked (restarting, JMX down): waiting for it.
    Waiting,
    /// A retry started.
    Retrying,
    /// An attempt failed; a retry follows after a pause.
    FailedAttempt,
    /// Completed (and recorded with the node's host ID).
    Done,
    /// Failed for good.
    Failed,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A step begins.
    StepStarted {
        /// Step id.
        step: StepId,
    },
    /// A step was already done (the world shows it).
    StepSkipped {
        /// Step id.
        step: StepId,
        /// Why.
        reason: String,
    },
    /// A step finished.
    StepFinished {
        /// Step id.
        step: StepId,
        /// Milliseconds.
        duration_ms: u64,
    },
    /// A step failed.
    StepFailed {
        /// Step id.
        step: StepId,
        /// The error.
        error: String,
    },
    /// Bytes received by one node's rebuild, with its rate and time left, and the same over
    /// every node of the step so far.
    RebuildProgress {
        /// Target pod.
        pod: String,
        /// This node: `received`, `total` (bytes), `bytes_per_second` and `eta_seconds` (its
        /// average since its first reading; `null` until known), flattened into the event.
        #[serde(flatten)]
        node: super::progress::Rate,
        /// Every node that has streamed so far: the same four.
        all: super::progress::Rate,
    },
    /// A node's rebuild changed state.
    RebuildNode {
        /// Target pod.
        pod: String,
        /// The state.
        state: NodeState,
        /// Attempt number.
        attempt: u32,
        /// Details.
        message: Option<String>,
    },
    /// What a step is doing now (a phase of a long step).
    Note {
        /// Step id.
        step: StepId,
        /// What.
        message: String,
    },
    /// Something worth knowing that does not stop the run.
    Warning {
        /// Step id.
        step: StepId,
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
        step: StepId,
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
