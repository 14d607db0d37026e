//! The CLI's one error type: every failure a user can see, with the exit code it maps to.
//!
//! Exit codes (documented in docs/cli.md): 0 ok, 1 the operation failed, 2 usage or bad input
//! (nothing was changed), 3 a check refused to proceed.



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
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Failed(_) => 1,
            Self::Input(_) => 2,
            Self::Refused(_) => 3,
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



