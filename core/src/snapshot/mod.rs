//! PURE snapshot policy: naming, retention planning, restore planning and health evaluation.
//!
//! Nothing here touches the network, the clock or the environment: `now` is always passed in, so every
//! decision can be tested exhaustively.

pub mod coverage;
pub mod glob;
pub mod naming;
pub mod path_repo;
pub mod proof;
pub mod restore;
pub mod retention;
pub mod state;
pub mod status;
pub mod verify;

pub use state::{SnapshotState, SnapshotSummary};

/// Milliseconds in a day, for ages expressed in days.
pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Bytes in binary units, as Elasticsearch's `human` output writes them.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["b", "kb", "mb", "gb", "tb", "pb"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}b")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// Index patterns of the logging stacks we know, so operators need not remember them.
pub fn preset_indices(preset: &str) -> Option<&'static [&'static str]> {
    match preset {
        // KubeSphere's logging (Fluent Bit -> ES), one index per day.
        "kubesphere" => Some(&["ks-logstash-log-*"]),
        // The classic fluentd-elasticsearch addon (logstash_format true).
        "fluentd" => Some(&["logstash-*"]),
        // Kubernetes audit logs as KubeSphere and the addon ship them.
        "audit" => Some(&["ks-logstash-auditing-*", "audit-*"]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_elasticsearch_human_output() {
        assert_eq!(human_bytes(0), "0b");
        assert_eq!(human_bytes(1023), "1023b");
        assert_eq!(human_bytes(1536), "1.5kb");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024), "5.0gb");
    }

    #[test]
    fn presets_cover_the_known_stacks_and_nothing_else() {
        assert_eq!(
            preset_indices("kubesphere"),
            Some(&["ks-logstash-log-*"][..])
        );
        assert_eq!(preset_indices("fluentd"), Some(&["logstash-*"][..]));
        assert!(preset_indices("audit").is_some_and(|p| p.contains(&"audit-*")));
        assert_eq!(preset_indices("unknown"), None);
    }
}
