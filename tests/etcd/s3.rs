//! `--repo s3://BUCKET/PREFIX`: save, list, verify and prune against a real S3 server (moto), the
//! layout the volume has, the record uploaded last.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::{free_port, Etcd};
use test_support::runner::Runner;

/// `.ci/run`'s moto (LOGBACKUP_TEST_S3_ENDPOINT), or one started for this test.
struct Moto {
    endpoint: String,
    child: Option<Child>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn moto() -> Moto {
    if let Ok(endpoint) = std::env::var("LOGBACKUP_TEST_S3_ENDPOINT") {
        return Moto {
            endpoint,
            child: None,
        };
    }
    let port = free_port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start moto_server ({e}); `pip install 'moto[server]'` (.ci/run does), or set LOGBACKUP_TEST_S3_ENDPOINT"));
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto {
        endpoint: format!("http://127.0.0.1:{port}"),
        child: Some(child),
    }
}

fn http(method: &str, url: &str) -> (u16, String) {
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

#[test]
fn snapshots_go_straight_to_s3_with_their_record_last_and_the_drill_reads_them_back() {
    let moto = moto();
    let bucket = format!("etcd-{}", std::process::id());
    assert_eq!(http("PUT", &format!("{}/{bucket}", moto.endpoint)).0, 200);
    let etcd = Etcd::start(false);
    etcd.put_all(
        &(0..25)
            .map(|i| format!("/registry/pods/a/p-{i}"))
            .collect::<Vec<_>>(),
        "x",
    );
    let repo = format!("s3://{bucket}/cluster-a");
    let plugin = Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .time_limit(Duration::from_secs(120))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .trailing(["--endpoint", moto.endpoint.as_str()]);

    let mut saved = Vec::new();
    // The first compressed: the drill downloads and decompresses it.
    for (node, compress) in [("n1", "--compress"), ("n2", "--snapshot-only")] {
        let run = plugin.run(&[
            "etcd",
            "save",
            "--repo",
            &repo,
            "--endpoints",
            &etcd.endpoint,
            "--node",
            node,
            "--pki-dir",
            &etcd.path("pki").display().to_string(),
            "--manifests-dir",
            &etcd.path("manifests").display().to_string(),
            compress,
            "-o",
            "json",
        ]);
        run.ok();
        saved.push(run.json()["name"].as_str().unwrap().to_owned());
    }
    let (_, listing) = http(
        "GET",
        &format!(
            "{}/{bucket}?list-type=2&prefix=cluster-a/logbackup-etcd/{}/",
            moto.endpoint, saved[0]
        ),
    );
    for file in [
        "snapshot.db.gz",
        "record.json",
        "pki/ca.crt",
        "manifests/etcd.yaml",
    ] {
        assert!(
            listing.contains(&format!("cluster-a/logbackup-etcd/{}/{file}", saved[0])),
            "{file} in {listing}"
        );
    }
    // No staging directory is left behind in the temporary directory.
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(&format!("logbackup-etcd-staging-{}", std::process::id()))
        })
        .count();
    assert_eq!(leftovers, 0);

    let list = plugin.run(&["etcd", "list", "--repo", &repo, "-o", "json"]);
    list.ok();
    let names: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, saved);

    let scratch = tempfile::tempdir().unwrap();
    let run = plugin.run(&[
        "etcd",
        "verify",
        &saved[0],
        "--repo",
        &repo,
        "--scratch-dir",
        &scratch.path().display().to_string(),
        "-o",
        "json",
    ]);
    run.ok();
    assert_eq!(run.json()["comparison"]["keys"], 25);
    assert!(
        std::fs::read_dir(scratch.path()).unwrap().next().is_none(),
        "the drill's staging and scratch are gone"
    );
    let list = plugin.run(&["etcd", "list", "--repo", &repo, "-o", "json"]);
    assert_eq!(
        list.json()[0]["verification"]["passed"],
        true,
        "the verdict was uploaded beside the snapshot"
    );

    // A record missing (an upload that stopped before its end) is listed as incomplete, never good.
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    let store = logbackup::sync::store::Store::open(
        &logbackup::sync::Location::parse(&repo).unwrap(),
        &logbackup::sync::store::S3Options {
            endpoint: Some(moto.endpoint.clone()),
            path_style: true,
            ..Default::default()
        },
    )
    .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.delete(&format!("logbackup-etcd/{}/record.json", saved[1])))
        .unwrap();
    let list = plugin.run(&["etcd", "list", "--repo", &repo, "-o", "json"]);
    let states: Vec<String> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            format!(
                "{}={}",
                l["name"].as_str().unwrap(),
                l["state"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        states.contains(&format!("{}=incomplete", saved[1])),
        "{states:?}"
    );

    plugin
        .run(&["etcd", "delete", &saved[0], "--repo", &repo])
        .ok();
    let (_, listing) = http(
        "GET",
        &format!(
            "{}/{bucket}?list-type=2&prefix=cluster-a/logbackup-etcd/{}/",
            moto.endpoint, saved[0]
        ),
    );
    assert!(!listing.contains("<Key>"), "{listing}");
}
