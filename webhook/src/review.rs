//! AdmissionReview bytes in, AdmissionReview JSON out: the whole admission decision, pure and
//! synchronous over the injection core, so the router tests and the handler share it.

use base64::Engine as _;
use kube_core::admission::{
    AdmissionRequest, AdmissionResponse, AdmissionReview, Operation, META_API_VERSION_V1, META_KIND,
};
use kube_core::DynamicObject;
use logbackup_core::inject::{self, Options, Outcome, SkipReason};
use serde_json::value::RawValue;
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

/// How much work one review may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewLimits {
    /// JSON values (objects, arrays, strings, numbers...) in `request.object`. The parsed object
    /// costs memory per value, whatever the body's byte count, so this is what bounds a review.
    pub max_object_values: usize,
}

impl Default for ReviewLimits {
    fn default() -> Self {
        ReviewLimits {
            max_object_values: DEFAULT_MAX_OBJECT_VALUES,
        }
    }
}

/// A KubeSphere Elasticsearch StatefulSet has about 400 values; 10,000 leaves room for very large
/// pod templates. A review costs about 0.9 KiB per value at its peak (measured: 27,000 values took
/// VmHWM from 7 to 32 MiB), so a maximal one stays near 16 MiB (README, "Performance").
pub const DEFAULT_MAX_OBJECT_VALUES: usize = 10_000;

/// Decides one admission. `Err` only when the body is not an AdmissionReview at all (answered with
/// an HTTP error); every review the API server could send gets `Ok`.
///
/// The body is taken by value and dropped as soon as the object is parsed, and `oldObject` is
/// never parsed at all, so a review holds one copy of the object at a time.
pub fn review(
    body: impl AsRef<[u8]>,
    options: &Options,
    limits: &ReviewLimits,
) -> Result<Reviewed, RequestError> {
    let read = read_envelope(body.as_ref(), limits)?;
    drop(body);
    let reviewed = match read {
        Envelope::Invalid { uid, why } => {
            let mut response =
                AdmissionResponse::invalid(format!("failed to read the AdmissionReview: {why}"));
            response.uid = uid;
            Reviewed::new(response, Verdict::Invalid)
        }
        Envelope::Request { request, object } => decide(&request, object, options),
    };
    Ok(reviewed)
}

enum Envelope {
    Invalid {
        uid: String,
        why: String,
    },
    Request {
        request: Box<AdmissionRequest<DynamicObject>>,
        object: Object,
    },
}

/// `request.object`, read only when the review needs it.
enum Object {
    /// Absent or null.
    Missing,
    /// Not a StatefulSet CREATE/UPDATE: never parsed.
    Unread,
    /// More values than the limit: never parsed.
    TooLarge {
        values: usize,
        limit: usize,
    },
    Parsed(Value),
}

type RawFields<'a> = std::collections::BTreeMap<String, &'a RawValue>;

fn read_envelope(body: &[u8], limits: &ReviewLimits) -> Result<Envelope, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::EmptyBody);
    }
    // Fields as raw slices of the body: nothing is copied until we know it is needed.
    let top: RawFields = match serde_json::from_slice(body) {
        Ok(top) => top,
        Err(e) => {
            return match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                // Valid JSON, but not an object.
                Ok(_) => Err(RequestError::NotAnAdmissionReview {
                    api_version: String::new(),
                    kind: String::new(),
                }),
                Err(_) => Err(RequestError::MalformedJson(e.to_string())),
            };
        }
    };
    let text = |fields: &RawFields, k: &str| {
        fields
            .get(k)
            .and_then(|raw| serde_json::from_str::<String>(raw.get()).ok())
            .unwrap_or_default()
    };
    let (api_version, kind) = (text(&top, "apiVersion"), text(&top, "kind"));
    if api_version != META_API_VERSION_V1 || kind != META_KIND {
        return Err(RequestError::NotAnAdmissionReview { api_version, kind });
    }
    let fields: RawFields = match top.get("request").map(|r| serde_json::from_str(r.get())) {
        Some(Ok(fields)) => fields,
        Some(Err(e)) => return Ok(invalid(String::new(), e.to_string())),
        None => return Ok(invalid(String::new(), "request is missing".to_owned())),
    };
    // Echo the uid even when the rest cannot be read, so the API server can match the answer.
    let uid = text(&fields, "uid");
    let mut small = serde_json::Map::new();
    for (k, raw) in fields
        .iter()
        .filter(|(k, _)| *k != "object" && *k != "oldObject")
    {
        match serde_json::from_str(raw.get()) {
            Ok(v) => small.insert(k.clone(), v),
            Err(e) => return Ok(invalid(uid, e.to_string())),
        };
    }
    let envelope = serde_json::json!({"apiVersion": api_version, "kind": kind, "request": small});
    let request = serde_json::from_value::<AdmissionReview<DynamicObject>>(envelope)
        .map_err(|e| e.to_string())
        .and_then(|r| {
            let req: Result<AdmissionRequest<DynamicObject>, _> = r.try_into();
            req.map_err(|e| e.to_string())
        });
    let request = match request {
        Ok(r) => r,
        Err(why) => return Ok(invalid(uid, why)),
    };
    let object = match fields.get("object").map(|r| r.get()) {
        None | Some("null") => Object::Missing,
        Some(_) if !reviewable(&request) => Object::Unread,
        Some(raw) => match count_values(raw.as_bytes()) {
            values if values > limits.max_object_values => Object::TooLarge {
                values,
                limit: limits.max_object_values,
            },
            _ => match serde_json::from_str(raw) {
                Ok(v) => Object::Parsed(v),
                Err(e) => return Ok(invalid(uid, format!("request.object: {e}"))),
            },
        },
    };
    Ok(Envelope::Request {
        request: Box::new(request),
        object,
    })
}

fn invalid(uid: String, why: String) -> Envelope {
    Envelope::Invalid { uid, why }
}

/// A CREATE or UPDATE of an apps/v1 StatefulSet: the only requests whose object is read.
fn reviewable(req: &AdmissionRequest<DynamicObject>) -> bool {
    req.kind.group == "apps"
        && req.kind.version == "v1"
        && req.kind.kind == "StatefulSet"
        && req.sub_resource.is_none()
        && matches!(req.operation, Operation::Create | Operation::Update)
}

/// The JSON values in `raw` (valid JSON), counted from the bytes outside strings: each `{` or `[`
/// opens a container whose first item is one more value, each `,` adds one. Exact except that an
/// empty container counts one extra. One pass, no allocation, so a huge object is refused before
/// it costs anything.
pub fn count_values(raw: &[u8]) -> usize {
    let (mut values, mut in_string, mut escaped) = (1usize, false, false);
    for &b in raw {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b',' | b'[' | b'{' => values += 1,
                _ => {}
            }
        }
    }
    values
}

fn decide(req: &AdmissionRequest<DynamicObject>, object: Object, options: &Options) -> Reviewed {
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
    object: Object,
    options: &Options,
) -> Reviewed {
    let response = AdmissionResponse::from(req);
    if !reviewable(req) {
        return Reviewed::new(response, Verdict::Ignored);
    }
    let object = match object {
        Object::Parsed(object) => object,
        Object::Missing | Object::Unread => {
            let mut invalid = AdmissionResponse::invalid("request.object is missing");
            invalid.uid = req.uid.clone();
            return Reviewed::new(invalid, Verdict::Invalid);
        }
        Object::TooLarge { values, limit } => {
            let msg = format!(
                "logbackup: the StatefulSet has about {values} JSON values, more than the webhook \
                 reviews (--max-object-values={limit}); it was not injected. Raise the limit (and \
                 the Deployment's memory limit with it) or inject it with kubectl logbackup inject"
            );
            let mut reviewed = Reviewed::new(response.deny(&msg), Verdict::Denied);
            reviewed.denial = Some(msg);
            return reviewed;
        }
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
        match review(v.to_string(), &Options::default(), &ReviewLimits::default()) {
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
    fn values_are_counted_outside_strings() {
        assert_eq!(count_values(br#"{"a":1,"b":[true,null,"x,{["]}"#), 6);
        assert_eq!(count_values(br#"["a\"b\\",1]"#), 3);
        assert_eq!(count_values(b"7"), 1);
    }

    #[test]
    fn an_object_over_the_value_limit_is_denied_naming_the_limit() {
        let containers: Vec<Value> = (0..50)
            .map(|i| json!({"name": format!("c{i}"), "image": "elasticsearch:7.17.0"}))
            .collect();
        let obj = sts(json!({"logbackup.io/inject": "enabled"}), json!(containers));
        let body = review_of(obj, "CREATE").to_string();
        let limits = ReviewLimits {
            max_object_values: 100,
        };
        let r = review(body, &Options::default(), &limits).unwrap();
        assert_eq!(r.verdict, Verdict::Denied);
        assert_eq!(
            r.body["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        let msg = r.body["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(msg.contains("--max-object-values=100"), "{msg}");
    }

    #[test]
    fn non_reviews_are_request_errors() {
        let opts = Options::default();
        let limits = ReviewLimits::default();
        assert_eq!(
            review(b"  \n", &opts, &limits).err(),
            Some(RequestError::EmptyBody)
        );
        assert!(matches!(
            review(b"{not json", &opts, &limits),
            Err(RequestError::MalformedJson(_))
        ));
        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#;
        assert!(matches!(
            review(v1beta1, &opts, &limits),
            Err(RequestError::NotAnAdmissionReview { .. })
        ));
    }
}
