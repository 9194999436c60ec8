//! What the fuzz targets share: a scratch file to hand a loader that reads from a path.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A file at the relative path `name` in a temporary folder of this process (the first call's
/// name is kept), which `write` fills with each input in turn.
pub fn scratch(name: &str) -> &'static Path {
    static FILE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, path) = FILE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("in the folder")).expect("a folder");
        (dir, path)
    });
    path
}

/// Writes `data` to `scratch(name)` and returns that path.
pub fn write(name: &str, data: &[u8]) -> &'static Path {
    let path = scratch(name);
    std::fs::write(path, data).expect("the scratch file is writable");
    path
}
