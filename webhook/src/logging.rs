//! Logs on stderr, plain or JSON. Plain lines escape control characters in every field, so a name,
//! namespace or uid holding `\n` cannot forge a log line (JSON lines escape them already).

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init(format: LogFormat, filter: EnvFilter) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Plain => {
            let fields = tracing_subscriber::fmt::format::debug_fn(|w, field, value| {
                let text = escape_controls(&format!("{value:?}"));
                match field.name() {
                    "message" => w.write_str(&text),
                    name => write!(w, "{name}={text}"),
                }
            })
            .delimited(" ");
            builder.fmt_fields(fields).init()
        }
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// `text` with control characters written as Rust escapes (`\n`, `\u{1b}`), the rest unchanged.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        assert_eq!(
            escape_controls("es\nINFO forged\r\t\u{1b}[31m ü/\"x\""),
            "es\\nINFO forged\\r\\t\\u{1b}[31m ü/\"x\""
        );
    }
}
