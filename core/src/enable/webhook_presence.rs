//! Is our webhook installed? Judged from the cluster's MutatingWebhookConfigurations.

use serde_json::Value;

/// The name manifests/webhook gives it.
pub const WEBHOOK_CONFIGURATION: &str = crate::ids::WEBHOOK;
/// The webhook entry's name, which survives a kustomize name prefix.
pub const WEBHOOK_NAME: &str = "inject.logbackup.io";

/// Installed when any configuration is ours by name, by our `part-of` label, or carries our webhook
/// entry: a renamed install (namePrefix, Helm) keeps at least one of these.
pub fn webhook_installed(configurations: &[Value]) -> bool {
    configurations.iter().any(|c| {
        let name = c.pointer("/metadata/name").and_then(Value::as_str);
        let part_of = c
            .pointer("/metadata/labels")
            .and_then(|l| l.get(crate::ids::PART_OF_LABEL))
            .and_then(Value::as_str);
        let entry = c
            .get("webhooks")
            .and_then(Value::as_array)
            .is_some_and(|w| {
                w.iter()
                    .any(|h| h.get("name").and_then(Value::as_str) == Some(WEBHOOK_NAME))
            });
        name == Some(WEBHOOK_CONFIGURATION) || part_of == Some(crate::ids::PRODUCT) || entry
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn found_by_name_label_or_entry() {
        assert!(webhook_installed(&[
            json!({"metadata": {"name": "logbackup-webhook"}})
        ]));
        assert!(webhook_installed(&[
            json!({"metadata": {"name": "x", "labels": {"app.kubernetes.io/part-of": "kubectl-logbackup"}}})
        ]));
        assert!(webhook_installed(&[
            json!({"metadata": {"name": "prod-hook"}, "webhooks": [{"name": "inject.logbackup.io"}]})
        ]));
    }

    #[test]
    fn others_are_not_ours() {
        assert!(!webhook_installed(&[]));
        assert!(!webhook_installed(&[
            json!({"metadata": {"name": "istio-sidecar-injector"}, "webhooks": [{"name": "sidecar.istio.io"}]})
        ]));
    }
}
