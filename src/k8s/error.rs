//! The one error type of the Kubernetes layer. Each says what was being attempted (verb, kind,
//! namespace, name), what the API server said (its message, once: never kube's Debug dump of the
//! Status), and what the user can do about it.

use std::fmt;

/// The API server's message when it serves no such resource (as opposed to no such object).
const API_NOT_SERVED: &str = "the server could not find the requested resource";

/// kube-rs's reason for an error body that was not a JSON Status (a proxy's, or Go's 404 page).
const KUBE_UNPARSED: &str = "Failed to parse error data";

/// What a call was doing: `create CronJob kubesphere-logging-system/logbackup-nightly`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The RBAC verb: get, list, create, patch, delete.
    pub verb: &'static str,
    /// The kind as users write it (`CronJob`).
    pub kind: String,
    /// The resource as RBAC names it (`cronjobs`, `cronjobs.batch` when the group is not core).
    pub resource: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Said instead of the above when it is not one object or list (`ask the API server ...`).
    pub text: Option<String>,
}

impl Attempt {
    pub fn new(verb: &'static str, kind: &str, resource: &str) -> Self {
        Self {
            verb,
            kind: kind.to_owned(),
            resource: resource.to_owned(),
            namespace: None,
            name: None,
            text: None,
        }
    }

    /// An attempt described in words, for calls that are not on one kind of object.
    pub fn described(verb: &'static str, resource: &str, text: &str) -> Self {
        let mut a = Self::new(verb, resource, resource);
        a.text = Some(text.to_owned());
        a
    }

    pub fn in_namespace(mut self, namespace: Option<&str>) -> Self {
        self.namespace = namespace.map(str::to_owned);
        self
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    fn verb_text(&self) -> &'static str {
        match self.verb {
            "get" => "read",
            other => other,
        }
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(text) = &self.text {
            return f.write_str(text);
        }
        match (&self.name, &self.namespace) {
            (Some(name), Some(ns)) => write!(f, "{} {} {ns}/{name}", self.verb_text(), self.kind),
            (Some(name), None) => write!(f, "{} {} {name}", self.verb_text(), self.kind),
            (None, Some(ns)) => write!(f, "{} the {}s in {ns}", self.verb_text(), self.kind),
            (None, None) => write!(f, "{} the {}s", self.verb_text(), self.kind),
        }
    }
}

/// What went wrong, without the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The API server answered with a Status.
    Api {
        code: u16,
        reason: String,
        message: String,
    },
    /// No answer: connection refused, DNS, TLS, timeout.
    Unreachable { server: String, detail: String },
    /// The server does not serve what we need (an API version, a field).
    Unsupported(String),
    /// Our own object could not be built or read back.
    Invalid(String),
    /// A wait ran out before `until` held.
    Timeout { seconds: u64, until: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct K8sError {
    /// Boxed: errors travel through every `Result` of the layer, and stay small that way.
    pub attempt: Box<Attempt>,
    pub problem: Problem,
    /// What a half-done command removed again, or left behind and how to remove it.
    pub cleanup: Option<String>,
}

impl fmt::Display for K8sError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_problem(f)?;
        match &self.cleanup {
            Some(cleanup) => write!(f, "; {cleanup}"),
            None => Ok(()),
        }
    }
}

impl K8sError {
    fn fmt_problem(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Api {
                code,
                reason,
                message,
            } => {
                let reason = if reason.is_empty() {
                    String::new()
                } else {
                    format!(" {reason}")
                };
                write!(
                    f,
                    "failed to {}: {message} (HTTP {code}{reason})",
                    self.attempt
                )
            }
            Problem::Unreachable { server, detail } => write!(
                f,
                "failed to {}: cannot reach the API server at {server}: {detail}",
                self.attempt
            ),
            Problem::Unsupported(what) | Problem::Invalid(what) => {
                write!(f, "failed to {}: {what}", self.attempt)
            }
            Problem::Timeout { seconds, until } => {
                write!(f, "timed out after {seconds}s waiting until {until}")
            }
        }
    }
}

impl K8sError {
    pub fn new(attempt: Attempt, problem: Problem) -> Self {
        Self {
            attempt: Box::new(attempt),
            problem,
            cleanup: None,
        }
    }

    /// The HTTP status the API server answered with, if it answered.
    pub fn code(&self) -> Option<u16> {
        match &self.problem {
            Problem::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    /// 404 because the server serves no such resource at all (an API version, a CRD missing).
    pub fn is_api_not_served(&self) -> bool {
        matches!(&self.problem, Problem::Api { code: 404, message, .. } if message.contains(API_NOT_SERVED))
    }

    pub fn is_forbidden(&self) -> bool {
        self.code() == Some(403)
    }

    /// 409 (changed since read, or already exists) or 422 (a JSON-patch `test` failed, or invalid).
    pub fn is_conflict(&self) -> bool {
        matches!(self.code(), Some(409) | Some(422))
    }

    /// What to do about it, for the line after the error.
    pub fn hint(&self) -> Option<String> {
        let a = &self.attempt;
        let scope = a
            .namespace
            .as_deref()
            .map(|ns| format!(" -n {ns}"))
            .unwrap_or_default();
        let place = a
            .namespace
            .as_deref()
            .map(|ns| format!("in namespace {ns}"))
            .unwrap_or_else(|| "cluster-wide".to_owned());
        match &self.problem {
            Problem::Api { code: 401, .. } => Some(
                "the API server did not accept your credentials: check the kubeconfig user \
                 (an expired token or certificate?) with `kubectl auth whoami` or `kubectl get ns`"
                    .to_owned(),
            ),
            Problem::Api { code: 403, message, .. } if message.contains(NAMESPACE_TERMINATING) => {
                let ns = a.namespace.as_deref().map(|ns| format!(" {ns}")).unwrap_or_default();
                Some(format!(
                    "the namespace{ns} is being deleted, so nothing new can be created in it: wait until \
                     `kubectl get namespace{ns}` says it is gone, then create it again (or use another namespace)"
                ))
            }
            Problem::Api { code: 403, .. } => Some(format!(
                "forbidden: your user needs `{}` on `{}` {place}; check with `kubectl auth can-i {} {}{scope}`, \
                 and ask a cluster admin for a Role that grants it",
                a.verb, a.resource, a.verb, a.resource
            )),
            Problem::Api { code: 404, .. } if a.name.is_none() || self.is_api_not_served() => Some(format!(
                "this cluster does not serve {}: is the API (or its CustomResourceDefinition) installed? \
                 `kubectl api-resources` lists what it serves",
                a.resource
            )),
            Problem::Api { code: 404, .. } => Some(format!(
                "{} {} does not exist{}: check the name and the namespace (`kubectl get {}{scope}`)",
                a.kind,
                a.name.as_deref().unwrap_or_default(),
                a.namespace
                    .as_deref()
                    .map(|ns| format!(" in namespace {ns}"))
                    .unwrap_or_default(),
                a.resource
            )),
            Problem::Api {
                code: 409, reason, ..
            } if reason == "AlreadyExists" => Some(format!(
                "a {} of that name already exists and is not ours; choose another name or remove it",
                a.kind
            )),
            Problem::Api { code: 409, .. } | Problem::Api { code: 422, .. }
                if a.verb == "patch" =>
            {
                Some(format!(
                    "the {} changed while we worked on it (someone else edited it): run the command again",
                    a.kind
                ))
            }
            Problem::Api { code: 409, .. } => {
                Some("someone else changed it meanwhile: run the command again".to_owned())
            }
            Problem::Api { code: 500.., message, .. } if failed_webhook(message).is_some() => {
                Some(webhook_hint(failed_webhook(message).unwrap_or_default()))
            }
            Problem::Api { code: 500.., .. } => Some(
                "the API server failed: try again; if it persists, look at the API server's logs"
                    .to_owned(),
            ),
            Problem::Unreachable { .. } => Some(
                "check that the cluster is up and that the kubeconfig context points at it \
                 (`kubectl config current-context`, `kubectl cluster-info`; --context, --kubeconfig)"
                    .to_owned(),
            ),
            _ => None,
        }
    }
}

/// The API server's words when a namespace is being deleted (403, like a missing permission).
const NAMESPACE_TERMINATING: &str = "because it is being terminated";

/// The admission webhook the API server could not call, from its message:
/// `Internal error occurred: failed calling webhook "NAME": Post "https://...": ...`.
fn failed_webhook(message: &str) -> Option<&str> {
    let rest = message.split("failed calling webhook \"").nth(1)?;
    rest.split('"').next().filter(|name| !name.is_empty())
}

fn webhook_hint(name: &str) -> String {
    if name == logbackup_core::enable::WEBHOOK_NAME {
        format!(
            "the API server could not call our admission webhook {name} (Deployment {deployment}), which must \
             answer before a labelled StatefulSet can be saved: `kubectl logbackup webhook status` says why; \
             once its pods are ready again, run the same command again",
            deployment = logbackup_core::ids::WEBHOOK,
        )
    } else {
        format!(
            "the API server could not call the admission webhook {name}, which is not ours: \
             `kubectl get mutatingwebhookconfigurations,validatingwebhookconfigurations` shows who runs it; \
             once it answers, run the same command again"
        )
    }
}

/// Maps a kube-rs error to ours: the Status's message for API errors, the innermost cause for
/// transport errors (kube's own Display of a Status embeds its Debug dump).
pub fn from_kube(attempt: Attempt, server: &str, error: kube::Error) -> K8sError {
    let problem = match error {
        // An API group the server does not have answers with Go's plain-text "404 page not
        // found", which kube-rs wraps with a reason of its own: say it as the server says it for
        // a resource it does not serve in a group it has.
        kube::Error::Api(status) if status.reason == KUBE_UNPARSED && status.code == 404 => {
            Problem::Api {
                code: 404,
                reason: "NotFound".to_owned(),
                message: API_NOT_SERVED.to_owned(),
            }
        }
        kube::Error::Api(status) => Problem::Api {
            code: status.code,
            reason: if status.reason == KUBE_UNPARSED {
                String::new()
            } else {
                status.reason.clone()
            },
            message: match status.message.trim() {
                "" => "no message".to_owned(),
                text => text.to_owned(),
            },
        },
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::RustlsTls(_) => {
            Problem::Unreachable {
                server: server.to_owned(),
                detail: innermost(&error),
            }
        }
        other => Problem::Invalid(innermost(&other)),
    };
    K8sError::new(attempt, problem)
}

/// The deepest cause's text: "Connection refused (os error 111)" rather than "client error (Connect)".
pub(crate) fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16, reason: &str, message: &str) -> Problem {
        Problem::Api {
            code,
            reason: reason.into(),
            message: message.into(),
        }
    }

    fn create_cronjob() -> Attempt {
        Attempt::new("create", "CronJob", "cronjobs.batch")
            .in_namespace(Some("logs"))
            .named("logbackup-nightly")
    }

    #[test]
    fn our_webhook_not_answering_is_named_and_points_at_webhook_status() {
        let e = K8sError::new(
            Attempt::new("patch", "StatefulSet", "statefulsets.apps")
                .in_namespace(Some("logs"))
                .named("es-data"),
            api(500, "InternalError", "Internal error occurred: failed calling webhook \"inject.logbackup.io\": Post \"https://logbackup-webhook.logbackup-system.svc:443/mutate?timeout=5s\": dial tcp 10.96.0.12:443: connect: connection refused"),
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("our admission webhook inject.logbackup.io"),
            "{hint}"
        );
        assert!(hint.contains("kubectl logbackup webhook status"), "{hint}");
        assert!(!hint.contains("the API server failed"), "{hint}");
    }

    #[test]
    fn another_webhook_not_answering_is_not_called_ours() {
        let e = K8sError::new(
            create_cronjob(),
            api(500, "InternalError", "Internal error occurred: failed calling webhook \"validate.kyverno.svc\": Post \"https://kyverno-svc.kyverno.svc:443/validate\": context deadline exceeded"),
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.contains("validate.kyverno.svc, which is not ours"),
            "{hint}"
        );
        assert!(!hint.contains("logbackup webhook status"), "{hint}");
    }

    #[test]
    fn a_namespace_being_deleted_is_not_explained_as_missing_rbac() {
        let e = K8sError::new(
            Attempt::new("create", "ServiceAccount", "serviceaccounts")
                .in_namespace(Some("logs"))
                .named("logbackup-nightly"),
            api(403, "Forbidden", "serviceaccounts \"logbackup-nightly\" is forbidden: unable to create new content in namespace logs because it is being terminated"),
        );
        let hint = e.hint().unwrap();
        assert!(hint.contains("namespace logs is being deleted"), "{hint}");
        assert!(!hint.contains("auth can-i"), "{hint}");
    }

    #[test]
    fn forbidden_names_the_verb_resource_and_namespace_to_grant() {
        let e = K8sError::new(
            create_cronjob(),
            api(403, "Forbidden", "cronjobs.batch is forbidden: User \"dev\" cannot create resource \"cronjobs\" in API group \"batch\" in the namespace \"logs\""),
        );
        assert_eq!(
            e.to_string(),
            "failed to create CronJob logs/logbackup-nightly: cronjobs.batch is forbidden: User \"dev\" cannot create resource \"cronjobs\" in API group \"batch\" in the namespace \"logs\" (HTTP 403 Forbidden)"
        );
        let hint = e.hint().unwrap();
        assert!(
            hint.starts_with(
                "forbidden: your user needs `create` on `cronjobs.batch` in namespace logs"
            ),
            "{hint}"
        );
        assert!(
            hint.contains("kubectl auth can-i create cronjobs.batch -n logs"),
            "{hint}"
        );
        assert!(e.is_forbidden());
    }

    #[test]
    fn a_missing_object_and_a_missing_api_get_different_advice() {
        let object = K8sError::new(
            Attempt::new("get", "StatefulSet", "statefulsets.apps")
                .in_namespace(Some("logs"))
                .named("es"),
            api(404, "NotFound", "statefulsets.apps \"es\" not found"),
        );
        assert!(object
            .hint()
            .unwrap()
            .contains("StatefulSet es does not exist in namespace logs"));
        let served = K8sError::new(
            Attempt::new("list", "CronJob", "cronjobs.batch").in_namespace(Some("logs")),
            api(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
        assert!(served
            .hint()
            .unwrap()
            .starts_with("this cluster does not serve cronjobs.batch"));
        assert_eq!(
            served.to_string(),
            "failed to list the CronJobs in logs: the server could not find the requested resource (HTTP 404 NotFound)"
        );
    }

    #[test]
    fn conflicts_and_unreachable_servers_say_what_to_do() {
        let patch = Attempt::new("patch", "StatefulSet", "statefulsets.apps")
            .in_namespace(Some("logs"))
            .named("es");
        let e = K8sError::new(patch, api(409, "Conflict", "the object has been modified"));
        assert!(e.is_conflict());
        assert!(e.hint().unwrap().contains("run the command again"));
        let exists = K8sError::new(
            create_cronjob(),
            api(409, "AlreadyExists", "already exists"),
        );
        assert!(exists
            .hint()
            .unwrap()
            .contains("already exists and is not ours"));
        let down = K8sError::new(
            create_cronjob(),
            Problem::Unreachable {
                server: "https://127.0.0.1:6443".into(),
                detail: "Connection refused (os error 111)".into(),
            },
        );
        assert_eq!(
            down.to_string(),
            "failed to create CronJob logs/logbackup-nightly: cannot reach the API server at https://127.0.0.1:6443: Connection refused (os error 111)"
        );
        assert!(down.hint().unwrap().contains("kubectl cluster-info"));
    }

    #[test]
    fn kube_status_errors_keep_the_message_and_drop_the_debug_dump() {
        let status = kube::core::Status::failure("cronjobs.batch \"x\" not found", "NotFound")
            .with_code(404);
        let e = from_kube(
            create_cronjob(),
            "https://k",
            kube::Error::Api(Box::new(status)),
        );
        let text = e.to_string();
        assert!(
            text.ends_with("cronjobs.batch \"x\" not found (HTTP 404 NotFound)"),
            "{text}"
        );
        assert!(!text.contains("Status {"), "{text}");
        assert!(std::error::Error::source(&e).is_none());
    }
}
