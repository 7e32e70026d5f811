//! The I/O edge of `repo sync`: a directory or an S3 bucket, both behind object_store.

use std::sync::Arc;

use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, PutPayload, WriteMultipart};

use super::error::SyncError;
use super::location::Location;
use super::plan::Object;
use super::profile;

/// Above this a file is streamed in parts rather than held in memory whole.
const PART: usize = 16 * 1024 * 1024;

/// How to reach an S3-compatible store. Credentials: `AWS_*` variables, else `profile`
/// (`--profile` or `AWS_PROFILE`) from the shared credentials file.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// `http(s)://host:port` of MinIO, Ceph RGW or another S3-compatible server.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which MinIO and Ceph RGW need.
    pub path_style: bool,
    pub profile: Option<String>,
    /// The text of the shared credentials file, read by the caller.
    pub credentials_file: Option<String>,
}

pub struct Store {
    /// `None` for a directory that does not exist yet: it lists as empty and is created by
    /// `prepare_for_writes`.
    store: Option<Arc<dyn ObjectStore>>,
    pub location: Location,
}

impl Store {
    pub fn open(location: &Location, s3: &S3Options) -> Result<Self, SyncError> {
        let at = location.to_string();
        let store: Option<Arc<dyn ObjectStore>> = match location {
            Location::Dir(path) => {
                if path.exists() && !path.is_dir() {
                    return Err(SyncError::NotADirectory { location: at });
                }
                if !path.exists() {
                    return Ok(Self {
                        store: None,
                        location: location.clone(),
                    });
                }
                let root = path
                    .canonicalize()
                    .map_err(|source| SyncError::Io { at, source })?;
                let fs = LocalFileSystem::new_with_prefix(root).map_err(|e| SyncError::Store {
                    doing: format!("opening {location}"),
                    source: e,
                })?;
                Some(Arc::new(fs))
            }
            Location::S3 { bucket, prefix } => {
                let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
                let from_env = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
                if let (false, Some(name), Some(text)) =
                    (from_env, &s3.profile, &s3.credentials_file)
                {
                    let keys = profile::find(text, name).ok_or_else(|| SyncError::Profile {
                        profile: name.clone(),
                    })?;
                    builder = builder
                        .with_access_key_id(keys.access_key_id)
                        .with_secret_access_key(keys.secret_access_key);
                    if let Some(token) = keys.session_token {
                        builder = builder.with_token(token);
                    }
                    if let (Some(region), None) = (keys.region, &s3.region) {
                        builder = builder.with_region(region);
                    }
                }
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"));
                }
                if let Some(region) = &s3.region {
                    builder = builder.with_region(region);
                }
                builder = builder.with_virtual_hosted_style_request(!s3.path_style);
                let s3store = builder.build().map_err(|e| SyncError::Store {
                    doing: format!("configuring {location}"),
                    source: e,
                })?;
                let store: Arc<dyn ObjectStore> = if prefix.is_empty() {
                    Arc::new(s3store)
                } else {
                    Arc::new(object_store::prefix::PrefixStore::new(
                        s3store,
                        prefix.as_str(),
                    ))
                };
                Some(store)
            }
        };
        Ok(Self {
            store,
            location: location.clone(),
        })
    }

    fn inner(&self) -> Result<&Arc<dyn ObjectStore>, SyncError> {
        self.store.as_ref().ok_or_else(|| SyncError::NotADirectory {
            location: self.location.to_string(),
        })
    }

    fn fail(&self, doing: String, e: object_store::Error) -> SyncError {
        let bucket = match &self.location {
            Location::S3 { bucket, .. } => Some(bucket.clone()),
            Location::Dir(_) => None,
        };
        SyncError::classify(&self.location.to_string(), bucket, doing, e)
    }

    /// Creates a missing directory before the first write.
    pub fn prepare_for_writes(&mut self) -> Result<(), SyncError> {
        if let (None, Location::Dir(path)) = (&self.store, &self.location) {
            std::fs::create_dir_all(path).map_err(|source| SyncError::Io {
                at: path.display().to_string(),
                source,
            })?;
            *self = Self::open(&self.location, &S3Options::default())?;
        }
        Ok(())
    }

    pub async fn list(&self) -> Result<Vec<Object>, SyncError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let metas: Vec<_> = store
            .list(None)
            .try_collect()
            .await
            .map_err(|e| self.fail(format!("listing {}", self.location), e))?;
        let s3 = matches!(self.location, Location::S3 { .. });
        Ok(metas
            .into_iter()
            .map(|m| Object {
                path: m.location.to_string(),
                size: m.size,
                checksum: if s3 {
                    md5_etag(m.e_tag.as_deref())
                } else {
                    None
                },
            })
            .collect())
    }

    /// The objects under `prefix` only (`dir/`), for callers that own one corner of a store.
    pub async fn list_under(&self, prefix: &str) -> Result<Vec<Object>, SyncError> {
        let Some(store) = &self.store else {
            return Ok(Vec::new());
        };
        let metas: Vec<_> = store
            .list(Some(&StorePath::from(prefix)))
            .try_collect()
            .await
            .map_err(|e| self.fail(format!("listing {prefix} in {}", self.location), e))?;
        Ok(metas
            .into_iter()
            .map(|m| Object {
                path: m.location.to_string(),
                size: m.size,
                checksum: None,
            })
            .collect())
    }

    /// A whole (small) file, or `None` when it is not there.
    pub async fn read(&self, path: &str) -> Result<Option<Vec<u8>>, SyncError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let doing = || format!("reading {path} in {}", self.location);
        match store.get(&StorePath::from(path)).await {
            Ok(r) => Ok(Some(
                r.bytes().await.map_err(|e| self.fail(doing(), e))?.to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(doing(), e)),
        }
    }

    pub async fn write(&self, path: &str, bytes: Vec<u8>) -> Result<(), SyncError> {
        self.inner()?
            .put(&StorePath::from(path), PutPayload::from(bytes))
            .await
            .map_err(|e| self.fail(format!("writing {path} to {}", self.location), e))?;
        Ok(())
    }

    /// Copies one file from `src`; large ones are streamed in parts. Both stores write a file
    /// whole or not at all (a directory through a temporary name and a rename, S3 by a single PUT
    /// or a multipart upload that only appears when completed).
    pub async fn copy_from(&self, src: &Store, object: &Object) -> Result<(), SyncError> {
        let path = StorePath::from(object.path.as_str());
        let reading = || format!("reading {} in {}", object.path, src.location);
        let writing = || format!("writing {} to {}", object.path, self.location);
        let got = src
            .inner()?
            .get(&path)
            .await
            .map_err(|e| src.fail(reading(), e))?;
        if object.size as usize <= PART {
            let bytes = got.bytes().await.map_err(|e| src.fail(reading(), e))?;
            self.inner()?
                .put(&path, PutPayload::from(bytes))
                .await
                .map_err(|e| self.fail(writing(), e))?;
            return Ok(());
        }
        let upload = self
            .inner()?
            .put_multipart(&path)
            .await
            .map_err(|e| self.fail(writing(), e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut stream = got.into_stream();
        loop {
            match stream.try_next().await {
                Ok(Some(chunk)) => writer.write(&chunk),
                Ok(None) => break,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(src.fail(reading(), e));
                }
            }
        }
        writer.finish().await.map_err(|e| self.fail(writing(), e))?;
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> Result<(), SyncError> {
        match self.inner()?.delete(&StorePath::from(path)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.fail(format!("removing {path} from {}", self.location), e)),
        }
    }
}

/// S3 gives a content MD5 as the ETag of objects uploaded in one part; a multipart ETag (with
/// `-N`) is not a checksum of the content, so it counts as none.
fn md5_etag(etag: Option<&str>) -> Option<String> {
    let tag = etag?.trim_matches('"');
    (tag.len() == 32 && tag.bytes().all(|b| b.is_ascii_hexdigit())).then(|| tag.to_lowercase())
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_single_part_etags_are_checksums() {
        assert_eq!(
            super::md5_etag(Some("\"D41D8CD98F00B204E9800998ECF8427E\"")).as_deref(),
            Some("d41d8cd98f00b204e9800998ecf8427e")
        );
        assert_eq!(
            super::md5_etag(Some("\"d41d8cd98f00b204e9800998ecf8427e-3\"")),
            None
        );
        assert_eq!(super::md5_etag(Some("1234-5678-90")), None);
        assert_eq!(super::md5_etag(None), None);
    }
}
