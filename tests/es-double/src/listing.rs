//! `GET _snapshot/{repository}/{snapshot}`: `verbose`, `index_names` and the 7.14+ pagination
//! (`sort`, `order`, `size`, `offset`, `after`), with a cost model of what a real master reads.
//!
//! The cost model: a real master answers a verbose listing by reading each listed snapshot's
//! metadata blob (`snap-UUID.dat`) from the repository, one file per snapshot (from NFS, on the
//! master); `verbose=false` answers from the repository root (`index-N`) alone. So every snapshot in
//! a verbose answer (after pagination) adds one to `State::metadata_reads` and `verbose=false` adds
//! none. `_cat/snapshots` (full infos for every row) and `_status` of finished snapshots count in
//! `handlers.rs`. Which parameters a version accepts comes from the definitions (`spec.rs`).

use std::cmp::Ordering;

use serde_json::{json, Value};

use crate::errors::envelope;
use crate::handlers::{advance, snapshot_json, wildcard, Ctx, Reply};
use crate::state::{SnapState, Snapshot, State};

pub fn get_snapshots(state: &mut State, ctx: &Ctx) -> Reply {
    let repo = ctx.p("repository").to_string();
    let pattern = ctx.p("snapshot").to_string();
    if !state.repositories.contains_key(&repo) {
        let names = crate::errors::Names {
            repository: &repo,
            ..Default::default()
        };
        let (status, body) = ctx.errors.render("repository_missing_exception", &names);
        return Reply::Json(status, body);
    }
    let verbose = ctx.query.get("verbose").is_none_or(|v| v != "false");
    let page = match Page::parse(ctx) {
        Ok(p) => p,
        Err(reason) => return validation(&reason),
    };
    if !verbose {
        // The servers' request validation (7.14+): paging needs the details verbose=false skips.
        if let Some(reason) = page.refused_without_details() {
            return validation(reason);
        }
    }
    let behaviour = state.behaviour.clone();
    let ignore_unavailable = flag(ctx, "ignore_unavailable");
    let mut list = state
        .snapshots_of_mut(&repo)
        .map(std::mem::take)
        .unwrap_or_default();
    let mut matched: Vec<usize> = Vec::new();
    // Whether a snapshot is already matched: a flag per snapshot, not a search of `matched` (which
    // made `_all` over 100,000 snapshots quadratic).
    let mut seen = vec![false; list.len()];
    let mut missing = None;
    for part in pattern.split(',') {
        let found: Vec<usize> = list
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                part == "_all"
                    || part == "*"
                    || wildcard(part, &s.name)
                    || (part == "_current" && s.state == SnapState::InProgress)
            })
            .map(|(i, _)| i)
            .collect();
        if found.is_empty()
            && !part.contains('*')
            && part != "_all"
            && part != "_current"
            && missing.is_none()
        {
            missing = Some(part.to_string());
        }
        for i in found {
            if !std::mem::replace(&mut seen[i], true) {
                matched.push(i);
            }
        }
    }
    for &i in &matched {
        advance(&mut list[i], &behaviour, ctx.now);
    }
    let (selected, total, remaining, next) = page.apply(&list, matched, &repo);
    let names = ctx.query.get("index_names").is_none_or(|v| v != "false");
    let out: Vec<Value> = selected
        .iter()
        .map(|&i| {
            if verbose {
                let mut v = snapshot_json(&list[i], ctx);
                if !names {
                    strip_indices(&mut v);
                }
                v
            } else {
                brief_json(&list[i], ctx, names)
            }
        })
        .collect();
    if verbose {
        state.metadata_reads += out.len() as u64;
    }
    if let Some(l) = state.snapshots_of_mut(&repo) {
        *l = list;
    }
    if let (Some(missing), false) = (missing, ignore_unavailable) {
        let names = crate::errors::Names {
            repository: &repo,
            snapshot: &missing,
            ..Default::default()
        };
        let (status, body) = ctx.errors.render("snapshot_missing_exception", &names);
        return Reply::Json(status, body);
    }
    let mut body = json!({"snapshots": out});
    if ctx.is_es() && ctx.major_minor() >= (7, 14) {
        body["total"] = json!(total);
        body["remaining"] = json!(remaining);
        if let Some(next) = next {
            body["next"] = json!(next);
        }
    }
    Reply::Json(200, body)
}

fn strip_indices(v: &mut Value) {
    if let Some(o) = v.as_object_mut() {
        o.remove("indices");
    }
}

/// What `verbose=false` returns: only what the repository root holds.
fn brief_json(s: &Snapshot, ctx: &Ctx, names: bool) -> Value {
    let mut v = json!({
        "snapshot": s.name,
        "uuid": s.uuid,
        "data_streams": [],
        "state": s.state.as_str(),
    });
    if names {
        v["indices"] = json!(s.indices);
    }
    if ctx.is_es() && ctx.major_minor() >= (7, 14) {
        v["repository"] = json!(s.repository);
    }
    v
}

fn flag(ctx: &Ctx, name: &str) -> bool {
    ctx.query
        .get(name)
        .is_some_and(|v| v.is_empty() || v == "true")
}

fn validation(reason: &str) -> Reply {
    Reply::Json(
        400,
        envelope(
            400,
            "action_request_validation_exception",
            &format!("Validation Failed: 1: {reason};"),
        ),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    StartTime,
    Name,
    Duration,
    IndexCount,
}

struct Page {
    sort: Sort,
    sort_given: bool,
    desc: bool,
    size: Option<usize>,
    offset: usize,
    after: Option<(String, String)>,
}

impl Page {
    fn parse(ctx: &Ctx) -> Result<Self, String> {
        let q = |k: &str| ctx.query.get(k).map(String::as_str);
        let sort = match q("sort") {
            None | Some("start_time") => Sort::StartTime,
            Some("name") => Sort::Name,
            Some("duration") => Sort::Duration,
            Some("index_count") => Sort::IndexCount,
            Some(other) => return Err(format!("unsupported sort [{other}]")),
        };
        let desc = match q("order") {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(format!("unsupported order [{other}]")),
        };
        let size = match q("size").map(str::parse::<i64>) {
            None => None,
            Some(Ok(n)) if n < 0 => None,
            Some(Ok(n)) => Some(n as usize),
            Some(Err(_)) => return Err("size must be a number".into()),
        };
        let offset = match q("offset").map(str::parse::<usize>) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return Err("offset must be a number".into()),
        };
        let after = match q("after") {
            None => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or("after is not a valid cursor")?),
        };
        Ok(Self {
            sort,
            sort_given: q("sort").is_some(),
            desc,
            size,
            offset,
            after,
        })
    }

    fn refused_without_details(&self) -> Option<&'static str> {
        if self.sort_given && self.sort != Sort::StartTime {
            Some("can't use non-default sort with verbose=false")
        } else if self.size.is_some() {
            Some("can't use size limit with verbose=false")
        } else if self.offset > 0 {
            Some("can't use offset with verbose=false")
        } else if self.after.is_some() {
            Some("can't use after with verbose=false")
        } else if self.desc {
            Some("can't use non-default sort order with verbose=false")
        } else {
            None
        }
    }

    fn key(&self, s: &Snapshot) -> String {
        match self.sort {
            Sort::StartTime => format!("{:020}", s.start_ms),
            Sort::Name => s.name.clone(),
            Sort::Duration => format!("{:020}", (s.end_ms - s.start_ms).max(0)),
            Sort::IndexCount => format!("{:020}", s.indices.len()),
        }
    }

    /// Sorts, skips past the cursor and the offset, cuts to size: (page, total, remaining, next).
    fn apply(
        &self,
        list: &[Snapshot],
        matched: Vec<usize>,
        repo: &str,
    ) -> (Vec<usize>, usize, usize, Option<String>) {
        // One key per snapshot per request (not two per comparison): a paged listing of 100,000
        // snapshots asks 100 times, and the double's time must not swamp the client's.
        let total = matched.len();
        let mut keyed: Vec<(String, usize)> = matched
            .into_iter()
            .map(|i| (self.key(&list[i]), i))
            .collect();
        if let Some((key, name)) = &self.after {
            keyed.retain(|(k, i)| {
                let o = k.cmp(key).then_with(|| list[*i].name.cmp(name));
                if self.desc {
                    o == Ordering::Less
                } else {
                    o == Ordering::Greater
                }
            });
        }
        keyed.sort_unstable_by(|(ka, a), (kb, b)| {
            let o = ka.cmp(kb).then_with(|| list[*a].name.cmp(&list[*b].name));
            if self.desc {
                o.reverse()
            } else {
                o
            }
        });
        let matched: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        let rest: Vec<usize> = matched.into_iter().skip(self.offset).collect();
        let take = self.size.unwrap_or(rest.len()).min(rest.len());
        let page: Vec<usize> = rest[..take].to_vec();
        let remaining = rest.len() - take;
        let next = (remaining > 0)
            .then(|| {
                page.last()
                    .map(|&i| encode_cursor(&self.key(&list[i]), repo, &list[i].name))
            })
            .flatten();
        (page, total, remaining, next)
    }
}

/// An opaque cursor, as the servers' `next` is (theirs is base64; clients must not look inside).
fn encode_cursor(key: &str, repo: &str, name: &str) -> String {
    format!("{key},{repo},{name}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn decode_cursor(cursor: &str) -> Option<(String, String)> {
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.splitn(3, ',');
    let key = parts.next()?.to_string();
    let _repo = parts.next()?;
    let name = parts.next()?.to_string();
    Some((key, name))
}
