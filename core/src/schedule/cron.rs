//! Kubernetes CronJob schedules: 5 fields (or an `@daily`-style macro), parsed with croner; the
//! next runs for the user to check; the Quartz form (with seconds) SLM wants.

use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use super::ScheduleError;

/// A validated 5-field schedule in a time zone. Without `timeZone` the CronJob controller uses its
/// own local zone, so we always write one (UTC unless given).
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The 5 fields, macros expanded.
    pub fields: [String; 5],
    pub time_zone: String,
    cron: Cron,
    tz: TimeZone,
}

/// Kubernetes (robfig/cron) macros, expanded so every later step sees 5 fields.
fn expand_macro(expr: &str) -> Option<&'static str> {
    Some(match expr {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" | "@midnight" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        _ => return None,
    })
}

impl Schedule {
    pub fn parse(expr: &str, time_zone: Option<&str>) -> Result<Self, ScheduleError> {
        let invalid = |why: String| ScheduleError::Cron {
            expr: expr.to_string(),
            why,
        };
        let trimmed = expr.trim();
        let expanded = expand_macro(trimmed).unwrap_or(trimmed);
        let parts: Vec<&str> = expanded.split_whitespace().collect();
        let fields: [String; 5] = match parts.as_slice() {
            [a, b, c, d, e] => [a, b, c, d, e].map(|s| s.to_string()),
            _ => {
                return Err(invalid(format!(
                    "Kubernetes CronJobs take 5 fields (minute hour day-of-month month day-of-week), got {}",
                    parts.len()
                )))
            }
        };
        // croner knows Quartz extensions the CronJob controller rejects.
        if let Some(token) = fields
            .iter()
            .flat_map(|f| f.split(','))
            .find(|t| quartz_only(t))
        {
            return Err(invalid(format!(
                "{token:?} is a Quartz extension Kubernetes CronJobs do not accept"
            )));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expanded)
            .map_err(|e| invalid(e.to_string()))?;
        let time_zone = time_zone.unwrap_or("UTC").to_string();
        let tz = TimeZone::get(&time_zone).map_err(|e| ScheduleError::TimeZone {
            name: time_zone.clone(),
            why: e.to_string(),
        })?;
        Ok(Self {
            fields,
            time_zone,
            cron,
            tz,
        })
    }

    /// The schedule as written into the CronJob.
    pub fn expression(&self) -> String {
        self.fields.join(" ")
    }

    /// The next `n` runs strictly after `now`, in the schedule's time zone.
    pub fn next_runs(&self, now: Timestamp, n: usize) -> Vec<Zoned> {
        let start = now.to_zoned(self.tz.clone());
        self.cron.clone().iter_after(start).take(n).collect()
    }

    /// How many runs fall in the `days` after `now` (at most `cap`): the snapshots a `--keep-days`
    /// window holds, for engines that insist on a max count.
    pub fn runs_within(&self, now: Timestamp, days: u32, cap: usize) -> usize {
        let end = now.as_second() + i64::from(days) * 86_400;
        let start = now.to_zoned(self.tz.clone());
        self.cron
            .clone()
            .iter_after(start)
            .take(cap)
            .take_while(|z| z.timestamp().as_second() <= end)
            .count()
    }

    /// The Quartz form SLM takes: seconds first, and `?` in exactly one of day-of-month and
    /// day-of-week (Quartz cannot say "either", which 5-field cron does when both are set), with
    /// days of the week numbered 1 (Sunday) to 7 instead of 0 (or 7) to 6.
    pub fn to_quartz(&self) -> Result<String, ScheduleError> {
        let [minute, hour, dom, month, dow] = &self.fields;
        let (dom, dow) = match (dom.as_str(), dow.as_str()) {
            (_, "*") => (dom.clone(), "?".to_string()),
            ("*", _) => ("?".to_string(), quartz_weekdays(dow)?),
            _ => {
                return Err(ScheduleError::NotQuartz {
                    expr: self.expression(),
                    why: "both day-of-month and day-of-week are set (cron runs on either; Quartz cannot say that)".into(),
                })
            }
        };
        Ok(format!("0 {minute} {hour} {dom} {month} {dow}"))
    }
}

/// `L`, `5L`, `15W`, `LW`, `1#2`, `?`: Quartz, not robfig/cron (but `JUL` is a month).
fn quartz_only(token: &str) -> bool {
    let t = token.to_ascii_uppercase();
    if t.contains('#') || t.contains('?') || t == "LW" {
        return true;
    }
    match t.strip_suffix('L').or_else(|| t.strip_suffix('W')) {
        Some(rest) => rest.chars().all(|c| c.is_ascii_digit()),
        None => false,
    }
}

/// Renumbers a day-of-week field from cron (0-7, Sunday 0 and 7) to Quartz (1-7, Sunday 1).
/// Names (MON-FRI) are the same in both; steps (`*/2`) keep their step.
fn quartz_weekdays(field: &str) -> Result<String, ScheduleError> {
    let renumber = |token: &str| -> Result<String, ScheduleError> {
        if token.is_empty() || token == "*" || token.chars().any(|c| c.is_ascii_alphabetic()) {
            return Ok(token.to_string());
        }
        let n: u8 = token.parse().map_err(|_| ScheduleError::NotQuartz {
            expr: field.to_string(),
            why: format!("cannot read day of week {token:?}"),
        })?;
        Ok(((n % 7) + 1).to_string())
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let range = match range.split_once('-') {
            // 5-7 is Fri..Sun in cron; 6-1 would wrap in Quartz, so Sunday-as-7 ends a range as 7.
            Some((a, "7")) => format!("{}-7", renumber(a)?),
            Some((a, b)) => format!("{}-{}", renumber(a)?, renumber(b)?),
            None => renumber(range)?,
        };
        items.push(match step {
            Some(s) => format!("{range}/{s}"),
            None => range,
        });
    }
    Ok(items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn nightly_at_one_lists_the_next_three_nights() {
        let s = Schedule::parse("0 1 * * *", None).unwrap();
        let runs: Vec<String> = s
            .next_runs(ts("2026-11-22T03:00:00Z"), 3)
            .iter()
            .map(|z| z.timestamp().to_string())
            .collect();
        assert_eq!(
            runs,
            [
                "2026-11-23T01:00:00Z",
                "2026-11-24T01:00:00Z",
                "2026-11-25T01:00:00Z"
            ]
        );
    }

    #[test]
    fn a_time_zone_moves_the_runs() {
        let s = Schedule::parse("0 1 * * *", Some("Asia/Shanghai")).unwrap();
        let first = s.next_runs(ts("2026-11-22T03:00:00Z"), 1);
        // 01:00 in Shanghai is 17:00 UTC the day before.
        assert_eq!(first[0].timestamp().to_string(), "2026-11-22T17:00:00Z");
        assert_eq!(s.time_zone, "Asia/Shanghai");
    }

    #[test]
    fn unknown_time_zones_and_bad_expressions_are_refused() {
        assert!(matches!(
            Schedule::parse("0 1 * * *", Some("Mars/Olympus")),
            Err(ScheduleError::TimeZone { .. })
        ));
        for bad in [
            "0 1 * *",
            "0 0 1 * * *",
            "61 1 * * *",
            "0 25 * * *",
            "0 1 L * *",
            "0 1 ? * MON",
            "0 1 * * 1#2",
            "",
        ] {
            let err = Schedule::parse(bad, None).unwrap_err();
            assert!(matches!(err, ScheduleError::Cron { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("schedule"), "{err}");
        }
    }

    #[test]
    fn macros_expand_to_five_fields() {
        assert_eq!(
            Schedule::parse("@daily", None).unwrap().expression(),
            "0 0 * * *"
        );
        assert_eq!(
            Schedule::parse("@weekly", None).unwrap().expression(),
            "0 0 * * 0"
        );
        // Month and day names that end in L or W are not Quartz's L/W.
        assert!(Schedule::parse("0 1 * JUL WED", None).is_ok());
    }

    #[test]
    fn quartz_adds_seconds_and_a_question_mark() {
        let q = |e: &str| Schedule::parse(e, None).unwrap().to_quartz();
        assert_eq!(q("0 1 * * *").unwrap(), "0 0 1 * * ?");
        assert_eq!(q("30 2 1 * *").unwrap(), "0 30 2 1 * ?");
        assert_eq!(q("0 1 * * 0").unwrap(), "0 0 1 ? * 1");
        assert_eq!(q("0 1 * * 7").unwrap(), "0 0 1 ? * 1");
        assert_eq!(q("0 1 * * 1-5").unwrap(), "0 0 1 ? * 2-6");
        assert_eq!(q("0 1 * * 5-7").unwrap(), "0 0 1 ? * 6-7");
        assert_eq!(q("0 1 * * 0,3").unwrap(), "0 0 1 ? * 1,4");
        assert_eq!(q("0 1 * * MON-FRI").unwrap(), "0 0 1 ? * MON-FRI");
        assert_eq!(q("*/15 * * * *").unwrap(), "0 */15 * * * ?");
        assert!(matches!(
            q("0 1 1 * 1"),
            Err(ScheduleError::NotQuartz { .. })
        ));
    }

    #[test]
    fn runs_within_counts_the_retention_window() {
        let s = Schedule::parse("0 1 * * *", None).unwrap();
        assert_eq!(s.runs_within(ts("2026-11-22T03:00:00Z"), 45, 10_000), 45);
        let hourly = Schedule::parse("0 * * * *", None).unwrap();
        assert_eq!(hourly.runs_within(ts("2026-11-22T03:00:00Z"), 2, 10), 10);
    }
}
