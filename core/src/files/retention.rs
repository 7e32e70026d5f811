//! `files prune`: which archived files are old enough to delete. Only closed copies go: an open
//! one is still being appended to, whatever its age.

use serde::Serialize;

use super::layout::ArchivedFile;

/// An archived file as listed: its path relative to the archive root, parsed, with its size and
/// last modification (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub path: String,
    #[serde(flatten)]
    pub file: ArchivedFile,
    pub bytes: u64,
    pub modified: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub path: String,
    pub delete: bool,
    pub reason: String,
}

/// Files last modified more than `max_age_seconds` before `now` are deleted when closed.
pub fn decide(files: &[Listed], now: i64, max_age_seconds: i64) -> Vec<Decision> {
    files
        .iter()
        .map(|f| {
            let age = now - f.modified;
            let (delete, reason) = if age <= max_age_seconds {
                (false, format!("{}d old, kept", age / 86_400))
            } else if !f.file.name.closed {
                (
                    false,
                    "old but still open (its pod may still write to it), kept".to_owned(),
                )
            } else {
                (true, format!("{}d old", age / 86_400))
            };
            Decision {
                path: f.path.clone(),
                delete,
                reason,
            }
        })
        .collect()
}

/// The filters of `files list`, `get` and `prune`.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub namespace: Option<String>,
    pub workload: Option<String>,
    pub pod: Option<String>,
    pub container: Option<String>,
    /// Seconds since the epoch: files last modified at or after / before.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

impl Filter {
    pub fn admits(&self, f: &Listed) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.namespace, &f.file.namespace)
            && eq(&self.workload, &f.file.workload)
            && eq(&self.pod, &f.file.pod)
            && eq(&self.container, &f.file.container)
            && self.since.is_none_or(|s| f.modified >= s)
            && self.until.is_none_or(|u| f.modified < u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(path: &str, modified: i64) -> Listed {
        Listed {
            path: path.into(),
            file: ArchivedFile::parse(path).unwrap(),
            bytes: 1,
            modified,
        }
    }

    #[test]
    fn only_old_closed_copies_are_deleted() {
        let day = 86_400;
        let now = 100 * day;
        let files = [
            listed("a/w/p/c/opt_logs/x.log@u.1.gz", now - 40 * day),
            listed("a/w/p/c/opt_logs/x.log@u.2", now - 40 * day),
            listed("a/w/p/c/opt_logs/x.log@u.3.gz", now - 10 * day),
        ];
        let d = decide(&files, now, 30 * day);
        assert_eq!(
            d.iter().map(|d| d.delete).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert!(d[1].reason.contains("still open"));
    }

    #[test]
    fn filters_match_every_field_given() {
        let f = listed("shop/web/web-1/app/opt_logs/x.log@u.1.gz", 1000);
        let mut filter = Filter {
            namespace: Some("shop".into()),
            pod: Some("web-1".into()),
            since: Some(1000),
            ..Filter::default()
        };
        assert!(filter.admits(&f));
        filter.until = Some(1000);
        assert!(!filter.admits(&f));
        filter.until = None;
        filter.workload = Some("api".into());
        assert!(!filter.admits(&f));
    }
}
