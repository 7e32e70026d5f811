use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("failed to {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Checkpoint(#[from] logbackup_core::files::checkpoint::CheckpointError),
    #[error("{0} is not an archived file's path (see `kubectl logbackup files list`)")]
    NotArchived(String),
}

impl FilesError {
    pub fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| FilesError::Io {
            action,
            path,
            source,
        }
    }
}
