//! Pure rendering of command results: tables for people, JSON and YAML for programs.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot render JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] crate::manifest::ManifestError),
}

/// A borderless table with a header row, like kubectl's.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING);
    t.set_header(headers.iter().map(|h| h.to_uppercase()));
    for row in rows {
        t.add_row(row);
    }
    let text = t.to_string();
    // comfy-table pads every line and leads with a space; kubectl-style output does not.
    let mut out: String = text
        .lines()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join("\n");
    out.push('\n');
    out
}

/// `table`'s layout, written a row at a time: one pass over `rows` for the column widths, one to
/// write. comfy-table holds every cell and then the whole text, which for a 100,000-snapshot
/// listing is most of the process's memory; this holds one row.
pub fn write_table<W, R, I>(
    out: &mut W,
    headers: &[&str],
    rows: impl Fn() -> I,
) -> std::io::Result<()>
where
    W: std::io::Write,
    R: AsRef<[String]>,
    I: Iterator<Item = R>,
{
    use unicode_width::UnicodeWidthStr;
    let header: Vec<String> = headers.iter().map(|h| h.to_uppercase()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows() {
        for (w, cell) in widths.iter_mut().zip(row.as_ref()) {
            *w = (*w).max(cell.width());
        }
    }
    let mut line = String::new();
    let mut write_row = |cells: &[String]| {
        line.clear();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', w.saturating_sub(cell.width())));
        }
        writeln!(out, "{}", line.trim())
    };
    write_row(&header)?;
    for row in rows() {
        write_row(row.as_ref())?;
    }
    Ok(())
}

/// JSON or YAML of `value`; `Table` falls back to JSON (callers render tables themselves).
pub fn structured<T: Serialize>(value: &T, format: Format) -> Result<String, RenderError> {
    match format {
        Format::Yaml => Ok(crate::manifest::to_yaml(value)?),
        Format::Json | Format::Table => Ok(format!("{}\n", serde_json::to_string_pretty(value)?)),
    }
}

/// `3d4h`, `5m` style ages for tables.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m}m"),
        (d, h, _) => format!("{d}d{h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn write_table_lays_out_rows_as_table_does() {
        let rows: Vec<Vec<String>> = [
            [
                "logs-2026.11.30-0100",
                "SUCCESS",
                "1d2h",
                "3s",
                "3",
                "9/9",
                "0",
            ],
            ["a", "PARTIAL", "-", "-", "12", "10/12", "2"],
            [
                "snapshot-with-a-much-longer-name-é",
                "IN_PROGRESS",
                "5m",
                "-",
                "0",
                "0/0",
                "0",
            ],
        ]
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
        let headers = [
            "name", "state", "age", "duration", "indices", "shards", "failed",
        ];
        for n in 0..=rows.len() {
            let mut out = Vec::new();
            write_table(&mut out, &headers, || rows[..n].iter()).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), table(&headers, &rows[..n]));
        }
    }

    use super::*;

    #[test]
    fn tables_have_upper_case_headers_and_no_borders() {
        let out = table(
            &["name", "state"],
            &[vec!["snap-1".into(), "SUCCESS".into()]],
        );
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("NAME") && lines[0].ends_with("STATE"),
            "{out}"
        );
        assert!(
            lines[1].starts_with("snap-1") && lines[1].ends_with("SUCCESS"),
            "{out}"
        );
        assert!(!out.contains('|') && !out.contains('+'));
    }

    #[test]
    fn structured_output_is_json_or_yaml() {
        let v = serde_json::json!({"name": "snap-1"});
        assert_eq!(
            structured(&v, Format::Json).unwrap(),
            "{\n  \"name\": \"snap-1\"\n}\n"
        );
        assert!(structured(&v, Format::Yaml)
            .unwrap()
            .contains("name: snap-1"));
    }

    #[test]
    fn ages_are_short() {
        assert_eq!(age(5_000), "5s");
        assert_eq!(age(5 * 60_000), "5m");
        assert_eq!(age(2 * 3_600_000 + 60_000), "2h1m");
        assert_eq!(age(3 * 86_400_000 + 4 * 3_600_000), "3d4h");
        assert_eq!(age(-1), "0s");
    }
}
