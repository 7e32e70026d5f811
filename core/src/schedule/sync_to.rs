//! `schedule create --sync-to s3://...`: after a SUCCESS snapshot the scheduled `backup` copies the
//! repository off the cluster with `repo sync`. The Job mounts the repository claim read-only; the
//! S3 credentials come from a Secret through the environment, never from an argument.

use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, PersistentVolumeClaimVolumeSource, SecretKeySelector, Volume, VolumeMount,
};

/// Where the repository claim appears in the backup container.
pub const MOUNT: &str = "/repository";
const VOLUME: &str = "repository";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTo {
    /// `s3://BUCKET/PREFIX`.
    pub url: String,
    /// The repository's ReadWriteMany claim.
    pub claim: String,
    /// The repository directory inside the claim (its `location` below the mount), or empty.
    pub sub_path: String,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Secret with the keys `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and optionally
    /// `AWS_SESSION_TOKEN`).
    pub secret: String,
}

impl SyncTo {
    /// The directory `backup --sync-from` reads.
    pub fn source(&self) -> String {
        let sub = self.sub_path.trim_matches('/');
        if sub.is_empty() {
            MOUNT.to_string()
        } else {
            format!("{MOUNT}/{sub}")
        }
    }

    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "--sync-to".to_string(),
            self.url.clone(),
            "--sync-from".to_string(),
            self.source(),
        ];
        if let Some(e) = &self.endpoint {
            a.extend(["--endpoint".to_string(), e.clone()]);
        }
        if let Some(r) = &self.region {
            a.extend(["--region".to_string(), r.clone()]);
        }
        a
    }

    pub fn env(&self) -> Vec<EnvVar> {
        [
            ("AWS_ACCESS_KEY_ID", false),
            ("AWS_SECRET_ACCESS_KEY", false),
            ("AWS_SESSION_TOKEN", true),
        ]
        .into_iter()
        .map(|(key, optional)| EnvVar {
            name: key.to_string(),
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: self.secret.clone(),
                    key: key.to_string(),
                    optional: Some(optional),
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect()
    }

    pub fn volume(&self) -> Volume {
        Volume {
            name: VOLUME.into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: self.claim.clone(),
                read_only: Some(true),
            }),
            ..Default::default()
        }
    }

    pub fn mount(&self) -> VolumeMount {
        VolumeMount {
            name: VOLUME.into(),
            mount_path: MOUNT.into(),
            read_only: Some(true),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync() -> SyncTo {
        SyncTo {
            url: "s3://offsite/ks".into(),
            claim: "elasticsearch-logging-backup".into(),
            sub_path: "/ks-log-snapshots/".into(),
            endpoint: Some("http://minio:9000".into()),
            region: None,
            secret: "offsite-s3".into(),
        }
    }

    #[test]
    fn credentials_come_from_the_secret_never_the_args() {
        let s = sync();
        let args = s.args().join(" ");
        assert_eq!(
            args,
            "--sync-to s3://offsite/ks --sync-from /repository/ks-log-snapshots --endpoint http://minio:9000"
        );
        assert!(!args.contains("AWS"));
        let env = s.env();
        let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN"
            ]
        );
        assert!(env.iter().all(|e| e.value.is_none()));
        let token = env[2]
            .value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap();
        assert_eq!(
            (token.name.as_str(), token.optional),
            ("offsite-s3", Some(true))
        );
    }

    #[test]
    fn the_claim_is_mounted_read_only() {
        let s = sync();
        let v = s.volume();
        let pvc = v.persistent_volume_claim.unwrap();
        assert_eq!(pvc.claim_name, "elasticsearch-logging-backup");
        assert_eq!(pvc.read_only, Some(true));
        assert_eq!(s.mount().read_only, Some(true));
        let root = SyncTo {
            sub_path: String::new(),
            ..sync()
        };
        assert_eq!(root.source(), "/repository");
    }
}
