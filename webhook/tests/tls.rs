//! The compiled binary over TLS on 127.0.0.1: a client that trusts only a throwaway CA, every bad
//! input, concurrency, certificate rotation without restart, and draining on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use test_support::Runner;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::*;

async fn post_json(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request failed");
    let status = response.status().as_u16();
    let value = response.json().await.expect("response is not JSON");
    (status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injects_over_tls_and_reports_metrics_on_the_plain_port() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &[]);
    let client = ca.client();
    let sts = smoke_statefulset();
    let (status, answer) = post_json(
        &client,
        &webhook.url("/mutate"),
        &admission_review(UID, "CREATE", &sts),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["response"]["uid"], UID);
    assert_eq!(answer["response"]["allowed"], true);
    let mut patched = sts.clone();
    json_patch::patch(&mut patched, &decode_patch(&answer).expect("no patch")).unwrap();
    assert_eq!(
        patched,
        read_yaml(&fixture_dir().join("webhook-smoke.injected.yaml"))
    );

    assert_eq!(http_get_status(webhook.ops, "/healthz"), Some(200));
    let (status, metrics) = http_get(webhook.ops, "/metrics").expect("no /metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            r#"logbackup_webhook_admission_reviews_total{operation="CREATE",outcome="injected"} 1"#
        ),
        "{metrics}"
    );
    // Probes and metrics are not on the TLS port, and the TLS port speaks only TLS.
    assert_ne!(http_get_status(webhook.admission, "/healthz"), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_ca_is_refused() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &[]);
    let other = TestCa::new();
    let result = other
        .client()
        .post(webhook.url("/mutate"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    assert!(result.is_err(), "handshake with an untrusted CA succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_get_http_errors_with_json_bodies() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--max-body-bytes", "65536"]);
    let client = ca.client();
    let url = webhook.url("/mutate");
    // (name, content type, body, status, error code)
    type Case<'a> = (&'a str, Option<&'a str>, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            "empty body",
            Some("application/json"),
            vec![],
            400,
            "empty-body",
        ),
        (
            "text/plain",
            Some("text/plain"),
            b"{}".to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "no content type",
            None,
            b"{}".to_vec(),
            415,
            "unsupported-media-type",
        ),
        (
            "too large",
            Some("application/json"),
            vec![b' '; 70_000],
            413,
            "too-large",
        ),
        (
            "malformed",
            Some("application/json"),
            b"{\"request\": [".to_vec(),
            400,
            "malformed-json",
        ),
        (
            "wrong apiVersion",
            Some("application/json"),
            json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"})
                .to_string()
                .into(),
            400,
            "not-an-admission-review",
        ),
        (
            "wrong kind",
            Some("application/json"),
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "TokenReview"})
                .to_string()
                .into(),
            400,
            "not-an-admission-review",
        ),
    ];
    for (name, content_type, body, want_status, want_code) in cases {
        let mut request = client.post(&url).body(body);
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(response.status().as_u16(), want_status, "{name}");
        let ct = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            ct.starts_with("application/json"),
            "{name}: content-type {ct}"
        );
        let body: Value = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(body["error"]["code"], want_code, "{name}: {body}");
    }
    // The server is still healthy after all of that.
    let (status, answer) = post_json(
        &client,
        &url,
        &admission_review(UID, "CREATE", &smoke_statefulset()),
    )
    .await;
    assert_eq!(
        (status, &answer["response"]["allowed"]),
        (200, &json!(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reviews_each_get_their_own_answer() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &[]);
    let client = ca.client();
    let url = webhook.url("/mutate");
    let sts = smoke_statefulset();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (client, url, sts) = (client.clone(), url.clone(), sts.clone());
        tasks.push(tokio::spawn(async move {
            let uid = format!("concurrent-{i}");
            let (status, answer) =
                post_json(&client, &url, &admission_review(&uid, "CREATE", &sts)).await;
            (uid, status, answer)
        }));
    }
    let golden = read_yaml(&fixture_dir().join("webhook-smoke.injected.yaml"));
    for task in tasks {
        let (uid, status, answer) = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("a concurrent request did not finish in 30s")
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(answer["response"]["uid"], uid.as_str());
        let mut patched = sts.clone();
        json_patch::patch(&mut patched, &decode_patch(&answer).unwrap()).unwrap();
        assert_eq!(patched, golden, "{uid}");
    }
}

async fn served_certificate(ca: &TestCa, webhook: &Webhook) -> Vec<u8> {
    // A fresh client per call: a pooled connection would keep the old certificate.
    let response = ca
        .client()
        .post(webhook.url("/mutate"))
        .header("content-type", "application/json")
        .body(admission_review(UID, "DELETE", &Value::Null).to_string())
        .send()
        .await
        .expect("request failed");
    assert_eq!(response.status().as_u16(), 200);
    let der = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .expect("no peer certificate")
        .to_vec();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["response"]["allowed"], true, "{answer}");
    der
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_is_served_without_restart() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--tls-reload-interval", "100ms"]);
    let pid = webhook.child.id();
    let initial = served_certificate(&ca, &webhook).await;

    // A broken pair is ignored: the old certificate stays in service.
    write_atomically(&webhook.dir.0.join("tls.key"), "not a key");
    // Wait until the server has tried (and failed) to load it, as its metrics say.
    let failed = r#"logbackup_webhook_tls_certificate_reloads_total{result="error"} 1"#;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http_get(webhook.ops, "/metrics").is_some_and(|(_, m)| m.contains(failed)) {
        assert!(
            Instant::now() < deadline,
            "no failed reload reported within 10s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        served_certificate(&ca, &webhook).await == initial,
        "the broken pair replaced the certificate"
    );

    let second = ca.leaf(2);
    write_atomically(&webhook.dir.0.join("tls.crt"), &second.cert_pem);
    write_atomically(&webhook.dir.0.join("tls.key"), &second.key_pem);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if served_certificate(&ca, &webhook).await == second.der {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate (serial 0x1002) was not served within 10s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(webhook.child.id(), pid);
    let (_, metrics) = http_get(webhook.ops, "/metrics").unwrap();
    assert!(
        metrics.contains(r#"logbackup_webhook_tls_certificate_reloads_total{result="success"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"logbackup_webhook_tls_certificate_reloads_total{result="error"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_in_flight_request_finish() {
    let ca = TestCa::new();
    let mut webhook = Webhook::start(&ca, &["--shutdown-grace", "10s"]);
    let body = admission_review(UID, "CREATE", &smoke_statefulset()).to_string();
    let (head, tail) = body.as_bytes().split_at(body.len() / 2);

    let connector = tokio_rustls::TlsConnector::from(Arc::new(ca.rustls_client_config(ca.roots())));
    let tcp = tokio::net::TcpStream::connect(webhook.admission)
        .await
        .unwrap();
    // As the API server's Go client does; with Nagle the head could wait 40 ms for an ACK.
    tcp.set_nodelay(true).unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let headers = format!(
        "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    tls.write_all(headers.as_bytes()).await.unwrap();
    tls.write_all(head).await.unwrap();
    tls.flush().await.unwrap();
    // Only a request the server has started reading is in flight; wait until it says so.
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&webhook, "logbackup_webhook_admission_requests_in_flight") < 1.0 {
        assert!(
            Instant::now() < deadline,
            "the request was not in flight within 10s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    webhook.sigterm();
    // Shutdown has started once the listener is gone; only then finish the request.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(webhook.admission).is_ok() {
        assert!(
            Instant::now() < deadline,
            "the listener was still open 10s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        webhook.child.try_wait().unwrap().is_none(),
        "exited before the in-flight request finished"
    );

    tls.write_all(tail).await.unwrap();
    tls.flush().await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut response))
        .await
        .expect("no response within 10s")
        .ok();
    let text = String::from_utf8_lossy(&response);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains(UID), "{text}");

    let status = webhook.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "exit status {status}");
}

/// A client that opens a TLS connection and then sends a header slowly (or nothing, as an idle
/// keep-alive connection does) is disconnected after --header-read-timeout, and counts as in flight
/// only while a request is being answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_after_the_header_read_timeout() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--header-read-timeout", "1s"]);
    let connector = tokio_rustls::TlsConnector::from(Arc::new(ca.rustls_client_config(ca.roots())));
    let tcp = tokio::net::TcpStream::connect(webhook.admission)
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(b"POST /mutate HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    tls.flush().await.unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server must close the connection (EOF or reset) well before this outer bound.
    let read = tokio::time::timeout(Duration::from_secs(10), tls.read_to_end(&mut buf)).await;
    assert!(read.is_ok(), "a slow client was never disconnected");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "closed too early: {waited:?}"
    );
    let metrics = http_get(webhook.ops, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("logbackup_webhook_admission_requests_in_flight 0"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_on_stderr() {
    use std::io::Read;
    let ca = TestCa::new();
    let mut webhook = Webhook::start_with(
        &ca,
        &["--log-format", "json", "--log-level", "info"],
        std::process::Stdio::piped(),
    );
    let (status, _) = post_json(
        &ca.client(),
        &webhook.url("/mutate"),
        &admission_review(UID, "CREATE", &smoke_statefulset()),
    )
    .await;
    assert_eq!(status, 200);
    webhook.sigterm();
    assert!(webhook.wait_exit(Duration::from_secs(15)).success());
    let mut stderr = String::new();
    webhook
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let lines: Vec<Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["outcome"] == "injected"
            && l["uid"] == UID
            && l["level"] == "INFO"
            && l["operation"] == "CREATE"
            && l["namespace"] == smoke_statefulset()["metadata"]["namespace"]
            && l["name"] == smoke_statefulset()["metadata"]["name"]),
        "{stderr}"
    );
    assert!(lines.iter().any(|l| l["message"] == "stopped"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_is_negotiated_with_alpn_and_served() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &[]);
    let mut tls = ca.rustls_client_config(ca.roots());
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let response = client
        .post(webhook.url("/mutate"))
        .header("content-type", "application/json")
        .body(admission_review(UID, "CREATE", &smoke_statefulset()).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.version(), reqwest::Version::HTTP_2);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["response"]["uid"], UID);
    assert!(decode_patch(&answer).is_some());
}

/// Far over the limit (more than four times it, where HTTP/1.1 answers and closes without reading),
/// HTTP/2 still gets its 413, not a reset stream with no answer. curl is the client because it
/// reported the reset (exit 92) where reqwest's client recovered the answer.
#[test]
fn http2_gets_413_for_a_body_far_over_the_limit() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--max-body-bytes", "1048576"]);
    let dir = TempDir::new("h2-large");
    let (ca_file, body) = (dir.0.join("ca.crt"), dir.0.join("body.json"));
    std::fs::write(&ca_file, ca.pem()).unwrap();
    std::fs::write(&body, vec![b' '; 12 << 20]).unwrap();
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--http2",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version} %{http_code}",
        ])
        .args(["-H", "content-type: application/json", "--cacert"])
        .arg(&ca_file)
        .arg("--data-binary")
        .arg(format!("@{}", body.display()))
        .arg(webhook.url("/mutate"))
        .output()
        .expect("curl (apt-get install curl)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(said, "2 413", "curl exit {:?}", out.status.code());
}

#[test]
fn refuses_to_start_without_a_usable_certificate_and_says_why() {
    let dir = TempDir::new("empty");
    let cert = dir.0.join("tls.crt");
    let key = dir.0.join("tls.key");
    // The plain-files placeholder Secret mounts empty files.
    std::fs::write(&cert, "").unwrap();
    std::fs::write(&key, "").unwrap();
    let output = Runner::new(env!("CARGO_BIN_EXE_logbackup-webhook"))
        .trailing(["--listen", "127.0.0.1:0", "--ops-listen", "127.0.0.1:0"])
        .run(&[
            std::ffi::OsStr::new("--tls-cert-file"),
            cert.as_os_str(),
            std::ffi::OsStr::new("--tls-key-file"),
            key.as_os_str(),
        ]);
    assert!(!output.success());
    let stderr = &output.stderr;
    assert!(
        stderr.contains("failed to load the TLS certificate"),
        "{stderr}"
    );
    assert!(stderr.contains(&cert.display().to_string()), "{stderr}");
}

#[test]
fn help_names_every_flag() {
    let output = Runner::new(env!("CARGO_BIN_EXE_logbackup-webhook")).run(&["--help"]);
    assert!(output.success());
    let help = &output.stdout;
    for flag in [
        "--listen",
        "--ops-listen",
        "--tls-cert-file",
        "--tls-key-file",
        "--tls-reload-interval",
        "--max-body-bytes",
        "--request-timeout",
        "--shutdown-delay",
        "--shutdown-grace",
        "--all",
        "--claim",
        "--path",
        "--uid",
        "--gid",
        "--log-format",
        "--log-level",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
