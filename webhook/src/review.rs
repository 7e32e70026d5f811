//! AdmissionReview bytes in, AdmissionReview JSON out: the whole admission decision, pure and
//! synchronous over the injection core, so the router tests and the handler share it.

use base64::Engine as _;
use kube_core::admission::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, Operation, META_API_VERSION_V1, META_KIND,
};
use kube_core::DynamicObject;
use logbackup_core::inject::{self, Options, Outcome, SkipReason};
use serde_json::Value;

use crate::errors::RequestError;

/// What was decided, for logs and metrics; the wire answer is in [`Reviewed::body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted; the core planned this outcome.
    Admitted(Outcome),
    /// Admitted untouched without asking the core: not a CREATE/UPDATE of an apps/v1 StatefulSet
    /// (a mis-scoped webhook rule must not break unrelated objects).
    Ignored,
    /// The StatefulSet asked for injection and the core cannot inject it.
    Denied,
    /// An AdmissionReview envelope whose request could not be read.
    Invalid,
}

impl Verdict {
    /// Stable label value for `logbackup_webhook_admission_reviews_total{outcome}`.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Admitted(Outcome::Injected) => "injected",
            Verdict::Admitted(Outcome::Updated) => "updated",
            Verdict::Admitted(Outcome::Unchanged) => "unchanged",
            Verdict::Admitted(Outcome::Skipped(SkipReason::NotLabelled)) => "skipped_not_labelled",
            Verdict::Admitted(Outcome::Skipped(SkipReason::OptedOut)) => "skipped_opted_out",
            Verdict::Admitted(Outcome::Skipped(SkipReason::EckOwned)) => "skipped_eck_owned",
            Verdict::Admitted(Outcome::Skipped(SkipReason::NoElasticsearchContainer)) => {
                "skipped_no_elasticsearch_container"
            }
            Verdict::Ignored => "ignored",
            Verdict::Denied => "denied",
            Verdict::Invalid => "invalid",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The AdmissionReview to send back, patch base64-encoded as the API server expects.
    pub body: Value,
    pub verdict: Verdict,
    /// Warning codes the core raised, for metrics.
    pub warning_codes: Vec<&'static str>,
    /// The core's error, when denied, for logs.
    pub denial: Option<String>,
    /// CREATE, UPDATE, DELETE or CONNECT; empty when the request could not be read.
    pub operation: &'static str,
    /// Where the object lives, for the per-review log line; empty when the request could not be read.
    pub namespace: String,
    pub name: String,
}

/// Decides one admission. `Err` only when the body is not an AdmissionReview at all (answered with
/// an HTTP error); every review the API server could send gets `Ok`.
pub fn review(body: &[u8], options: &Options) -> Result<Reviewed, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::EmptyBody);
    }
    let mut value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::MalformedJson(e.to_string()))?;
    let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default();
    if field("apiVersion") != META_API_VERSION_V1 || field("kind") != META_KIND {
        return Err(RequestError::NotAnAdmissionReview {
            api_version: field("apiVersion").to_owned(),
            kind: field("kind").to_owned(),
        });
    }
    // Echo the uid even when the rest cannot be read, so the API server can match the answer.
    let uid = value
        .pointer("/request/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    // The objects are taken out before the envelope is typed: the core reads the object as JSON,
    // and a DynamicObject round trip would double the cost of every review.
    let object = value
        .pointer_mut("/request/object")
        .map(Value::take)
        .filter(|o| !o.is_null());
    if let Some(old) = value.pointer_mut("/request/oldObject") {
        old.take();
    }
    let request = serde_json::from_value::<AdmissionReview<DynamicObject>>(value)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let req: Result<AdmissionRequest<DynamicObject>, _> = r.try_into();
            req.map_err(|e| e.to_string())
        });
    let reviewed = match request {
        Ok(req) => decide(&req, object, options),
        Err(e) => {
            let mut response =
                AdmissionResponse::invalid(format!("failed to read the AdmissionReview: {e}"));
            response.uid = uid;
            Reviewed::new(response, Verdict::Invalid)
        }
    };
    Ok(reviewed)
}

fn decide(
    req: &AdmissionRequest<DynamicObject>,
    object: Option<Value>,
    options: &Options,
) -> Reviewed {
    let mut reviewed = decide_inner(req, object, options);
    reviewed.namespace = req.namespace.clone().unwrap_or_default();
    reviewed.name = req.name.clone();
    reviewed.operation = match req.operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    };
    reviewed
}

fn decide_inner(
    req: &AdmissionRequest<DynamicObject>,
    object: Option<Value>,
    options: &Options,
) -> Reviewed {
    let response = AdmissionResponse::from(req);
    let is_statefulset = req.kind.group == "apps"
        && req.kind.version == "v1"
        && req.kind.kind == "StatefulSet"
        && req.sub_resource.is_none();
    let mutating = matches!(req.operation, Operation::Create | Operation::Update);
    let object = match (object, is_statefulset && mutating) {
        (Some(object), true) => object,
        (None, true) => {
            let mut invalid = AdmissionResponse::invalid("request.object is missing");
            invalid.uid = req.uid.clone();
            return Reviewed::new(invalid, Verdict::Invalid);
        }
        (_, false) => return Reviewed::new(response, Verdict::Ignored),
    };
    match inject::plan(&object, options) {
        Ok(plan) => {
            let codes = plan.warnings.iter().map(|w| w.code).collect();
            let mut response = response;
            if !plan.warnings.is_empty() {
                response.warnings = Some(plan.warnings.iter().map(ToString::to_string).collect());
            }
            let verdict = Verdict::Admitted(plan.outcome);
            response
                .audit_annotations
                .insert("outcome".to_owned(), verdict.label().to_owned());
            if !plan.patch.is_empty() {
                response = match response.clone().with_patch(json_patch::Patch(plan.patch)) {
                    Ok(r) => r,
                    Err(e) => {
                        let msg = format!("internal error: {e}");
                        return Reviewed::new(response.deny(msg), Verdict::Denied);
                    }
                };
            }
            let mut reviewed = Reviewed::new(response, verdict);
            reviewed.warning_codes = codes;
            reviewed
        }
        Err(e) => {
            let msg = format!("logbackup: {e}");
            let mut reviewed = Reviewed::new(response.deny(&msg), Verdict::Denied);
            reviewed.denial = Some(msg);
            reviewed
        }
    }
}

impl Reviewed {
    fn new(response: AdmissionResponse, verdict: Verdict) -> Self {
        Reviewed {
            body: to_wire(response),
            verdict,
            warning_codes: Vec::new(),
            denial: None,
            operation: "",
            namespace: String::new(),
            name: String::new(),
        }
    }
}

/// kube-core 5 serializes `patch` as an array of numbers (kube-rs#1781); the API documents a
/// base64 string, which is what Go's `[]byte` decoding expects. The bytes are taken out before
/// serializing (a JSON array of thousands of numbers is slow to build) and put back as base64.
fn to_wire(mut response: AdmissionResponse) -> Value {
    let patch = response.patch.take();
    let mut value = serde_json::to_value(response.into_review()).unwrap_or_else(|e| {
        // Unreachable for these types; answer with an error the API server can show.
        serde_json::to_value(
            AdmissionResponse::invalid(format!("internal error: {e}")).into_review(),
        )
        .unwrap_or(Value::Null)
    });
    if let (Some(patch), Some(fields)) = (
        patch,
        value.get_mut("response").and_then(Value::as_object_mut),
    ) {
        let encoded = base64::engine::general_purpose::STANDARD.encode(patch);
        fields.insert("patch".to_owned(), Value::String(encoded));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review_of(object: Value, operation: &str) -> Value {
        json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind": {"group": "apps", "version": "v1", "kind": "StatefulSet"},
                "resource": {"group": "apps", "version": "v1", "resource": "statefulsets"},
                "name": "es", "namespace": "logging",
                "operation": operation,
                "userInfo": {"username": "admin"},
                "object": object,
                "dryRun": false
            }
        })
    }

    fn sts(labels: Value, containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "StatefulSet",
            "metadata": {"name": "es-data", "namespace": "logging", "labels": labels},
            "spec": {
                "serviceName": "es", "selector": {"matchLabels": {"app": "es"}},
                "template": {"metadata": {"labels": {"app": "es"}}, "spec": {"containers": containers}}
            }
        })
    }

    fn run(v: &Value) -> Reviewed {
        match review(v.to_string().as_bytes(), &Options::default()) {
            Ok(r) => r,
            Err(e) => panic!("expected a review, got {e}"),
        }
    }

    #[test]
    fn labelled_statefulset_is_patched_with_base64() {
        let obj = sts(
            json!({"logbackup.io/inject": "enabled"}),
            json!([{"name": "elasticsearch", "image": "elasticsearch:7.17.0"}]),
        );
        let r = run(&review_of(obj, "CREATE"));
        assert_eq!(r.verdict, Verdict::Admitted(Outcome::Injected));
        assert_eq!(r.body["response"]["allowed"], true);
        assert_eq!(r.body["response"]["patchType"], "JSONPatch");
        let patch = r.body["response"]["patch"].as_str().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .unwrap();
        let ops: Vec<Value> = serde_json::from_slice(&decoded).unwrap();
        assert!(!ops.is_empty());
    }

    #[test]
    fn unlabelled_statefulset_is_admitted_untouched() {
        let obj = sts(
            json!({}),
            json!([{"name": "elasticsearch", "image": "elasticsearch:7.17.0"}]),
        );
        let r = run(&review_of(obj, "UPDATE"));
        assert_eq!(
            r.verdict,
            Verdict::Admitted(Outcome::Skipped(SkipReason::NotLabelled))
        );
        assert_eq!(r.body["response"]["allowed"], true);
        assert!(r.body["response"].get("patch").is_none());
    }

    #[test]
    fn labelled_statefulset_that_cannot_be_injected_is_denied_with_the_reason() {
        let obj = sts(
            json!({"logbackup.io/inject": "enabled"}),
            json!([{"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "busybox"}]),
        );
        let r = run(&review_of(obj, "CREATE"));
        assert_eq!(r.verdict, Verdict::Denied);
        assert_eq!(r.body["response"]["allowed"], false);
        assert_eq!(
            r.body["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        let msg = r.body["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(msg.contains("logbackup.io/container"), "{msg}");
    }

    #[test]
    fn delete_and_other_kinds_are_ignored() {
        let mut v = review_of(Value::Null, "DELETE");
        assert_eq!(run(&v).verdict, Verdict::Ignored);
        v["request"]["operation"] = json!("CREATE");
        v["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "Pod"});
        v["request"]["object"] =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        let r = run(&v);
        assert_eq!(r.verdict, Verdict::Ignored);
        assert_eq!(r.body["response"]["allowed"], true);
    }

    #[test]
    fn envelope_without_a_readable_request_is_invalid_but_echoes_the_uid() {
        let v = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": "abc", "operation": 42}});
        let r = run(&v);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(r.body["response"]["uid"], "abc");
        assert_eq!(r.body["response"]["allowed"], false);
        let no_request = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"});
        assert_eq!(run(&no_request).verdict, Verdict::Invalid);
    }

    #[test]
    fn non_reviews_are_request_errors() {
        let opts = Options::default();
        assert_eq!(review(b"  \n", &opts).err(), Some(RequestError::EmptyBody));
        assert!(matches!(
            review(b"{not json", &opts),
            Err(RequestError::MalformedJson(_))
        ));
        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#;
        assert!(matches!(
            review(v1beta1, &opts),
            Err(RequestError::NotAnAdmissionReview { .. })
        ));
    }
}
