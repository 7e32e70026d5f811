//! The command line, where it needs no cluster: usage, flag values, and targets refused before any
//! connection is attempted.

use test_support::Runner;

fn run(args: &[&str]) -> (i32, String, String) {
    Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
        // No kubeconfig anywhere: any attempt to reach a cluster would fail differently.
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env("HOME", "/nonexistent")
        .run(args)
        .parts()
}

#[test]
fn enable_help_shows_the_kubesphere_example_and_flags() {
    let (code, out, _) = run(&["enable", "--help"]);
    assert_eq!(code, 0);
    for flag in [
        "--storage-class",
        "--size",
        "--claim",
        "--via",
        "--restart",
        "--resume-from",
        "--dry-run",
        "--skip-register",
        "--repository",
        "--wait-for-status",
    ] {
        assert!(out.contains(flag), "{flag} missing from:\n{out}");
    }
    assert!(out.contains("sts/elasticsearch-logging-data sts/elasticsearch-logging-discovery"));
}

#[test]
fn disable_help_says_the_data_stays() {
    let (code, out, _) = run(&["disable", "--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("snapshots on it stay"), "{out}");
}

#[test]
fn a_target_kubectl_would_not_take_is_refused_before_connecting() {
    for cmd in ["enable", "disable"] {
        let (code, _, err) = run(&[cmd, "sts/elasticsearch-logging-data", "deploy/kibana"]);
        assert_eq!(code, 3, "{err}");
        assert!(
            err.contains("failed to read target \"deploy/kibana\""),
            "{err}"
        );
        assert!(!err.contains("kubeconfig"), "{err}");
    }
}

#[test]
fn unknown_flag_values_are_usage_errors() {
    let (code, _, err) = run(&["enable", "sts/x", "--via", "helm"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["enable", "sts/x", "--restart", "later"]);
    assert_eq!(code, 2, "{err}");
}
