//! Against a real cluster: ignored unless asked for (`-- --ignored`), and then LOGBACKUP_E2E_KUBECONFIG
//! must name a kubeconfig (none exists in CI here; see docs/schedule.md). Installs the webhook with generated certificates, waits (bounded)
//! for `webhook status` to pass, re-installs (the CA must stay), creates, lists and deletes a real
//! CronJob schedule in `default`, then uninstalls.

use std::time::{Duration, Instant};

use test_support::Runner;

fn plugin(kubeconfig: &str, args: &[&str]) -> (i32, String, String) {
    Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        .env("KUBECONFIG", kubeconfig)
        .run(args)
        .parts()
}

#[test]
#[ignore = "needs a real cluster: LOGBACKUP_E2E_KUBECONFIG=... cargo test --test schedule e2e -- --ignored"]
fn webhook_and_schedule_on_a_real_cluster() {
    let kubeconfig = std::env::var_os("LOGBACKUP_E2E_KUBECONFIG")
        .expect("LOGBACKUP_E2E_KUBECONFIG must name the real cluster's kubeconfig");
    let kc = kubeconfig.to_string_lossy().into_owned();
    let (code, _, err) = plugin(&kc, &["webhook", "install"]);
    assert_eq!(code, 0, "{err}");
    let started = Instant::now();
    loop {
        let (code, out, err) = plugin(&kc, &["webhook", "status"]);
        if code == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not healthy after 5 minutes:\n{out}{err}"
        );
        std::thread::sleep(Duration::from_secs(5));
    }
    let (code, _, err) = plugin(&kc, &["webhook", "install"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("keeping the CA"), "{err}");
    let (code, _, err) = plugin(
        &kc,
        &[
            "schedule",
            "create",
            "e2e",
            "--cron",
            "0 1 * * *",
            "--keep-days",
            "1",
            "-n",
            "default",
            "--es-url",
            "http://elasticsearch.default.svc:9200",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = plugin(&kc, &["schedule", "list", "-n", "default", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"e2e\""), "{out}");
    assert_eq!(
        plugin(&kc, &["schedule", "delete", "e2e", "-n", "default"]).0,
        0
    );
    assert_eq!(plugin(&kc, &["webhook", "uninstall"]).0, 0);
}
