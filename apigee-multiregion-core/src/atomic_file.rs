//! Writing files so that a crash never leaves a half-written one: write a temporary file in the
//! same folder, flush it to disk, keep the original's permissions, then rename over the target.
//!
//! Used for overrides files and the journal. This is the only place in the pure layer that
//! touches the file system, and only when a face asks for it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writing a file failed; nothing was changed at `path`.
#[derive(Debug, thiserror::Error)]
#[error("could not write {}: {source} (the file was left as it was)", path.display())]
pub struct WriteError {
    /// The file that was to be written.
    pub path: PathBuf,
    /// The underlying I/O error.
    #[source]
    pub source: io::Error,
}

/// Replaces `path` with `contents` atomically. An existing file keeps its permission bits; a new
/// file gets `new_mode` (on Unix) or the platform default.
pub fn write_atomic(path: &Path, contents: &[u8], new_mode: Option<u32>) -> Result<(), WriteError> {
    // A symlinked file is written through its link: the target changes, the link stays.
    let resolved = match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::canonicalize(path).map_err(|source| WriteError { path: path.to_owned(), source })?
        }
        _ => path.to_owned(),
    };
    let path = resolved.as_path();
    let wrap = |source| WriteError { path: path.to_owned(), source };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| wrap(io::Error::new(io::ErrorKind::InvalidInput, "not a file path")))?;
    let existing = fs::metadata(path).ok();
    let tmp = dir.join(format!(".{}.tmp-{}", name.to_string_lossy(), std::process::id()));
    let result = (|| -> io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = existing.as_ref().map(|m| m.permissions().mode()).or(new_mode);
            if let Some(mode) = mode {
                f.set_permissions(fs::Permissions::from_mode(mode & 0o7777))?;
            }
        }
        #[cfg(not(unix))]
        let _ = (&existing, new_mode);
        f.write_all(contents)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(wrap)
}

/// A backup made (or found) by [`keep_original`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    /// The backup file.
    pub path: PathBuf,
    /// `true` when this call wrote it; `false` when a backup with the same contents existed.
    pub written: bool,
}

/// Copies `path` to the first free `path.orig`, `path.orig.1`, ... (so every distinct earlier
/// version is kept, `path.orig` being the oldest) and says which. An existing backup is never
/// overwritten, and one that already holds the same contents is reused. A new one gets the
/// original's permission bits (a 0600 overrides file holding passwords gets a 0600 backup).
pub fn keep_original(path: &Path) -> Result<Backup, WriteError> {
    let wrap = |source| WriteError { path: path.to_owned(), source };
    let contents = fs::read(path).map_err(wrap)?;
    #[cfg(unix)]
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).ok().map(|m| m.permissions().mode() & 0o7777)
    };
    #[cfg(not(unix))]
    let mode = None;
    for i in 0..1000 {
        let candidate = if i == 0 {
            PathBuf::from(format!("{}.orig", path.display()))
        } else {
            PathBuf::from(format!("{}.orig.{i}", path.display()))
        };
        if candidate.exists() {
            if fs::read(&candidate).ok().as_deref() == Some(contents.as_slice()) {
                return Ok(Backup { path: candidate, written: false }); // the same original is already kept
            }
            continue;
        }
        write_atomic(&candidate, &contents, mode)?;
        return Ok(Backup { path: candidate, written: true });
    }
    Err(wrap(io::Error::other("more than 1000 backups exist")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_keeps_the_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("overrides.yaml");
        fs::write(&p, "a: 1\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
        }
        write_atomic(&p, b"a: 2\n", None).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a: 2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn a_new_file_gets_the_requested_mode() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("journal.json");
        write_atomic(&p, b"{}", Some(0o600)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("missing-dir").join("x.yaml");
        assert!(write_atomic(&p, b"x", None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn a_private_file_gets_a_private_backup() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.yaml");
        fs::write(&p, "password: x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
        let b = keep_original(&p).unwrap().path;
        assert_eq!(fs::metadata(b).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_file_is_written_through_its_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.yaml");
        let link = dir.path().join("link.yaml");
        fs::write(&real, "a: 1\n").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomic(&link, b"a: 2\n", None).unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays");
        assert_eq!(fs::read_to_string(&real).unwrap(), "a: 2\n", "the target changed");
    }

    #[test]
    fn keeps_each_distinct_original_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("o.yaml");
        fs::write(&p, "v1").unwrap();
        let b1 = keep_original(&p).unwrap();
        assert!(b1.written);
        assert_eq!(
            keep_original(&p).unwrap(),
            Backup { written: false, ..b1.clone() },
            "same contents reuse the backup"
        );
        fs::write(&p, "v2").unwrap();
        let b2 = keep_original(&p).unwrap();
        assert!(b2.written && b2.path.ends_with("o.yaml.orig.1"), "{b2:?}");
        let (b1, b2) = (b1.path, b2.path);
        assert_eq!(fs::read_to_string(b1).unwrap(), "v1");
        assert_eq!(fs::read_to_string(b2).unwrap(), "v2");
    }
}
