//! The one place overrides files are read from and written to disk, used by the engine and the
//! CLI alike: a read that names the file in its error, and a replace that keeps the original
//! (`.orig`) and writes atomically, only when the text changed.

use std::path::{Path, PathBuf};

use crate::atomic_file::{WriteError, keep_original, write_atomic};

use super::{OverridesDoc, OverridesError};

/// An overrides file that cannot be read, parsed or written. Never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum OverridesFileError {
    /// The file cannot be read.
    #[error("cannot read overrides file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a usable overrides file.
    #[error("{}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column.
        #[source]
        source: OverridesError,
    },
    /// The file (or its backup) cannot be written; it was left as it was.
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Reads and parses an overrides file.
pub fn load_file(path: &Path) -> Result<OverridesDoc, OverridesFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| OverridesFileError::Read { path: path.to_owned(), source })?;
    OverridesDoc::parse(&text).map_err(|source| OverridesFileError::Parse { path: path.to_owned(), source })
}

/// Writes `doc` over `path` when its text differs: the original is kept first (`.orig`, never
/// overwritten), then the new text is written atomically with the original's mode. Returns the
/// backup's path, `None` when nothing changed.
pub fn replace_if_changed(path: &Path, doc: &OverridesDoc) -> Result<Option<PathBuf>, OverridesFileError> {
    let current = std::fs::read(path).map_err(|source| OverridesFileError::Read { path: path.to_owned(), source })?;
    if current == doc.text().as_bytes() {
        return Ok(None);
    }
    let backup = keep_original(path)?;
    write_atomic(path, doc.text().as_bytes(), None)?;
    Ok(Some(backup.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_document_writes_nothing_and_keeps_no_backup() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.yaml");
        std::fs::write(&p, "cassandra:\n  datacenter: dc-2\n").unwrap();
        let doc = load_file(&p).unwrap();
        assert_eq!(replace_if_changed(&p, &doc).unwrap(), None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_changed_document_is_written_after_its_original_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.yaml");
        std::fs::write(&p, "cassandra:\n  datacenter: dc-2\n").unwrap();
        let mut doc = load_file(&p).unwrap();
        doc.set_seed_host("10.0.0.1").unwrap();
        let backup = replace_if_changed(&p, &doc).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(backup).unwrap(), "cassandra:\n  datacenter: dc-2\n");
        assert!(std::fs::read_to_string(&p).unwrap().contains("10.0.0.1"));
    }

    #[test]
    fn errors_name_the_file() {
        let e = load_file(Path::new("/nonexistent/o.yaml")).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/o.yaml"), "{e}");
    }
}
