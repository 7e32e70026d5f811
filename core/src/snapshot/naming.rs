//! Snapshot names from strftime patterns, and times read back from names (Curator's `timestring`).

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The default name: sortable, unique to the second, valid on every server version.
pub const DEFAULT_PATTERN: &str = "snapshot-%Y%m%d%H%M%S";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NamingError {
    #[error("invalid name pattern {pattern:?}: {message}")]
    Pattern { pattern: String, message: String },
    #[error("invalid snapshot name {name:?}: {rule}")]
    Invalid { name: String, rule: &'static str },
}

/// Renders `pattern` at `now` (UTC) and checks the result is a valid snapshot name.
pub fn render_name(pattern: &str, now: Timestamp) -> Result<String, NamingError> {
    let zoned = now.to_zoned(TimeZone::UTC);
    let name = jiff::fmt::strtime::format(pattern, &zoned).map_err(|e| NamingError::Pattern {
        pattern: pattern.to_string(),
        message: e.to_string(),
    })?;
    validate_name(&name)?;
    Ok(name)
}

/// The rules Elasticsearch's `createSnapshot` enforces, checked before we ask the server.
pub fn validate_name(name: &str) -> Result<(), NamingError> {
    let invalid = |rule| {
        Err(NamingError::Invalid {
            name: name.to_string(),
            rule,
        })
    };
    if name.is_empty() {
        return invalid("cannot be empty");
    }
    if name.contains('#') {
        return invalid("must not contain '#'");
    }
    if name.starts_with('_') {
        return invalid("must not start with '_'");
    }
    if name.to_lowercase() != name {
        return invalid("must be lowercase");
    }
    if name.chars().any(|c| {
        matches!(
            c,
            '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ','
        )
    }) {
        return invalid("must not contain whitespace, ',' or any of \\ / * ? \" < > |");
    }
    Ok(())
}

/// Reads the time encoded in `name` with the strftime `timestring` (for example `%Y.%m.%d` in
/// `ks-logstash-log-2019.11.12`), the way Curator's `source: name` does: the first place in the name
/// where the timestring's shape fits and parses wins. Dates without a time mean midnight UTC.
pub fn time_from_name(name: &str, timestring: &str) -> Option<Timestamp> {
    let shape = shape_of(timestring)?;
    let chars: Vec<char> = name.chars().collect();
    if chars.len() < shape.len() {
        return None;
    }
    (0..=chars.len() - shape.len()).find_map(|start| {
        let window = &chars[start..start + shape.len()];
        let fits = window.iter().zip(&shape).all(|(c, s)| match s {
            Shape::Digit => c.is_ascii_digit(),
            Shape::Literal(l) => c == l,
        });
        if !fits {
            return None;
        }
        let text: String = window.iter().collect();
        parse_time(&text, timestring)
    })
}

fn parse_time(text: &str, timestring: &str) -> Option<Timestamp> {
    let parsed = jiff::fmt::strtime::parse(timestring, text).ok()?;
    let datetime = match parsed.to_datetime() {
        Ok(dt) => dt,
        Err(_) => parsed.to_date().ok()?.to_datetime(Time::midnight()),
    };
    datetime.to_zoned(TimeZone::UTC).ok().map(|z| z.timestamp())
}

#[derive(Debug, PartialEq)]
enum Shape {
    Digit,
    Literal(char),
}

/// The character shape of what a timestring produces; `None` for directives of variable width.
fn shape_of(timestring: &str) -> Option<Vec<Shape>> {
    let mut shape = Vec::new();
    let mut chars = timestring.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            shape.push(Shape::Literal(c));
            continue;
        }
        let width = match chars.next()? {
            'Y' => 4,
            'm' | 'd' | 'H' | 'M' | 'S' | 'y' | 'W' | 'U' => 2,
            'j' => 3,
            '%' => {
                shape.push(Shape::Literal('%'));
                continue;
            }
            _ => return None,
        };
        shape.extend((0..width).map(|_| Shape::Digit));
    }
    Some(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn default_pattern_renders_sortable_utc_names() {
        let name = render_name(DEFAULT_PATTERN, ts("2019-11-13T01:02:03Z")).unwrap();
        assert_eq!(name, "snapshot-20191113010203");
    }

    #[test]
    fn curator_style_patterns_render() {
        let name = render_name("ks-logstash-log-%Y.%m.%d", ts("2019-11-12T23:59:59Z")).unwrap();
        assert_eq!(name, "ks-logstash-log-2019.11.12");
    }

    #[test]
    fn uppercase_results_are_rejected_before_the_server_sees_them() {
        // %b is "Nov": an upper-case letter makes an invalid snapshot name.
        let err = render_name("snap-%b", ts("2019-11-12T00:00:00Z")).unwrap_err();
        assert_eq!(
            err,
            NamingError::Invalid {
                name: "snap-Nov".into(),
                rule: "must be lowercase"
            }
        );
    }

    #[test]
    fn broken_patterns_are_reported() {
        assert!(matches!(
            render_name("snap-%", ts("2019-11-12T00:00:00Z")),
            Err(NamingError::Pattern { .. })
        ));
    }

    #[test]
    fn every_name_rule_is_enforced() {
        for bad in [
            "", "_x", "a#b", "a b", "a,b", "a*b", "a/b", "a\\b", "a?b", "a\"b", "a<b", "a>b",
            "a|b", "Ab",
        ] {
            assert!(validate_name(bad).is_err(), "{bad:?} should be invalid");
        }
        assert!(validate_name("snapshot-2019.11.12_1").is_ok());
    }

    #[test]
    fn times_are_read_back_from_names() {
        assert_eq!(
            time_from_name("snapshot-20191113010203", "%Y%m%d%H%M%S"),
            Some(ts("2019-11-13T01:02:03Z"))
        );
        assert_eq!(
            time_from_name("ks-logstash-log-2019.11.12", "%Y.%m.%d"),
            Some(ts("2019-11-12T00:00:00Z"))
        );
        // The first window that parses wins; a window that fits but is not a date is skipped.
        assert_eq!(
            time_from_name("v9999.99.99-2019.11.12", "%Y.%m.%d"),
            Some(ts("2019-11-12T00:00:00Z"))
        );
        assert_eq!(time_from_name("nightly", "%Y.%m.%d"), None);
        assert_eq!(time_from_name("x", "%Y.%m.%d"), None);
        assert_eq!(time_from_name("snap-2019", "%B"), None);
    }
}
