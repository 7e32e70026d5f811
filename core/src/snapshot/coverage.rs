//! Which days of logs can be restored: per index pattern, per day, from the same restore planning
//! `restore --date` uses (`choose_snapshot`), so the two can never disagree.
//!
//! PURE: the snapshots, the restore-test proofs and the range of days are handed in.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::Date;
use serde::Serialize;

use super::restore::{choose_snapshot, IndexFilter};
use super::{SnapshotState, SnapshotSummary};

/// The day format of daily log indices (`ks-logstash-log-2019.11.12`, `logstash-2019.11.12`).
const DAY_FORMAT: &str = "%Y.%m.%d";

/// One row of the calendar: a label and its index patterns (`None`: every index, as `restore --date`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub label: String,
    pub patterns: Option<Vec<String>>,
}

impl Group {
    pub fn filter(&self, day: &str) -> IndexFilter {
        match &self.patterns {
            None => IndexFilter::Date(day.to_string()),
            Some(p) => IndexFilter::PatternsOnDate {
                patterns: p.clone(),
                date: day.to_string(),
            },
        }
    }
}

/// A passed restore test: these indices of this snapshot came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proof {
    pub snapshot: String,
    pub indices: Vec<String>,
    pub at_ms: i64,
}

impl Proof {
    /// The proof a passed `snapshot verify --restore-test -o json` report gives; `None` for a
    /// failed test or another document.
    pub fn from_report(report: &serde_json::Value) -> Option<Self> {
        if report.get("passed")? != true {
            return None;
        }
        Some(Self {
            snapshot: report.get("snapshot")?.as_str()?.to_string(),
            indices: report
                .get("indices")?
                .as_array()?
                .iter()
                .filter_map(|i| i.get("index")?.as_str().map(str::to_string))
                .collect(),
            at_ms: report
                .get("at_ms")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayState {
    /// In a SUCCESS snapshot: `restore --date` picks one.
    Restorable,
    /// Only in PARTIAL snapshots: `restore --date` refuses, a named restore may get some shards back.
    PartialOnly,
    /// In no snapshot that holds it whole or in part.
    Gap,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// `2019.11.12`
    pub day: String,
    pub state: DayState,
    /// The snapshot `restore --date` would use.
    pub snapshot: Option<String>,
    /// A restore test brought an index of that day back.
    pub restore_tested: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupCoverage {
    pub label: String,
    pub patterns: Option<Vec<String>>,
    pub days: Vec<Day>,
    pub oldest_restorable: Option<String>,
    /// Runs of days in no snapshot, `first` and `last` inclusive.
    pub gaps: Vec<DayRange>,
    pub partial_only: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayRange {
    pub first: String,
    pub last: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    pub from: String,
    pub to: String,
    pub groups: Vec<GroupCoverage>,
}

fn day_text(d: Date) -> String {
    d.strftime(DAY_FORMAT).to_string()
}

/// Every `YYYY.MM.DD` date in an index name.
pub fn days_in(index: &str) -> Vec<Date> {
    let b = index.as_bytes();
    let mut out = Vec::new();
    if b.len() < 10 {
        return out;
    }
    for i in 0..=b.len() - 10 {
        let w = &b[i..i + 10];
        let digits = |r: std::ops::Range<usize>| w[r].iter().all(u8::is_ascii_digit);
        if digits(0..4) && w[4] == b'.' && digits(5..7) && w[7] == b'.' && digits(8..10) {
            let text = std::str::from_utf8(w).unwrap_or_default();
            if let Ok(d) = Date::strptime(DAY_FORMAT, text) {
                out.push(d);
            }
        }
    }
    out
}

/// The oldest day any selected index of any snapshot names, for a calendar's first row.
pub fn oldest_day(snapshots: &[SnapshotSummary], group: &Group) -> Option<Date> {
    snapshots
        .iter()
        .flat_map(|s| &s.indices)
        .filter(|i| {
            group
                .patterns
                .as_ref()
                .is_none_or(|p| super::glob::selects(p, i))
        })
        .flat_map(|i| days_in(i))
        .min()
}

/// The calendar from `from` to `to` (inclusive) for each group.
pub fn coverage(
    snapshots: &[SnapshotSummary],
    groups: &[Group],
    proofs: &[Proof],
    from: Date,
    to: Date,
) -> Coverage {
    // Snapshots by the days their indices name: choose_snapshot then sees only those that can
    // hold the day (a necessary condition of every filter here), so a large repository stays fast.
    let mut by_day: BTreeMap<Date, Vec<usize>> = BTreeMap::new();
    for (n, s) in snapshots.iter().enumerate() {
        let days: BTreeSet<Date> = s.indices.iter().flat_map(|i| days_in(i)).collect();
        for d in days {
            by_day.entry(d).or_default().push(n);
        }
    }
    let groups = groups
        .iter()
        .map(|g| group_coverage(snapshots, &by_day, g, proofs, from, to))
        .collect();
    Coverage {
        from: day_text(from),
        to: day_text(to),
        groups,
    }
}

fn group_coverage(
    snapshots: &[SnapshotSummary],
    by_day: &BTreeMap<Date, Vec<usize>>,
    group: &Group,
    proofs: &[Proof],
    from: Date,
    to: Date,
) -> GroupCoverage {
    let mut days = Vec::new();
    let mut d = from;
    while d <= to {
        let text = day_text(d);
        let filter = group.filter(&text);
        let bucket: Vec<SnapshotSummary> = by_day
            .get(&d)
            .into_iter()
            .flatten()
            .map(|&n| snapshots[n].clone())
            .collect();
        let (state, snapshot) = match choose_snapshot(&bucket, None, &filter) {
            Ok(s) => (DayState::Restorable, Some(s.name.clone())),
            Err(_) => {
                let partial = bucket.iter().any(|s| {
                    s.state == SnapshotState::Partial && s.indices.iter().any(|i| filter.selects(i))
                });
                let state = if partial {
                    DayState::PartialOnly
                } else {
                    DayState::Gap
                };
                (state, None)
            }
        };
        let restore_tested = proofs
            .iter()
            .any(|p| p.indices.iter().any(|i| filter.selects(i)));
        days.push(Day {
            day: text,
            state,
            snapshot,
            restore_tested,
        });
        match d.tomorrow() {
            Ok(next) => d = next,
            Err(_) => break,
        }
    }
    let oldest_restorable = days
        .iter()
        .find(|d| d.state == DayState::Restorable)
        .map(|d| d.day.clone());
    let mut gaps: Vec<DayRange> = Vec::new();
    let mut open: Option<DayRange> = None;
    for day in &days {
        if day.state == DayState::Gap {
            match &mut open {
                Some(r) => r.last = day.day.clone(),
                None => {
                    open = Some(DayRange {
                        first: day.day.clone(),
                        last: day.day.clone(),
                    })
                }
            }
        } else if let Some(r) = open.take() {
            gaps.push(r);
        }
    }
    gaps.extend(open);
    let partial_only = days
        .iter()
        .filter(|d| d.state == DayState::PartialOnly)
        .map(|d| d.day.clone())
        .collect();
    GroupCoverage {
        label: group.label.clone(),
        patterns: group.patterns.clone(),
        days,
        oldest_restorable,
        gaps,
        partial_only,
    }
}

const GREEN: &str = "\x1b[32m";
const BOLD_GREEN: &str = "\x1b[1;32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const RESET: &str = "\x1b[0m";

fn cell(day: &Day, color: bool) -> String {
    let (c, paint) = match (day.state, day.restore_tested) {
        (DayState::Restorable, true) => ('+', BOLD_GREEN),
        (DayState::Restorable, false) => ('#', GREEN),
        (DayState::PartialOnly, _) => ('p', YELLOW),
        (DayState::Gap, _) => ('-', RED),
    };
    if color {
        format!("{paint}{c}{RESET}")
    } else {
        c.to_string()
    }
}

/// The terminal calendar: one row per month, one cell per day; ANSI colours when `color`.
pub fn render(c: &Coverage, color: bool) -> String {
    let mut out = String::new();
    for g in &c.groups {
        let patterns = g
            .patterns
            .as_ref()
            .map_or("every index".to_string(), |p| p.join(","));
        out.push_str(&format!("{} ({patterns})\n", g.label));
        out.push_str("         1        10        20        30\n");
        let mut months: BTreeMap<String, Vec<&Day>> = BTreeMap::new();
        for d in &g.days {
            months.entry(d.day[..7].to_string()).or_default().push(d);
        }
        for (month, days) in &months {
            let mut row = format!("{}  ", month.replace('.', "-"));
            // Days before the range in the first month are blank.
            let first: usize = days
                .first()
                .and_then(|d| d.day[8..10].parse().ok())
                .unwrap_or(1);
            row.push_str(&" ".repeat(first.saturating_sub(1)));
            for d in days {
                row.push_str(&cell(d, color));
            }
            out.push_str(row.trim_end());
            out.push('\n');
        }
        out.push_str(&format!(
            "oldest restorable day: {}\n",
            g.oldest_restorable.as_deref().unwrap_or("none")
        ));
        let gaps: Vec<String> = g
            .gaps
            .iter()
            .map(|r| {
                if r.first == r.last {
                    r.first.clone()
                } else {
                    format!("{}..{}", r.first, r.last)
                }
            })
            .collect();
        out.push_str(&format!(
            "gaps: {}\n",
            if gaps.is_empty() {
                "none".to_string()
            } else {
                gaps.join(", ")
            }
        ));
        if !g.partial_only.is_empty() {
            out.push_str(&format!(
                "only in PARTIAL snapshots: {}\n",
                g.partial_only.join(", ")
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{} restorable  {} restorable and restore-tested  {} only in PARTIAL snapshots  {} gap\n",
        legend('#', GREEN, color),
        legend('+', BOLD_GREEN, color),
        legend('p', YELLOW, color),
        legend('-', RED, color)
    ));
    out
}

fn legend(c: char, paint: &str, color: bool) -> String {
    if color {
        format!("{paint}{c}{RESET}")
    } else {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn date(s: &str) -> Date {
        Date::strptime(DAY_FORMAT, s).unwrap()
    }

    #[test]
    fn dates_are_found_anywhere_in_index_names() {
        assert_eq!(
            days_in("ks-logstash-log-2019.11.12"),
            vec![date("2019.11.12")]
        );
        assert!(days_in("ks-logstash-log-2019.13.12").is_empty());
        assert!(days_in(".kibana").is_empty());
    }

    #[test]
    fn each_day_is_restorable_partial_or_a_gap_and_tested_days_are_marked() {
        let snaps = vec![
            snap(
                "s1",
                1,
                SnapshotState::Success,
                &["ks-logstash-log-2019.11.10", "ks-logstash-log-2019.11.11"],
            ),
            snap(
                "s2",
                2,
                SnapshotState::Partial,
                &["ks-logstash-log-2019.11.12"],
            ),
            snap(
                "s3",
                3,
                SnapshotState::Success,
                &["ks-logstash-log-2019.11.15"],
            ),
            snap(
                "s4",
                4,
                SnapshotState::Failed,
                &["ks-logstash-log-2019.11.13"],
            ),
        ];
        let groups = [Group {
            label: "kubesphere".into(),
            patterns: Some(vec!["ks-logstash-log-*".into()]),
        }];
        let proofs = [Proof {
            snapshot: "s1".into(),
            indices: vec!["ks-logstash-log-2019.11.11".into()],
            at_ms: 9,
        }];
        let c = coverage(
            &snaps,
            &groups,
            &proofs,
            date("2019.11.10"),
            date("2019.11.15"),
        );
        let g = &c.groups[0];
        let states: Vec<DayState> = g.days.iter().map(|d| d.state).collect();
        use DayState::*;
        assert_eq!(
            states,
            [Restorable, Restorable, PartialOnly, Gap, Gap, Restorable]
        );
        assert!(g.days[1].restore_tested && !g.days[0].restore_tested);
        assert_eq!(g.oldest_restorable.as_deref(), Some("2019.11.10"));
        assert_eq!(
            g.gaps,
            [DayRange {
                first: "2019.11.13".into(),
                last: "2019.11.14".into()
            }]
        );
        assert_eq!(g.partial_only, ["2019.11.12"]);
        assert_eq!(g.days[5].snapshot.as_deref(), Some("s3"));
    }

    #[test]
    fn only_passed_restore_test_reports_are_proofs() {
        let passed = serde_json::json!({"snapshot": "s1", "passed": true, "at_ms": 5,
            "indices": [{"index": "ks-logstash-log-2019.11.11"}]});
        let p = Proof::from_report(&passed).unwrap();
        assert_eq!(p.indices, ["ks-logstash-log-2019.11.11"]);
        assert_eq!(p.at_ms, 5);
        let failed = serde_json::json!({"snapshot": "s1", "passed": false, "indices": []});
        assert_eq!(Proof::from_report(&failed), None);
        assert_eq!(
            Proof::from_report(&serde_json::json!({"kind": "other"})),
            None
        );
    }

    #[test]
    fn a_group_sees_only_its_patterns() {
        let snaps = vec![snap(
            "s1",
            1,
            SnapshotState::Success,
            &["ks-logstash-auditing-2019.11.10"],
        )];
        let groups = [
            Group {
                label: "logs".into(),
                patterns: Some(vec!["ks-logstash-log-*".into()]),
            },
            Group {
                label: "all".into(),
                patterns: None,
            },
        ];
        let c = coverage(&snaps, &groups, &[], date("2019.11.10"), date("2019.11.10"));
        assert_eq!(c.groups[0].days[0].state, DayState::Gap);
        assert_eq!(c.groups[1].days[0].state, DayState::Restorable);
        assert_eq!(oldest_day(&snaps, &groups[0]), None);
        assert_eq!(oldest_day(&snaps, &groups[1]), Some(date("2019.11.10")));
    }
}
