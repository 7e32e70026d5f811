//! The double as a cluster of pods: which nodes are in it, which one is the master, and the health
//! that follows. Pure: `discovery` does the network and feeds what it saw here.
//!
//! How the pods learn of each other: like Elasticsearch 7, each pod reads `discovery.seed_hosts`
//! (a headless Service's name resolves to every pod's address) and asks each address who it is.
//! The double has no transport layer, so it asks over HTTP on 9200 (`GET /_double/node`, a route of
//! the double's own that Elasticsearch does not have). Cluster state lives on the elected master:
//! every other node forwards each request to it, as a coordinating node does, and copies the
//! master's repository registrations so that it can take over when the master goes.
//!
//! The master is the member that has been up longest (ties by name). A restarted pod rejoins as a
//! follower and never takes mastership back, so a rolling restart moves the master once at most.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde_json::{json, Value};

use crate::state::Node;

/// The double's own route that tells a peer who this node is.
pub const NODE_PATH: &str = "/_double/node";

/// Passes in a row that may miss a member before it leaves the cluster: Elasticsearch's
/// `cluster.fault_detection.follower_check.retry_count` (3 by default), so one slow answer or one
/// lookup that came back short does not drop a node. A member whose address refuses the
/// connection leaves at once, as a closed transport connection tells Elasticsearch.
pub const MISSES_BEFORE_GONE: u32 = 3;

#[derive(Debug, Clone)]
pub struct Member {
    pub node: Node,
    /// When the node started (ms since the epoch): the oldest member is the master.
    pub started_ms: i64,
    /// Where to reach it; `None` for this node itself.
    pub addr: Option<SocketAddr>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// This node is the master: answer here.
    Local,
    /// Forward to the master there.
    Forward(SocketAddr),
    /// No discovery pass has finished yet: Elasticsearch answers 503 then.
    NoMaster,
}

#[derive(Debug, Clone)]
pub struct Peers {
    pub me: Member,
    pub others: Vec<Member>,
    /// Every node name the cluster has had since this node started: one that is gone leaves its
    /// shard copies unassigned, so health is yellow until it is back.
    pub seen: BTreeSet<String>,
    pub discovered: bool,
    /// The master lists this node: as in Elasticsearch, a node has joined only once the master's
    /// cluster state holds it, and until then it answers 503 (so it is not ready too early).
    pub joined: bool,
    /// Passes in a row that have missed each member still counted in.
    pub misses: BTreeMap<String, u32>,
}

impl Peers {
    pub fn new(me: Node, started_ms: i64) -> Self {
        let seen = BTreeSet::from([me.name.clone()]);
        Self {
            me: Member {
                node: me,
                started_ms,
                addr: None,
            },
            others: Vec::new(),
            seen,
            discovered: false,
            joined: false,
            misses: BTreeMap::new(),
        }
    }

    /// What one discovery pass found (this node excluded), and the addresses that refused it. A
    /// member the pass missed stays until `MISSES_BEFORE_GONE` passes in a row have missed it, or
    /// its address refused.
    pub fn update(&mut self, mut found: Vec<Member>, refused: &BTreeSet<SocketAddr>) {
        found.retain(|m| m.node.name != self.me.node.name);
        found.sort_by(|a, b| a.node.name.cmp(&b.node.name));
        found.dedup_by(|a, b| a.node.name == b.node.name);
        for member in &found {
            self.misses.remove(&member.node.name);
        }
        let missed: Vec<Member> = std::mem::take(&mut self.others)
            .into_iter()
            .filter(|old| found.iter().all(|m| m.node.name != old.node.name))
            .collect();
        for old in missed {
            let name = old.node.name.clone();
            let misses = self.misses.get(&name).map_or(1, |n| n + 1);
            let gone = old.addr.is_some_and(|a| refused.contains(&a));
            if gone || misses >= MISSES_BEFORE_GONE {
                self.misses.remove(&name);
            } else {
                self.misses.insert(name, misses);
                found.push(old);
            }
        }
        found.sort_by(|a, b| a.node.name.cmp(&b.node.name));
        self.seen.extend(found.iter().map(|m| m.node.name.clone()));
        self.others = found;
        self.discovered = true;
    }

    /// Where the members other than this node are, to be asked again in the next pass.
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.others.iter().filter_map(|m| m.addr).collect()
    }

    pub fn master(&self) -> &Member {
        std::iter::once(&self.me)
            .chain(&self.others)
            .filter(|m| m.node.roles.iter().any(|r| r == "master"))
            .min_by(|a, b| (a.started_ms, &a.node.name).cmp(&(b.started_ms, &b.node.name)))
            .unwrap_or(&self.me)
    }

    pub fn route(&self) -> Route {
        if !self.discovered {
            return Route::NoMaster;
        }
        match self.master().addr {
            None => Route::Local,
            Some(addr) if self.joined => Route::Forward(addr),
            Some(_) => Route::NoMaster,
        }
    }

    /// The nodes in the cluster now, by name.
    pub fn live(&self) -> Vec<Node> {
        let mut nodes: Vec<Node> = std::iter::once(&self.me)
            .chain(&self.others)
            .map(|m| m.node.clone())
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        nodes
    }

    /// Nodes that were in the cluster and are not now.
    pub fn missing(&self) -> Vec<String> {
        let live: BTreeSet<String> = self.live().into_iter().map(|n| n.name).collect();
        self.seen.difference(&live).cloned().collect()
    }
}

/// What `GET /_double/node` answers.
pub fn describe(member: &Member) -> Value {
    let n = &member.node;
    json!({
        "id": n.id, "name": n.name, "roles": n.roles, "path_repo": n.path_repo,
        "disk_total": n.disk_total, "disk_free": n.disk_free, "started_ms": member.started_ms,
    })
}

/// A peer's answer to `GET /_double/node`, reached at `addr`.
pub fn parse(value: &Value, addr: SocketAddr) -> Option<Member> {
    let strings = |key: &str| -> Vec<String> {
        value[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Some(Member {
        node: Node {
            id: value["id"].as_str()?.to_string(),
            name: value["name"].as_str()?.to_string(),
            roles: strings("roles"),
            path_repo: strings("path_repo"),
            disk_total: value["disk_total"].as_u64()?,
            disk_free: value["disk_free"].as_u64()?,
        },
        started_ms: value["started_ms"].as_i64()?,
        addr: Some(addr),
    })
}

/// The health status a cluster with these peers reports (`None`: not a pod cluster, always green).
pub fn status(peers: Option<&Peers>) -> &'static str {
    match peers {
        Some(p) if !p.missing().is_empty() => "yellow",
        _ => "green",
    }
}

/// Whether `status` is at least `wanted` (`green` > `yellow` > `red`).
pub fn satisfies(status: &str, wanted: &str) -> bool {
    let rank = |s: &str| match s {
        "green" => 2,
        "yellow" => 1,
        _ => 0,
    };
    rank(status) >= rank(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Node {
        Node {
            id: format!("{name:A<22}"),
            name: name.into(),
            roles: vec!["data".into(), "master".into()],
            path_repo: vec!["/usr/share/elasticsearch/backup".into()],
            disk_total: 10,
            disk_free: 5,
        }
    }

    fn peer(name: &str, started_ms: i64, port: u16) -> Member {
        Member {
            node: node(name),
            started_ms,
            addr: Some(SocketAddr::from(([10, 88, 0, 9], port))),
        }
    }

    #[test]
    fn no_master_until_the_first_pass() {
        let mut p = Peers::new(node("es-1"), 100);
        assert_eq!(p.route(), Route::NoMaster);
        p.update(vec![], &BTreeSet::new());
        assert_eq!(p.route(), Route::Local, "alone, a node is its own master");
    }

    #[test]
    fn the_oldest_member_is_master_and_a_restarted_one_does_not_take_it_back() {
        let mut p = Peers::new(node("es-0"), 500);
        p.update(vec![peer("es-1", 100, 1)], &BTreeSet::new());
        assert_eq!(p.master().node.name, "es-1");
        assert_eq!(
            p.route(),
            Route::NoMaster,
            "not joined until the master lists it"
        );
        p.joined = true;
        assert_eq!(
            p.route(),
            Route::Forward(SocketAddr::from(([10, 88, 0, 9], 1)))
        );
        // es-0 itself answers its own pass and is left out of the others.
        p.update(
            vec![peer("es-0", 500, 2), peer("es-1", 100, 1)],
            &BTreeSet::new(),
        );
        assert_eq!(p.others.len(), 1);
    }

    #[test]
    fn health_is_yellow_while_a_node_that_was_seen_is_gone() {
        let mut p = Peers::new(node("es-0"), 1);
        p.update(vec![peer("es-1", 2, 1)], &BTreeSet::new());
        assert_eq!(status(Some(&p)), "green");
        // Its address refuses: it has left at once.
        let refused = p.addresses().into_iter().collect();
        p.update(vec![], &refused);
        assert_eq!(p.missing(), ["es-1"]);
        assert_eq!(status(Some(&p)), "yellow");
        assert_eq!(p.route(), Route::Local);
        p.update(vec![peer("es-1", 9, 1)], &BTreeSet::new());
        assert_eq!(status(Some(&p)), "green");
        assert_eq!(p.live().len(), 2);
    }

    #[test]
    fn a_member_that_does_not_answer_leaves_only_after_three_passes_in_a_row() {
        let mut p = Peers::new(node("es-0"), 1);
        p.update(vec![peer("es-1", 2, 1)], &BTreeSet::new());
        let none = BTreeSet::new();
        p.update(vec![], &none);
        p.update(vec![], &none);
        assert_eq!(p.live().len(), 2, "two missed passes: still in");
        assert_eq!(status(Some(&p)), "green");
        // An answer in between starts the count again.
        p.update(vec![peer("es-1", 2, 1)], &none);
        p.update(vec![], &none);
        p.update(vec![], &none);
        assert_eq!(p.live().len(), 2);
        p.update(vec![], &none);
        assert_eq!(p.missing(), ["es-1"], "the third missed pass in a row");
        assert_eq!(status(Some(&p)), "yellow");
    }

    #[test]
    fn a_peer_round_trips_through_its_description() {
        let me = peer("es-2", 42, 9200);
        let addr = SocketAddr::from(([10, 88, 0, 3], 9200));
        let back = parse(&describe(&me), addr).expect("parses");
        assert_eq!(back.node.name, "es-2");
        assert_eq!(back.node.path_repo, me.node.path_repo);
        assert_eq!(back.started_ms, 42);
        assert_eq!(back.addr, Some(addr));
        assert!(parse(&json!({"name": "x"}), addr).is_none());
    }

    #[test]
    fn green_satisfies_yellow_but_not_the_other_way() {
        assert!(satisfies("green", "yellow"));
        assert!(!satisfies("yellow", "green"));
        assert!(satisfies("yellow", "yellow"));
        assert!(!satisfies("red", "yellow"));
    }
}
