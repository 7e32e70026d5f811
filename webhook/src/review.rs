//! AdmissionReview bytes in, AdmissionReview JSON out: the whole admission decision, pure and
//! synchronous over the injection core, so the router tests and the handler share it.

use std::borrow::Cow;

use base64::Engine as _;
use kube_core::admission::{Operation, META_API_VERSION_V1, META_KIND};
use kube_core::Status;
use logbackup_core::inject::{self, Doc, Options, Outcome, SkipReason};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::errors::RequestError;
use crate::object::{self, Pruned};

/// What was decided, for logs and metrics; the wire answer is in [`Reviewed::body`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Admitted; the core planned this outcome.
    Admitted(Outcome),
    /// Admitted untouched without asking the core: not a CREATE/UPDATE of a kind it injects
    /// (a mis-scoped webhook rule must not break unrelated objects).
    Ignored,
    /// The object asked for injection and the core cannot inject it.
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
    /// The AdmissionReview to send back, as JSON bytes, patch base64-encoded as the API server
    /// expects.
    pub body: Vec<u8>,
    pub verdict: Verdict,
    /// Warning codes the core raised, for metrics.
    pub warning_codes: Vec<&'static str>,
    /// The core's error, when denied, for logs.
    pub denial: Option<String>,
    /// CREATE, UPDATE, DELETE or CONNECT; empty when the request could not be read.
    pub operation: &'static str,
    /// The request's uid, echoed in the answer (empty when it could not be read).
    pub uid: String,
    /// Where the object lives, for the per-review log line; empty when the request could not be read.
    pub namespace: String,
    pub name: String,
}

impl Reviewed {
    /// The answer parsed back, for tests and tools that inspect it.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
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
/// VmHWM from 7 to 32 MiB), so a maximal one stays near 16 MiB (docs/performance.md).
pub const DEFAULT_MAX_OBJECT_VALUES: usize = 10_000;

/// Decides one admission. `Err` only when the body is not an AdmissionReview at all (answered with
/// an HTTP error); every review the API server could send gets `Ok`.
///
/// The object is parsed into a [`Doc`] whose strings borrow from the body, so the body lives
/// until the plan is made; `oldObject` is never parsed at all. A review holds one copy of the
/// object's text (the body) and the object's structure, never a second parsed copy.
pub fn review(
    body: impl AsRef<[u8]>,
    options: &Options,
    limits: &ReviewLimits,
) -> Result<Reviewed, RequestError> {
    review_counted(body, None, options, limits)
}

/// [`review`] for a caller that has counted the body's values already (`count_values(body)`, or
/// the upper bound `value_bound(body)`, as the handler does for its budget): the object is a part
/// of the body, so it is counted (exactly) again only when that count is over the limit.
pub fn review_counted(
    body: impl AsRef<[u8]>,
    body_values: Option<usize>,
    options: &Options,
    limits: &ReviewLimits,
) -> Result<Reviewed, RequestError> {
    let reviewed = match read_envelope(body.as_ref(), body_values, limits)? {
        Envelope::Invalid { uid, why } => {
            let status = Status::failure(
                &format!("failed to read the AdmissionReview: {why}"),
                "InvalidRequest",
            );
            let mut reviewed = Reviewed::new(Answer::new(&uid, false, status), Verdict::Invalid);
            reviewed.uid = uid;
            reviewed
        }
        Envelope::Request { request, object } => decide(request, object, options),
    };
    Ok(reviewed)
}

enum Envelope<'a> {
    Invalid { uid: String, why: String },
    Request { request: Head, object: Object<'a> },
}

/// What the decision needs from the request besides the object, owned (short strings).
struct Head {
    uid: String,
    name: String,
    namespace: Option<String>,
    operation: Operation,
    /// A CREATE or UPDATE of a kind the core injects: the only requests whose object is read.
    reviewable: bool,
}

/// `request.object`, read only when the review needs it.
enum Object<'a> {
    /// Absent or null.
    Missing,
    /// Not a reviewable CREATE/UPDATE: never parsed.
    Unread,
    /// More values than the limit: never parsed.
    TooLarge { values: usize, limit: usize },
    /// Borrowed from the body.
    Parsed(Doc<'a>),
}

/// The envelope's top level. Each field is a slice of the body: the request is read below, and
/// `apiVersion`/`kind` of any JSON type are reported, not failed on.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "apiVersion", default, borrow)]
    api_version: Option<&'a RawValue>,
    #[serde(default, borrow)]
    kind: Option<&'a RawValue>,
    #[serde(default, borrow)]
    request: Option<&'a RawValue>,
}

/// The request, in one pass over its bytes: strings borrowed from the body where they have no
/// escapes, `object` either parsed in that pass (`O` = [`Pruned`], when the body's values are
/// within the limit) or kept as a slice to be counted first (`O` = `&RawValue`), `oldObject`
/// skipped, and fields we do not read ignored. Required as in
/// `kube_core::admission::AdmissionRequest`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a, O> {
    #[serde(borrow)]
    uid: Cow<'a, str>,
    #[serde(borrow)]
    kind: Gvk<'a>,
    #[serde(rename = "resource", borrow)]
    _resource: Gvr<'a>,
    #[serde(default, borrow)]
    sub_resource: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    namespace: Option<Cow<'a, str>>,
    operation: Operation,
    #[serde(rename = "userInfo")]
    _user_info: IgnoredAny,
    /// Absent reads as `None`, as for any `Option` field.
    object: Option<O>,
    #[serde(rename = "oldObject", default)]
    _old_object: IgnoredAny,
}

#[derive(Deserialize)]
struct Gvk<'a> {
    #[serde(borrow)]
    group: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
}

/// Read only to hold the request to the shape the API server sends.
#[derive(Deserialize)]
struct Gvr<'a> {
    #[serde(rename = "group", borrow)]
    _group: Cow<'a, str>,
    #[serde(rename = "version", borrow)]
    _version: Cow<'a, str>,
    #[serde(rename = "resource", borrow)]
    _resource: Cow<'a, str>,
}

/// The usual review in one pass over the body; anything else is read again field by field
/// ([`Top`], then [`Request`]) to say what is wrong with it.
#[derive(Deserialize)]
struct Whole<'a, O> {
    #[serde(rename = "apiVersion", borrow)]
    api_version: Cow<'a, str>,
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    request: Request<'a, O>,
}

/// Only the uid, to echo it when the rest of the request cannot be read.
#[derive(Deserialize)]
struct UidOnly<'a> {
    #[serde(default, borrow)]
    uid: Option<&'a RawValue>,
}

fn read_envelope<'a>(
    body: &'a [u8],
    body_values: Option<usize>,
    limits: &ReviewLimits,
) -> Result<Envelope<'a>, RequestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::EmptyBody);
    }
    // The object is part of the body: when the body's values are within the limit, so are the
    // object's, and it is parsed in the same pass instead of skipped as a slice and parsed again
    // (its last-applied annotation, an escaped string, was scanned twice).
    let body_values = body_values.unwrap_or_else(|| value_bound(body));
    if body_values <= limits.max_object_values {
        if let Ok(whole) = serde_json::from_slice::<Whole<Pruned>>(body) {
            if whole.api_version == META_API_VERSION_V1 && whole.kind == META_KIND {
                return Ok(accept_parsed(whole.request));
            }
        }
    } else if let Ok(whole) = serde_json::from_slice::<Whole<&RawValue>>(body) {
        if whole.api_version == META_API_VERSION_V1 && whole.kind == META_KIND {
            return Ok(accept(whole.request, Some(body_values), limits));
        }
    }
    let top: Top = match serde_json::from_slice(body) {
        Ok(top) => top,
        Err(e) => {
            let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            return match serde_json::from_slice::<IgnoredAny>(body) {
                // Valid JSON, but not an object.
                Ok(_) if !object => Err(RequestError::NotAnAdmissionReview {
                    api_version: String::new(),
                    kind: String::new(),
                }),
                // Not JSON, or an object serde will not read (a key given twice).
                _ => Err(RequestError::MalformedJson(e.to_string())),
            };
        }
    };
    let (api_version, kind) = (text(top.api_version), text(top.kind));
    if api_version != META_API_VERSION_V1 || kind != META_KIND {
        return Err(RequestError::NotAnAdmissionReview {
            api_version: api_version.into_owned(),
            kind: kind.into_owned(),
        });
    }
    let Some(raw) = top.request else {
        return Ok(invalid(String::new(), "request is missing".to_owned()));
    };
    let request: Request<&RawValue> = match serde_json::from_str(raw.get()) {
        Ok(request) => request,
        Err(e) => {
            // Echo the uid even when the rest cannot be read, so the API server can match the answer.
            let uid = serde_json::from_str::<UidOnly>(raw.get())
                .map(|u| text(u.uid).into_owned())
                .unwrap_or_default();
            return Ok(invalid(uid, e.to_string()));
        }
    };
    Ok(accept(request, None, limits))
}

/// The request read with its object parsed (within the limit): what the decision needs, and the
/// object when it is to be reviewed.
fn accept_parsed<'a>(request: Request<'a, Pruned<'a>>) -> Envelope<'a> {
    let reviewable = reviewable(&request);
    let object = match request.object {
        None => Object::Missing,
        Some(_) if !reviewable => Object::Unread,
        Some(Pruned(object)) => match unique(object) {
            Ok(object) => object,
            Err(why) => return invalid(request.uid.into_owned(), why),
        },
    };
    Envelope::Request {
        request: head(
            request.uid,
            request.name,
            request.namespace,
            request.operation,
            reviewable,
        ),
        object,
    }
}

/// A CREATE or UPDATE (not of a subresource) of an apps/v1 StatefulSet, or of a kind whose pod
/// template can name log directories (a Pod only at CREATE: its volumes are fixed after): the
/// only requests reviewed.
fn reviewable<O>(request: &Request<O>) -> bool {
    let api_version = match request.kind.group.as_ref() {
        "" => Cow::Borrowed(request.kind.version.as_ref()),
        group => Cow::Owned(format!("{group}/{}", request.kind.version)),
    };
    let kind = request.kind.kind.as_ref();
    let operations = match kind {
        "Pod" => matches!(request.operation, Operation::Create),
        _ => matches!(request.operation, Operation::Create | Operation::Update),
    };
    inject::template_path(&api_version, kind).is_some()
        && request.sub_resource.is_none()
        && operations
}

fn head(
    uid: Cow<str>,
    name: Option<Cow<str>>,
    namespace: Option<Cow<str>>,
    operation: Operation,
    reviewable: bool,
) -> Head {
    Head {
        uid: uid.into_owned(),
        name: name.map(Cow::into_owned).unwrap_or_default(),
        namespace: namespace.map(Cow::into_owned),
        operation,
        reviewable,
    }
}

/// The request read with its object as a slice: what the decision needs, and the object when it
/// is to be reviewed, counted before it is parsed.
fn accept<'a>(
    request: Request<'a, &'a RawValue>,
    body_values: Option<usize>,
    limits: &ReviewLimits,
) -> Envelope<'a> {
    let limit = limits.max_object_values;
    let reviewable = reviewable(&request);
    let uid = request.uid.into_owned();
    let object = match request.object.map(RawValue::get) {
        None => Object::Missing,
        Some(_) if !reviewable => Object::Unread,
        Some(raw) => {
            let values = match body_values {
                Some(all) if all <= limit => all,
                _ => count_values(raw.as_bytes()),
            };
            if values > limit {
                Object::TooLarge { values, limit }
            } else {
                match object::parse(raw)
                    .map_err(|e| format!("request.object: {e}"))
                    .and_then(unique)
                {
                    Ok(object) => object,
                    Err(why) => return invalid(uid, why),
                }
            }
        }
    };
    let request = head(
        Cow::Owned(uid),
        request.name,
        request.namespace,
        request.operation,
        reviewable,
    );
    Envelope::Request { request, object }
}

/// The parsed object, unless a map in it has a key twice: `serde_json` kept the last value, the
/// planner would read the first, and the API server never sends one, so it is refused.
fn unique(doc: Doc<'_>) -> Result<Object<'_>, String> {
    match object::duplicate_key(&doc) {
        Some(key) => Err(format!(
            "request.object: the key {key:?} appears twice in one object"
        )),
        None => Ok(Object::Parsed(doc)),
    }
}

/// A JSON string's text; empty for anything else.
fn text(raw: Option<&RawValue>) -> Cow<'_, str> {
    raw.and_then(|raw| serde_json::from_str::<Cow<str>>(raw.get()).ok())
        .unwrap_or_default()
}

fn invalid<'a>(uid: String, why: String) -> Envelope<'a> {
    Envelope::Invalid { uid, why }
}

/// The JSON values in `raw` (valid JSON), counted from the bytes outside strings: each `{` or `[`
/// opens a container whose first item is one more value, each `,` adds one. Exact except that an
/// empty container counts one extra. One pass, no allocation, so a huge object is refused before
/// it costs anything. (Skipping strings with `memchr` measured no faster: 5.6-5.8 against 5.9 µs
/// for the 9 KB KubeSphere review; its strings are short.)
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

/// An upper bound of [`count_values`]: every `,` `[` `{` byte plus one, strings included (a
/// comma inside a string only makes the bound larger). Good enough for a budget and far cheaper
/// than the exact count, so the exact count runs only when the bound crosses a limit. No state
/// between bytes and a byte-wide count per chunk, so the compiler vectorizes it (`[` and `{`
/// differ only in bit 0x20); `memchr3_iter`, whose cost grows with the matches, took 2.6 µs for
/// the 9 KB KubeSphere review.
pub fn value_bound(raw: &[u8]) -> usize {
    let in_chunk = |chunk: &[u8]| {
        chunk.iter().fold(0u8, |n, &b| {
            n + u8::from((b == b',') | ((b | 0x20) == b'{'))
        })
    };
    1 + raw
        .chunks(255)
        .map(|chunk| usize::from(in_chunk(chunk)))
        .sum::<usize>()
}

fn decide(request: Head, object: Object, options: &Options) -> Reviewed {
    let mut reviewed = decide_inner(&request, object, options);
    reviewed.operation = match request.operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    };
    reviewed.uid = request.uid;
    reviewed.namespace = request.namespace.unwrap_or_default();
    reviewed.name = request.name;
    reviewed
}

fn decide_inner(req: &Head, object: Object, options: &Options) -> Reviewed {
    let allowed = || Answer::new(&req.uid, true, Status::default());
    let denied = |msg: String| {
        let status = Status {
            message: msg.clone(),
            ..Status::default()
        };
        let mut reviewed = Reviewed::new(Answer::new(&req.uid, false, status), Verdict::Denied);
        reviewed.denial = Some(msg);
        reviewed
    };
    if !req.reviewable {
        return Reviewed::new(allowed(), Verdict::Ignored);
    }
    let object = match object {
        Object::Parsed(object) => object,
        Object::Missing | Object::Unread => {
            let status = Status::failure("request.object is missing", "InvalidRequest");
            return Reviewed::new(Answer::new(&req.uid, false, status), Verdict::Invalid);
        }
        Object::TooLarge { values, limit } => {
            return denied(format!(
                "logbackup: the object has about {values} JSON values, more than the webhook \
                 reviews (--max-object-values={limit}); it was not injected. Raise the limit (and \
                 the Deployment's memory limit with it) or inject it with kubectl logbackup inject"
            ));
        }
    };
    match inject::plan_object(&object, options) {
        Ok(plan) => {
            let codes = plan.warnings.iter().map(|w| w.code).collect();
            let verdict = Verdict::Admitted(plan.outcome);
            let mut answer = allowed();
            if !plan.warnings.is_empty() {
                answer.warnings = Some(plan.warnings.iter().map(ToString::to_string).collect());
            }
            answer.audit_annotations = Some(AuditAnnotations {
                outcome: verdict.label(),
            });
            if !plan.patch.is_empty() {
                match serde_json::to_vec(&plan.patch) {
                    Ok(patch) => {
                        answer.patch =
                            Some(base64::engine::general_purpose::STANDARD.encode(patch));
                        answer.patch_type = Some("JSONPatch");
                    }
                    Err(e) => return denied(format!("internal error: {e}")),
                }
            }
            let mut reviewed = Reviewed::new(answer, verdict);
            reviewed.warning_codes = codes;
            reviewed
        }
        Err(e) => denied(format!("logbackup: {e}")),
    }
}

impl Reviewed {
    fn new(answer: Answer, verdict: Verdict) -> Self {
        Reviewed {
            body: answer.to_bytes(),
            verdict,
            warning_codes: Vec::new(),
            denial: None,
            operation: "",
            uid: String::new(),
            namespace: String::new(),
            name: String::new(),
        }
    }
}

/// The `response` of the AdmissionReview we send, serialized straight to bytes. The fields and
/// their names are `kube_core::admission::AdmissionResponse`'s, except that `patch` is the base64
/// string the API documents (Go's `[]byte`); kube-core 5 writes an array of numbers (kube-rs#1781).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    uid: &'a str,
    allowed: bool,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    patch_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit_annotations: Option<AuditAnnotations>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warnings: Option<Vec<String>>,
}

#[derive(Serialize)]
struct AuditAnnotations {
    outcome: &'static str,
}

/// The AdmissionReview around the response.
#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    response: &'a Answer<'a>,
}

impl<'a> Answer<'a> {
    fn new(uid: &'a str, allowed: bool, status: Status) -> Self {
        Answer {
            uid,
            allowed,
            status,
            patch: None,
            patch_type: None,
            audit_annotations: None,
            warnings: None,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let wire = Wire {
            api_version: META_API_VERSION_V1,
            kind: META_KIND,
            response: self,
        };
        serde_json::to_vec(&wire).unwrap_or_else(|e| {
            // Unreachable for these types (strings and plain structs); answer with an error the
            // API server can show rather than nothing.
            let status = Status::failure(&format!("internal error: {e}"), "InternalError");
            let answer = Answer::new(self.uid, false, status);
            serde_json::to_vec(&Wire {
                api_version: META_API_VERSION_V1,
                kind: META_KIND,
                response: &answer,
            })
            .unwrap_or_default()
        })
    }
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
        let body = r.json();
        assert_eq!(r.verdict, Verdict::Admitted(Outcome::Injected));
        assert_eq!(body["response"]["allowed"], true);
        assert_eq!(body["response"]["patchType"], "JSONPatch");
        let patch = body["response"]["patch"].as_str().unwrap_or_default();
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
        let body = r.json();
        assert_eq!(
            r.verdict,
            Verdict::Admitted(Outcome::Skipped(SkipReason::NotLabelled))
        );
        assert_eq!(body["response"]["allowed"], true);
        assert!(body["response"].get("patch").is_none());
    }

    #[test]
    fn labelled_statefulset_that_cannot_be_injected_is_denied_with_the_reason() {
        let obj = sts(
            json!({"logbackup.io/inject": "enabled"}),
            json!([{"name": "app", "image": "nginx"}, {"name": "sidecar", "image": "busybox"}]),
        );
        let r = run(&review_of(obj, "CREATE"));
        let body = r.json();
        assert_eq!(r.verdict, Verdict::Denied);
        assert_eq!(body["response"]["allowed"], false);
        assert_eq!(
            body["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        let msg = body["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(msg.contains("logbackup.io/container"), "{msg}");
    }

    #[test]
    fn delete_and_other_kinds_are_ignored() {
        let mut v = review_of(Value::Null, "DELETE");
        assert_eq!(run(&v).verdict, Verdict::Ignored);
        v["request"]["operation"] = json!("CREATE");
        v["request"]["kind"] = json!({"group": "", "version": "v1", "kind": "ConfigMap"});
        v["request"]["object"] =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "p"}});
        let r = run(&v);
        let body = r.json();
        assert_eq!(r.verdict, Verdict::Ignored);
        assert_eq!(body["response"]["allowed"], true);
    }

    #[test]
    fn envelope_without_a_readable_request_is_invalid_but_echoes_the_uid() {
        let v = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                       "request": {"uid": "abc", "operation": 42}});
        let r = run(&v);
        let body = r.json();
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(body["response"]["uid"], "abc");
        assert_eq!(body["response"]["allowed"], false);
        let no_request = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"});
        assert_eq!(run(&no_request).verdict, Verdict::Invalid);
    }

    fn labelled_sts() -> Value {
        sts(
            json!({"logbackup.io/inject": "enabled"}),
            json!([{"name": "elasticsearch", "image": "elasticsearch:7.17.0"}]),
        )
    }

    #[test]
    fn old_object_is_never_counted_against_the_value_limit() {
        let mut v = review_of(labelled_sts(), "UPDATE");
        let huge: Vec<Value> = (0..5_000).map(|i| json!({"n": i})).collect();
        v["request"]["oldObject"] = json!({"spec": {"huge": huge}});
        let limits = ReviewLimits {
            max_object_values: 100,
        };
        let r = review(v.to_string(), &Options::default(), &limits).unwrap();
        assert_eq!(r.verdict, Verdict::Admitted(Outcome::Injected));
        assert_eq!(r.operation, "UPDATE");
    }

    #[test]
    fn a_body_counted_by_the_caller_has_its_object_counted_again_only_over_the_limit() {
        let limits = ReviewLimits {
            max_object_values: 100,
        };
        let opts = Options::default();
        let mut v = review_of(labelled_sts(), "UPDATE");
        let huge: Vec<Value> = (0..500).map(|i| json!({"n": i})).collect();
        v["request"]["oldObject"] = json!({"spec": {"huge": huge}});
        let body = v.to_string();
        let all = count_values(body.as_bytes());
        assert!(all > 100, "{all}");
        // Over the limit in all: the object alone is counted, and it is small.
        let r = review_counted(&body, Some(all), &opts, &limits).unwrap();
        assert_eq!(r.verdict, Verdict::Admitted(Outcome::Injected));
        // A large object is still denied, naming the limit.
        let containers: Vec<Value> = (0..50)
            .map(|i| json!({"name": format!("c{i}"), "image": "elasticsearch:7.17.0"}))
            .collect();
        v["request"]["object"]["spec"]["template"]["spec"]["containers"] = json!(containers);
        let body = v.to_string();
        let r = review_counted(&body, Some(count_values(body.as_bytes())), &opts, &limits).unwrap();
        assert_eq!(r.verdict, Verdict::Denied);
        assert!(r.denial.unwrap().contains("--max-object-values=100"));
    }

    #[test]
    fn the_patch_applies_to_the_object_as_sent_with_managed_fields_and_last_applied() {
        let mut obj = labelled_sts();
        obj["metadata"]["annotations"] = json!({
            "kubectl.kubernetes.io/last-applied-configuration": labelled_sts().to_string(),
            "logbackup.io/path": "/snapshots"
        });
        obj["metadata"]["managedFields"] =
            json!([{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]);
        let r = run(&review_of(obj.clone(), "CREATE"));
        assert_eq!(r.verdict, Verdict::Admitted(Outcome::Injected));
        let patch = r.json()["response"]["patch"].as_str().unwrap().to_owned();
        let patch = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .unwrap();
        let patch: json_patch::Patch = serde_json::from_slice(&patch).unwrap();
        let mut patched = obj.clone();
        json_patch::patch(&mut patched, &patch).unwrap();
        // The annotation the planner reads beside the skipped one still counts.
        assert!(patched.to_string().contains("/snapshots"));
        assert_eq!(patched["metadata"], obj["metadata"]);
        let again = run(&review_of(patched, "UPDATE"));
        assert_eq!(again.verdict, Verdict::Admitted(Outcome::Unchanged));
        assert!(again.json()["response"].get("patch").is_none());
    }

    #[test]
    fn unknown_fields_are_ignored_and_escaped_strings_read() {
        let mut v = review_of(labelled_sts(), "CREATE");
        v["apiVersionExtra"] = json!([1, 2]);
        v["request"]["somethingNew"] = json!({"nested": [true, null]});
        v["request"]["requestKind"] = json!(42);
        // The uid and namespace with JSON escapes: read into owned strings, not borrowed slices.
        let text = v
            .to_string()
            .replace("\"logging\"", "\"log\\u0067ing\"")
            .replace("705ab4f5-", "705ab4f5\\u002d");
        let r = review(text, &Options::default(), &ReviewLimits::default()).unwrap();
        assert_eq!(r.verdict, Verdict::Admitted(Outcome::Injected));
        assert_eq!(r.namespace, "logging");
        assert_eq!(r.name, "es");
        assert_eq!(r.uid, "705ab4f5-6393-11e8-b7cc-42010a800002");
        assert_eq!(r.json()["response"]["uid"], r.uid.as_str());
    }

    #[test]
    fn a_request_without_uid_or_user_info_is_invalid() {
        let mut v = review_of(labelled_sts(), "CREATE");
        v["request"].as_object_mut().unwrap().remove("uid");
        let r = run(&v);
        assert_eq!(r.verdict, Verdict::Invalid);
        let body = r.json();
        assert_eq!(body["response"]["uid"], "");
        assert_eq!(body["response"]["status"]["reason"], "InvalidRequest");
        let msg = body["response"]["status"]["message"].as_str().unwrap();
        assert!(msg.contains("missing field `uid`"), "{msg}");

        let mut v = review_of(labelled_sts(), "CREATE");
        v["request"].as_object_mut().unwrap().remove("userInfo");
        let r = run(&v);
        assert_eq!(r.verdict, Verdict::Invalid);
        assert_eq!(
            r.json()["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
    }

    #[test]
    fn a_reviewable_request_with_a_null_object_is_invalid_and_echoes_the_uid() {
        let r = run(&review_of(Value::Null, "CREATE"));
        assert_eq!(r.verdict, Verdict::Invalid);
        let body = r.json();
        assert_eq!(
            body["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        assert_eq!(
            body["response"]["status"]["message"],
            "request.object is missing"
        );
    }

    #[test]
    fn the_answer_has_the_admission_review_envelope_and_kube_core_field_names() {
        let r = run(&review_of(labelled_sts(), "CREATE"));
        let body = r.json();
        assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(body["kind"], "AdmissionReview");
        assert_eq!(body["response"]["auditAnnotations"]["outcome"], "injected");
        assert_eq!(body["response"]["status"], json!({}));
        // The same answer as kube-core's AdmissionResponse gives, patch aside (base64 here).
        let mut kube: Value = serde_json::from_str(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
                "uid":"705ab4f5-6393-11e8-b7cc-42010a800002",
                "kind":{"group":"apps","version":"v1","kind":"StatefulSet"},
                "resource":{"group":"apps","version":"v1","resource":"statefulsets"},
                "operation":"CREATE","userInfo":{},"object":null,"oldObject":null}}"#,
        )
        .unwrap();
        let review: kube_core::admission::AdmissionReview<kube_core::DynamicObject> =
            serde_json::from_value(kube.take()).unwrap();
        let request: kube_core::admission::AdmissionRequest<_> = review.try_into().unwrap();
        let mut response = kube_core::admission::AdmissionResponse::from(&request);
        response
            .audit_annotations
            .insert("outcome".to_owned(), "injected".to_owned());
        let mut expected = serde_json::to_value(response.into_review()).unwrap();
        let mut got = body.clone();
        for v in [&mut expected, &mut got] {
            let response = v["response"].as_object_mut().unwrap();
            response.remove("patch");
            response.remove("patchType");
        }
        assert_eq!(got, expected);
        assert_eq!(body["response"]["patchType"], "JSONPatch");
    }

    #[test]
    fn values_are_counted_outside_strings() {
        assert_eq!(count_values(br#"{"a":1,"b":[true,null,"x,{["]}"#), 6);
        assert_eq!(count_values(br#"["a\"b\\",1]"#), 3);
        assert_eq!(count_values(b"7"), 1);
        // Escapes at the end of a string, and strings cut short.
        assert_eq!(count_values(br#"["\\",["\"",{}]]"#), 6);
        assert_eq!(count_values(br#"["ab\"#), 2);
        assert_eq!(count_values(br#"["ab"#), 2);
    }

    #[test]
    fn the_value_bound_is_never_below_the_count_and_exact_without_separators_in_strings() {
        // Separators inside strings only raise the bound.
        assert_eq!(value_bound(br#"{"a":1,"b":[true,null,"x,{["]}"#), 9);
        assert_eq!(value_bound(br#"{"a":1,"b":[true,null,"x"]}"#), 6);
        assert_eq!(value_bound(b"7"), 1);
        for raw in [
            &br#"{"a":1,"b":[true,null,"x,{["]}"#[..],
            br#"["a\"b\\",1]"#,
            br#"["\\",["\"",{}]]"#,
            br#"["ab\"#,
            br#"{"k":"{[,,,]}","l":[[],{}]}"#,
        ] {
            assert!(value_bound(raw) >= count_values(raw), "{raw:?}");
        }
        let body = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/fixtures/inject/kubesphere-data.yaml"
        ))
        .unwrap();
        let object: Value = serde_saphyr::from_str(&body).unwrap();
        let raw = serde_json::to_vec(&object).unwrap();
        assert!(value_bound(&raw) >= count_values(&raw));
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
        let body = r.json();
        assert_eq!(r.verdict, Verdict::Denied);
        assert_eq!(
            body["response"]["uid"],
            "705ab4f5-6393-11e8-b7cc-42010a800002"
        );
        let msg = body["response"]["status"]["message"]
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
        let twice =
            br#"{"apiVersion":"admission.k8s.io/v1","apiVersion":"x","kind":"AdmissionReview"}"#;
        match review(twice, &opts, &limits) {
            Err(RequestError::MalformedJson(why)) => assert!(why.contains("duplicate"), "{why}"),
            other => panic!("expected malformed-json, got {other:?}"),
        }
        assert!(matches!(
            review(b"[1]", &opts, &limits),
            Err(RequestError::NotAnAdmissionReview { .. })
        ));
        let v1beta1 = br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#;
        assert!(matches!(
            review(v1beta1, &opts, &limits),
            Err(RequestError::NotAnAdmissionReview { .. })
        ));
    }
}
