//! `schedule create|delete|run-now` Kubernetes calls, against the mocked API: the workflow's
//! sequences (`workflows::schedule::objects`) over the real `Kube`, and `k8s::schedules::run_now`.

use logbackup::schedule::cronjob;
use logbackup::schedule::Schedule;
use logbackup::workflows::schedule::objects as schedules;
use serde_json::json;

use test_support::kube_api::*;
use test_support::plugin::{kube, nightly_plan, served};

const NS: &str = "kubesphere-logging-system";

fn live_cron_job() -> serde_json::Value {
    let mut cj = serde_json::to_value(cronjob::cron_job(&nightly_plan(NS))).unwrap();
    cj["metadata"]["uid"] = json!("3f1c7a52-2b8e-4d0e-9c61-0a9d1f0e7b11");
    cj["metadata"]["resourceVersion"] = json!("4711");
    cj
}

const SERVICE_ACCOUNT: &str =
    "/api/v1/namespaces/kubesphere-logging-system/serviceaccounts/logbackup-nightly";
const CRON_JOB: &str =
    "/apis/batch/v1/namespaces/kubesphere-logging-system/cronjobs/logbackup-nightly";

/// The schedule's ServiceAccount is looked up, and is not there yet.
fn no_service_account_yet() -> Exchange {
    Exchange::new("GET", SERVICE_ACCOUNT)
        .reply(404, not_found("serviceaccounts", "logbackup-nightly"))
}

const APPLY: &[(&str, &str)] = &[("fieldManager", "kubectl-logbackup"), ("force", "true")];

#[test]
fn create_applies_the_service_account_then_the_cron_job_server_side() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let sa = serde_json::to_value(cronjob::service_account(&nightly_plan(NS))).unwrap();
    let cj = live_cron_job();
    let script = vec![
        no_service_account_yet(),
        Exchange::new("PATCH", SERVICE_ACCOUNT)
            .query(APPLY)
            .body(|b| {
                assert_eq!(b["kind"], "ServiceAccount");
                assert_eq!(b["automountServiceAccountToken"], false);
            })
            .reply(200, sa),
        Exchange::new("PATCH", CRON_JOB)
            .query(APPLY)
            .body(|b| {
                assert_eq!(b["kind"], "CronJob");
                assert_eq!(b["spec"]["concurrencyPolicy"], "Forbid");
                assert_eq!(b["metadata"]["labels"]["logbackup.io/schedule"], "nightly");
            })
            .reply(200, cj),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let served = client.served().await.unwrap().clone();
        let applied = schedules::apply_schedule(&client, &served, &nightly_plan(NS))
            .await
            .unwrap();
        assert_eq!(
            applied.cron_job.metadata.resource_version.as_deref(),
            Some("4711")
        );
        assert!(applied.notes.is_empty(), "{:?}", applied.notes);
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn run_now_creates_a_job_owned_by_the_cron_job() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let script = vec![
        Exchange::new("GET", CRON_JOB)
            .reply(200, live_cron_job()),
        Exchange::new("POST", format!("/apis/batch/v1/namespaces/{NS}/jobs"))
            .body(|b| {
                assert_eq!(b["kind"], "Job");
                assert_eq!(b["metadata"]["name"], "logbackup-nightly-manual-1");
                assert_eq!(b["metadata"]["ownerReferences"][0]["uid"], "3f1c7a52-2b8e-4d0e-9c61-0a9d1f0e7b11");
                assert_eq!(b["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
                assert_eq!(b["spec"]["template"]["spec"]["containers"][0]["args"][0], "backup");
            })
            .reply(201, json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "logbackup-nightly-manual-1", "namespace": NS, "uid": "u2"}})),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let job = logbackup::k8s::schedules::run_now(
            &client,
            &served(33),
            NS,
            "nightly",
            "logbackup-nightly-manual-1",
        )
        .await
        .unwrap();
        assert_eq!(job.metadata.uid.as_deref(), Some("u2"));
        drop(client);
        server.await.unwrap();
    });
}

/// A DELETE of `resource` `name` in NS (`group_version` "v1" for the core group) that finds nothing.
fn absent(group_version: &str, resource: &str, name: &str) -> Exchange {
    let prefix = if group_version == "v1" {
        "/api/v1".to_owned()
    } else {
        format!("/apis/{group_version}")
    };
    Exchange::new(
        "DELETE",
        format!("{prefix}/namespaces/{NS}/{resource}/{name}"),
    )
    .reply(404, not_found(resource, name))
}

#[test]
fn delete_removes_cron_job_and_service_account_and_reports_absent_schedules() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let deleted =
        json!({"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}});
    let script = vec![
        Exchange::new("GET", CRON_JOB).reply(200, live_cron_job()),
        Exchange::new("DELETE", CRON_JOB)
            .body(|b| {
                assert_eq!(b["propagationPolicy"], "Background");
                assert_eq!(b["dryRun"], json!(["All"]));
            })
            .reply(200, deleted.clone()),
        Exchange::new("DELETE", SERVICE_ACCOUNT)
            .body(|b| assert_eq!(b["dryRun"], json!(["All"])))
            .reply(404, not_found("serviceaccounts", "logbackup-nightly")),
        absent(
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            "logbackup-nightly",
        ),
        absent("rbac.authorization.k8s.io/v1", "roles", "logbackup-nightly"),
        // The schedule's restore test (`--verify`), where there is one: none here.
        absent("batch/v1", "cronjobs", "logbackup-nightly-verify")
            .body(|b| assert_eq!(b["dryRun"], json!(["All"]))),
        absent("v1", "serviceaccounts", "logbackup-nightly-verify"),
        absent(
            "rbac.authorization.k8s.io/v1",
            "rolebindings",
            "logbackup-nightly-verify",
        ),
        absent(
            "rbac.authorization.k8s.io/v1",
            "roles",
            "logbackup-nightly-verify",
        ),
        Exchange::new(
            "GET",
            format!("/apis/batch/v1/namespaces/{NS}/cronjobs/logbackup-other"),
        )
        .reply(404, not_found("cronjobs", "logbackup-other")),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        assert!(
            schedules::delete_schedule(&client, &served(33), NS, "nightly", true)
                .await
                .unwrap()
        );
        assert!(
            !schedules::delete_schedule(&client, &served(33), NS, "other", true)
                .await
                .unwrap()
        );
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn list_selects_our_label() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let script = vec![Exchange::new("GET", "/apis/batch/v1/cronjobs")
        .query(&[("labelSelector", "app.kubernetes.io%2Fmanaged-by%3Dkubectl-logbackup")])
        .reply(200, json!({"apiVersion": "batch/v1", "kind": "CronJobList", "metadata": {"resourceVersion": "1"}, "items": [live_cron_job()]}))];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let found = logbackup::k8s::schedules::list_schedules(&client, &served(33), None)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].metadata.name.as_deref(), Some("logbackup-nightly"));
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn on_1_20_the_cron_job_goes_to_batch_v1beta1_without_time_zone() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(20);
    let sa = serde_json::to_value(cronjob::service_account(&nightly_plan(NS))).unwrap();
    let mut cj = live_cron_job();
    cj["apiVersion"] = json!("batch/v1beta1");
    let script = vec![
        Exchange::new("GET", SERVICE_ACCOUNT).reply(200, sa.clone()),
        Exchange::new("PATCH", SERVICE_ACCOUNT)
            .query(APPLY)
            .reply(200, sa),
        Exchange::new(
            "PATCH",
            format!("/apis/batch/v1beta1/namespaces/{NS}/cronjobs/logbackup-nightly"),
        )
        .query(APPLY)
        .body(|b| {
            assert_eq!(b["apiVersion"], "batch/v1beta1");
            assert!(b["spec"].get("timeZone").is_none(), "{b}");
        })
        .reply(200, cj),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let served = client.served().await.unwrap().clone();
        let applied = schedules::apply_schedule(&client, &served, &nightly_plan(NS))
            .await
            .unwrap();
        // Read back as the batch/v1 type, whatever the server serves it as.
        assert_eq!(
            applied.cron_job.metadata.name.as_deref(),
            Some("logbackup-nightly")
        );
        assert_eq!(
            applied.notes[0],
            "this cluster runs Kubernetes 1.20; CronJob batch/v1 needs 1.21, using batch/v1beta1"
        );
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn a_time_zone_the_server_would_drop_is_refused_before_anything_is_written() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(26);
    let mut zoned = nightly_plan(NS);
    zoned.schedule = Schedule::parse("0 1 * * *", Some("Asia/Shanghai")).unwrap();
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, Vec::new()));
        let served = client.served().await.unwrap().clone();
        let e = schedules::apply_schedule(&client, &served, &zoned)
            .await
            .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("--time-zone needs Kubernetes 1.27"), "{text}");
        assert!(text.contains("this cluster runs Kubernetes 1.26"), "{text}");
        drop(client);
        server.await.unwrap();
    });
}

#[test]
fn a_failed_cron_job_removes_the_service_account_it_created() {
    let rt = runtime();
    let _inside = rt.enter();
    let (client, handle) = kube(33);
    let sa = serde_json::to_value(cronjob::service_account(&nightly_plan(NS))).unwrap();
    let forbidden = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": "cronjobs.batch \"logbackup-nightly\" is forbidden: User \"dev\" cannot patch resource \"cronjobs\" in API group \"batch\" in the namespace \"kubesphere-logging-system\""});
    let script = vec![
        no_service_account_yet(),
        Exchange::new("PATCH", SERVICE_ACCOUNT)
            .query(APPLY)
            .reply(200, sa.clone()),
        Exchange::new("PATCH", CRON_JOB)
            .query(APPLY)
            .reply(403, forbidden),
        Exchange::new("DELETE", SERVICE_ACCOUNT).reply(200, sa),
    ];
    rt.block_on(async {
        let server = tokio::spawn(serve(handle, script));
        let served = client.served().await.unwrap().clone();
        let e = schedules::apply_schedule(&client, &served, &nightly_plan(NS)).await.unwrap_err();
        assert!(e.is_forbidden());
        let text = e.to_string();
        assert!(text.starts_with("failed to create CronJob kubesphere-logging-system/logbackup-nightly: cronjobs.batch"), "{text}");
        assert!(text.ends_with("; removed the ServiceAccount kubesphere-logging-system/logbackup-nightly it had created"), "{text}");
        drop(client);
        server.await.unwrap();
    });
}
