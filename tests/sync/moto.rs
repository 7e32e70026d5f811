//! A real S3 server for the tests: moto (`pip install 'moto[server]'`) on 127.0.0.1.
//!
//! `.ci/run` starts one and exports `LOGBACKUP_TEST_S3_ENDPOINT`; without it each test binary starts
//! its own `moto_server`. Without moto the tests fail and say how to install it: they never pass
//! without having talked to S3.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct Moto {
    pub endpoint: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// Starts `moto_server` with `env`, waiting until it answers.
pub fn spawn(env: &[(&str, &str)]) -> Moto {
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start moto_server ({e}); install it with `pip install 'moto[server]'` (.ci/run does), or set LOGBACKUP_TEST_S3_ENDPOINT to a running one")
        });
    let endpoint = format!("http://127.0.0.1:{port}");
    let moto = Moto {
        endpoint,
        child: Some(child),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto_server did not start listening on {port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// The shared server: `.ci/run`'s, or one started for this test binary.
pub fn shared() -> &'static str {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    &MOTO
        .get_or_init(|| match std::env::var("LOGBACKUP_TEST_S3_ENDPOINT") {
            Ok(endpoint) => Moto {
                endpoint,
                child: None,
            },
            Err(_) => spawn(&[]),
        })
        .endpoint
}

/// A plain HTTP call to the S3 API (moto accepts unsigned requests unless told otherwise).
pub fn call(method: &str, url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

pub fn create_bucket(endpoint: &str, bucket: &str) {
    let (status, body) = call("PUT", &format!("{endpoint}/{bucket}"));
    assert_eq!(status, 200, "creating bucket {bucket}: {body}");
}

/// Keys under `prefix` in `bucket`.
pub fn keys(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let (status, body) = call(
        "GET",
        &format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}&max-keys=1000"),
    );
    assert_eq!(status, 200, "{body}");
    let mut out: Vec<String> = body
        .split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_string)
        .collect();
    out.sort();
    out
}
