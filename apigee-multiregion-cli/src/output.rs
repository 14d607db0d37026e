//! Output formats shared by the subcommands: `-o text` for people, `-o json` for scripts.
//! JSON shapes are part of the CLI's stable interface (docs/cli.md).

use std::io::Write;

use clap::ValueEnum;
use serde::Serialize;

use crate::error::CliError;

/// `-o/--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// One JSON document (or one JSON object per line for streams).
    Json,
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(format!("cannot render JSON: {e}")))?;
    print_stdout(&format!("{text}\n"))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
pub fn print_stdout(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::Failed(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}
