//! What can go wrong in `repo sync`, each saying what was being attempted and what to do.

use super::location::LocationError;
use super::plan::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Location(#[from] LocationError),
    #[error("{side} {location}: {source}")]
    Refused {
        side: &'static str,
        location: String,
        source: PlanError,
    },
    #[error("{location} is not a directory")]
    NotADirectory { location: String },
    #[error("source directory {location} does not exist")]
    SourceMissing { location: String },
    #[error("{at}: {source}")]
    Io { at: String, source: std::io::Error },
    #[error("bucket {bucket} does not exist (while {doing}); create it first, or check the name, --endpoint and --region")]
    NoBucket { bucket: String, doing: String },
    #[error("access denied while {doing}: {detail}; check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or --profile) and the bucket policy")]
    Denied { doing: String, detail: String },
    #[error("profile {profile:?} has no aws_access_key_id and aws_secret_access_key in the credentials file ($AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials)")]
    Profile { profile: String },
    #[error("failed {doing}: {source}")]
    Store {
        doing: String,
        source: object_store::Error,
    },
}

impl SyncError {
    /// Turns the store's error into the one the user can act on: a missing bucket, denied
    /// credentials, or the store's own words.
    pub fn classify(
        _location: &str,
        bucket: Option<String>,
        doing: String,
        e: object_store::Error,
    ) -> Self {
        let text = e.to_string();
        match (&e, bucket) {
            (_, Some(bucket)) if text.contains("NoSuchBucket") => Self::NoBucket { bucket, doing },
            (object_store::Error::PermissionDenied { .. }, _)
            | (object_store::Error::Unauthenticated { .. }, _) => Self::Denied {
                doing,
                detail: first_line(&text),
            },
            (_, Some(_))
                if [
                    "AccessDenied",
                    "InvalidAccessKeyId",
                    "SignatureDoesNotMatch",
                    "403 Forbidden",
                ]
                .iter()
                .any(|k| text.contains(k)) =>
            {
                Self::Denied {
                    doing,
                    detail: first_line(&text),
                }
            }
            _ => Self::Store { doing, source: e },
        }
    }
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}
