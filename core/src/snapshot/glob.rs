//! Elasticsearch-style index patterns: comma-separated, `*` wildcards, `-name` exclusions.
//!
//! Hand-written because the whole grammar is `*`; glob crates model file paths (`/`, `**`, classes)
//! and would accept patterns Elasticsearch does not.

/// Whether `name` matches one `*` wildcard pattern.
pub fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p = pattern.as_bytes();
    let n = name.as_bytes();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ni));
            pi += 1;
        } else if pi < p.len() && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// Whether `name` is selected by a list of patterns (each may itself be comma-separated); a later
/// `-pattern` removes what earlier patterns added, as Elasticsearch does.
pub fn selects<S: AsRef<str>>(patterns: &[S], name: &str) -> bool {
    let mut selected = false;
    for pattern in patterns.iter().flat_map(|p| p.as_ref().split(',')) {
        let pattern = pattern.trim();
        if let Some(excluded) = pattern.strip_prefix('-') {
            if wildcard_match(excluded, name) {
                selected = false;
            }
        } else if pattern == "_all" || wildcard_match(pattern, name) {
            selected = true;
        }
    }
    selected
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_like_elasticsearch() {
        assert!(wildcard_match(
            "ks-logstash-log-*",
            "ks-logstash-log-2019.11.12"
        ));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("*2019.11.12", "ks-logstash-log-2019.11.12"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(!wildcard_match("logstash-*", "ks-logstash-log-1"));
        assert!(wildcard_match("exact", "exact"));
        assert!(!wildcard_match("exact", "exactly"));
    }

    #[test]
    fn exclusions_and_commas_apply_in_order() {
        assert!(selects(
            &["logstash-*,-logstash-2019.*"],
            "logstash-2020.01.01"
        ));
        assert!(!selects(
            &["logstash-*", "-logstash-2019.*"],
            "logstash-2019.01.01"
        ));
        assert!(selects(&["_all"], "anything"));
        assert!(!selects::<&str>(&[], "anything"));
    }
}
