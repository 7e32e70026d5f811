//! `enable` and `disable` driven in-process through their traits: an in-memory cluster that applies
//! the patches it is sent, and Elasticsearch steps that record what they were asked to do.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::time::Duration;

use logbackup::enable::{EnableOptions, Via};
use logbackup::k8s::{Attempt, K8sError, Kind, Problem};
use logbackup::workflows::enable::{
    disable, enable, Common, EnableCluster, EnableFailure, EsSteps, Said,
};
use logbackup::workflows::repo::{FsRepository, Registered};
use serde_json::{json, Value};

use crate::binary::kubesphere_sts;

const NS: &str = "kubesphere-logging-system";
const STS: &str = "elasticsearch-logging-data";
const CLAIM: &str = "elasticsearch-logging-backup";

/// Objects by kind and name; patches are applied as the API server would.
#[derive(Default)]
struct Memory {
    objects: RefCell<BTreeMap<(String, String), Value>>,
    webhooks: Vec<Value>,
    /// Every change, as `verb kind/name`.
    log: RefCell<Vec<String>>,
    /// Answer patches with 409, as after a concurrent update.
    conflict: bool,
}

fn key(kind: Kind, name: &str) -> (String, String) {
    (format!("{kind:?}"), name.to_owned())
}

impl Memory {
    fn with(objects: &[(Kind, Value)]) -> Self {
        let memory = Self::default();
        for (kind, object) in objects {
            let name = object["metadata"]["name"].as_str().unwrap();
            memory
                .objects
                .borrow_mut()
                .insert(key(*kind, name), object.clone());
        }
        memory
    }

    fn object(&self, kind: Kind, name: &str) -> Value {
        self.objects.borrow()[&key(kind, name)].clone()
    }
}

impl EnableCluster for Memory {
    fn namespace(&self) -> &str {
        NS
    }
    async fn get(&self, kind: Kind, name: &str) -> Result<Option<Value>, K8sError> {
        Ok(self.objects.borrow().get(&key(kind, name)).cloned())
    }
    async fn create(&self, kind: Kind, object: &Value) -> Result<(), K8sError> {
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        self.log
            .borrow_mut()
            .push(format!("create {kind:?}/{name}"));
        self.objects
            .borrow_mut()
            .insert(key(kind, &name), object.clone());
        Ok(())
    }
    async fn patch(
        &self,
        kind: Kind,
        name: &str,
        patch_type: &str,
        patch: &Value,
    ) -> Result<(), K8sError> {
        if self.conflict {
            return Err(K8sError::new(
                Attempt::new("patch", "StatefulSet", "statefulsets.apps"),
                Problem::Api {
                    code: 409,
                    reason: "Conflict".into(),
                    message: "the object has been modified".into(),
                },
            ));
        }
        self.log
            .borrow_mut()
            .push(format!("patch {kind:?}/{name} {patch_type}"));
        let mut objects = self.objects.borrow_mut();
        let object = objects.get_mut(&key(kind, name)).unwrap();
        match patch_type {
            "json" => {
                let ops: json_patch::Patch = serde_json::from_value(patch.clone()).unwrap();
                json_patch::patch(object, &ops).unwrap();
            }
            _ => json_patch::merge(object, patch),
        }
        Ok(())
    }
    async fn webhook_configurations(&self) -> Result<Vec<Value>, K8sError> {
        Ok(self.webhooks.clone())
    }
    async fn wait_until(
        &self,
        kind: Kind,
        name: &str,
        _: fn(&Value) -> bool,
        _: Duration,
        _: Duration,
    ) -> Result<(), K8sError> {
        self.log.borrow_mut().push(format!("wait {kind:?}/{name}"));
        Ok(())
    }
}

/// Records the restarts and registrations it is asked for.
#[derive(Default)]
struct Recorder {
    restarted: Vec<String>,
    registered: Vec<FsRepository>,
}

impl EsSteps for Recorder {
    async fn restart(
        &mut self,
        pods: &[String],
        say: &mut dyn FnMut(Said),
    ) -> Result<(), EnableFailure> {
        if !pods.is_empty() {
            say(Said::Note(format!("restarting {}", pods.join(", "))));
        }
        self.restarted.extend_from_slice(pods);
        Ok(())
    }
    async fn register(&mut self, repo: &FsRepository) -> Result<Registered, EnableFailure> {
        self.registered.push(repo.clone());
        Ok(Registered {
            request: json!({}),
            checked: String::new(),
            verified_nodes: Some(2),
            keystore_steps: Vec::new(),
        })
    }
}

fn bound_claim() -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": CLAIM, "namespace": NS},
        "spec": {"accessModes": ["ReadWriteMany"]}, "status": {"phase": "Bound"}})
}

fn common(dry_run: bool) -> Common {
    Common {
        targets: vec![format!("sts/{STS}")],
        restart: true,
        dry_run,
        repository: "ks-log-snapshots".into(),
        timeout: Duration::from_secs(1),
        interval: Duration::from_secs(1),
    }
}

fn options(via: Via) -> EnableOptions {
    EnableOptions {
        claim: None,
        storage_class: None,
        size: "100Gi".into(),
        via,
        restart: true,
        path: None,
        container: None,
    }
}

fn run<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn enable_patches_restarts_data_nodes_last_first_and_registers_under_the_mount() {
    let cluster = Memory::with(&[
        (Kind::StatefulSet, kubesphere_sts()),
        (Kind::PersistentVolumeClaim, bound_claim()),
    ]);
    let mut es = Recorder::default();
    let mut said = Vec::new();
    let done = run(enable(
        &cluster,
        &mut es,
        &common(false),
        &options(Via::Auto),
        true,
        &mut |s| said.push(s),
    ))
    .unwrap();
    assert_eq!(
        *cluster.log.borrow(),
        vec![format!("patch StatefulSet/{STS} json")]
    );
    let sts = cluster.object(Kind::StatefulSet, STS);
    assert_eq!(
        sts["metadata"]["labels"]["logbackup.io/inject"], "enabled",
        "{sts:#}"
    );
    assert_eq!(
        es.restarted,
        vec![format!("{STS}-1"), format!("{STS}-0")],
        "the highest ordinal first, as the StatefulSet controller would"
    );
    assert_eq!(es.registered.len(), 1);
    assert_eq!(es.registered[0].location, done.location);
    assert!(
        done.location.ends_with("/ks-log-snapshots"),
        "{}",
        done.location
    );
    assert_eq!(done.verified_nodes, Some(2));
    assert!(said.contains(&Said::Note(format!(
        "using persistentvolumeclaim/{CLAIM} (Bound, ReadWriteMany)"
    ))));
}

#[test]
fn a_dry_run_plans_and_changes_nothing() {
    let cluster = Memory::with(&[(Kind::StatefulSet, kubesphere_sts())]);
    let mut es = Recorder::default();
    let mut opts = options(Via::Patch);
    opts.storage_class = Some("nfs-client".into());
    let done = run(enable(
        &cluster,
        &mut es,
        &common(true),
        &opts,
        true,
        &mut |_| {},
    ))
    .unwrap();
    assert!(cluster.log.borrow().is_empty());
    assert!(es.restarted.is_empty() && es.registered.is_empty());
    assert_eq!(done.plan.claim, CLAIM);
    assert_eq!(done.plan.restart_pods().len(), 2);
}

#[test]
fn restarts_left_to_the_user_defer_registration() {
    let cluster = Memory::with(&[
        (Kind::StatefulSet, kubesphere_sts()),
        (Kind::PersistentVolumeClaim, bound_claim()),
    ]);
    let mut es = Recorder::default();
    let mut opts = options(Via::Patch);
    opts.restart = false;
    let mut no_restart = common(false);
    no_restart.restart = false;
    let done = run(enable(
        &cluster,
        &mut es,
        &no_restart,
        &opts,
        true,
        &mut |_| {},
    ))
    .unwrap();
    assert!(es.registered.is_empty());
    let later = done.register_later.unwrap();
    assert!(
        later.starts_with("kubectl logbackup repo register ks-log-snapshots --location "),
        "{later}"
    );
}

#[test]
fn bad_targets_and_refused_plans_change_nothing() {
    let cluster = Memory::with(&[(Kind::StatefulSet, kubesphere_sts())]);
    let mut es = Recorder::default();
    let mut bad = common(false);
    bad.targets = vec!["deploy/kibana".into()];
    let err = run(enable(
        &cluster,
        &mut es,
        &bad,
        &options(Via::Auto),
        true,
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(matches!(err, EnableFailure::Refused(_)), "{err}");
    // No claim and no --storage-class to create one.
    let err = run(enable(
        &cluster,
        &mut es,
        &common(false),
        &options(Via::Patch),
        true,
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(err.to_string().contains("--storage-class"), "{err}");
    assert!(cluster.log.borrow().is_empty());
}

#[test]
fn a_conflicting_patch_says_to_run_again() {
    let mut cluster = Memory::with(&[
        (Kind::StatefulSet, kubesphere_sts()),
        (Kind::PersistentVolumeClaim, bound_claim()),
    ]);
    cluster.conflict = true;
    let err = run(enable(
        &cluster,
        &mut Recorder::default(),
        &common(false),
        &options(Via::Patch),
        true,
        &mut |_| {},
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "refused the patch to statefulset/elasticsearch-logging-data and applied none of it"
        ),
        "{err}"
    );
}

#[test]
fn disable_removes_what_enable_added_and_restarts_the_same_pods() {
    let cluster = Memory::with(&[
        (Kind::StatefulSet, kubesphere_sts()),
        (Kind::PersistentVolumeClaim, bound_claim()),
    ]);
    let mut es = Recorder::default();
    run(enable(
        &cluster,
        &mut es,
        &common(false),
        &options(Via::Patch),
        false,
        &mut |_| {},
    ))
    .unwrap();
    let mut es = Recorder::default();
    let done = run(disable(&cluster, &mut es, &common(false), &mut |_| {})).unwrap();
    assert_eq!(done.plan.actions.len(), 1);
    assert!(done.manual_restart.is_empty());
    assert_eq!(es.restarted, vec![format!("{STS}-1"), format!("{STS}-0")]);
    let mut sts = cluster.object(Kind::StatefulSet, STS);
    // Nothing of ours is left; the annotations map enable created stays, emptied.
    assert_eq!(sts["metadata"]["annotations"], json!({}));
    sts["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    assert_eq!(sts, kubesphere_sts());

    // A second disable finds nothing to remove.
    let mut es = Recorder::default();
    let mut said = Vec::new();
    let again = run(disable(&cluster, &mut es, &common(false), &mut |s| {
        said.push(s)
    }))
    .unwrap();
    assert!(again.plan.actions.is_empty());
    assert!(said.contains(&Said::Note(format!(
        "statefulset/{STS}: nothing of ours to remove"
    ))));
}
