//! The file operations the collector's promises rest on: a file written whole or not at all,
//! an append that leaves a correct prefix whenever it stops, a compression that is either done
//! or not begun.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::FilesError;

/// Writes `bytes` to `path` atomically: a temporary beside it, fsync, rename, fsync of the
/// directory. A reader (or a restarted collector) sees the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FilesError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(FilesError::io("create", dir))?;
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(FilesError::io("create", &tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(FilesError::io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(FilesError::io("rename into place", path))?;
    sync_dir(dir)
}

/// Writes `bytes` to `path` through a temporary and a rename, without fsync: readers see a whole
/// file, old or new, but a crash may lose the new one.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), FilesError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(FilesError::io("create", dir))?;
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(FilesError::io("write", &tmp))?;
    fs::rename(&tmp, path).map_err(FilesError::io("rename into place", path))
}

pub fn sync_dir(dir: &Path) -> Result<(), FilesError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(FilesError::io("sync the directory", dir))
}

/// Opens a source file for reading without following a symbolic link: a pod could otherwise
/// point its log directory at another pod's files.
pub fn open_source(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// The length of an archived copy; 0 when it does not exist yet.
pub fn archived_len(path: &Path) -> Result<u64, FilesError> {
    match fs::metadata(path) {
        Ok(m) => Ok(m.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(FilesError::io("read the size of", path)(e)),
    }
}

/// Whether the source's bytes `[start, start + len)` equal the copy's last `len` bytes.
pub fn tail_matches(source: &File, copy: &Path, start: u64, len: u64) -> Result<bool, FilesError> {
    let mut want = vec![0; len as usize];
    let mut have = vec![0; len as usize];
    let mut c = File::open(copy).map_err(FilesError::io("open", copy))?;
    let copy_len = c.metadata().map_err(FilesError::io("stat", copy))?.len();
    c.seek(SeekFrom::Start(copy_len - len))
        .and_then(|_| c.read_exact(&mut want))
        .map_err(FilesError::io("read", copy))?;
    let n = read_at_most(source, start, &mut have).map_err(FilesError::io("read", copy))?;
    Ok(n == have.len() && want == have)
}

fn read_at_most(file: &File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], offset + n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Appends the source's bytes from `from` up to `until` to the copy, then fsyncs it. Stopped at
/// any moment, the copy is a correct prefix: every byte it holds is the source's byte at the
/// same offset, so the next pass resumes from its length. Returns the bytes appended.
pub fn append(source: &File, from: u64, until: u64, copy: &Path) -> Result<u64, FilesError> {
    use std::os::unix::fs::FileExt;
    if let Some(dir) = copy.parent() {
        fs::create_dir_all(dir).map_err(FilesError::io("create", dir))?;
    }
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .open(copy)
        .map_err(FilesError::io("open for appending", copy))?;
    let mut buf = vec![0u8; 256 * 1024];
    let mut offset = from;
    while offset < until {
        let want = ((until - offset) as usize).min(buf.len());
        let n = source
            .read_at(&mut buf[..want], offset)
            .map_err(FilesError::io("read the source of", copy))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(FilesError::io("append to", copy))?;
        offset += n as u64;
    }
    if offset > from {
        out.sync_data().map_err(FilesError::io("sync", copy))?;
    }
    Ok(offset - from)
}

/// Compresses a closed copy into `<copy>.gz` (temporary, fsync, rename), then removes the copy.
/// Done again after a kill, it finds either the copy (and compresses it again) or only the `.gz`.
pub fn compress(copy: &Path, closed: &Path) -> Result<(), FilesError> {
    if !copy.exists() {
        return Ok(());
    }
    let tmp = closed.with_extension("gz.tmp");
    let mut input = File::open(copy).map_err(FilesError::io("open", copy))?;
    let out = File::create(&tmp).map_err(FilesError::io("create", &tmp))?;
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
    std::io::copy(&mut input, &mut gz).map_err(FilesError::io("compress", copy))?;
    let out = gz.finish().map_err(FilesError::io("compress", copy))?;
    out.sync_all().map_err(FilesError::io("sync", &tmp))?;
    // Keep the copy's time: `list --since` and `prune` read it as the time of the last line.
    if let Ok(m) = fs::metadata(copy) {
        let mtime = std::time::UNIX_EPOCH + std::time::Duration::from_secs(m.mtime().max(0) as u64);
        let _ = out.set_modified(mtime);
    }
    fs::rename(&tmp, closed).map_err(FilesError::io("rename into place", closed))?;
    if let Some(dir) = closed.parent() {
        sync_dir(dir)?;
    }
    fs::remove_file(copy).map_err(FilesError::io("remove the compressed", copy))
}
