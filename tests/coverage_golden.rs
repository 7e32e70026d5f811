//! The coverage calendar, plain and coloured, against golden files in tests/fixtures/coverage.
//! `UPDATE_GOLDEN=1 cargo test --test coverage_golden` rewrites them after a deliberate change.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use jiff::civil::Date;
use logbackup::snapshot::coverage::{coverage, render, Group, Proof};
use logbackup::snapshot::{SnapshotState, SnapshotSummary};

fn snap(name: &str, start: i64, state: SnapshotState, indices: &[&str]) -> SnapshotSummary {
    SnapshotSummary {
        name: name.into(),
        state,
        start_ms: Some(start),
        end_ms: None,
        indices: indices.iter().map(|s| s.to_string()).collect(),
        shards_total: 1,
        shards_failed: 0,
    }
}

fn day(s: &str) -> Date {
    Date::strptime("%Y.%m.%d", s).unwrap()
}

/// Six weeks of nightly snapshots over a month boundary: one PARTIAL night, a three-day outage, a
/// FAILED night, audit logs kept only from November, and a restore test of 12 November.
fn scenario() -> Vec<SnapshotSummary> {
    let mut out = Vec::new();
    let mut d = day("2019.10.20");
    let mut n = 0;
    while d <= day("2019.11.30") {
        let text = d.strftime("%Y.%m.%d").to_string();
        n += 1;
        let outage = (day("2019.11.05")..=day("2019.11.07")).contains(&d);
        if !outage {
            let state = if text == "2019.11.20" {
                SnapshotState::Partial
            } else if text == "2019.11.25" {
                SnapshotState::Failed
            } else {
                SnapshotState::Success
            };
            let log = format!("ks-logstash-log-{text}");
            let audit = format!("ks-logstash-auditing-{text}");
            let mut indices = vec![log.as_str()];
            if d >= day("2019.11.01") {
                indices.push(audit.as_str());
            }
            out.push(snap(&format!("nightly-{text}"), n, state, &indices));
        }
        d = d.tomorrow().unwrap();
    }
    out
}

fn check(name: &str, actual: &str) {
    let path = format!(
        "{}/tests/fixtures/coverage/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (UPDATE_GOLDEN=1 writes it)"));
    pretty_assertions::assert_eq!(
        expected,
        actual,
        "{path} is stale (UPDATE_GOLDEN=1 rewrites it)"
    );
}

fn rendered() -> logbackup::snapshot::coverage::Coverage {
    let groups = [
        Group {
            label: "kubesphere".into(),
            patterns: Some(vec!["ks-logstash-log-*".into()]),
        },
        Group {
            label: "audit".into(),
            patterns: Some(vec!["ks-logstash-auditing-*".into(), "audit-*".into()]),
        },
    ];
    let proofs = [Proof {
        snapshot: "nightly-2019.11.12".into(),
        indices: vec!["ks-logstash-log-2019.11.12".into()],
        at_ms: 0,
    }];
    coverage(
        &scenario(),
        &groups,
        &proofs,
        day("2019.10.20"),
        day("2019.11.30"),
    )
}

#[test]
fn the_plain_calendar_matches_its_golden_file() {
    let text = render(&rendered(), false);
    assert!(!text.contains('\x1b'));
    check("plain.txt", &text);
}

#[test]
fn the_coloured_calendar_matches_its_golden_file() {
    let text = render(&rendered(), true);
    assert!(text.contains("\x1b[31m-\x1b[0m"), "gaps are red");
    check("color.txt", &text);
}

#[test]
fn the_json_names_the_oldest_day_and_the_gaps() {
    let c = rendered();
    let v = serde_json::to_value(&c).unwrap();
    assert_eq!(v["groups"][0]["oldest_restorable"], "2019.10.20");
    assert_eq!(v["groups"][1]["oldest_restorable"], "2019.11.01");
    assert_eq!(v["groups"][0]["gaps"][0]["first"], "2019.11.05");
    assert_eq!(v["groups"][0]["gaps"][0]["last"], "2019.11.07");
    assert_eq!(v["groups"][0]["partial_only"][0], "2019.11.20");
    check(
        "coverage.json",
        &format!("{}\n", serde_json::to_string_pretty(&v).unwrap()),
    );
}
