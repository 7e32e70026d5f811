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
