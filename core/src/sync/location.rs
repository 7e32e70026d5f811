//! `repo sync` endpoints as the user writes them: a directory or `s3://BUCKET/PREFIX`. Pure.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Dir(PathBuf),
    S3 { bucket: String, prefix: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LocationError {
    #[error("{0:?}: an s3:// location needs a bucket, as in s3://BUCKET/PREFIX")]
    NoBucket(String),
    #[error("{0:?}: only s3:// object-store URLs are supported (S3, MinIO, Ceph RGW); a directory is a plain path")]
    Scheme(String),
    #[error("{0:?}: an empty location")]
    Empty(String),
}

impl Location {
    pub fn parse(text: &str) -> Result<Self, LocationError> {
        if text.trim().is_empty() {
            return Err(LocationError::Empty(text.to_string()));
        }
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(LocationError::NoBucket(text.to_string()));
            }
            let prefix = prefix.trim_matches('/').to_string();
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix,
            });
        }
        if let Some((scheme, _)) = text.split_once("://") {
            if !scheme.contains('/') {
                return Err(LocationError::Scheme(text.to_string()));
            }
        }
        Ok(Self::Dir(PathBuf::from(text)))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(p) => write!(f, "{}", p.display()),
            Self::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Self::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_kinds() {
        assert_eq!(
            Location::parse("s3://logs/ks/repo/").unwrap(),
            Location::S3 {
                bucket: "logs".into(),
                prefix: "ks/repo".into()
            }
        );
        assert_eq!(
            Location::parse("s3://logs").unwrap().to_string(),
            "s3://logs"
        );
        assert_eq!(
            Location::parse("/mnt/backup").unwrap(),
            Location::Dir("/mnt/backup".into())
        );
        assert_eq!(
            Location::parse("./a://b").unwrap(),
            Location::Dir("./a://b".into())
        );
        assert!(matches!(
            Location::parse("s3:///x"),
            Err(LocationError::NoBucket(_))
        ));
        assert!(matches!(
            Location::parse("gs://b/p"),
            Err(LocationError::Scheme(_))
        ));
        assert!(matches!(Location::parse(""), Err(LocationError::Empty(_))));
    }
}
