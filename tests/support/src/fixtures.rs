//! The files under tests/fixtures, wherever the test that reads them lives.

use std::path::PathBuf;

/// tests/fixtures of the workspace.
pub fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

/// tests/fixtures/`relative`.
pub fn path(relative: &str) -> PathBuf {
    dir().join(relative)
}

/// The text of tests/fixtures/`relative`; panics naming the file when it cannot be read.
pub fn read(relative: &str) -> String {
    let path = path(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}
