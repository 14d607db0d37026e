//! Apigee hybrid overrides files: a lossless document that can be edited without losing a
//! byte of what the operator wrote, a typed read view of the keys an expansion needs, and the
//! cross-region pair check.
//!
//! - [`OverridesDoc`] keeps the original text. Edits replace or insert only the bytes of the
//!   edited key and re-parse the result to prove that nothing else changed in meaning.
//! - [`OverridesView`] is read through `yaml_serde` (merge keys applied).
//! - [`check_pair`] compares a source and a target overrides file and returns [`Finding`]s.
//!
//! Only [`load_file`] and [`replace_if_changed`] touch the file system (through
//! [`crate::atomic_file`] for writing); everything else works on text.

mod check;
mod diff;
mod doc;
mod edit;
mod file;
pub(crate) mod tree;
mod view;

pub use crate::model::Secret;
pub use check::{CheckOptions, Finding, Severity, Side, check_pair, check_pair_with};
pub use diff::line_diff;
pub use doc::{IgnoredDuplicate, OverridesDoc, READ_PATHS};
pub use file::{OverridesFileError, load_file, replace_if_changed};
pub use view::{CassandraAuth, CassandraView, Credential, OverridesView, VirtualHost};

/// An overrides file that cannot be read or edited as asked. Every variant says where and what
/// to do; none carries a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverridesError {
    /// Not valid YAML.
    #[error("line {line}, column {column}: invalid YAML: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A key appears twice in one mapping where the tool reads or edits it (YAML forbids
    /// duplicates; Helm and apigeectl silently use the last one).
    #[error(
        "line {line}, column {column}: key `{key}` is defined twice in the same mapping (first on line {first_line}); this tool reads it and will not guess which one you mean (Helm and apigeectl use the last): remove one of them"
    )]
    DuplicateKey {
        /// The key.
        key: String,
        /// 1-based line of the second occurrence.
        line: usize,
        /// 1-based column of the second occurrence.
        column: usize,
        /// 1-based line of the first occurrence.
        first_line: usize,
    },
    /// More than one YAML document (`---`) in one file.
    #[error("line {line}: a second YAML document starts here; an overrides file must hold exactly one document")]
    MultipleDocuments {
        /// 1-based line of the second document's start.
        line: usize,
    },
    /// A tab in indentation.
    #[error("line {line}, column {column}: tab character in indentation; YAML allows only spaces there")]
    TabIndentation {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The document or a section is not a mapping where one is needed.
    #[error("line {line}, column {column}: `{path}` must be a mapping (key: value pairs) to hold `{needed}`")]
    NotAMapping {
        /// The YAML path that is not a mapping (`(root)` for the document).
        path: String,
        /// The key that was to go inside it.
        needed: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The value to edit comes through an alias or carries an anchor that others use.
    #[error(
        "line {line}, column {column}: `{path}` {how}; editing it here would change other parts of the file. Give `{path}` its own value by hand, then run again"
    )]
    SharedValue {
        /// The YAML path.
        path: String,
        /// `comes from an alias` or `is an anchor other keys may refer to`.
        how: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// The existing value has a form the editor will not rewrite (block scalar, list, mapping).
    #[error("line {line}, column {column}: `{path}` holds {found}, not a single value; fix it by hand")]
    UnsupportedValue {
        /// The YAML path.
        path: String,
        /// What was found.
        found: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// A key has a value of the wrong type (`hostNetwork: maybe`).
    #[error("line {line}, column {column}: `{path}` must be {expected}")]
    WrongType {
        /// The YAML path.
        path: String,
        /// What it must be.
        expected: &'static str,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
    },
    /// A value given to an edit is not acceptable (`--seed-host` that is not an address).
    #[error("{what} `{value}` is not valid: {why}")]
    InvalidValue {
        /// Which value.
        what: &'static str,
        /// The value given.
        value: String,
        /// Why, and what is expected.
        why: String,
    },
    /// The self-check after an edit failed; the edit was not applied. This is a bug.
    #[error(
        "the edit of `{path}` did not produce the expected document ({detail}); nothing was changed. Please report this with the file's layout"
    )]
    EditVerification {
        /// The edited path.
        path: String,
        /// What differed.
        detail: String,
    },
}

impl OverridesError {
    /// The 1-based line and column this error points at, when it points somewhere.
    pub fn location(&self) -> Option<(usize, usize)> {
        match self {
            Self::Syntax { line, column, .. }
            | Self::DuplicateKey { line, column, .. }
            | Self::TabIndentation { line, column }
            | Self::NotAMapping { line, column, .. }
            | Self::SharedValue { line, column, .. }
            | Self::UnsupportedValue { line, column, .. }
            | Self::WrongType { line, column, .. } => (*line > 0).then_some((*line, *column)),
            Self::MultipleDocuments { line } => Some((*line, 1)),
            Self::InvalidValue { .. } | Self::EditVerification { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests;
