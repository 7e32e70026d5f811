//! Listing snapshots cheaply for the server. A verbose `GET _snapshot/REPO/_all` makes the master
//! read one metadata blob per snapshot from the repository; `verbose=false` answers from the
//! repository root alone, and 7.14+ pages bound what either side holds at once.

use super::client::{enc, EsClient};
use super::error::Failed;
use super::types::{GetSnapshotsResponse, SnapshotInfo};

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
struct Paged {
    #[serde(default)]
    snapshots: Vec<SnapshotInfo>,
    #[serde(default)]
    next: Option<String>,
}

impl EsClient {
    /// Every snapshot of `repo`, oldest first where the server sorts, with `detail`.
    pub async fn list_snapshots(
        &self,
        repo: &str,
        detail: Detail,
    ) -> Result<Vec<SnapshotInfo>, Failed> {
        let action = format!("list snapshots in {repo}");
        let path = format!("/_snapshot/{}/_all", enc(repo));
        if detail == Detail::Brief {
            // The servers refuse paging with verbose=false: one request, without the blob reads.
            let response: GetSnapshotsResponse = self
                .get(&path, &[("verbose", "false".to_string())], &action)
                .await?;
            return Ok(response.snapshots);
        }
        if !self.version.paginates_snapshots() {
            let response: GetSnapshotsResponse = self.get(&path, &[], &action).await?;
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
            let page: Paged = self.get(&path, &query, &action).await?;
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
