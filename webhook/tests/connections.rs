//! Connection and protocol limits of the compiled binary over TLS on 127.0.0.1: idle and
//! one-byte connections are closed, the connection cap holds, every error is JSON (404, 405,
//! 408, and a 413 decided from Content-Length before the body is read), the in-flight gauge
//! comes back to zero after timeouts, and plain logs cannot be forged with a newline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use common::*;

async fn tls_connect(ca: &TestCa, addr: SocketAddr) -> TlsStream<TcpStream> {
    let mut config = ca.rustls_client_config(ca.roots());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await.unwrap()
}

/// Reads until the server closes; `None` if it is still open at `within`.
async fn closed_within(tls: &mut TlsStream<TcpStream>, within: Duration) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, tls.read_to_end(&mut buf)).await {
        Ok(_) => Some(buf), // EOF or reset: closed either way
        Err(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_one_byte_connections_are_closed_at_the_first_request_deadline() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--first-request-timeout", "1s"]);
    let mut conns = Vec::new();
    let started = Instant::now();
    for i in 0..6 {
        let mut tls = tls_connect(&ca, webhook.admission).await;
        if i % 2 == 1 {
            tls.write_all(b"P").await.unwrap();
            tls.flush().await.unwrap();
        }
        conns.push(tls);
    }
    assert_eq!(metric(&webhook, "logbackup_webhook_connections_open"), 6.0);
    for (i, tls) in conns.iter_mut().enumerate() {
        let closed = closed_within(tls, Duration::from_secs(8)).await;
        assert!(closed.is_some(), "connection {i} was never closed");
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(800),
        "closed too early: {waited:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(metric(&webhook, "logbackup_webhook_connections_open"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_accept_and_counted() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--max-connections", "3"]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(tls_connect(&ca, webhook.admission).await);
    }
    let mut extra = TcpStream::connect(webhook.admission).await.unwrap();
    let mut buf = [0u8; 1];
    let read = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the fourth connection was not closed: {read:?}"
    );
    assert_eq!(
        metric(&webhook, "logbackup_webhook_connections_refused_total"),
        1.0
    );
    // Room again once one closes.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _) = ca
        .client()
        .post(webhook.url("/mutate"))
        .header("content-type", "application/json")
        .body(admission_review(UID, "CREATE", &smoke_statefulset()).to_string())
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_and_methods_get_json_errors() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &[]);
    let client = ca.client();
    for (request, status, code) in [
        (client.post(webhook.url("/nope")), 404, "not-found"),
        (
            client.get(webhook.url("/mutate")),
            405,
            "method-not-allowed",
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await.expect("error body is not JSON");
        assert_eq!(body["error"]["code"], code, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_content_length_gets_413_without_100_continue() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--max-body-bytes", "65536"]);
    let mut tls = tls_connect(&ca, webhook.admission).await;
    tls.write_all(
        b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
          Content-Length: 6291456\r\nExpect: 100-continue\r\n\r\n",
    )
    .await
    .unwrap();
    tls.flush().await.unwrap();
    let answer = closed_within(&mut tls, Duration::from_secs(5))
        .await
        .expect("the server neither answered nor closed");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    let body: Value = serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap();
    assert_eq!(body["error"]["code"], "too-large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_answer_408_in_json_and_leave_the_in_flight_gauge_at_zero() {
    let ca = TestCa::new();
    let webhook = Webhook::start(&ca, &["--request-timeout", "300ms"]);
    for _ in 0..3 {
        let mut tls = tls_connect(&ca, webhook.admission).await;
        tls.write_all(
            b"POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\nConnection: close\r\n\r\n{\"apiVersion\":",
        )
        .await
        .unwrap();
        tls.flush().await.unwrap();
        let answer = closed_within(&mut tls, Duration::from_secs(5))
            .await
            .expect("no answer to a stalled body");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("\"code\":\"timeout\""), "{text}");
    }
    assert_eq!(
        metric(&webhook, "logbackup_webhook_admission_requests_in_flight"),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_logs_escape_newlines_in_names() {
    use std::io::Read;
    let ca = TestCa::new();
    let mut webhook = Webhook::start_with(
        &ca,
        &["--log-format", "plain", "--log-level", "info"],
        std::process::Stdio::piped(),
    );
    let mut sts = smoke_statefulset();
    sts["metadata"]["name"] = "es\nINFO forged: review outcome=injected".into();
    let response = ca
        .client()
        .post(webhook.url("/mutate"))
        .header("content-type", "application/json")
        .body(admission_review(UID, "CREATE", &sts).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
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
    assert!(
        !stderr.lines().any(|l| l.starts_with("INFO forged")),
        "a name forged a log line:\n{stderr}"
    );
    assert!(stderr.contains(r"es\nINFO forged"), "{stderr}");
}
