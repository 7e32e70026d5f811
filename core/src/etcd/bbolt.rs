//! The revision a snapshot holds, read from the snapshot file itself.
//!
//! etcd's Maintenance.Snapshot stream carries no revision (3.4 sends no header at all), and a busy
//! cluster moves on while the stream runs, so asking the server before or after gives a range, not
//! the snapshot's revision. The file knows: a snapshot is a bbolt database whose `key` bucket is
//! keyed by revision (8 bytes main, big-endian, `_`, 8 bytes sub, `t` on a tombstone) and whose
//! `meta` bucket keeps `finishedCompactRev`. etcd's own restore takes the larger of the last key's
//! revision and the compacted one; so do we. Only the pages on the way to the right-most key are
//! read, through a caller's page source: no I/O here, no whole file in memory.

const PAGE_HEADER: usize = 16;
const ELEMENT: usize = 16;
const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const META_PAGE: u16 = 0x04;
const BUCKET_LEAF: u32 = 0x01;
const MAGIC: u32 = 0xED0C_DAED;
/// A bucket value: the root page id and a sequence; an inline bucket (root 0) has its page after.
const BUCKET_HEADER: usize = 16;
/// Guards against a corrupt file sending the walk round in circles.
const MAX_DEPTH: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BboltError {
    #[error("not an etcd snapshot: {0}")]
    Format(String),
    #[error("could not read the snapshot at byte {offset}: {message}")]
    Read { offset: u64, message: String },
}

/// Reads `len` bytes at `offset`; fewer only at the end of the file.
pub trait PageSource {
    fn read_at(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, String>;
}

impl<F: FnMut(u64, usize) -> Result<Vec<u8>, String>> PageSource for F {
    fn read_at(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        self(offset, len)
    }
}

/// A leaf element: key, value and flags.
type LeafElement<'a> = (&'a [u8], &'a [u8], u32);

/// A page's bytes, overflow pages included, or an inline bucket's page.
struct Page {
    bytes: Vec<u8>,
}

impl Page {
    fn flags(&self) -> u16 {
        u16_at(&self.bytes, 8)
    }
    fn count(&self) -> usize {
        usize::from(u16_at(&self.bytes, 10))
    }
    fn slice(&self, at: usize, len: usize) -> Result<&[u8], BboltError> {
        self.bytes.get(at..at.saturating_add(len)).ok_or_else(|| {
            BboltError::Format(format!("an element points outside its page (byte {at})"))
        })
    }
    /// The last element's key (and value, on a leaf).
    fn last_leaf(&self) -> Result<Option<LeafElement<'_>>, BboltError> {
        let n = self.count();
        if n == 0 {
            return Ok(None);
        }
        self.leaf(n - 1).map(Some)
    }
    fn leaf(&self, i: usize) -> Result<LeafElement<'_>, BboltError> {
        let at = PAGE_HEADER + i * ELEMENT;
        let e = self.slice(at, ELEMENT)?;
        let (flags, pos, ksize, vsize) = (u32_at(e, 0), u32_at(e, 4), u32_at(e, 8), u32_at(e, 12));
        let start = at + pos as usize;
        let key = self.slice(start, ksize as usize)?;
        let value = self.slice(start + ksize as usize, vsize as usize)?;
        Ok((key, value, flags))
    }
    fn branch(&self, i: usize) -> Result<(&[u8], u64), BboltError> {
        let at = PAGE_HEADER + i * ELEMENT;
        let e = self.slice(at, ELEMENT)?;
        let (pos, ksize, pgid) = (u32_at(e, 0), u32_at(e, 4), u64_at(e, 8));
        Ok((self.slice(at + pos as usize, ksize as usize)?, pgid))
    }
}

struct Db<'a, S: PageSource> {
    source: &'a mut S,
    page_size: usize,
}

impl<S: PageSource> Db<'_, S> {
    fn read(&mut self, offset: u64, len: usize) -> Result<Vec<u8>, BboltError> {
        let bytes = self
            .source
            .read_at(offset, len)
            .map_err(|message| BboltError::Read { offset, message })?;
        if bytes.len() < len {
            return Err(BboltError::Format(format!(
                "the file ends at byte {} inside a page that starts at {offset}: truncated",
                offset + bytes.len() as u64
            )));
        }
        Ok(bytes)
    }

    fn page(&mut self, id: u64) -> Result<Page, BboltError> {
        let offset = id
            .checked_mul(self.page_size as u64)
            .ok_or_else(|| BboltError::Format(format!("page id {id} is out of range")))?;
        let mut bytes = self.read(offset, self.page_size)?;
        let overflow = u32_at(&bytes, 12) as usize;
        if overflow > 0 {
            let more = self.read(offset + self.page_size as u64, overflow * self.page_size)?;
            bytes.extend_from_slice(&more);
        }
        Ok(Page { bytes })
    }

    /// The page a bucket value roots at: its own page, or the inline page inside the value.
    fn bucket_root(&mut self, value: &[u8]) -> Result<Page, BboltError> {
        if value.len() < BUCKET_HEADER {
            return Err(BboltError::Format("a bucket value is too short".into()));
        }
        match u64_at(value, 0) {
            0 => Ok(Page {
                bytes: value[BUCKET_HEADER..].to_vec(),
            }),
            root => self.page(root),
        }
    }

    /// The value under `name` in the bucket rooted at `page` (exact match).
    fn find(&mut self, mut page: Page, name: &[u8]) -> Result<Option<(Vec<u8>, u32)>, BboltError> {
        for _ in 0..MAX_DEPTH {
            match page.flags() {
                f if f & LEAF_PAGE != 0 => {
                    for i in 0..page.count() {
                        let (key, value, flags) = page.leaf(i)?;
                        if key == name {
                            return Ok(Some((value.to_vec(), flags)));
                        }
                    }
                    return Ok(None);
                }
                f if f & BRANCH_PAGE != 0 => {
                    // The child whose first key is the greatest one not above `name`.
                    let mut child = None;
                    for i in 0..page.count() {
                        let (key, pgid) = page.branch(i)?;
                        if key <= name || child.is_none() {
                            child = Some(pgid);
                        }
                        if key > name {
                            break;
                        }
                    }
                    let Some(pgid) = child else { return Ok(None) };
                    page = self.page(pgid)?;
                }
                f => return Err(BboltError::Format(format!("unexpected page type {f:#x}"))),
            }
        }
        Err(BboltError::Format(
            "the page tree is deeper than any real one".into(),
        ))
    }

    /// The greatest key in the bucket rooted at `page`.
    fn last_key(&mut self, mut page: Page) -> Result<Option<Vec<u8>>, BboltError> {
        for _ in 0..MAX_DEPTH {
            match page.flags() {
                f if f & LEAF_PAGE != 0 => {
                    return Ok(page.last_leaf()?.map(|(k, _, _)| k.to_vec()))
                }
                f if f & BRANCH_PAGE != 0 => {
                    let n = page.count();
                    if n == 0 {
                        return Ok(None);
                    }
                    let (_, pgid) = page.branch(n - 1)?;
                    page = self.page(pgid)?;
                }
                f => return Err(BboltError::Format(format!("unexpected page type {f:#x}"))),
            }
        }
        Err(BboltError::Format(
            "the page tree is deeper than any real one".into(),
        ))
    }
}

/// The newer valid meta page: its page size and the root bucket's page.
fn meta(source: &mut impl PageSource) -> Result<(usize, u64), BboltError> {
    let mut best: Option<(u64, usize, u64)> = None;
    let mut page_size = 0usize;
    for index in 0..2u64 {
        let offset = index * page_size as u64;
        if index == 1 && page_size == 0 {
            break;
        }
        let bytes = source
            .read_at(offset, PAGE_HEADER + 64)
            .map_err(|message| BboltError::Read { offset, message })?;
        if bytes.len() < PAGE_HEADER + 64 || u16_at(&bytes, 8) & META_PAGE == 0 {
            continue;
        }
        let m = &bytes[PAGE_HEADER..];
        if u32_at(m, 0) != MAGIC || fnv64a(&m[..56]) != u64_at(m, 56) {
            continue;
        }
        let size = u32_at(m, 8) as usize;
        if index == 0 {
            page_size = size;
        }
        let (root, txid) = (u64_at(m, 16), u64_at(m, 48));
        if best.is_none_or(|(t, _, _)| txid > t) {
            best = Some((txid, size, root));
        }
        if index == 0 && !(512..=1 << 20).contains(&size) {
            return Err(BboltError::Format(format!(
                "page size {size} is not a real one"
            )));
        }
    }
    best.map(|(_, size, root)| (size, root)).ok_or_else(|| {
        BboltError::Format(
            "no valid bbolt meta page (not a snapshot, or its first page is damaged)".into(),
        )
    })
}

/// The main revision of a `key`-bucket key or a stored revision value.
fn main_revision(bytes: &[u8]) -> Result<u64, BboltError> {
    bytes
        .get(..8)
        .map(|b| u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .ok_or_else(|| BboltError::Format("a revision is shorter than 8 bytes".into()))
}

/// The revision a restore of this snapshot starts at.
pub fn snapshot_revision(source: &mut impl PageSource) -> Result<u64, BboltError> {
    let (page_size, root) = meta(source)?;
    let mut db = Db { source, page_size };
    let root_page = db.page(root)?;
    let Some((key_bucket, flags)) = db.find(root_page, b"key")? else {
        return Err(BboltError::Format(
            "the database has no `key` bucket: not an etcd v3 snapshot".into(),
        ));
    };
    if flags & BUCKET_LEAF == 0 {
        return Err(BboltError::Format("`key` is not a bucket".into()));
    }
    let key_root = db.bucket_root(&key_bucket)?;
    let last = match db.last_key(key_root)? {
        Some(k) => main_revision(&k)?,
        None => 0,
    };
    let root_page = db.page(root)?;
    let compacted = match db.find(root_page, b"meta")? {
        Some((meta_bucket, flags)) if flags & BUCKET_LEAF != 0 => {
            let meta_root = db.bucket_root(&meta_bucket)?;
            match db.find(meta_root, b"finishedCompactRev")? {
                Some((value, _)) => main_revision(&value)?,
                None => 0,
            }
        }
        _ => 0,
    };
    Ok(last.max(compacted))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| {
        u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]])
    })
}

/// bbolt's meta checksum: FNV-1a, 64 bits.
fn fnv64a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(file: Vec<u8>) -> impl FnMut(u64, usize) -> Result<Vec<u8>, String> {
        move |offset, len| {
            let start = (offset as usize).min(file.len());
            let end = start.saturating_add(len).min(file.len());
            Ok(file[start..end].to_vec())
        }
    }

    #[test]
    fn a_file_that_is_not_bbolt_is_refused_as_such() {
        let err = snapshot_revision(&mut source(vec![7u8; 8192])).unwrap_err();
        assert!(
            err.to_string().contains("no valid bbolt meta page"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_is_refused() {
        assert!(snapshot_revision(&mut source(Vec::new())).is_err());
    }

    #[test]
    fn fnv_matches_the_published_vectors() {
        assert_eq!(fnv64a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv64a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
