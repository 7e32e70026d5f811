//! Requests that are not an AdmissionReview at all. They never reach the API server's admission
//! chain (it only sends well-formed reviews), so they are answered with an HTTP error and a JSON
//! body that says what was wrong, for whoever is debugging with curl.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request body is empty; send an admission.k8s.io/v1 AdmissionReview")]
    EmptyBody,
    #[error("content type {0:?} is not supported; send application/json")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("failed to read the request body: {0}")]
    Unreadable(String),
    #[error("failed to parse the request body as JSON: {0}")]
    MalformedJson(String),
    #[error("no route for {0}; the webhook serves POST /mutate")]
    NotFound(String),
    #[error("method {0} is not allowed; send POST")]
    MethodNotAllowed(String),
    #[error("the request was not read and answered within {0:?}")]
    Timeout(std::time::Duration),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("the webhook is already reviewing as many JSON values as it holds at once ({budget}, 1.5 x --max-object-values) and this review did not get its share within {waited:?}; retry the write")]
    Busy {
        budget: u32,
        waited: std::time::Duration,
    },
    #[error("expected apiVersion admission.k8s.io/v1 and kind AdmissionReview, got apiVersion {api_version:?} and kind {kind:?}")]
    NotAnAdmissionReview { api_version: String, kind: String },
}

impl RequestError {
    pub fn status(&self) -> StatusCode {
        match self {
            RequestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::NotFound(_) => StatusCode::NOT_FOUND,
            RequestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            RequestError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            RequestError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            RequestError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Short, stable name for logs and the rejection metric.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::EmptyBody => "empty-body",
            RequestError::UnsupportedMediaType(_) => "unsupported-media-type",
            RequestError::TooLarge { .. } => "too-large",
            RequestError::Unreadable(_) => "unreadable-body",
            RequestError::MalformedJson(_) => "malformed-json",
            RequestError::NotAnAdmissionReview { .. } => "not-an-admission-review",
            RequestError::NotFound(_) => "not-found",
            RequestError::MethodNotAllowed(_) => "method-not-allowed",
            RequestError::Timeout(_) => "timeout",
            RequestError::Internal(_) => "internal",
            RequestError::Busy { .. } => "busy",
        }
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": { "code": self.code(), "message": self.to_string() }
        });
        (self.status(), Json(body)).into_response()
    }
}
