//! The live restart executor, end to end: pods through the scripted API server, allocation, flush,
//! node membership and health through the Elasticsearch test double (with its restart extras).

use std::time::Duration;

use es_double::{Config, Flavour, State};
use logbackup::enable::restart::{self, Step};
use logbackup::es::{Auth, ClientConfig, EsClient};
use logbackup::k8s::{Cluster, Kube, LiveRestart, RestartSettings};
use serde_json::json;

use test_support::kube_api::{scripted, Exchange};

const NS: &str = "kubesphere-logging-system";
const POD: &str = "elasticsearch-logging-data-1";

async fn double(extras: bool) -> (es_double::Running, EsClient) {
    let mut config = Config::new(Flavour::Elasticsearch, "7.17.0");
    config.restart_extras = extras;
    let running = es_double::start(config, State::default(), "127.0.0.1:0")
        .await
        .unwrap();
    let client = EsClient::connect(&ClientConfig {
        url: running.url(),
        auth: Auth::None,
        ca_pem: None,
        insecure: false,
        resolve: None,
        timeout: Duration::from_secs(10),
    })
    .await
    .unwrap();
    (running, client)
}

fn pod(uid: &str, ready: bool) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD, "namespace": NS, "uid": uid},
           "status": {"conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

/// POD is read, deleted, and comes back: Ready on the second look, or never (`ready` false).
fn pod_replaced(ready: bool) -> Vec<Exchange> {
    let path = format!("/api/v1/namespaces/{NS}/pods/{POD}");
    let mut script = vec![
        Exchange::exact("GET", &path).reply(200, pod("old", true)),
        Exchange::exact("DELETE", format!("{path}?")).reply(200, pod("old", true)),
        Exchange::exact("GET", &path).reply(200, pod("new", false)),
    ];
    if ready {
        script.push(Exchange::exact("GET", &path).reply(200, pod("new", true)));
    }
    script
}

fn settings(timeout: Duration) -> RestartSettings {
    RestartSettings {
        health: "green".into(),
        timeout,
        interval: Duration::from_millis(1),
    }
}

/// The double's log without the connect probe, request lines only.
fn es_requests(running: &es_double::Running) -> Vec<String> {
    running
        .state()
        .log
        .iter()
        .filter(|l| !l.starts_with("GET / "))
        .map(|l| l.split(" -> ").next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn one_pod_restarts_the_elasticsearch_way() {
    let (running, es) = double(true).await;
    let (client, server) = scripted(pod_replaced(true));
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    let mut executor = LiveRestart::new(&cluster, &es, settings(Duration::from_secs(60)));
    let done = restart::run(&[POD.to_owned()], &mut executor, || false, |_| {})
        .await
        .unwrap();
    assert_eq!(done, [POD]);
    server.await.unwrap();
    let requests = es_requests(&running);
    assert_eq!(requests[0], "PUT /_cluster/settings?master_timeout=60s");
    assert_eq!(requests[1], "POST /_flush");
    assert_eq!(requests[2], "GET /_nodes/settings");
    assert_eq!(requests[3], "PUT /_cluster/settings?master_timeout=60s");
    assert!(
        requests[4].starts_with("GET /_cluster/health?wait_for_status=green&timeout="),
        "{requests:?}"
    );
    assert_eq!(requests.len(), 5, "{requests:?}");
    // Allocation is back to the default: the setting is gone, not left at "primaries".
    assert!(running.state().cluster_settings.is_empty());
}

#[tokio::test]
async fn a_pod_that_never_gets_ready_stops_the_restart_and_re_enables_allocation() {
    let (running, es) = double(true).await;
    let (client, server) = scripted(pod_replaced(false));
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    let mut executor = LiveRestart::new(&cluster, &es, settings(Duration::ZERO));
    let pods = [POD.to_owned(), "elasticsearch-logging-data-0".to_owned()];
    let stopped = restart::run(&pods, &mut executor, || false, |_| {})
        .await
        .unwrap_err();
    server.await.unwrap();
    assert_eq!(stopped.step, Some(Step::WaitPodReady(POD.into())));
    assert_eq!(stopped.resume_from.as_deref(), Some(POD));
    assert!(stopped.allocation_restored);
    assert!(stopped.hint().contains(&format!("--resume-from {POD}")));
    assert!(running.state().cluster_settings.is_empty());
    assert_eq!(
        es_requests(&running).last().map(String::as_str),
        Some("PUT /_cluster/settings?master_timeout=60s")
    );
}

#[tokio::test]
async fn without_the_extras_the_double_refuses_cluster_settings_and_nothing_is_deleted() {
    let (_running, es) = double(false).await;
    let (client, server) = scripted(vec![]);
    let cluster = Cluster::new(Kube::new(client, "https://mock"), NS);
    let mut executor = LiveRestart::new(&cluster, &es, settings(Duration::from_secs(1)));
    let stopped = restart::run(&[POD.to_owned()], &mut executor, || false, |_| {})
        .await
        .unwrap_err();
    server.await.unwrap();
    assert_eq!(stopped.step, Some(Step::AllocatePrimariesOnly));
    let error = stopped.error.unwrap_or_default();
    assert!(
        error.contains("set cluster.routing.allocation.enable to primaries"),
        "{error}"
    );
}
