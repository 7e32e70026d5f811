//! Application log files copied off the nodes: the collector's I/O (`collect`, `disk`) and the
//! archive as `kubectl logbackup files` reads it (`archive`). What to do is decided in
//! `logbackup_core::files`.

pub mod archive;
pub mod collect;
pub mod disk;
pub mod error;

pub use error::FilesError;
