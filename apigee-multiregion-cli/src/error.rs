//! The CLI's one error type: every failure a user can see, and the ONE place that maps it to a
//! process exit code.
//!
//! Exit codes (documented in docs/cli.md): 0 ok, 1 the operation failed, 2 usage or bad input
//! (nothing was changed), 3 a check refused to proceed, 4 another run holds the lock,
//! 130 interrupted (Ctrl-C; the journal holds every finished action).

use apigee_multiregion_core::adapters::ConnectError;
use apigee_multiregion_core::expansion::{ErrorKind, ExpansionError};

/// A failure, already phrased for the user: what, where, and what to do.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: a file that cannot be read or parsed, an invalid value. Exit 2.
    #[error("{0}")]
    Input(String),
    /// A check found errors and refused to proceed. Exit 3.
    #[error("{0}")]
    Refused(String),
    /// The operation itself failed. Exit 1.
    #[error("{0}")]
    Failed(String),
    /// An expansion stopped: its kind decides the exit code.
    #[error(transparent)]
    Expansion(Box<ExpansionError>),
    /// The plan's clusters or credentials cannot be used. Exit 2.
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

impl From<ExpansionError> for CliError {
    fn from(e: ExpansionError) -> Self {
        Self::Expansion(Box::new(e))
    }
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::Input(_) | Self::Connect(_) => 2,
            Self::Refused(_) => 3,
            Self::Expansion(e) => match e.kind() {
                ErrorKind::Failed => 1,
                ErrorKind::Input => 2,
                ErrorKind::Refused => 3,
                ErrorKind::Locked => 4,
                ErrorKind::Cancelled => 130,
            },
        }
    }

    /// A file that could not be read.
    pub fn read(path: &std::path::Path, e: &std::io::Error) -> Self {
        Self::Input(format!("cannot read {}: {e}", path.display()))
    }

    /// An overrides file error, located as `file:line:col`.
    pub fn overrides(path: &std::path::Path, e: &apigee_multiregion_core::overrides::OverridesError) -> Self {
        let text = e.to_string();
        match e.location() {
            Some((l, c)) => {
                // The library's message starts with the location; say it once, editor-style.
                let line_only = format!("line {l}: ");
                let line_col = format!("line {l}, column {c}: ");
                let msg = text.strip_prefix(&line_col).or_else(|| text.strip_prefix(&line_only)).unwrap_or(&text);
                Self::Input(format!("{}:{l}:{c}: {msg}", path.display()))
            }
            None => Self::Input(format!("{}: {text}", path.display())),
        }
    }

    /// A file that could not be written.
    pub fn write(e: &apigee_multiregion_core::atomic_file::WriteError) -> Self {
        Self::Failed(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apigee_multiregion_core::expansion::{LockError, PlanError, StepError, StepId};

    #[test]
    fn every_error_kind_has_its_exit_code() {
        let step =
            ExpansionError::Step { step: StepId::Rebuild, source: StepError::NoSeedChosen, journal: Some("j".into()) };
        let plan = ExpansionError::Plan(PlanError::Value { path: "p".into(), message: "m".into() });
        let refused = ExpansionError::Refused { findings: vec![] };
        let locked = ExpansionError::Locked(LockError::Held {
            context: "c".into(),
            name: "n".into(),
            holder: "h".into(),
            unchanged_seconds: 0,
            expires_after_seconds: 60,
        });
        let cancelled = ExpansionError::Cancelled { step: StepId::Install, journal: "j".into() };
        let codes: Vec<u8> =
            [step, plan, refused, locked, cancelled].into_iter().map(|e| CliError::from(e).exit_code()).collect();
        assert_eq!(codes, [1, 2, 3, 4, 130]);
        assert_eq!(CliError::Input("x".into()).exit_code(), 2);
        assert_eq!(CliError::Refused("x".into()).exit_code(), 3);
        assert_eq!(CliError::Failed("x".into()).exit_code(), 1);
    }
}
