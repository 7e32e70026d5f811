//! `kubectl logbackup inject` as a user runs it: files and stdin, multi-document YAML, `kind: List`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use test_support::{Run, Runner};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-logbackup");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inject");

fn run(args: &[&str], stdin: &str) -> Run {
    Runner::new(BIN).run_with_stdin(args, stdin.as_bytes())
}

fn docs(out: &Run) -> Vec<Value> {
    logbackup::manifest::parse_documents("stdout", &out.stdout).expect("output parses")
}

fn fixture(name: &str) -> String {
    test_support::fixtures::read(&format!("inject/{name}"))
}

const CONFIGMAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: elasticsearch-logging\ndata:\n  elasticsearch.yml: |\n    cluster.name: logs\n";

#[test]
fn multi_document_stdin_keeps_order_and_passes_other_kinds_through() {
    let input = format!(
        "{CONFIGMAP}---\n{}---\n{}",
        fixture("edge-existing-path-repo.yaml"),
        fixture("edge-not-labelled.yaml")
    );
    let out = run(&["inject", "-f", "-"], &input);
    assert!(out.success(), "{}", out.stderr.as_str());
    let docs = docs(&out);
    let kinds: Vec<&str> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["ConfigMap", "StatefulSet", "StatefulSet"]);
    assert_eq!(docs[0]["data"]["elasticsearch.yml"], "cluster.name: logs\n");
    assert!(
        docs[1]["spec"]["template"]["metadata"]["annotations"]["logbackup.io/injected"].is_string()
    );
    assert!(
        docs[2]["spec"]["template"]["metadata"]
            .get("annotations")
            .is_none(),
        "unlabelled must pass through"
    );
}

#[test]
fn kind_list_items_are_injected() {
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n{}",
        fixture("edge-existing-path-repo.yaml")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .enumerate()
            .map(|(i, l)| if i == 0 {
                format!("- {l}\n")
            } else {
                format!("  {l}\n")
            })
            .collect::<String>()
    );
    let out = run(&["inject", "-f", "-", "-o", "json"], &list);
    assert!(out.success(), "{}", out.stderr.as_str());
    let list: Value = serde_json::from_str(&out.stdout).expect("json output");
    assert_eq!(list["kind"], "List");
    assert_eq!(
        list["items"][0]["spec"]["template"]["spec"]["initContainers"][0]["name"],
        "logbackup-chown"
    );
}

#[test]
fn injecting_twice_is_injecting_once() {
    let once = run(
        &["inject", "-f", &format!("{FIXTURES}/edge-annotations.yaml")],
        "",
    );
    assert!(once.success());
    let twice = run(&["inject", "-f", "-"], &once.stdout);
    assert_eq!(once.stdout.as_str(), twice.stdout.as_str());
}

#[test]
fn one_bad_statefulset_writes_nothing_and_says_why() {
    let input = format!("{CONFIGMAP}---\n{}", fixture("edge-two-candidates.yaml"));
    let out = run(&["inject", "-f", "-"], &input);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.is_empty(),
        "no partial output may reach a pipeline"
    );
    let stderr = out.stderr.as_str();
    assert!(
        stderr.contains("es-hot, es-warm") && stderr.contains("logbackup.io/container"),
        "{stderr}"
    );
}

#[test]
fn all_injects_unlabelled_statefulsets() {
    let out = run(
        &[
            "inject",
            "--all",
            "--claim",
            "shared-repo",
            "-f",
            &format!("{FIXTURES}/edge-not-labelled.yaml"),
        ],
        "",
    );
    assert!(out.success());
    let docs = docs(&out);
    assert_eq!(
        docs[0]["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "shared-repo"
    );
}

#[test]
fn warnings_go_to_stderr_and_yaml_to_stdout() {
    let out = run(
        &[
            "inject",
            "-f",
            &format!("{FIXTURES}/edge-command-override.yaml"),
        ],
        "",
    );
    assert!(out.success());
    assert!(out
        .stderr
        .as_str()
        .contains("warning: logging/logs-es-data: container elasticsearch sets command"));
    assert_eq!(docs(&out).len(), 1);
}

#[test]
fn bad_input_is_reported_with_its_source() {
    let out = run(&["inject", "-f", "-"], "kind: [unclosed\n");
    assert_eq!(out.code, 1);
    assert!(out
        .stderr
        .as_str()
        .contains("failed to parse stdin as YAML"));
    let out = run(&["inject", "-f", "/nonexistent/sts.yaml"], "");
    assert!(out
        .stderr
        .as_str()
        .contains("failed to read /nonexistent/sts.yaml"));
    let out = run(&["inject", "-f", "-", "--path", "relative"], "");
    assert!(out.stderr.as_str().contains("invalid --path"));
}

#[test]
fn yaml_is_read_as_kubectl_reads_it() {
    // YAML 1.1, as kubectl: 0440 is octal (288), not 440 (which would be mode 0670).
    let sts = fixture("edge-not-labelled.yaml").replace(
        "      containers:\n",
        "      volumes:\n      - name: config\n        configMap:\n          name: es-config\n          defaultMode: 0440\n      containers:\n",
    );
    let out = run(&["inject", "--all", "-f", "-"], &sts);
    assert!(out.success(), "{}", out.stderr.as_str());
    let docs = docs(&out);
    assert_eq!(
        docs[0]["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"],
        288
    );
    assert!(out.stdout.as_str().contains("defaultMode: 288"));
}
