//! Dates as the servers print them.

use jiff::tz::TimeZone;
use jiff::Timestamp;

pub fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

pub fn format_ms(ms: i64, fmt: &str) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| jiff::fmt::strtime::format(fmt, &t.to_zoned(TimeZone::UTC)).unwrap_or_default())
        .unwrap_or_default()
}

/// `2019-11-12T01:02:03.456Z`, the `start_time` format of snapshot bodies.
pub fn iso(ms: i64) -> String {
    format_ms(ms, "%Y-%m-%dT%H:%M:%S.%3fZ")
}

/// An Elasticsearch time value (`500ms`, `30s`, `2m`, `1h`) in milliseconds.
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    #[test]
    fn time_values_read_as_elasticsearch_reads_them() {
        assert_eq!(super::parse_duration_ms("1s"), Some(1_000));
        assert_eq!(super::parse_duration_ms("250ms"), Some(250));
        assert_eq!(super::parse_duration_ms("2m"), Some(120_000));
        assert_eq!(super::parse_duration_ms("30"), None);
        assert_eq!(super::parse_duration_ms("s"), None);
    }
}
