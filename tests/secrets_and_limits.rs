//! The plugin binary with secrets and large inputs: a password in `--es-url`
//! never reaches the terminal or a CronJob, a 900-StatefulSet `kubectl get -o json` List is read
//! whole, and a labelled StatefulSet under an old apiVersion is reported instead of skipped silently.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use test_support::plugin::create_nightly;
use test_support::{Run, Runner};

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_kubectl-logbackup");

fn run(args: &[&str], stdin: &str) -> Run {
    Runner::new(BIN)
        // No kubeconfig: nothing here may reach a cluster.
        .env("KUBECONFIG", "/nonexistent")
        .run_with_stdin(args, stdin.as_bytes())
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_password_in_es_url_is_redacted_from_connection_errors() {
    let url = format!("http://elastic:s3cr3t@127.0.0.1:{}", closed_port());
    let out = run(&["snapshot", "list", "--es-url", &url], "");
    let stderr = out.stderr.as_str();
    assert!(!out.success(), "{stderr}");
    assert!(!stderr.contains("s3cr3t"), "the password leaked:\n{stderr}");
    assert!(stderr.contains("http://***@127.0.0.1"), "{stderr}");
}

#[test]
fn schedule_create_refuses_credentials_in_es_url_and_points_to_password_secret() {
    let out = run(
        &create_nightly(&[
            "--es-url",
            "http://elastic:s3cr3t@es-http.logging.svc:9200",
            "-n",
            "logging",
            "--dry-run",
        ]),
        "",
    );
    let stderr = out.stderr.as_str();
    let stdout = out.stdout.as_str();
    assert!(!out.success(), "{stderr}");
    assert!(
        !stderr.contains("s3cr3t") && !stdout.contains("s3cr3t"),
        "the password leaked:\n{stdout}\n{stderr}"
    );
    assert!(stderr.contains("--password-secret"), "{stderr}");
}

#[test]
fn inject_reads_a_3_4_mb_json_list_of_at_least_900_statefulsets() {
    let text = test_support::fixtures::read("inject/kubesphere-data.yaml");
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
    let stderr = out.stderr.as_str();
    assert!(out.success(), "{stderr}");
    let answer: Value = serde_json::from_str(&out.stdout).unwrap();
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
    let stderr = out.stderr.as_str();
    assert!(out.success(), "{stderr}");
    assert!(
        stderr.contains("old-es") && stderr.contains("apps/v1beta2"),
        "{stderr}"
    );
    // Left as it was.
    assert!(!out.stdout.as_str().contains("logbackup.io/injected"));
}
