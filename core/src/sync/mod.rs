//! `repo sync` planning: what a repository copy sends, skips and removes and in which order,
//! endpoints as the user writes them, the record a sync leaves, and profile lookup. Pure; the
//! plugin's `sync` module does the I/O.

pub mod location;
pub mod plan;
pub mod profile;
pub mod record;

pub use location::Location;
