//! The documentation is tested the way rustdoc tests examples: every `kubectl logbackup ...` command
//! in a fenced code block of README.md and docs/*.md, and every example in the commands' `--help`,
//! must parse with the real command tree (`logbackup::cli::command()`). A renamed flag or command
//! then fails here, not on a user's first try.
//!
//! What counts as a command: a line of a fenced block that starts with `kubectl logbackup ` or
//! `kubectl-logbackup ` (after an optional `$ ` prompt), or any part of a pipeline or `&&`/`;` list
//! that does, with backslash-continued lines joined. Comments, pipes and redirections end it.
//! Shell variables must be set in the same block (`ES="-n ns -r repo"`) and are expanded as the
//! shell would; placeholders such as `<name>` and `...` are refused, so the docs give commands a
//! reader can paste. `cargo run ... -- ARGS` of this package counts as `kubectl logbackup ARGS`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// At least this many commands must be found; an extraction bug must not pass by finding none.
const FLOOR_DOCS: usize = 80;
const FLOOR_HELP: usize = 50;
/// The narrowest terminal an example in `--help` must fit without clap wrapping it.
const HELP_WIDTH: usize = 80;

/// Variables a documented command may use without setting them: the environment its pod gives it.
const ENVIRONMENT: &[(&str, &str)] = &[
    // The collector DaemonSet's node name, from the downward API.
    ("NODE_NAME", "node-1"),
];

/// One command found in a document, where it was found, and its words.
#[derive(Debug)]
struct Example {
    origin: String,
    line: usize,
    text: String,
    args: Vec<String>,
}

#[test]
fn every_command_in_the_readme_and_docs_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    pages.sort();
    files.extend(pages);

    let mut examples = Vec::new();
    let mut problems = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let origin = file.strip_prefix(root).unwrap().display().to_string();
        extract_from_markdown(&origin, &text, &mut examples, &mut problems);
    }
    check(&examples, &mut problems);
    let mut per_file: HashMap<&str, usize> = HashMap::new();
    for example in &examples {
        *per_file.entry(example.origin.as_str()).or_default() += 1;
    }
    let mut counts: Vec<_> = per_file.into_iter().collect();
    counts.sort();
    println!(
        "checked {} commands from {} files: {counts:?}",
        examples.len(),
        files.len()
    );
    assert!(
        problems.is_empty(),
        "{} of {} documented commands do not parse:\n\n{}",
        problems.len(),
        examples.len(),
        problems.join("\n\n")
    );
    assert!(
        examples.len() >= FLOOR_DOCS,
        "only {} commands found in README.md and docs/ (expected at least {FLOOR_DOCS}): is the extraction broken?",
        examples.len()
    );
}

#[test]
fn every_example_in_help_parses() {
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    collect_help(
        &logbackup::cli::command(),
        "kubectl logbackup",
        &mut examples,
        &mut problems,
    );
    check(&examples, &mut problems);
    println!("checked {} commands from --help texts", examples.len());
    assert!(
        problems.is_empty(),
        "{} of {} examples in --help do not parse:\n\n{}",
        problems.len(),
        examples.len(),
        problems.join("\n\n")
    );
    assert!(
        examples.len() >= FLOOR_HELP,
        "only {} examples found in --help (expected at least {FLOOR_HELP}): is the extraction broken?",
        examples.len()
    );
}

/// Every command group's `--help` points at its page in docs/, and that page exists.
#[test]
fn every_group_help_links_to_an_existing_page() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut missing = Vec::new();
    for sub in logbackup::cli::command().get_subcommands() {
        let help = sub
            .get_after_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let page = help
            .split_whitespace()
            .filter_map(|word| word.find("docs/").map(|at| &word[at..]))
            .find_map(|word| word.find(".md").map(|end| &word[..end + 3]));
        match page {
            Some(page) => {
                if !root.join(page).is_file() {
                    missing.push(format!("`{}`: {page} does not exist", sub.get_name()));
                }
            }
            None => missing.push(format!("`{}`: no docs/ page in --help", sub.get_name())),
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A deliberately wrong flag is reported with its file and line: the check can fail.
#[test]
fn a_wrong_flag_is_reported_with_its_place() {
    let doc = "text\n\n```sh\nNS=logging\nkubectl logbackup status -n $NS --no-such-flag\n```\n";
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    extract_from_markdown("example.md", doc, &mut examples, &mut problems);
    assert_eq!(examples.len(), 1);
    assert_eq!(
        examples[0].args,
        ["status", "-n", "logging", "--no-such-flag"]
    );
    check(&examples, &mut problems);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("example.md:5:"), "{}", problems[0]);
    assert!(problems[0].contains("--no-such-flag"), "{}", problems[0]);
}

#[test]
fn pipes_continuations_comments_and_placeholders() {
    let doc = "```sh\n\
        $ kubectl logbackup snapshot list \\\n    -r repo -o json | jq . # a comment\n\
        kubectl get sts -o yaml | kubectl logbackup inject -f - > out.yaml\n\
        kubectl logbackup restore -r <repo> --date 2019.11.12\n\
        kubectl logbackup status ... --require-proof\n\
        ```\n\
        kubectl logbackup outside-a-block\n";
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    extract_from_markdown("x.md", doc, &mut examples, &mut problems);
    let args: Vec<_> = examples.iter().map(|e| e.args.join(" ")).collect();
    assert_eq!(args, ["snapshot list -r repo -o json", "inject -f -"]);
    assert_eq!(examples[0].line, 2);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[0].starts_with("x.md:5:") && problems[0].contains("placeholder (<repo>)"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].starts_with("x.md:6:") && problems[1].contains("placeholder (...)"),
        "{}",
        problems[1]
    );
}

/// In an output block (`text`, `console`), only the prompted lines are commands: a table of
/// results that names a command is not one.
#[test]
fn output_blocks_count_only_prompted_lines() {
    let doc = "```text\n$ kubectl logbackup snapshot list -r repo\nkubectl-logbackup prune --dry-run   0.24   29.4\n```\n";
    let mut examples = Vec::new();
    let mut problems = Vec::new();
    extract_from_markdown("x.md", doc, &mut examples, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let args: Vec<_> = examples.iter().map(|e| e.args.join(" ")).collect();
    assert_eq!(args, ["snapshot list -r repo"]);
}

fn check(examples: &[Example], problems: &mut Vec<String>) {
    for example in examples {
        let argv = std::iter::once("kubectl-logbackup".to_string()).chain(example.args.clone());
        if let Err(error) = logbackup::cli::command().try_get_matches_from(argv) {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                continue;
            }
            problems.push(format!(
                "{}:{}: {}\n{}",
                example.origin,
                example.line,
                example.text,
                error.render().to_string().trim_end()
            ));
        }
    }
}

/// The examples in a command's `--help` (after_help), and in every subcommand's.
fn collect_help(
    command: &clap::Command,
    path: &str,
    examples: &mut Vec<Example>,
    problems: &mut Vec<String>,
) {
    for text in [command.get_after_help(), command.get_after_long_help()]
        .into_iter()
        .flatten()
    {
        let origin = format!("`{path} --help`");
        let rendered = text.to_string();
        let lines: Vec<&str> = rendered.lines().collect();
        // clap wraps help at the terminal's width: an example longer than a narrow terminal
        // would be broken where a reader copies it. Long examples continue with `\`.
        let mut continued = false;
        for (number, line) in lines.iter().enumerate() {
            let example = continued || mentions_plugin(line.trim());
            continued = example && line.ends_with('\\');
            if example && line.chars().count() > HELP_WIDTH {
                problems.push(format!(
                    "{origin}:{}: {}\nlonger than {HELP_WIDTH} columns: clap would wrap it inside the command; continue it with `\\`",
                    number + 1,
                    line.trim()
                ));
            }
        }
        extract_from_lines(
            &origin,
            &lines,
            0,
            &environment(),
            false,
            examples,
            problems,
        );
    }
    for sub in command.get_subcommands() {
        collect_help(
            sub,
            &format!("{path} {}", sub.get_name()),
            examples,
            problems,
        );
    }
}

/// The commands in the fenced code blocks of one Markdown document.
fn extract_from_markdown(
    origin: &str,
    text: &str,
    examples: &mut Vec<Example>,
    problems: &mut Vec<String>,
) {
    let lines: Vec<&str> = text.lines().collect();
    let mut block: Option<(usize, bool)> = None;
    for (index, line) in lines.iter().enumerate() {
        let Some(info) = line.trim_start().strip_prefix("```") else {
            continue;
        };
        match block.take() {
            None => {
                let output = matches!(info.trim(), "text" | "console" | "output");
                block = Some((index + 1, output));
            }
            Some((start, output)) => {
                let body = &lines[start..index];
                let vars = assignments(body);
                // In an output block only the prompted lines are commands.
                extract_from_lines(origin, body, start, &vars, output, examples, problems);
            }
        }
    }
}

fn environment() -> HashMap<String, String> {
    ENVIRONMENT
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

/// `NAME=value` lines of a block, as the shell would read them (quotes removed).
fn assignments(block: &[&str]) -> HashMap<String, String> {
    let mut vars = environment();
    for line in block {
        let line = line.trim();
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        if let Ok(words) = split_words(value, &HashMap::new()) {
            if let [Word::Text(value)] = words.as_slice() {
                vars.insert(name.to_string(), value.clone());
            }
        }
    }
    vars
}

fn extract_from_lines(
    origin: &str,
    lines: &[&str],
    first_line: usize,
    vars: &HashMap<String, String>,
    prompted_only: bool,
    examples: &mut Vec<Example>,
    problems: &mut Vec<String>,
) {
    let mut index = 0;
    while index < lines.len() {
        let number = first_line + index + 1;
        let mut text = lines[index].trim().to_string();
        index += 1;
        // Backslash-continued lines are one command.
        while text.ends_with('\\') && index < lines.len() {
            text.pop();
            text.push(' ');
            text.push_str(lines[index].trim());
            index += 1;
        }
        if prompted_only && !text.starts_with("$ ") {
            continue;
        }
        let command = text.strip_prefix("$ ").unwrap_or(&text);
        if !mentions_plugin(command) {
            continue;
        }
        if let Some(placeholder) = placeholder(command) {
            problems.push(format!(
                "{origin}:{number}: {command}\na placeholder ({placeholder}) in a documented command: write a value a reader can paste"
            ));
            continue;
        }
        let words = match split_words(command, vars) {
            Ok(words) => words,
            Err(why) => {
                problems.push(format!("{origin}:{number}: {command}\n{why}"));
                continue;
            }
        };
        for simple in simple_commands(words) {
            if let Some(args) = plugin_args(&simple) {
                examples.push(Example {
                    origin: origin.to_string(),
                    line: number,
                    text: command.to_string(),
                    args,
                });
            }
        }
    }
}

fn mentions_plugin(line: &str) -> bool {
    line.contains("kubectl logbackup")
        || line.contains("kubectl-logbackup ")
        || (line.starts_with("cargo run") && line.contains(" -- "))
}

/// `<name>`-style placeholders and `...`, which a reader cannot paste.
fn placeholder(line: &str) -> Option<String> {
    if line.split_whitespace().any(|w| w == "..." || w == "…") {
        return Some("...".to_string());
    }
    let mut rest = line;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        let end = after.find('>')?;
        let inner = &after[..end];
        if !inner.is_empty()
            && !inner.contains(' ')
            && inner
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic())
        {
            return Some(format!("<{inner}>"));
        }
        rest = after;
    }
    None
}

#[derive(Debug, Clone, PartialEq)]
enum Word {
    Text(String),
    /// `|`, `||`, `&&`, `;`, `&`: the end of a simple command.
    Separator,
    /// `>`, `>>`, `2>`, `<`, `2>&1`...: it and (unless it carries its target) the next word go.
    Redirect {
        takes_target: bool,
    },
}

/// The words of a shell line: quotes, escapes, `$VAR`/`${VAR}` (unquoted ones split on
/// whitespace, as the shell does), comments, operators.
fn split_words(line: &str, vars: &HashMap<String, String>) -> Result<Vec<Word>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let finish = |current: &mut String, in_word: &mut bool, words: &mut Vec<Word>| {
        if *in_word {
            words.push(Word::Text(std::mem::take(current)));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => finish(&mut current, &mut in_word, &mut words),
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => return Err("an unclosed single quote".to_string()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => {
                            if let Some(c) = chars.next() {
                                current.push(c);
                            }
                        }
                        Some('$') => current.push_str(&variable(&mut chars, vars)?),
                        Some(c) => current.push(c),
                        None => return Err("an unclosed double quote".to_string()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    current.push(c);
                }
            }
            '$' => {
                let value = variable(&mut chars, vars)?;
                // Unquoted: split on whitespace, as the shell does.
                let mut parts = value.split_whitespace().peekable();
                while let Some(part) = parts.next() {
                    current.push_str(part);
                    in_word = true;
                    if parts.peek().is_some() {
                        finish(&mut current, &mut in_word, &mut words);
                    }
                }
            }
            '|' | ';' | '&' => {
                finish(&mut current, &mut in_word, &mut words);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                words.push(Word::Separator);
            }
            '>' | '<' => {
                if in_word && current != "2" && current != "1" {
                    finish(&mut current, &mut in_word, &mut words);
                }
                current.clear();
                in_word = false;
                if chars.peek() == Some(&'>') {
                    chars.next();
                }
                if chars.peek() == Some(&'&') {
                    chars.next();
                    chars.next();
                    words.push(Word::Redirect {
                        takes_target: false,
                    });
                } else {
                    words.push(Word::Redirect { takes_target: true });
                }
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    finish(&mut current, &mut in_word, &mut words);
    Ok(words)
}

/// `$NAME` or `${NAME}` after the `$`; a command substitution or an unset variable is refused.
fn variable(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    vars: &HashMap<String, String>,
) -> Result<String, String> {
    let braced = chars.peek() == Some(&'{');
    if braced {
        chars.next();
    }
    if chars.peek() == Some(&'(') {
        return Err(
            "a command substitution `$(...)` in a documented command: write the value".to_string(),
        );
    }
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c.is_ascii_alphanumeric() || c == '_' {
            name.push(c);
            chars.next();
        } else {
            break;
        }
    }
    if braced && chars.next() != Some('}') {
        return Err(format!("an unclosed `${{{name}`"));
    }
    vars.get(&name).cloned().ok_or_else(|| {
        format!("`${name}` is not set in this code block: set it (`{name}=...`) above the command")
    })
}

/// The simple commands of a line: words between separators, without redirections.
fn simple_commands(words: Vec<Word>) -> Vec<Vec<String>> {
    let mut commands = vec![Vec::new()];
    let mut skip_target = false;
    for word in words {
        match word {
            Word::Separator => commands.push(Vec::new()),
            Word::Redirect { takes_target } => skip_target = takes_target,
            Word::Text(text) => {
                if std::mem::take(&mut skip_target) {
                    continue;
                }
                if let Some(last) = commands.last_mut() {
                    last.push(text);
                }
            }
        }
    }
    commands
}

/// The plugin's own arguments, when this simple command runs the plugin.
fn plugin_args(words: &[String]) -> Option<Vec<String>> {
    match words {
        [kubectl, logbackup, rest @ ..] if kubectl == "kubectl" && logbackup == "logbackup" => {
            Some(rest.to_vec())
        }
        [binary, rest @ ..]
            if binary == "kubectl-logbackup" || binary.ends_with("/kubectl-logbackup") =>
        {
            Some(rest.to_vec())
        }
        [cargo, run, rest @ ..] if cargo == "cargo" && run == "run" => {
            let split = rest.iter().position(|w| w == "--")?;
            let (cargo_flags, args) = (&rest[..split], &rest[split + 1..]);
            // `-p kubectl-logbackup`, or no package at all (the workspace's default run).
            let package = cargo_flags
                .iter()
                .position(|w| w == "-p" || w == "--package" || w == "--bin" || w == "--example")
                .map(|at| cargo_flags.get(at + 1).map(String::as_str));
            match package {
                None | Some(Some("kubectl-logbackup")) => Some(args.to_vec()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Every relative link of the user's pages points at a file that exists, and at a heading that
/// exists in it (GitHub's anchors: lower case, punctuation dropped, spaces as `-`).
#[test]
fn every_relative_link_resolves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages: Vec<PathBuf> = [
        "README.md",
        "CONTRIBUTING.md",
        "ARCHITECTURE.md",
        "CHANGELOG.md",
    ]
    .iter()
    .map(|name| root.join(name))
    .collect();
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|ext| ext == "md") {
            pages.push(path);
        }
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (number, line) in text.lines().enumerate() {
            let mut rest = line;
            while let Some(start) = rest.find("](") {
                let after = &rest[start + 2..];
                let Some(end) = after.find(')') else { break };
                let target = &after[..end];
                rest = &after[end..];
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
                let file = if file.is_empty() {
                    page.clone()
                } else {
                    page.parent().unwrap().join(file)
                };
                let place = format!(
                    "{}:{}: {target}",
                    page.strip_prefix(root).unwrap().display(),
                    number + 1
                );
                if !file.exists() {
                    broken.push(format!("{place}: no such file"));
                } else if !anchor.is_empty() && file.extension().is_some_and(|ext| ext == "md") {
                    let target_text = std::fs::read_to_string(&file).unwrap();
                    if !anchors(&target_text).iter().any(|a| a == anchor) {
                        broken.push(format!("{place}: no such heading"));
                    }
                }
            }
        }
    }
    println!("checked {checked} relative links in {} pages", pages.len());
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(checked >= 40, "only {checked} relative links found");
}

/// The anchors GitHub gives a Markdown page's headings (outside code blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut anchors = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect();
        anchors.push(slug);
    }
    anchors
}
