//! The kubelet stand-in: no container runtime runs here, so this plays the kubelet's part in the
//! API, and only that. It registers one Node, binds every pod a StatefulSet owns to it (there is no
//! scheduler either), reports each pod first Pending with its init containers running, then, on
//! the next pass, init containers `Completed` and every container running and Ready, and removes
//! pods being deleted (as a kubelet does once their containers stopped). It runs nothing, mounts no
//! volume, probes nothing and does not heartbeat; pods of Deployments and Jobs stay Pending, as in a
//! cluster where nothing can run them. The real StatefulSet controller does everything else.

use std::collections::BTreeSet;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions};
use kube::Client;
use serde_json::{json, Value};

pub const NODE: &str = "logbackup-standin";

/// Registers the Node, then keeps the StatefulSets' pods moving until the runtime stops.
pub async fn run(client: Client) {
    if let Err(e) = register(&client).await {
        eprintln!("kubelet stand-in: registering Node {NODE}: {e}");
        return;
    }
    let mut seen = BTreeSet::new();
    loop {
        if let Err(e) = pass(&client, &mut seen).await {
            eprintln!("kubelet stand-in: {e}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn register(client: &Client) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let node: Node = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE, "labels": {"kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux"}},
    }))
    .map_err(kube::Error::SerdeError)?;
    nodes.create(&PostParams::default(), &node).await?;
    let resources = json!({"cpu": "16", "memory": "64Gi", "pods": "110"});
    let status = json!({"status": {
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet stand-in", "lastHeartbeatTime": now(), "lastTransitionTime": now()}],
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
        "capacity": resources, "allocatable": resources,
        "nodeInfo": {"kubeletVersion": "v1.20.2", "kubeProxyVersion": "v1.20.2", "containerRuntimeVersion": "none://0",
                     "operatingSystem": "linux", "architecture": "amd64", "osImage": "stand-in",
                     "kernelVersion": "", "machineID": "", "systemUUID": "", "bootID": ""}}});
    nodes
        .patch_status(NODE, &PatchParams::default(), &Patch::Merge(&status))
        .await?;
    Ok(())
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn owned_by_statefulset(pod: &Pod) -> bool {
    pod.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.kind == "StatefulSet")
}

async fn pass(client: &Client, seen: &mut BTreeSet<String>) -> Result<(), kube::Error> {
    let all: Api<Pod> = Api::all(client.clone());
    for pod in all.list(&ListParams::default()).await?.items {
        if !owned_by_statefulset(&pod) {
            continue;
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let bound = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .is_some();
        if pod.metadata.deletion_timestamp.is_some() {
            // Containers "stopped": the kubelet's final delete, for this pod and not a successor.
            let params = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(uid.clone()),
                    resource_version: None,
                }),
                ..DeleteParams::default()
            };
            match pods.delete(&name, &params).await {
                Ok(_) | Err(kube::Error::Api(_)) => {}
                Err(e) => return Err(e),
            }
            seen.remove(&uid);
            continue;
        }
        if !bound {
            bind(client, &ns, &name).await?;
            continue;
        }
        let ready = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        if ready {
            continue;
        }
        let status = if seen.insert(uid) {
            starting(&pod)
        } else {
            running(&pod)
        };
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    }
    Ok(())
}

/// `pods/binding`, as the scheduler does.
async fn bind(client: &Client, ns: &str, name: &str) -> Result<(), kube::Error> {
    let body = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
                      "target": {"apiVersion": "v1", "kind": "Node", "name": NODE}});
    let request = http::Request::post(format!("/api/v1/namespaces/{ns}/pods/{name}/binding"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).map_err(kube::Error::SerdeError)?)
        .map_err(kube::Error::HttpError)?;
    match client.request_text(request).await {
        // Someone (an earlier pass) bound it already.
        Ok(_) | Err(kube::Error::Api(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

fn names(pod: &Pod, init: bool) -> Vec<(String, String)> {
    let spec = pod.spec.as_ref();
    let containers = if init {
        spec.and_then(|s| s.init_containers.clone())
            .unwrap_or_default()
    } else {
        spec.map(|s| s.containers.clone()).unwrap_or_default()
    };
    containers
        .into_iter()
        .map(|c| (c.name, c.image.unwrap_or_default()))
        .collect()
}

fn pod_ip(pod: &Pod) -> String {
    // A stable, distinct address per pod (nothing connects to it).
    let sum: u32 = pod
        .metadata
        .uid
        .as_deref()
        .unwrap_or("")
        .bytes()
        .map(u32::from)
        .sum();
    format!("10.244.{}.{}", (sum / 250) % 250, sum % 250 + 2)
}

fn container(name: &str, image: &str, state: Value, ready: bool) -> Value {
    json!({"name": name, "image": image, "imageID": format!("standin://{image}"),
           "containerID": format!("standin://{name}"), "ready": ready, "started": ready,
           "restartCount": 0, "state": state})
}

fn starting(pod: &Pod) -> Value {
    let t = now();
    let init: Vec<Value> = names(pod, true)
        .iter()
        .map(|(n, i)| container(n, i, json!({"running": {"startedAt": t}}), false))
        .collect();
    let main: Vec<Value> = names(pod, false)
        .iter()
        .map(|(n, i)| {
            container(
                n,
                i,
                json!({"waiting": {"reason": "PodInitializing"}}),
                false,
            )
        })
        .collect();
    json!({"status": {"phase": "Pending", "hostIP": "127.0.0.1", "podIP": pod_ip(pod), "startTime": t,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
            {"type": "Initialized", "status": "False", "reason": "ContainersNotInitialized", "lastTransitionTime": t},
            {"type": "ContainersReady", "status": "False", "lastTransitionTime": t},
            {"type": "Ready", "status": "False", "lastTransitionTime": t}],
        "initContainerStatuses": init, "containerStatuses": main}})
}

fn running(pod: &Pod) -> Value {
    let t = now();
    let init: Vec<Value> = names(pod, true)
        .iter()
        .map(|(n, i)| {
            container(n, i, json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}), false)
        })
        .collect();
    let main: Vec<Value> = names(pod, false)
        .iter()
        .map(|(n, i)| container(n, i, json!({"running": {"startedAt": t}}), true))
        .collect();
    let ip = pod_ip(pod);
    json!({"status": {"phase": "Running", "hostIP": "127.0.0.1", "podIP": ip, "podIPs": [{"ip": ip}],
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": t},
            {"type": "Initialized", "status": "True", "lastTransitionTime": t},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": t},
            {"type": "Ready", "status": "True", "lastTransitionTime": t}],
        "initContainerStatuses": init, "containerStatuses": main}})
}
