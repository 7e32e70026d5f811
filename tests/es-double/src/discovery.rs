//! The network side of `peers`: a discovery pass every second over `discovery.seed_hosts`, and the
//! forwarding of requests to the master.
//!
//! The HTTP client is a few lines of HTTP/1.0 over a TCP stream rather than a client crate: the
//! double talks only to its own kind, on the pod network, and HTTP/1.0 lets the close of the
//! connection end every answer.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::peers::{self, Member};
use crate::{lock, pod, Shared};

const PASS_EVERY: Duration = Duration::from_secs(1);
const ASK_PEER_FOR: Duration = Duration::from_secs(2);

/// Runs discovery passes until the process ends.
pub(crate) async fn run(shared: Arc<Shared>, seed_hosts: Vec<String>, port: u16) {
    loop {
        let known = match lock(&shared.state).peers.as_ref() {
            Some(p) => p.addresses(),
            None => return,
        };
        let (members, refused) = pass(&seed_hosts, port, known).await;
        let me = {
            let mut state = lock(&shared.state);
            let Some(p) = state.peers.as_mut() else {
                return;
            };
            p.update(members, &refused);
            let (live, me) = (p.live(), p.me.node.name.clone());
            state.nodes = live;
            me
        };
        if let Some(master) = follows(&shared) {
            // A master that did not answer this time says nothing about whether this node is in.
            let listed = listed_by(master, &me).await;
            let joined = match lock(&shared.state).peers.as_mut() {
                Some(p) => {
                    p.joined = listed.unwrap_or(p.joined);
                    p.joined
                }
                None => false,
            };
            if joined {
                copy_registrations(&shared, master).await;
            }
        }
        tokio::time::sleep(PASS_EVERY).await;
    }
}

/// The master's address, when another node is master.
fn follows(shared: &Shared) -> Option<SocketAddr> {
    lock(&shared.state).peers.as_ref()?.master().addr
}

/// Whether the master's `GET _nodes` lists the node `name`; `None` when it did not answer.
async fn listed_by(master: SocketAddr, name: &str) -> Option<bool> {
    let answer = request(master, "GET", "/_nodes", None, &[], ASK_PEER_FOR)
        .await
        .ok()
        .filter(|a| a.status == 200)?;
    let nodes: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    Some(
        nodes["nodes"]
            .as_object()
            .is_some_and(|n| n.values().any(|node| node["name"] == name)),
    )
}

/// Every node that answers now at the seed hosts' addresses or at the members' `known` ones, as
/// Elasticsearch checks the nodes it has besides looking for new ones; and the addresses that
/// refused the connection (nothing listens there any more).
async fn pass(
    seed_hosts: &[String],
    port: u16,
    known: Vec<SocketAddr>,
) -> (Vec<Member>, BTreeSet<SocketAddr>) {
    let mut addrs: BTreeSet<SocketAddr> = known.into_iter().collect();
    for seed in seed_hosts {
        let (host, seed_port) = seed
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .unwrap_or((seed.as_str(), port));
        // A name with no ready pod behind it yet does not resolve: that is an empty answer.
        if let Ok(found) = tokio::net::lookup_host((host, seed_port)).await {
            addrs.extend(found);
        }
    }
    let (mut members, mut refused) = (Vec::new(), BTreeSet::new());
    for addr in addrs {
        let answer = match request(addr, "GET", peers::NODE_PATH, None, &[], ASK_PEER_FOR).await {
            Ok(answer) => answer,
            Err(e) => {
                if e.kind() == std::io::ErrorKind::ConnectionRefused {
                    refused.insert(addr);
                }
                continue;
            }
        };
        let value = serde_json::from_slice(&answer.body).unwrap_or_default();
        if let Some(member) = peers::parse(&value, addr).filter(|_| answer.status == 200) {
            members.push(member);
        }
    }
    (members, refused)
}

/// Keeps the master's repository registrations, as Elasticsearch replicates its cluster state, so
/// that this node knows them if it becomes master.
async fn copy_registrations(shared: &Shared, master: SocketAddr) {
    let Ok(answer) = request(master, "GET", "/_snapshot", None, &[], ASK_PEER_FOR).await else {
        return;
    };
    let Ok(found) = serde_json::from_slice(&answer.body) else {
        return;
    };
    if answer.status != 200 {
        return;
    }
    let repositories = pod::registrations(found).into_iter().collect();
    let mut state = lock(&shared.state);
    state.repositories = repositories;
    pod::save(&state);
}

pub(crate) struct Answer {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

/// One HTTP/1.0 exchange with a peer.
pub(crate) async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    content_type: Option<&str>,
    body: &[u8],
    limit: Duration,
) -> std::io::Result<Answer> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let mut head = format!(
            "{method} {target} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        parse_response(&raw)
    };
    tokio::time::timeout(limit, exchange)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "peer did not answer"))?
}

fn parse_response(raw: &[u8]) -> std::io::Result<Answer> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| bad())?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let content_type = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.trim().to_string());
    Ok(Answer {
        status,
        content_type,
        body: raw[split + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_is_read_as_status_type_and_body() {
        let raw = b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        let a = parse_response(raw).expect("parses");
        assert_eq!(a.status, 408);
        assert_eq!(a.content_type.as_deref(), Some("application/json"));
        assert_eq!(a.body, b"{}");
        assert!(parse_response(b"garbage").is_err());
    }
}
