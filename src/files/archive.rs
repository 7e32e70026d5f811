//! The archive as `kubectl logbackup files` reads it: a directory (the repository volume's
//! prefix, mounted or reached on a node). Listing, reading back (compressed or not) and removing.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use logbackup_core::files::layout::{ArchivedFile, COLLECTORS_DIR};
use logbackup_core::files::report::Report;
use logbackup_core::files::retention::{Filter, Listed};

use super::FilesError;

/// Every archived file the filter admits, in path order.
pub fn list(archive: &Path, filter: &Filter) -> Result<Vec<Listed>, FilesError> {
    let mut out = Vec::new();
    walk(archive, archive, &mut out)?;
    out.retain(|f| filter.admits(f));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<Listed>) -> Result<(), FilesError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir == root => {
            return Err(FilesError::io("list the archive", dir)(e))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(FilesError::io("list", dir)(e)),
    };
    for entry in entries {
        let entry = entry.map_err(FilesError::io("list", dir))?;
        let path = entry.path();
        let Ok(rel) = path.strip_prefix(root) else {
            continue;
        };
        let Some(rel) = rel.to_str() else { continue };
        if rel == COLLECTORS_DIR {
            continue;
        }
        let meta = entry.metadata().map_err(FilesError::io("stat", &path))?;
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if let Some(file) = ArchivedFile::parse(rel) {
            out.push(Listed {
                path: rel.to_owned(),
                file,
                bytes: meta.len(),
                modified: meta.mtime(),
            });
        }
    }
    Ok(())
}

/// Writes an archived file's lines to `out`, decompressed.
pub fn copy_out(archive: &Path, file: &Listed, out: &mut dyn Write) -> Result<u64, FilesError> {
    let path = archive.join(&file.path);
    let f = File::open(&path).map_err(FilesError::io("open", &path))?;
    let mut reader: Box<dyn Read> = if file.file.name.closed {
        Box::new(flate2::read::GzDecoder::new(f))
    } else {
        Box::new(f)
    };
    std::io::copy(&mut reader, out).map_err(FilesError::io("read", &path))
}

/// Copies an archived file into `dir` under its archived path, decompressed (without `.gz`).
pub fn copy_to(archive: &Path, file: &Listed, dir: &Path) -> Result<u64, FilesError> {
    let rel = file.path.strip_suffix(".gz").unwrap_or(&file.path);
    let target = dir.join(rel);
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).map_err(FilesError::io("create", parent))?;
    }
    let mut out = File::create(&target).map_err(FilesError::io("create", &target))?;
    copy_out(archive, file, &mut out)
}

pub fn remove(archive: &Path, file: &Listed) -> Result<(), FilesError> {
    let path = archive.join(&file.path);
    fs::remove_file(&path).map_err(FilesError::io("remove", &path))
}

/// The collectors' last reports, by node name.
pub fn reports(archive: &Path) -> Result<Vec<Result<Report, String>>, FilesError> {
    let dir = archive.join(COLLECTORS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(FilesError::io("list", &dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(FilesError::io("list", &dir))?;
        let path = entry.path().join("report.json");
        match fs::read(&path) {
            Ok(bytes) => out.push(
                serde_json::from_slice::<Report>(&bytes)
                    .map_err(|e| format!("{}: unreadable report: {e}", path.display())),
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => out.push(Err(format!("{}: {e}", path.display()))),
        }
    }
    out.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => a.node.cmp(&b.node),
        _ => std::cmp::Ordering::Equal,
    });
    Ok(out)
}
