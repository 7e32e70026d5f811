//! The shared ReadWriteMany claim: the object to create, or whether an existing one will do.

use serde_json::{json, Value};

use super::error::EnableError;

/// What enable does about the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimCheck {
    /// It exists, is ReadWriteMany, and is Bound or Pending (Pending: WaitForFirstConsumer binds it
    /// when the first pod mounts it).
    Usable { phase: String },
}

/// The PersistentVolumeClaim the manual procedure creates by hand.
pub fn desired_claim(
    name: &str,
    namespace: &str,
    storage_class: &str,
    size: &str,
) -> Result<Value, EnableError> {
    if !valid_quantity(size) {
        return Err(EnableError::BadSize(size.to_owned()));
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": { crate::ids::MANAGED_BY_LABEL: crate::ids::PRODUCT },
        },
        "spec": {
            "accessModes": ["ReadWriteMany"],
            "volumeMode": "Filesystem",
            "resources": { "requests": { "storage": size } },
            "storageClassName": storage_class,
        }
    }))
}

/// A binary or decimal Kubernetes quantity with an integer or decimal number: `100Gi`, `1.5T`, `500M`.
fn valid_quantity(size: &str) -> bool {
    let number_end = size
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(size.len());
    let (number, suffix) = size.split_at(number_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.bytes().any(|b| b != b'0' && b != b'.');
    let suffix_ok = [
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
    ]
    .contains(&suffix);
    number_ok && suffix_ok
}

/// Checks an existing claim: RWX, and not Lost or being deleted.
pub fn check_existing(pvc: &Value) -> Result<ClaimCheck, EnableError> {
    let name = pvc
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("<unnamed>")
        .to_owned();
    let modes: Vec<&str> = pvc
        .pointer("/spec/accessModes")
        .and_then(Value::as_array)
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !modes.contains(&"ReadWriteMany") {
        return Err(EnableError::NotReadWriteMany {
            name,
            modes: modes.join(", "),
        });
    }
    if pvc.pointer("/metadata/deletionTimestamp").is_some() {
        return Err(EnableError::ClaimUnusable {
            name,
            phase: "being deleted".into(),
        });
    }
    let phase = pvc
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
        .to_owned();
    match phase.as_str() {
        "Bound" | "Pending" => Ok(ClaimCheck::Usable { phase }),
        _ => Err(EnableError::ClaimUnusable {
            name,
            phase: format!("{phase} (its volume is gone; delete it or choose another --claim)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvc(modes: &[&str], phase: Option<&str>) -> Value {
        let mut v = json!({"metadata": {"name": "c"}, "spec": {"accessModes": modes}});
        if let Some(p) = phase {
            v["status"] = json!({ "phase": p });
        }
        v
    }

    #[test]
    fn the_created_claim_is_the_seed_procedure_s_claim() {
        let v = desired_claim(
            "elasticsearch-logging-backup",
            "kubesphere-logging-system",
            "nfs-client",
            "100Gi",
        )
        .unwrap();
        assert_eq!(v["spec"]["accessModes"], json!(["ReadWriteMany"]));
        assert_eq!(v["spec"]["storageClassName"], "nfs-client");
        assert_eq!(v["spec"]["resources"]["requests"]["storage"], "100Gi");
        assert_eq!(v["spec"]["volumeMode"], "Filesystem");
        assert_eq!(v["metadata"]["namespace"], "kubesphere-logging-system");
        let typed: k8s_openapi::api::core::v1::PersistentVolumeClaim =
            serde_json::from_value(v).unwrap();
        assert_eq!(
            typed.metadata.name.as_deref(),
            Some("elasticsearch-logging-backup")
        );
    }

    #[test]
    fn sizes_are_kubernetes_quantities() {
        for ok in ["100Gi", "1.5Ti", "500M", "1", "10k"] {
            assert!(desired_claim("c", "n", "s", ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "Gi", "100GB", "0Gi", "-1Gi", "1.Gi", ".5Gi", "1..5Gi", "100 Gi",
        ] {
            assert_eq!(
                desired_claim("c", "n", "s", bad),
                Err(EnableError::BadSize(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn rwx_bound_or_pending_is_usable() {
        assert_eq!(
            check_existing(&pvc(&["ReadWriteMany"], Some("Bound"))),
            Ok(ClaimCheck::Usable {
                phase: "Bound".into()
            })
        );
        assert_eq!(
            check_existing(&pvc(&["ReadWriteOnce", "ReadWriteMany"], None)),
            Ok(ClaimCheck::Usable {
                phase: "Pending".into()
            })
        );
    }

    #[test]
    fn rwo_is_refused_with_the_reason() {
        let e = check_existing(&pvc(&["ReadWriteOnce"], Some("Bound"))).unwrap_err();
        assert_eq!(
            e,
            EnableError::NotReadWriteMany {
                name: "c".into(),
                modes: "ReadWriteOnce".into()
            }
        );
        assert!(e.to_string().contains("not ReadWriteMany"));
    }

    #[test]
    fn lost_and_terminating_claims_are_refused() {
        assert!(matches!(
            check_existing(&pvc(&["ReadWriteMany"], Some("Lost"))),
            Err(EnableError::ClaimUnusable { .. })
        ));
        let mut v = pvc(&["ReadWriteMany"], Some("Bound"));
        v["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
        assert!(matches!(
            check_existing(&v),
            Err(EnableError::ClaimUnusable { .. })
        ));
    }
}
