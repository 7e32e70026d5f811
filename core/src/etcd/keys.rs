//! What the restore drill compares: keys counted by resource prefix (`/registry/<resource>/`), at
//! one revision, live at save time and again in the restored copy.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Key counts by prefix, sorted for stable output.
pub type KeyCounts = BTreeMap<String, u64>;

const REGISTRY: &[u8] = b"/registry/";

/// Keys outside any class (no `/<segment>/` to count them under) are counted together.
pub const OTHER_KEYS: &str = "(other keys)";

/// The class a key is counted under, as a key prefix: `/registry/<resource>/` for the API
/// server's keys (for a group's resources that is the group: `/registry/apiregistration.k8s.io/`),
/// otherwise its first path segment (`/other/`). Every key that starts with a class belongs to it,
/// so a class is counted with one range request. `None` for a key outside any class
/// (`/registry/health`, `/registry/`, `plain`).
pub fn class_of(key: &[u8]) -> Option<&[u8]> {
    let base = if key.starts_with(REGISTRY) {
        REGISTRY.len()
    } else if key.starts_with(b"/") {
        1
    } else {
        return None;
    };
    let end = key[base..].iter().position(|b| *b == b'/')?;
    Some(&key[..base + end + 1])
}

/// The name a key is counted under: its class, or [`OTHER_KEYS`].
pub fn prefix_of(key: &[u8]) -> String {
    class_of(key).map_or_else(
        || OTHER_KEYS.to_owned(),
        |c| String::from_utf8_lossy(c).into_owned(),
    )
}

/// The first key after every key that starts with `prefix` (etcd's `range_end` for a prefix).
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // All 0xff: every key from here on.
    vec![0]
}

/// Adds keys to running counts (keys arrive a page at a time).
pub fn count_into<'a>(counts: &mut KeyCounts, keys: impl IntoIterator<Item = &'a [u8]>) {
    for key in keys {
        *counts.entry(prefix_of(key)).or_insert(0) += 1;
    }
}

/// One prefix whose count differs between the record and the restored copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountDifference {
    pub prefix: String,
    pub recorded: u64,
    pub restored: u64,
}

/// What the drill found, compared with the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    pub recorded_revision: u64,
    pub restored_revision: u64,
    pub prefixes: usize,
    pub keys: u64,
    pub differences: Vec<CountDifference>,
}

impl Comparison {
    pub fn matches(&self) -> bool {
        self.recorded_revision == self.restored_revision && self.differences.is_empty()
    }

    /// One line per difference, for an error message.
    pub fn describe(&self) -> String {
        let mut lines = Vec::new();
        if self.recorded_revision != self.restored_revision {
            lines.push(format!(
                "revision {} restored, {} recorded",
                self.restored_revision, self.recorded_revision
            ));
        }
        for d in &self.differences {
            lines.push(format!(
                "{}: {} keys restored, {} recorded",
                d.prefix, d.restored, d.recorded
            ));
        }
        lines.join("; ")
    }
}

pub fn compare(
    recorded_revision: u64,
    recorded: &KeyCounts,
    restored_revision: u64,
    restored: &KeyCounts,
) -> Comparison {
    let mut differences = Vec::new();
    let prefixes: std::collections::BTreeSet<&String> =
        recorded.keys().chain(restored.keys()).collect();
    for prefix in &prefixes {
        let r = recorded.get(*prefix).copied().unwrap_or(0);
        let s = restored.get(*prefix).copied().unwrap_or(0);
        if r != s {
            differences.push(CountDifference {
                prefix: (*prefix).clone(),
                recorded: r,
                restored: s,
            });
        }
    }
    Comparison {
        recorded_revision,
        restored_revision,
        prefixes: prefixes.len(),
        keys: restored.values().sum(),
        differences,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_counted_by_resource_or_group() {
        assert_eq!(
            prefix_of(b"/registry/pods/default/web-0"),
            "/registry/pods/"
        );
        assert_eq!(
            prefix_of(b"/registry/apiregistration.k8s.io/apiservices/v1."),
            "/registry/apiregistration.k8s.io/"
        );
        assert_eq!(prefix_of(b"/registry/health"), OTHER_KEYS);
        assert_eq!(prefix_of(b"/registry/"), OTHER_KEYS);
        assert_eq!(prefix_of(b"/registry/pods/"), "/registry/pods/");
        assert_eq!(prefix_of(b"/bench/000001"), "/bench/");
        assert_eq!(prefix_of(b"compact_rev_key"), OTHER_KEYS);
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b".to_vec());
        // Every key a class's range holds has that class.
        for key in [
            &b"/registry/pods/"[..],
            b"/registry/pods/a/b",
            b"/registry/pods//",
        ] {
            assert_eq!(class_of(key), Some(&b"/registry/pods/"[..]));
        }
    }

    #[test]
    fn a_missing_or_extra_key_is_named_by_prefix() {
        let mut recorded = KeyCounts::new();
        count_into(
            &mut recorded,
            [
                &b"/registry/pods/a/x"[..],
                b"/registry/pods/a/y",
                b"/registry/secrets/a/s",
            ],
        );
        let mut restored = KeyCounts::new();
        count_into(
            &mut restored,
            [
                &b"/registry/pods/a/x"[..],
                b"/registry/configmaps/a/c",
                b"/registry/secrets/a/s",
            ],
        );
        let c = compare(10, &recorded, 10, &restored);
        assert!(!c.matches());
        assert_eq!(
            c.differences,
            vec![
                CountDifference {
                    prefix: "/registry/configmaps/".into(),
                    recorded: 0,
                    restored: 1
                },
                CountDifference {
                    prefix: "/registry/pods/".into(),
                    recorded: 2,
                    restored: 1
                },
            ]
        );
        assert!(c
            .describe()
            .contains("/registry/pods/: 1 keys restored, 2 recorded"));
        let same = compare(10, &recorded, 10, &recorded);
        assert!(same.matches());
        assert!(!compare(10, &recorded, 11, &recorded).matches());
    }
}
