//! The files under tests/fixtures, wherever the test that reads them lives.

use std::path::{Path, PathBuf};

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

/// Compares `actual` with the golden at `path`, or writes it under UPDATE_GOLDEN. `None` means the
/// golden must not exist. A difference is pushed onto `stale`, so one run lists every stale golden.
pub fn check_golden(path: &Path, actual: Option<&str>, stale: &mut Vec<String>) {
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        match actual {
            Some(text) => std::fs::write(path, text).expect("write golden"),
            None => {
                let _ = std::fs::remove_file(path);
            }
        }
        return;
    }
    let expected = std::fs::read_to_string(path).ok();
    if expected.as_deref() != actual {
        stale.push(format!(
            "{}: golden is {}, output is {}\n--- expected\n{}\n--- actual\n{}",
            path.display(),
            if expected.is_some() {
                "present"
            } else {
                "missing"
            },
            if actual.is_some() {
                "present"
            } else {
                "absent"
            },
            expected.unwrap_or_default(),
            actual.unwrap_or_default()
        ));
    }
}
