//! What to inject into one StatefulSet: annotations win over the caller's defaults, which win over
//! what is derived from the StatefulSet itself.

use super::container;
use super::error::InjectError;
use super::family::Family;
use super::keys::*;
use super::view::{Container, Pod, Strings};

/// Defaults chosen by the caller (CLI flags, webhook flags); `None` means derive it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub claim: Option<String>,
    pub path: Option<String>,
    pub container: Option<String>,
    pub uid: Option<i64>,
    pub gid: Option<i64>,
}

impl Overrides {
    /// The one check of the caller's defaults, shared by every entry point (`inject`, `enable` on
    /// StatefulSets and on ECK, the webhook's flags): the same rules the annotations are held to.
    /// [`super::plan`] calls it too, so no caller can skip it.
    pub fn validate(&self) -> Result<(), InjectError> {
        let invalid =
            |flag: &'static str, value: &str, reason: String| InjectError::InvalidOverride {
                flag,
                value: value.to_owned(),
                reason,
            };
        if let Some(claim) = &self.claim {
            valid_claim(claim).map_err(|r| invalid("--claim", claim, r))?;
        }
        if let Some(path) = &self.path {
            valid_path(path).map_err(|r| invalid("--path", path, r))?;
        }
        if let Some(container) = &self.container {
            valid_container(container).map_err(|r| invalid("--container", container, r))?;
        }
        for (flag, id) in [("--uid", self.uid), ("--gid", self.gid)] {
            if let Some(id) = id.filter(|id| !valid_id(*id)) {
                return Err(invalid(flag, &id.to_string(), ID_RANGE.into()));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub family: Family,
    pub claim: String,
    pub path: String,
    pub container_index: usize,
    pub container: String,
    pub uid: i64,
    pub gid: i64,
}

/// The claim all StatefulSets of one cluster share: the StatefulSet name without its role suffix,
/// so KubeSphere's `elasticsearch-logging-data` and `-discovery` both get `elasticsearch-logging-backup`.
pub fn default_claim(sts_name: &str) -> String {
    let base = ROLE_SUFFIXES
        .iter()
        .find_map(|suffix| {
            sts_name
                .strip_suffix(suffix)
                .and_then(|rest| rest.strip_suffix('-'))
                .filter(|rest| !rest.is_empty())
        })
        .unwrap_or(sts_name);
    let claim = format!("{base}-backup");
    if claim.len() > 253 {
        // Keep it a valid object name; 253 is the DNS subdomain limit.
        claim[claim.len() - 253..]
            .trim_start_matches(['-', '.'])
            .to_owned()
    } else {
        claim
    }
}

pub fn resolve(
    sts: &str,
    annotations: &Strings,
    pod: &Pod,
    overrides: &Overrides,
) -> Result<Settings, InjectError> {
    let sts_name = sts.rsplit('/').next().unwrap_or(sts);
    let annotated = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    let wanted_container = annotated(CONTAINER_ANNOTATION).or(overrides.container.as_deref());
    let container_index = container::find(sts, &pod.containers, wanted_container)?;
    let es: &Container = &pod.containers[container_index];
    let family = Family::from_image(es.image.unwrap_or_default());

    let claim = match annotated(CLAIM_ANNOTATION) {
        Some(v) => checked(sts, CLAIM_ANNOTATION, v, valid_claim)?,
        None => overrides
            .claim
            .clone()
            .unwrap_or_else(|| default_claim(sts_name)),
    };
    let path = match annotated(PATH_ANNOTATION) {
        Some(v) => checked(sts, PATH_ANNOTATION, v, valid_path)?,
        None => overrides
            .path
            .clone()
            .unwrap_or_else(|| family.default_path().to_owned()),
    };
    let (default_uid, default_gid) = family.default_ids();
    let pod_ctx = pod.security_context.as_ref();
    let ctr_ctx = es.security_context.as_ref();
    let uid = match annotated(UID_ANNOTATION) {
        Some(v) => parse_id(sts, UID_ANNOTATION, v)?,
        None => overrides
            .uid
            .or(ctr_ctx.and_then(|c| c.run_as_user))
            .or(pod_ctx.and_then(|p| p.run_as_user))
            .unwrap_or(default_uid),
    };
    let gid = match annotated(GID_ANNOTATION) {
        Some(v) => parse_id(sts, GID_ANNOTATION, v)?,
        None => overrides
            .gid
            .or(ctr_ctx.and_then(|c| c.run_as_group))
            .or(pod_ctx.and_then(|p| p.run_as_group))
            .or(pod_ctx.and_then(|p| p.fs_group))
            .unwrap_or(default_gid),
    };
    Ok(Settings {
        family,
        claim,
        path,
        container_index,
        container: es.name.to_owned(),
        uid,
        gid,
    })
}

fn checked(
    sts: &str,
    key: &'static str,
    value: &str,
    check: fn(&str) -> Result<(), String>,
) -> Result<String, InjectError> {
    check(value)
        .map(|()| value.to_owned())
        .map_err(|reason| InjectError::InvalidSetting {
            sts: sts.to_owned(),
            key,
            value: value.to_owned(),
            reason,
        })
}

const ID_RANGE: &str = "expected a numeric id between 0 and 4294967295";

fn valid_id(id: i64) -> bool {
    (0..=i64::from(u32::MAX)).contains(&id)
}

fn parse_id(sts: &str, key: &'static str, value: &str) -> Result<i64, InjectError> {
    value
        .parse::<i64>()
        .ok()
        .filter(|id| valid_id(*id))
        .ok_or_else(|| InjectError::InvalidSetting {
            sts: sts.to_owned(),
            key,
            value: value.to_owned(),
            reason: ID_RANGE.into(),
        })
}

/// A container name: a DNS-1123 label.
pub fn valid_container(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let ok_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if name.len() <= 63 && ok_chars && ok_ends {
        Ok(())
    } else {
        Err("a container name must be lowercase letters, digits or '-', start and end alphanumeric, at most 63 characters".into())
    }
}

/// A PVC name: a DNS-1123 subdomain.
pub fn valid_claim(name: &str) -> Result<(), String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let ok_ends = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if name.len() <= 253 && ok_chars && ok_ends {
        Ok(())
    } else {
        Err("a PersistentVolumeClaim name must be lowercase letters, digits, '-' or '.', start and end alphanumeric, at most 253 characters".into())
    }
}

/// The repository path goes into `path.repo` (comma-separated) and into a shell script, so it is
/// restricted to a plain absolute path.
pub fn valid_path(path: &str) -> Result<(), String> {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    let no_dots = path.split('/').all(|part| part != ".." && part != ".");
    if path.starts_with('/') && path.len() > 1 && plain && no_dots {
        Ok(())
    } else {
        Err("expected an absolute directory path of letters, digits, '/', '-', '_' and '.', without '..'".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cluster_shares_one_claim() {
        assert_eq!(
            default_claim("elasticsearch-logging-data"),
            "elasticsearch-logging-backup"
        );
        assert_eq!(
            default_claim("elasticsearch-logging-discovery"),
            "elasticsearch-logging-backup"
        );
        assert_eq!(
            default_claim("elasticsearch-master"),
            "elasticsearch-backup"
        );
        assert_eq!(
            default_claim("my-release-elasticsearch-coordinating-only"),
            "my-release-elasticsearch-backup"
        );
        assert_eq!(
            default_claim("opensearch-cluster-master"),
            "opensearch-cluster-backup"
        );
        assert_eq!(
            default_claim("elasticsearch-logging"),
            "elasticsearch-logging-backup"
        );
        assert_eq!(default_claim("data"), "data-backup");
        assert_eq!(default_claim("metadata"), "metadata-backup");
    }

    #[test]
    fn long_names_stay_valid_claims() {
        let claim = default_claim(&"a".repeat(260));
        assert!(valid_claim(&claim).is_ok(), "{claim}");
    }

    #[test]
    fn paths_that_would_break_path_repo_or_the_script_are_refused() {
        assert!(valid_path("/usr/share/elasticsearch/backup").is_ok());
        for bad in [
            "relative/dir",
            "/",
            "/a,b",
            "/a b",
            "/a/../etc",
            "/a;rm -rf",
            "/a'b",
            "",
        ] {
            assert!(valid_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn validate_names_the_flag_and_the_rule() {
        assert_eq!(Overrides::default().validate(), Ok(()));
        let good = Overrides {
            claim: Some("logs-backup".into()),
            path: Some("/snapshots".into()),
            container: Some("elasticsearch".into()),
            uid: Some(1000),
            gid: Some(0),
        };
        assert_eq!(good.validate(), Ok(()));
        let cases = [
            (
                Overrides {
                    claim: Some("Logs_Backup".into()),
                    ..good.clone()
                },
                "--claim",
            ),
            (
                Overrides {
                    path: Some("/a,b".into()),
                    ..good.clone()
                },
                "--path",
            ),
            (
                Overrides {
                    container: Some("ES".into()),
                    ..good.clone()
                },
                "--container",
            ),
            (
                Overrides {
                    uid: Some(-1),
                    ..good.clone()
                },
                "--uid",
            ),
            (
                Overrides {
                    gid: Some(1 << 32),
                    ..good.clone()
                },
                "--gid",
            ),
        ];
        for (overrides, flag) in cases {
            let e = overrides.validate().unwrap_err();
            assert!(
                matches!(&e, InjectError::InvalidOverride { flag: f, .. } if *f == flag),
                "{e}"
            );
            assert!(
                e.to_string().starts_with(&format!("invalid {flag} ")),
                "{e}"
            );
        }
    }
}
