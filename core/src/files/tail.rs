//! One source file, one pass: append what is new, start a new generation, or nothing.
//!
//! A file is known by its device and inode, never by its name: a rotation renames a file (same
//! inode, same archived copy, nothing copied twice) and creates a new one (new inode, new copy).
//! A file that shrank, or whose bytes just before the resume offset no longer match the copy's
//! last bytes, was truncated (copytruncate, or `>` in a shell): its copy is closed as it is and
//! the file's new content starts a new generation, so a truncation is never taken for an append.

use serde::{Deserialize, Serialize};

/// How many bytes before the resume offset are compared with the copy's last bytes.
pub const TAIL_CHECK: u64 = 64;

/// A source file as one `fstat` of an open descriptor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub dev: u64,
    pub inode: u64,
    pub size: u64,
    /// The path below its container directory this pass (`opt_logs/app.log.1`).
    pub name: String,
    /// Last modification, seconds since the epoch.
    pub modified: i64,
}

/// What the collector already has of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Never seen.
    New,
    /// An open copy of source bytes `[base, base + archived)`.
    Open { base: u64, archived: u64 },
    /// A closed (compressed) copy that ends at source offset `end`.
    Closed { end: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Idle,
    /// Append source bytes from `from` to the open copy.
    Append {
        from: u64,
    },
    /// Start a new copy (a new generation) of the source from `base`, then append.
    Start {
        base: u64,
    },
    /// The file was truncated: close the open copy as it is, then start a new one from 0.
    Restart,
}

/// The decision for one file. `tail_matches` says whether the source's bytes just before the
/// resume offset equal the copy's last bytes ([`tail_window`]); pass `true` when there is
/// nothing to compare.
pub fn decide(known: Known, size: u64, tail_matches: bool) -> Step {
    match known {
        Known::New if size == 0 => Step::Idle,
        Known::New => Step::Start { base: 0 },
        Known::Open { base, archived } => {
            let offset = base + archived;
            if size < offset || !tail_matches {
                Step::Restart
            } else if size > offset {
                Step::Append { from: offset }
            } else {
                Step::Idle
            }
        }
        Known::Closed { end } if size < end => Step::Start { base: 0 },
        Known::Closed { end } if size > end => Step::Start { base: end },
        Known::Closed { .. } => Step::Idle,
    }
}

/// The source range to compare with the copy's last bytes before resuming an open copy:
/// `(start, len)`, `None` when the copy is empty.
pub fn tail_window(base: u64, archived: u64) -> Option<(u64, u64)> {
    let len = archived.min(TAIL_CHECK);
    (len > 0).then(|| (base + archived - len, len))
}

/// Whether a copy is finished: its source is gone, its pod is finished (after the final pass),
/// or it was rotated away (its name is no longer the one it was first seen under) and has not
/// changed for `idle_after` seconds.
pub fn should_close(
    first_name: &str,
    seen: Option<&Observed>,
    pod_finished: bool,
    now: i64,
    idle_after: i64,
) -> bool {
    match seen {
        None => true,
        Some(_) if pod_finished => true,
        Some(o) => o.name != first_name && o.modified + idle_after <= now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_bytes_are_copied_from_the_copy_s_end() {
        let known = Known::Open {
            base: 0,
            archived: 100,
        };
        assert_eq!(decide(known, 150, true), Step::Append { from: 100 });
        assert_eq!(decide(known, 100, true), Step::Idle);
        let later = Known::Open {
            base: 40,
            archived: 60,
        };
        assert_eq!(decide(later, 150, true), Step::Append { from: 100 });
    }

    #[test]
    fn a_shrunk_file_was_truncated_not_appended() {
        let known = Known::Open {
            base: 0,
            archived: 100,
        };
        assert_eq!(decide(known, 10, true), Step::Restart);
        assert_eq!(decide(known, 0, true), Step::Restart);
    }

    #[test]
    fn a_truncated_file_that_grew_back_is_caught_by_its_tail() {
        let known = Known::Open {
            base: 0,
            archived: 100,
        };
        assert_eq!(decide(known, 500, false), Step::Restart);
    }

    #[test]
    fn new_files_start_at_zero_once_they_hold_something() {
        assert_eq!(decide(Known::New, 0, true), Step::Idle);
        assert_eq!(decide(Known::New, 1, true), Step::Start { base: 0 });
    }

    #[test]
    fn a_closed_file_that_grows_again_starts_a_generation_where_it_ended() {
        assert_eq!(decide(Known::Closed { end: 80 }, 80, true), Step::Idle);
        assert_eq!(
            decide(Known::Closed { end: 80 }, 90, true),
            Step::Start { base: 80 }
        );
        assert_eq!(
            decide(Known::Closed { end: 80 }, 10, true),
            Step::Start { base: 0 }
        );
    }

    #[test]
    fn the_tail_window_is_at_most_the_check_size_and_ends_at_the_offset() {
        assert_eq!(tail_window(0, 0), None);
        assert_eq!(tail_window(0, 10), Some((0, 10)));
        assert_eq!(
            tail_window(50, 1000),
            Some((50 + 1000 - TAIL_CHECK, TAIL_CHECK))
        );
    }

    fn seen(name: &str, modified: i64) -> Observed {
        Observed {
            dev: 1,
            inode: 2,
            size: 3,
            name: name.into(),
            modified,
        }
    }

    #[test]
    fn copies_close_when_their_file_goes_their_pod_ends_or_they_were_rotated_and_idle() {
        assert!(should_close("app.log", None, false, 0, 300));
        assert!(should_close(
            "app.log",
            Some(&seen("app.log", 0)),
            true,
            0,
            300
        ));
        assert!(!should_close(
            "app.log",
            Some(&seen("app.log", 0)),
            false,
            10_000,
            300
        ));
        // Rotated away but still written (logback's rename happens before the last flush).
        assert!(!should_close(
            "app.log",
            Some(&seen("app.1.log", 900)),
            false,
            1000,
            300
        ));
        assert!(should_close(
            "app.log",
            Some(&seen("app.1.log", 700)),
            false,
            1000,
            300
        ));
    }
}
