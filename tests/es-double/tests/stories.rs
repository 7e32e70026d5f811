//! Replays the OpenSearch project's own snapshot test stories (`es-api/opensearch/test-stories/
//! snapshot/**`, written by nobody here) against the double pretending to be OpenSearch 2.19, with
//! `path.repo=/tmp/opensearch/repo` as their docker-compose sets it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod support;

use std::path::{Path, PathBuf};

use es_double::{default_api_root, Flavour, State};
use serde_json::Value;

const VERSION: &str = "2.19.0";

fn stories(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            stories(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

/// `expected` is a partial payload: every key and array element it names must match.
fn subset(expected: &Value, actual: &Value) -> Result<(), String> {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e.iter().try_for_each(|(k, v)| match a.get(k) {
            Some(av) => subset(v, av).map_err(|m| format!("{k}.{m}")),
            None => Err(format!("{k}: missing")),
        }),
        (Value::Array(e), Value::Array(a)) => {
            e.iter().enumerate().try_for_each(|(i, v)| match a.get(i) {
                Some(av) => subset(v, av).map_err(|m| format!("[{i}].{m}")),
                None => Err(format!("[{i}]: missing")),
            })
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => Ok(()),
        (e, a) if e == a => Ok(()),
        (e, a) => Err(format!(": expected {e}, got {a}")),
    }
}

fn version_ok(constraint: Option<&str>) -> bool {
    let Some(c) = constraint else { return true };
    let (op, v) = c.trim().split_once(' ').unwrap_or(("=", c.trim()));
    let le = es_double::spec::version_le;
    match op {
        ">=" => le(v, VERSION),
        "<" => !le(v, VERSION),
        "<=" => le(VERSION, v),
        ">" => !le(VERSION, v),
        _ => v == VERSION,
    }
}

/// Runs one step (all its methods); `Err` says what did not match.
fn step(d: &support::Double, s: &Value, chapter: bool) -> Result<(), String> {
    let methods: Vec<String> = match &s["method"] {
        Value::Array(m) => m.iter().map(text).collect(),
        m => vec![text(m)],
    };
    let mut path = s["path"].as_str().unwrap_or("/").to_string();
    let mut query = Vec::new();
    for (k, v) in s["parameters"].as_object().into_iter().flatten() {
        let placeholder = format!("{{{k}}}");
        if path.contains(&placeholder) {
            path = path.replace(&placeholder, &text(v));
        } else {
            query.push(format!("{k}={}", text(v)));
        }
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let statuses: Vec<u64> = match (chapter, &s["status"], &s["response"]["status"]) {
        (false, Value::Array(list), _) => list.iter().filter_map(Value::as_u64).collect(),
        (_, _, Value::Number(n)) => vec![n.as_u64().unwrap_or(200)],
        _ => vec![200],
    };
    let body = s["request"].get("payload");
    let tries = 1 + s["retry"]["count"].as_u64().unwrap_or(0);
    for method in methods {
        let mut last = Err(String::new());
        for _ in 0..tries {
            let (status, answer) = d.call(&method, &path, body);
            last = if !statuses.contains(&u64::from(status)) {
                Err(format!(
                    "{method} {path}: status {status} not in {statuses:?}: {answer}"
                ))
            } else if let Some(expected) = s["response"].get("payload") {
                subset(expected, &answer).map_err(|m| format!("{method} {path}: payload {m}"))
            } else {
                Ok(())
            };
            if last.is_ok() {
                break;
            }
        }
        last?;
    }
    Ok(())
}

fn replay(file: &Path) -> Vec<String> {
    let story: Value = serde_saphyr::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let mut state = State::default();
    for node in &mut state.nodes {
        node.path_repo = vec!["/tmp/opensearch/repo".into()];
    }
    let d = support::start(Flavour::OpenSearch, VERSION, true, state);
    let mut failures = Vec::new();
    for (part, chapter) in [
        ("prologues", false),
        ("chapters", true),
        ("epilogues", false),
    ] {
        for s in story[part].as_array().into_iter().flatten() {
            if !version_ok(s["version"].as_str()) {
                continue;
            }
            if let Err(e) = step(&d, s, chapter) {
                let name = s["synopsis"].as_str().unwrap_or(part);
                failures.push(format!("{name}: {e}"));
            }
        }
    }
    failures
}

#[test]
fn the_opensearch_snapshot_stories_pass() {
    let root = default_api_root().join("opensearch/test-stories/snapshot");
    let mut files = Vec::new();
    stories(&root, &mut files);
    files.sort();
    assert_eq!(files.len(), 7, "the snapshot stories: {files:?}");
    let mut report = Vec::new();
    for file in &files {
        let failures = replay(file);
        let name = file.strip_prefix(&root).unwrap().display().to_string();
        eprintln!(
            "{name}: {}",
            if failures.is_empty() {
                "pass".to_string()
            } else {
                failures.join("; ")
            }
        );
        if !failures.is_empty() {
            report.push(format!("{name}: {}", failures.join("; ")));
        }
    }
    assert!(report.is_empty(), "stories failing:\n{}", report.join("\n"));
}

#[test]
fn the_replayer_notices_a_wrong_answer() {
    let d = support::start(Flavour::OpenSearch, VERSION, true, State::default());
    let wrong: Value = serde_json::json!({"path": "/_snapshot/{repository}", "method": "GET",
        "parameters": {"repository": "nope"}, "response": {"status": 200}});
    assert!(step(&d, &wrong, true).is_err());
    assert!(subset(
        &serde_json::json!({"a": [1]}),
        &serde_json::json!({"a": [2]})
    )
    .is_err());
    assert!(subset(
        &serde_json::json!({"a": {}}),
        &serde_json::json!({"a": {"b": 1}})
    )
    .is_ok());
}
