//! Documents in indices: the counts a snapshot records, and what a restore test reads back from the
//! indices it restored (`_count` and a one-document `_search`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::client::{enc, EsClient};
use super::error::Failed;
use super::types::CatIndex;

#[derive(Deserialize)]
struct CountResponse {
    count: u64,
}

#[derive(Deserialize)]
struct SearchResponse {
    hits: Hits,
}

#[derive(Deserialize)]
struct Hits {
    #[serde(default)]
    hits: Vec<Value>,
}

impl EsClient {
    /// Documents per open index among those `patterns` select (`-pattern` excludes), from
    /// `_cat/indices`; closed indices are left out (they are not snapshotted either).
    pub async fn doc_counts(&self, patterns: &[String]) -> Result<BTreeMap<String, u64>, Failed> {
        let list = patterns.join(",");
        let query = [
            ("format", "json".to_string()),
            ("h", "index,status,docs.count".to_string()),
            ("expand_wildcards", "open".to_string()),
        ];
        let rows: Vec<CatIndex> = self
            .get(
                &format!("/_cat/indices/{}", enc(&list)),
                &query,
                &format!("count the documents of {list}"),
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter(CatIndex::open)
            .filter_map(|r| {
                let n = r.docs_count.as_deref()?.parse().ok()?;
                Some((r.index, n))
            })
            .collect())
    }

    /// `GET /INDEX/_count`.
    pub async fn count(&self, index: &str) -> Result<u64, Failed> {
        let response: CountResponse = self
            .get(
                &format!("/{}/_count", enc(index)),
                &[],
                &format!("count the documents of {index}"),
            )
            .await?;
        Ok(response.count)
    }

    /// Whether a one-document search of `index` returns a document.
    pub async fn sample(&self, index: &str) -> Result<bool, Failed> {
        let response: SearchResponse = self
            .get(
                &format!("/{}/_search", enc(index)),
                &[("size", "1".to_string())],
                &format!("search {index} for a sample document"),
            )
            .await?;
        Ok(!response.hits.hits.is_empty())
    }
}
