//! The plugin binary with secrets and large inputs (issue 9, point 6): a password in `--es-url`
//! never reaches the terminal or a CronJob, a 900-StatefulSet `kubectl get -o json` List is read
//! whole, and a labelled StatefulSet under an old apiVersion is reported instead of skipped silently.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-logbackup");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/inject");

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        // No kubeconfig: nothing here may reach a cluster.
        .env("KUBECONFIG", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start plugin");
    let mut stdin_pipe = child.stdin.take().expect("stdin");
    let text = stdin.to_owned();
    // Written from a thread: a large input would otherwise fill the pipe while stdout does too.
    let writer = std::thread::spawn(move || {
        let _ = stdin_pipe.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().expect("stdin writer");
    out
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_password_in_es_url_is_redacted_from_connection_errors() {
    let url = format!("http://elastic:s3cr3t@127.0.0.1:{}", closed_port());
    let out = run(&["snapshot", "list", "--es-url", &url], "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "the password leaked:\n{stderr}");
    assert!(stderr.contains("http://***@127.0.0.1"), "{stderr}");
}

#[test]
fn schedule_create_refuses_credentials_in_es_url_and_points_to_password_secret() {
    let out = run(
        &[
            "schedule",
            "create",
            "nightly",
            "--cron",
            "0 1 * * *",
            "--keep-days",
            "45",
            "--es-url",
            "http://elastic:s3cr3t@es-http.logging.svc:9200",
            "-n",
            "logging",
            "--dry-run",
        ],
        "",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t") && !stdout.contains("s3cr3t"),
        "the password leaked:\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("--password-secret"), "{stderr}");
}

#[test]
fn inject_reads_a_3_4_mb_json_list_of_at_least_900_statefulsets() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/kubesphere-data.yaml")).unwrap();
    let sts =
        logbackup::manifest::parse_documents("kubesphere-data.yaml", &text).unwrap()[0].clone();
    // As many as make the 3.4 MB List of the report (at least 900).
    let one = serde_json::to_string_pretty(&sts).unwrap().len();
    let count = (3_400_000 / one + 1).max(900);
    let items: Vec<Value> = (0..count)
        .map(|i| {
            let mut s = sts.clone();
            s["metadata"]["name"] = json!(format!("es-{i}"));
            s
        })
        .collect();
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
    let input = serde_json::to_string_pretty(&list).unwrap();
    assert!(input.len() > 3_400_000, "{}", input.len());
    let out = run(&["inject", "-o", "json", "-f", "-"], &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = answer["items"].as_array().unwrap();
    assert_eq!(items.len(), count);
    assert!(items
        .iter()
        .all(
            |i| i["spec"]["template"]["metadata"]["annotations"]["logbackup.io/injected"]
                .is_string()
        ));
}

#[test]
fn a_labelled_statefulset_under_an_old_api_version_is_reported() {
    let doc = "apiVersion: apps/v1beta2\nkind: StatefulSet\nmetadata:\n  name: old-es\n  labels:\n    logbackup.io/inject: enabled\nspec:\n  template:\n    spec:\n      containers:\n      - name: elasticsearch\n        image: elasticsearch:6.7.0\n";
    let out = run(&["inject", "-f", "-"], doc);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("old-es") && stderr.contains("apps/v1beta2"),
        "{stderr}"
    );
    // Left as it was.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("logbackup.io/injected"));
}
