//! Writing files so that a reader never sees half of one.
//!
//! Every file the book's code writes (figures, logs, checkpoints, experiment data,
//! grades) goes through [`write_atomic`]: a crash, a kill or an error in the middle
//! leaves the old file whole.

use std::io::Write;
use std::path::Path;

/// Writes `contents` to `path` atomically: into a temporary file in the same folder,
/// flushed to disk, then renamed over `path`.
///
/// If anything fails, `path` keeps its old contents (or stays absent) and the
/// temporary file is removed. The result is an ordinary file (mode 0644 on Unix),
/// not a private temporary one.
///
/// # Errors
/// Any I/O error; the message names the folder or the file.
pub fn write_atomic(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let named = |what: String| {
        move |e: std::io::Error| {
            std::io::Error::new(e.kind(), format!("{what}: {e}"))
        }
    };
    std::fs::create_dir_all(dir)
        .map_err(named(format!("cannot create folder {}", dir.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(named(format!(
        "cannot create a temporary file in {}",
        dir.display()
    )))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(named(format!(
                "cannot set permissions on a temporary file for {}",
                path.display()
            )))?;
    }
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(named(format!("cannot write {}", path.display())))?;
    tmp.persist(path).map_err(|e| {
        std::io::Error::new(
            e.error.kind(),
            format!(
                "cannot move the finished file into place at {}: {}",
                path.display(),
                e.error
            ),
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("out.txt");
        write_atomic(&path, b"first version, longer").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1, "a temporary file was left behind");
    }

    #[test]
    fn write_atomic_into_an_unwritable_place_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("a_file");
        std::fs::write(&blocker, b"x").unwrap();
        // A folder cannot be created below a regular file.
        let err = write_atomic(&blocker.join("out.txt"), b"y").unwrap_err();
        assert!(err.to_string().contains("a_file"), "{err}");
    }
}
