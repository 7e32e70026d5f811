//! The steps that bring a kubeadm control plane back from a snapshot, for this cluster's layout.
//! Printed, never run: restoring stops the API server and replaces etcd's data, which only an
//! operator on the node may decide.

use serde::Serialize;

use super::record::SnapshotRecord;

#[derive(Debug, Clone)]
pub struct Layout {
    pub data_dir: String,
    pub manifests_dir: String,
    pub pki_dir: String,
    /// Where the operator has the snapshot's directory (copied from the repository).
    pub snapshot_dir: String,
    pub restore_pki: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub title: String,
    pub why: String,
    pub commands: Vec<String>,
}

/// etcd 3.5 moved offline restore to `etcdutl` (and 3.6 removed it from `etcdctl`).
fn restore_tool(version: &str) -> &'static str {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    match (parts.next(), parts.next()) {
        (Some(3), Some(minor)) if minor < 5 => "ETCDCTL_API=3 etcdctl",
        (Some(major), _) if major < 3 => "ETCDCTL_API=3 etcdctl",
        _ => "etcdutl",
    }
}

pub fn plan(record: &SnapshotRecord, layout: &Layout, stamp: &str) -> Vec<Step> {
    let snapshot = format!("{}/{}", layout.snapshot_dir, super::record::SNAPSHOT_FILE);
    let compressed = format!("{}/{}", layout.snapshot_dir, super::record::COMPRESSED_FILE);
    let stopped = format!("{}.stopped-{stamp}", layout.manifests_dir);
    let aside = format!("{}.before-restore-{stamp}", layout.data_dir);
    let me = record.members.iter().find(|m| m.name == record.node);
    let peer = me
        .and_then(|m| m.peer_urls.first().cloned())
        .unwrap_or_else(|| "https://<this node's address>:2380".to_owned());
    let initial_cluster = if record.members.is_empty() {
        format!("{}={peer}", record.node)
    } else {
        record
            .members
            .iter()
            .map(|m| {
                format!(
                    "{}={}",
                    m.name,
                    m.peer_urls.first().map_or("<peer url>", String::as_str)
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut steps = vec![Step {
        title: "Prove the snapshot restores".into(),
        why: "a restore drill on a scratch etcd, before the real one is touched".into(),
        commands: vec![format!("kubectl logbackup etcd verify {}", record.name)],
    }];
    if record.compressed {
        steps.push(Step {
            title: "Decompress the snapshot".into(),
            why: "it was saved with --compress; the checksum and the restore read the plain file"
                .into(),
            commands: vec![format!("gunzip -k {compressed}")],
        });
    }
    steps.extend([
        Step {
            title: "Check the snapshot's checksum".into(),
            why: "the file must be the one recorded at save time".into(),
            commands: vec![format!("echo '{}  {snapshot}' | sha256sum -c -", record.sha256)],
        },
        Step {
            title: "Stop the static pods (etcd, kube-apiserver, controller-manager, scheduler)".into(),
            why: "the kubelet stops a static pod when its manifest leaves the directory; nothing may write to etcd during the restore".into(),
            commands: vec![
                format!("mkdir -p {stopped}"),
                format!("mv {}/*.yaml {stopped}/", layout.manifests_dir),
                "until ! crictl ps -q --name 'etcd|kube-apiserver' | grep -q .; do sleep 2; done".into(),
            ],
        },
        Step {
            title: "Move the data directory aside".into(),
            why: "kept, not deleted: it is the way back if the restore goes wrong".into(),
            commands: vec![format!("mv {} {aside}", layout.data_dir)],
        },
        Step {
            title: format!("Restore revision {} into a new data directory", record.revision),
            why: "a new member and cluster ID from the snapshot, with this node's name and peer URL".into(),
            commands: vec![format!(
                "{} snapshot restore {snapshot} --data-dir {} --name {} --initial-cluster {initial_cluster} --initial-advertise-peer-urls {peer}",
                restore_tool(&record.etcd_version),
                layout.data_dir,
                record.node
            )],
        },
    ]);
    if layout.restore_pki {
        let mut commands = vec![
            format!(
                "cp -a {} {}.before-restore-{stamp}",
                layout.pki_dir, layout.pki_dir
            ),
            format!("cp -a {}/pki/. {}/", layout.snapshot_dir, layout.pki_dir),
        ];
        if record.pki.as_ref().is_some_and(|p| p.keys_excluded) {
            commands.push("# this snapshot was saved with --exclude-keys: the private keys must come from your own key store".into());
        }
        steps.push(Step {
            title: "Put the certificates back".into(),
            why: "only when this node's certificates were lost: the restored cluster trusts the CA it was saved with".into(),
            commands,
        });
    }
    steps.push(Step {
        title: "Start the static pods".into(),
        why: "the kubelet starts etcd on the restored data, then the API server".into(),
        commands: vec![
            format!("mv {stopped}/*.yaml {}/", layout.manifests_dir),
            "until kubectl get --raw /readyz >/dev/null 2>&1; do sleep 2; done".into(),
            "kubectl get nodes".into(),
        ],
    });
    if record.members.len() > 1 {
        steps.push(Step {
            title: format!("Repeat on the other {} members", record.members.len() - 1),
            why: "every member restores the SAME snapshot with its own --name and --initial-advertise-peer-urls, before any starts".into(),
            commands: record
                .members
                .iter()
                .filter(|m| m.name != record.node)
                .map(|m| format!("# on {}: the same steps with --name {} --initial-advertise-peer-urls {}", m.name, m.name, m.peer_urls.first().map_or("<peer url>", String::as_str)))
                .collect(),
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::etcd::record::{Files, Member};
    use crate::etcd::Origin;

    fn record(version: &str, members: usize) -> SnapshotRecord {
        SnapshotRecord {
            name: "etcd-manual-cp1-20261206T083005Z".into(),
            origin: Origin::Manual,
            node: "cp1".into(),
            taken_at: "2026-12-06T08:30:05Z".parse().unwrap(),
            endpoint: "https://127.0.0.1:2379".into(),
            etcd_version: version.into(),
            cluster_id: "1".into(),
            member_id: "2".into(),
            revision: 4242,
            members: (1..=members)
                .map(|i| Member {
                    id: i.to_string(),
                    name: format!("cp{i}"),
                    peer_urls: vec![format!("https://10.0.0.{i}:2380")],
                    client_urls: vec![],
                })
                .collect(),
            sha256: "ab12".into(),
            size: 1,
            keys: Default::default(),
            total_keys: 0,
            pki: Some(Files {
                files: vec![],
                keys_excluded: true,
            }),
            manifests: None,
            compressed: false,
            stored_size: None,
        }
    }

    fn layout(restore_pki: bool) -> Layout {
        Layout {
            data_dir: "/var/lib/etcd".into(),
            manifests_dir: "/etc/kubernetes/manifests".into(),
            pki_dir: "/etc/kubernetes/pki".into(),
            snapshot_dir: "/root/etcd-manual-cp1-20261206T083005Z".into(),
            restore_pki,
        }
    }

    #[test]
    fn the_steps_stop_move_aside_restore_and_start_in_that_order() {
        let steps = plan(&record("3.5.16", 1), &layout(false), "20261206T090000Z");
        let text: Vec<String> = steps.iter().flat_map(|s| s.commands.clone()).collect();
        let at = |needle: &str| {
            text.iter()
                .position(|c| c.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {text:#?}"))
        };
        assert!(
            at("mv /etc/kubernetes/manifests/*.yaml")
                < at("mv /var/lib/etcd /var/lib/etcd.before-restore")
        );
        assert!(at("mv /var/lib/etcd ") < at("etcdutl snapshot restore"));
        assert!(
            at("etcdutl snapshot restore")
                < at("mv /etc/kubernetes/manifests.stopped-20261206T090000Z/*.yaml")
        );
        assert!(text[at("snapshot restore")].contains("--name cp1 --initial-cluster cp1=https://10.0.0.1:2380 --initial-advertise-peer-urls https://10.0.0.1:2380"));
        assert!(
            !text.iter().any(|c| c.contains("/pki/.")),
            "certificates only when asked"
        );
    }

    #[test]
    fn etcd_3_4_restores_with_etcdctl_and_certificates_come_back_when_asked() {
        let mut r = record("3.4.23", 3);
        r.compressed = true;
        let steps = plan(&r, &layout(true), "s");
        let text: Vec<String> = steps.iter().flat_map(|s| s.commands.clone()).collect();
        assert!(text
            .iter()
            .any(|c| c.starts_with("ETCDCTL_API=3 etcdctl snapshot restore")));
        assert!(text.iter().any(|c| c
            .contains("cp -a /root/etcd-manual-cp1-20261206T083005Z/pki/. /etc/kubernetes/pki/")));
        assert!(text.iter().any(|c| c.contains("--exclude-keys")));
        assert!(steps.last().unwrap().title.contains("other 2 members"));
        let gunzip = text
            .iter()
            .position(|c| c.starts_with("gunzip -k"))
            .unwrap();
        assert!(gunzip < text.iter().position(|c| c.contains("sha256sum")).unwrap());
    }
}
