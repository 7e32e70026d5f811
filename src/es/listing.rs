//! Listing snapshots cheaply for the server. A verbose `GET _snapshot/REPO/_all` makes the master
//! read one metadata blob per snapshot from the repository; `verbose=false` answers from the
//! repository root alone, and 7.14+ pages bound what either side holds at once.

use super::client::{enc, EsClient};
use super::error::Failed;
use super::types::{GetSnapshotsResponse, ShardCounts, SnapshotInfo};
use crate::snapshot::{SnapshotState, SnapshotSummary};

/// How much of each snapshot a decision needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Name, state and indices: what the repository root holds (`verbose=false`). No times, no
    /// shard counts, no metadata.
    Brief,
    /// Everything (`verbose=true`): one metadata read per snapshot on the server.
    Full,
}

/// Snapshots per page where the server pages (7.14+): small enough that neither side holds much.
pub const PAGE_SIZE: usize = 1000;

#[derive(serde::Deserialize)]
#[serde(bound = "T: serde::de::DeserializeOwned")]
struct Paged<T> {
    #[serde(default = "Vec::new")]
    snapshots: Vec<T>,
    #[serde(default)]
    next: Option<String>,
}

/// What a decision keeps of a snapshot, decoded straight from the wire: the fields serde does not
/// name here (uuid, failures, metadata, per-version extras) are skipped as they stream past, never
/// held. A newtype of the summary, so the list becomes summaries without a second allocation.
#[derive(serde::Deserialize)]
#[serde(from = "Compact<Vec<String>>")]
struct Summary(SnapshotSummary);

/// `Summary` for decisions that never look at index names (retention): on servers that cannot
/// leave them out (`index_names=false` is 8.x only) they are skipped as they stream past.
#[derive(serde::Deserialize)]
#[serde(from = "Compact<Skipped>")]
struct Nameless(SnapshotSummary);

/// Index names, read and dropped.
#[derive(Default)]
struct Skipped;

impl<'de> serde::Deserialize<'de> for Skipped {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Skipped)
    }
}

impl From<Skipped> for Vec<String> {
    fn from(_: Skipped) -> Self {
        Vec::new()
    }
}

#[derive(serde::Deserialize)]
#[serde(bound = "N: serde::Deserialize<'de> + Default")]
struct Compact<N> {
    snapshot: String,
    #[serde(default)]
    indices: N,
    #[serde(default)]
    state: Option<SnapshotState>,
    #[serde(default)]
    start_time_in_millis: Option<i64>,
    #[serde(default)]
    end_time_in_millis: Option<i64>,
    #[serde(default)]
    shards: Option<ShardCounts>,
}

impl<N: Into<Vec<String>>> Compact<N> {
    fn into_summary(self) -> SnapshotSummary {
        // The same reading of the wire as `SnapshotInfo::summary`.
        SnapshotInfo {
            snapshot: self.snapshot,
            uuid: None,
            indices: self.indices.into(),
            state: self.state,
            start_time_in_millis: self.start_time_in_millis,
            end_time_in_millis: self.end_time_in_millis,
            duration_in_millis: None,
            failures: Vec::new(),
            shards: self.shards,
            metadata: None,
        }
        .into_summary()
    }
}

impl From<Compact<Vec<String>>> for Summary {
    fn from(c: Compact<Vec<String>>) -> Self {
        Summary(c.into_summary())
    }
}

impl From<Compact<Skipped>> for Nameless {
    fn from(c: Compact<Skipped>) -> Self {
        Nameless(c.into_summary())
    }
}

/// A snapshot as `snapshot list` prints it: its index names are counted as they stream past, not
/// kept, so a 100,000-snapshot table costs rows of numbers, not the repository's index names.
#[derive(Debug, serde::Deserialize)]
pub struct ListRow {
    pub snapshot: String,
    #[serde(default)]
    pub state: Option<SnapshotState>,
    #[serde(default)]
    pub start_time_in_millis: Option<i64>,
    #[serde(default)]
    pub duration_in_millis: Option<i64>,
    #[serde(default, rename = "indices", deserialize_with = "count_items")]
    pub index_count: usize,
    #[serde(default)]
    pub shards: Option<ShardCounts>,
}

fn count_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> serde::de::Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a list of index names")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    }
    d.deserialize_seq(Count)
}

impl EsClient {
    /// Every snapshot of `repo`, oldest first where the server sorts, with `detail`.
    pub async fn list_snapshots(
        &self,
        repo: &str,
        detail: Detail,
    ) -> Result<Vec<SnapshotInfo>, Failed> {
        self.list_paged(repo, detail).await
    }

    /// `list_snapshots` as the compact summaries the policies decide on: what a 100,000-snapshot
    /// repository costs the client is these, not the answer's text.
    pub async fn list_summaries(
        &self,
        repo: &str,
        detail: Detail,
    ) -> Result<Vec<SnapshotSummary>, Failed> {
        let list: Vec<Summary> = self.list_paged(repo, detail).await?;
        Ok(list.into_iter().map(|s| s.0).collect())
    }

    /// `list_summaries` without index names (every summary's `indices` is empty), for decisions
    /// that never look at them: what a 100,000-snapshot prune holds is then names, states and times.
    pub async fn list_summaries_without_indices(
        &self,
        repo: &str,
        detail: Detail,
    ) -> Result<Vec<SnapshotSummary>, Failed> {
        let list: Vec<Nameless> = self.list_paged(repo, detail).await?;
        Ok(list.into_iter().map(|s| s.0).collect())
    }

    /// Every snapshot as `snapshot list` prints it (full detail: times and shard counts).
    pub async fn list_rows(&self, repo: &str) -> Result<Vec<ListRow>, Failed> {
        self.list_paged(repo, Detail::Full).await
    }

    async fn list_paged<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        repo: &str,
        detail: Detail,
    ) -> Result<Vec<T>, Failed> {
        let action = format!("list snapshots in {repo}");
        let path = format!("/_snapshot/{}/_all", enc(repo));
        if detail == Detail::Brief {
            // The servers refuse paging with verbose=false: one request, without the blob reads.
            let response: Paged<T> = self
                .get_streamed(&path, &[("verbose", "false".to_string())], &action)
                .await?;
            return Ok(response.snapshots);
        }
        if !self.version.paginates_snapshots() {
            let response: Paged<T> = self.get_streamed(&path, &[], &action).await?;
            return Ok(response.snapshots);
        }
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let mut query = vec![
                ("sort", "start_time".to_string()),
                ("size", PAGE_SIZE.to_string()),
            ];
            if let Some(cursor) = &after {
                query.push(("after", cursor.clone()));
            }
            // A page is bounded (about 0.5 MB for 1,000 verbose snapshots): decoding it from one
            // buffer costs less CPU than from the stream, and holds no more than a page.
            let page: Paged<T> = self.get(&path, &query, &action).await?;
            let empty = page.snapshots.is_empty();
            all.extend(page.snapshots);
            match page.next {
                Some(next) if !empty => after = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// Full details of the named snapshots only (one metadata read each), in batches short enough
    /// for a URL.
    pub async fn snapshot_details(
        &self,
        repo: &str,
        names: &[String],
    ) -> Result<Vec<SnapshotInfo>, Failed> {
        let mut out = Vec::with_capacity(names.len());
        for batch in names.chunks(100) {
            let list = batch.join(",");
            let action = format!("get snapshots {repo}:{list}");
            let response: GetSnapshotsResponse = self
                .get(
                    &format!("/_snapshot/{}/{}", enc(repo), enc(&list)),
                    &[],
                    &action,
                )
                .await?;
            out.extend(response.snapshots);
        }
        Ok(out)
    }
}
