//! The objects we add to the pod template, as JSON.

use serde_json::{json, Value};

pub fn volume(name: &str, claim: &str) -> Value {
    json!({ "name": name, "persistentVolumeClaim": { "claimName": claim } })
}

pub fn mount(name: &str, path: &str) -> Value {
    json!({ "name": name, "mountPath": path })
}

pub struct InitContainer<'a> {
    pub name: &'a str,
    /// None leaves the image to the operator: ECK gives an init container without one the
    /// Elasticsearch image it runs.
    pub image: Option<&'a str>,
    pub pull_policy: Option<&'a str>,
    pub volume: &'a str,
    pub path: &'a str,
    pub uid: i64,
    pub gid: i64,
}

impl InitContainer<'_> {
    /// Runs the Elasticsearch image as root only to chown the repository; all capabilities but the two
    /// that chown and chmod need are dropped.
    pub fn to_json(&self) -> Value {
        let mut container = serde_json::Map::new();
        container.insert("name".into(), self.name.into());
        if let Some(image) = self.image {
            container.insert("image".into(), image.into());
        }
        if let Some(policy) = self.pull_policy {
            container.insert("imagePullPolicy".into(), policy.into());
        }
        container.insert(
            "command".into(),
            json!(["sh", "-c", chown_script(self.path, self.uid, self.gid)]),
        );
        container.insert(
            "securityContext".into(),
            json!({
                "runAsUser": 0,
                "runAsGroup": 0,
                "runAsNonRoot": false,
                "allowPrivilegeEscalation": false,
                "capabilities": { "drop": ["ALL"], "add": ["CHOWN", "FOWNER"] }
            }),
        );
        container.insert(
            "resources".into(),
            json!({ "requests": { "cpu": "10m", "memory": "16Mi" }, "limits": { "memory": "64Mi" } }),
        );
        container.insert(
            "volumeMounts".into(),
            json!([mount(self.volume, self.path)]),
        );
        Value::Object(container)
    }
}

/// Chown the repository to the server's user. On NFS with root_squash, root cannot chown: the script
/// then checks whether the server can write anyway and, if not, says so loudly and still exits 0, so
/// a backup problem never keeps Elasticsearch (and log ingestion) from starting. `repo verify` and
/// `status` report the unwritable repository.
pub fn chown_script(path: &str, uid: i64, gid: i64) -> String {
    format!(
        r#"dir='{path}'; uid={uid}; gid={gid}
if chown "$uid:$gid" "$dir" && chmod 0775 "$dir"; then
  echo "logbackup: $dir is owned by $uid:$gid"; exit 0
fi
set -- $(stat -c '%u %g %a' "$dir")
mode=$((0${{3:-0}}))
if {{ [ "$1" = "$uid" ] && [ $((mode & 0200)) -ne 0 ]; }} || {{ [ "$2" = "$gid" ] && [ $((mode & 020)) -ne 0 ]; }} || [ $((mode & 02)) -ne 0 ]; then
  echo "logbackup: could not chown $dir (NFS root_squash?), but $uid:$gid can already write it"; exit 0
fi
echo "logbackup: WARNING: could not chown $dir to $uid:$gid and that user cannot write it; snapshots will fail until the export is owned by $uid:$gid on the file server (or exported with no_root_squash). Elasticsearch starts anyway." >&2
exit 0
"#
    )
}
