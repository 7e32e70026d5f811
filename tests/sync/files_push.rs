//! `files push`: the archive's closed log files to a real S3 server (moto), once each.

use super::{moto, with_moto_credentials};

#[test]
fn closed_log_files_go_to_s3_once_and_open_ones_wait() {
    let endpoint = moto::shared();
    moto::create_bucket(endpoint, "files-push");
    let archive = tempfile::tempdir().unwrap();
    let put = |rel: &str, bytes: &[u8]| {
        let path = archive.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    let closed = "shop/web/web-1/app/opt_logs/app.log@26e825a2.1.gz";
    put(closed, b"\x1f\x8b compressed lines");
    put(
        "shop/web/web-1/app/opt_logs/app.log@26e825a2.2",
        b"still growing\n",
    );
    put(".collectors/node-1/checkpoint.json", b"{}");
    let push = |more: &[&str]| {
        let archive = archive.path().to_str().unwrap().to_owned();
        let mut args = vec!["files", "push", "s3://files-push/cluster-a", "--archive"];
        args.push(&archive);
        args.extend(["--endpoint", endpoint]);
        args.extend(more);
        with_moto_credentials().run(&args)
    };
    let dry = push(&["--dry-run"]);
    assert!(dry.success(), "{}", dry.stderr);
    assert_eq!(dry.stdout.trim(), closed);
    assert!(moto::keys(endpoint, "files-push", "cluster-a").is_empty());

    let first = push(&[]);
    assert!(first.success(), "{}", first.stderr);
    assert!(first.stderr.contains("sent 1 file(s)"), "{}", first.stderr);
    assert_eq!(
        moto::keys(endpoint, "files-push", "cluster-a"),
        vec![format!("cluster-a/{closed}")]
    );
    let again = push(&[]);
    assert!(again.success(), "{}", again.stderr);
    assert!(again.stderr.contains("sent 0 file(s)"), "{}", again.stderr);
}
