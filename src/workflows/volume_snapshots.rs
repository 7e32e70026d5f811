//! CSI VolumeSnapshots of the repository claim: taken by `backup --volume-snapshot-class` after a
//! SUCCESS snapshot, then the claim's oldest beyond `keep` deleted; listed by
//! `repo volume-snapshots list`.

use logbackup_core::volume_snapshot::{self as vs, Listed};

use super::Said;
use crate::k8s::{volume_snapshots, K8sError, Kube};

/// What `backup --volume-snapshot-class` takes.
#[derive(Debug, Clone)]
pub struct TakeOptions {
    pub class: String,
    pub claim: String,
    /// How many of the claim's VolumeSnapshots to keep.
    pub keep: usize,
}

fn selector(claim: Option<&str>) -> String {
    let managed = format!(
        "{}={}",
        logbackup_core::schedule::MANAGED_BY_LABEL,
        logbackup_core::schedule::MANAGED_BY
    );
    match claim {
        Some(c) => format!("{}={c},{managed}", vs::CLAIM_LABEL),
        None => managed,
    }
}

/// Ours in `namespace` (of one claim, if given): ready or not, and their size.
pub async fn list(
    kube: &Kube,
    namespace: &str,
    claim: Option<&str>,
) -> Result<Vec<Listed>, K8sError> {
    let objects = volume_snapshots::list(kube, namespace, &selector(claim)).await?;
    Ok(objects.iter().map(vs::listed).collect())
}

/// Takes the VolumeSnapshot named after `snapshot`, then keeps the claim's newest `keep`; its name.
pub async fn take(
    kube: &Kube,
    namespace: &str,
    options: &TakeOptions,
    snapshot: &str,
    say: &mut dyn FnMut(Said),
) -> Result<String, K8sError> {
    say(Said::Note(vs::NOTICE.to_string()));
    let object = vs::object(namespace, &options.claim, &options.class, snapshot);
    let name = volume_snapshots::create(kube, namespace, &object).await?;
    say(Said::Note(format!(
        "VolumeSnapshot {namespace}/{name} of claim {} requested (class {})",
        options.claim, options.class
    )));
    let ours = list(kube, namespace, Some(&options.claim)).await?;
    for old in vs::to_delete(&ours, options.keep) {
        volume_snapshots::delete(kube, namespace, &old).await?;
        say(Said::Note(format!(
            "deleted VolumeSnapshot {namespace}/{old} (keeping {})",
            options.keep
        )));
    }
    Ok(name)
}
