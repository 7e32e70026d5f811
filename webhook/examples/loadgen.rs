//! Load generator for bench/webhook.sh (loopback only, bounded in time and count).
//!
//!   loadgen certs DIR                      write ca.crt, tls.crt, tls.key for 127.0.0.1
//!   loadgen body STATEFULSET.yaml          print a realistic CREATE AdmissionReview for it
//!   loadgen run --ca ca.crt --body review.json --port 8443 --rate 1000 --seconds 20 --connections 16
//!   loadgen first --ca ca.crt --body review.json --port 8443 --count 200
//!
//! `first` opens `--count` fresh connections one after the other and times, on each, the first
//! request: from writing it (after the TLS handshake) to the last byte of the response. That is
//! where a server that leaves Nagle on stalls for ~40 ms. The client sets TCP_NODELAY, as Go's
//! (the API server's) does by default.
//!
//! `--rate N` is open-loop: requests are scheduled every 1/N s and latency is measured from when
//! each was due (after the timer fired), so a stalled server cannot hide its queueing behind a
//! slower sender (no coordinated omission).
//! `--rate 0` saturates: every connection sends its next request as soon as the last one returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::{json, Value};

type Error = Box<dyn std::error::Error + Send + Sync>;

const MAX_REQUESTS: u64 = 2_000_000;
const MAX_SECONDS: u64 = 300;

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("certs") => certs(args.get(1).ok_or("usage: loadgen certs DIR")?),
        Some("body") => body(args.get(1).ok_or("usage: loadgen body STATEFULSET.yaml")?),
        Some("first") => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(first(&args[1..])),
        Some("run") => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?
            .block_on(run(&args[1..])),
        _ => Err("usage: loadgen certs DIR | body FILE | run --ca F --body F --port P --rate N --seconds S --connections C".into()),
    }
}

fn certs(dir: &str) -> Result<(), Error> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "loadgen CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?
        .signed_by(&key, &ca)?;
    let dir = std::path::Path::new(dir);
    std::fs::write(dir.join("ca.crt"), ca.pem())?;
    std::fs::write(dir.join("tls.crt"), leaf.pem())?;
    std::fs::write(dir.join("tls.key"), key.serialize_pem())?;
    Ok(())
}

/// Wraps the StatefulSet the way the API server sends it: with managedFields and the
/// last-applied annotation, which make up most of a real review's size.
fn body(path: &str) -> Result<(), Error> {
    let mut sts: Value = serde_saphyr::from_str(&std::fs::read_to_string(path)?)?;
    let applied = sts.to_string();
    sts["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/last-applied-configuration": applied});
    sts["metadata"]["uid"] = json!("1f4b6c1e-8d3a-4c55-9a8e-3b7f0e9d2c11");
    sts["metadata"]["generation"] = json!(1);
    sts["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    sts["metadata"]["managedFields"] = json!([{
        "manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1",
        "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1",
        "fieldsV1": {"f:metadata": {"f:labels": {}}, "f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}}
    }]);
    let review = json!({
        "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {
            "uid": "0df28fbd-5f5f-11e8-bc74-36e6bb280816",
            "kind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
            "resource": {"group": "apps", "version": "v1", "resource": "statefulsets"},
            "requestKind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
            "requestResource": {"group": "apps", "version": "v1", "resource": "statefulsets"},
            "name": sts["metadata"]["name"], "namespace": sts["metadata"]["namespace"],
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kubesphere-system:ks-installer",
                         "uid": "4b2b6a3c", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": sts, "oldObject": null, "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions", "fieldManager": "kubectl-client-side-apply"}
        }
    });
    println!("{review}");
    Ok(())
}

struct Run {
    ca: String,
    body: String,
    port: u16,
    rate: u64,
    seconds: u64,
    connections: usize,
}

fn parse(args: &[String]) -> Result<Run, Error> {
    let get = |name: &str| -> Result<String, Error> {
        let i = args
            .iter()
            .position(|a| a == name)
            .ok_or(format!("missing {name}"))?;
        Ok(args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .clone())
    };
    Ok(Run {
        ca: get("--ca")?,
        body: get("--body")?,
        port: get("--port")?.parse()?,
        rate: get("--rate")?.parse()?,
        seconds: get("--seconds")?.parse::<u64>()?.min(MAX_SECONDS),
        connections: get("--connections")?.parse()?,
    })
}

async fn run(args: &[String]) -> Result<(), Error> {
    let run = parse(args)?;
    let tls = client_tls(&run.ca)?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .pool_max_idle_per_host(run.connections)
        .timeout(Duration::from_secs(5))
        .build()?;
    let url = format!("https://127.0.0.1:{}/mutate", run.port);
    let body = Bytes::from(std::fs::read(&run.body)?);
    // Open the connections before the clock starts: each run is a new process with an empty pool,
    // and handshakes charged to the first requests of a fixed-rate run made its p99 the cost of
    // connecting (13 ms for a cold run, 0.7 ms warm). Fresh connections are `first`'s measure.
    let mut warm = tokio::task::JoinSet::new();
    for _ in 0..run.connections {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        warm.spawn(async move { send(&client, &url, body).await });
    }
    while let Some(done) = warm.join_next().await {
        if !done.unwrap_or(false) {
            return Err("a warm-up request failed".into());
        }
    }
    let started = Instant::now();
    let deadline = started + Duration::from_secs(run.seconds);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<u64>>();

    if run.rate > 0 {
        let interval = Duration::from_secs_f64(1.0 / run.rate as f64);
        let limit = Arc::new(tokio::sync::Semaphore::new(run.connections));
        let mut n = 0u64;
        while n < MAX_REQUESTS {
            let scheduled = started + interval.mul_f64(n as f64);
            if scheduled >= deadline {
                break;
            }
            tokio::time::sleep_until(scheduled.into()).await;
            // The timer has 1 ms granularity; start the clock at the wake-up, not the ideal tick,
            // so timer slop is not charged to the server (queueing behind the permits still is).
            let scheduled = Instant::now().max(scheduled);
            let (client, url, body, tx, limit) = (
                client.clone(),
                url.clone(),
                body.clone(),
                tx.clone(),
                limit.clone(),
            );
            tokio::spawn(async move {
                let _permit = limit.acquire().await;
                let ok = send(&client, &url, body).await;
                let _ = tx.send(ok.then(|| scheduled.elapsed().as_micros() as u64));
            });
            n += 1;
        }
    } else {
        for _ in 0..run.connections {
            let (client, url, body, tx) = (client.clone(), url.clone(), body.clone(), tx.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = send(&client, &url, body.clone()).await;
                    let _ = tx.send(ok.then(|| t.elapsed().as_micros() as u64));
                }
            });
        }
    }
    drop(tx);
    let mut latencies = Vec::new();
    let mut errors = 0u64;
    let collect = async {
        while let Some(r) = rx.recv().await {
            match r {
                Some(us) => latencies.push(us),
                None => errors += 1,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(run.seconds + 10), collect)
        .await
        .map_err(|_| "requests still outstanding 10s after the end")?;
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    println!(
        "mode={} requests={} errors={} rps={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        if run.rate > 0 {
            format!("fixed-{}", run.rate)
        } else {
            format!("saturation-c{}", run.connections)
        },
        latencies.len(),
        errors,
        latencies.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        latencies.last().map_or(f64::NAN, |us| *us as f64 / 1000.0),
    );
    Ok(())
}

fn client_tls(ca: &str) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

async fn first(args: &[String]) -> Result<(), Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let get = |name: &str| -> Result<String, Error> {
        let i = args
            .iter()
            .position(|a| a == name)
            .ok_or(format!("missing {name}"))?;
        Ok(args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .clone())
    };
    let port: u16 = get("--port")?.parse()?;
    let count: usize = get("--count")?.parse::<usize>()?.min(10_000);
    let body = std::fs::read(get("--body")?)?;
    let mut tls = client_tls(&get("--ca")?)?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
    let mut request = format!(
        "POST /mutate HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let mut latencies = Vec::with_capacity(count);
    for _ in 0..count {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        // As the API server's Go client does (Go sets TCP_NODELAY on every TCP connection): with
        // Nagle on, the request waits for the ACK of the client's Finished, which a server that
        // sends no session tickets delays by 40 ms.
        tcp.set_nodelay(true)?;
        let name = rustls::pki_types::ServerName::try_from("localhost")?;
        let mut stream = connector.connect(name, tcp).await?;
        let t = Instant::now();
        stream.write_all(&request).await?;
        stream.flush().await?;
        // Read the head, then exactly Content-Length bytes of body.
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16384];
        let (head_end, length) = loop {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("connection closed before the response".into());
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
                if !head.starts_with("http/1.1 200") {
                    return Err(format!("unexpected response: {head}").into());
                }
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .ok_or("no content-length")?;
                break (i + 4, length);
            }
        };
        while buf.len() < head_end + length {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Err("connection closed mid-body".into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        latencies.push(t.elapsed().as_micros() as u64);
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .map_or(f64::NAN, |us| *us as f64 / 1000.0)
    };
    println!(
        "mode=first-response connections={} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} over_5ms={}",
        latencies.len(),
        pct(0.5),
        pct(0.99),
        latencies.last().map_or(f64::NAN, |us| *us as f64 / 1000.0),
        latencies.iter().filter(|us| **us > 5_000).count()
    );
    Ok(())
}

async fn send(client: &reqwest::Client, url: &str, body: Bytes) -> bool {
    match client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
        _ => false,
    }
}
