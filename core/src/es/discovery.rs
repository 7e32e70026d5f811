//! Finding Elasticsearch in a cluster, the pure part: which Service, which scheme, which Secret.
//! The Kubernetes calls (list, port-forward, read the Secret) are in `k8s::elasticsearch`.

use std::collections::BTreeMap;

/// A Service as far as discovery cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCandidate {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<u16>,
}

/// Where to connect and with what credentials source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EsEndpoint {
    pub namespace: String,
    pub service: String,
    pub port: u16,
    pub https: bool,
    /// ECK's `<cluster>-es-elastic-user` Secret (key `elastic`), when the Service is ECK's.
    pub eck_user_secret: Option<String>,
}

const ECK_TYPE_LABEL: &str = "common.k8s.elastic.co/type";
const ECK_CLUSTER_LABEL: &str = "elasticsearch.k8s.elastic.co/cluster-name";

/// Names the common charts give the HTTP Service, best first: KubeSphere, the fluentd addon, the
/// Elastic and OpenSearch Helm charts, plain.
const WELL_KNOWN: &[&str] = &[
    "elasticsearch-logging-data",
    "elasticsearch-logging",
    "elasticsearch-master",
    "opensearch-cluster-master",
    "elasticsearch",
    "opensearch",
];

/// Picks the Service: ECK's `-es-http`, then well-known names, then anything exposing 9200 with
/// "elastic" or "opensearch" in its name; headless duplicates (`-headless`, `-discovery`) are skipped.
pub fn choose_service(candidates: &[ServiceCandidate]) -> Option<EsEndpoint> {
    let usable = |s: &&ServiceCandidate| {
        !s.name.ends_with("-headless")
            && !s.name.ends_with("-discovery")
            && !s.name.ends_with("-transport")
    };
    let rank = |s: &ServiceCandidate| -> Option<usize> {
        let eck = s
            .labels
            .get(ECK_TYPE_LABEL)
            .is_some_and(|t| t == "elasticsearch")
            && s.name.ends_with("-es-http");
        if eck {
            return Some(0);
        }
        if let Some(i) = WELL_KNOWN.iter().position(|n| *n == s.name) {
            return s.ports.contains(&9200).then_some(1 + i);
        }
        let named = s.name.contains("elastic") || s.name.contains("opensearch");
        (named && s.ports.contains(&9200)).then_some(100)
    };
    let best = candidates
        .iter()
        .filter(usable)
        .filter_map(|s| rank(s).map(|r| (r, s)))
        .min_by_key(|(r, s)| (*r, s.name.clone()))?;
    let s = best.1;
    let eck_cluster = s.labels.get(ECK_CLUSTER_LABEL).filter(|_| best.0 == 0);
    Some(EsEndpoint {
        namespace: s.namespace.clone(),
        service: s.name.clone(),
        port: 9200,
        // ECK serves HTTPS by default; the charts above default to HTTP.
        https: eck_cluster.is_some(),
        eck_user_secret: eck_cluster.map(|c| format!("{c}-es-elastic-user")),
    })
}

/// The URL of a local port-forward to the target, and the host name to pin to 127.0.0.1: over
/// HTTPS the URL keeps the Service's DNS name so the certificate (issued for it) still verifies.
pub fn forwarded_url(target: &EsEndpoint, local_port: u16) -> (String, Option<String>) {
    if target.https {
        let host = format!("{}.{}.svc", target.service, target.namespace);
        (format!("https://{host}:{local_port}"), Some(host))
    } else {
        (format!("http://127.0.0.1:{local_port}"), None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(ns: &str, name: &str, labels: &[(&str, &str)], ports: &[u16]) -> ServiceCandidate {
        ServiceCandidate {
            namespace: ns.into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ports: ports.to_vec(),
        }
    }

    #[test]
    fn kubesphere_data_service_is_found() {
        let found = choose_service(&[
            svc(
                "kubesphere-logging-system",
                "elasticsearch-logging-discovery",
                &[],
                &[9300],
            ),
            svc(
                "kubesphere-logging-system",
                "elasticsearch-logging-data",
                &[],
                &[9200],
            ),
            svc("kubesphere-logging-system", "fluent-bit", &[], &[2020]),
        ])
        .unwrap();
        assert_eq!(found.service, "elasticsearch-logging-data");
        assert!(!found.https && found.eck_user_secret.is_none());
        assert_eq!(
            forwarded_url(&found, 40000),
            ("http://127.0.0.1:40000".to_string(), None)
        );
    }

    #[test]
    fn eck_wins_and_brings_its_secret_and_tls() {
        let eck = [
            (ECK_TYPE_LABEL, "elasticsearch"),
            (ECK_CLUSTER_LABEL, "quickstart"),
        ];
        let found = choose_service(&[
            svc("elastic", "elasticsearch", &[], &[9200]),
            svc("elastic", "quickstart-es-http", &eck, &[9200]),
            svc("elastic", "quickstart-es-transport", &eck, &[9300]),
        ])
        .unwrap();
        assert_eq!(found.service, "quickstart-es-http");
        assert_eq!(
            found.eck_user_secret.as_deref(),
            Some("quickstart-es-elastic-user")
        );
        assert_eq!(
            forwarded_url(&found, 1),
            (
                "https://quickstart-es-http.elastic.svc:1".to_string(),
                Some("quickstart-es-http.elastic.svc".to_string())
            )
        );
    }

    #[test]
    fn anything_else_needs_port_9200_and_a_telling_name() {
        assert_eq!(
            choose_service(&[svc("a", "my-elastic", &[], &[9200])])
                .unwrap()
                .service,
            "my-elastic"
        );
        assert!(choose_service(&[svc("a", "my-elastic", &[], &[80])]).is_none());
        assert!(choose_service(&[svc("a", "postgres", &[], &[9200])]).is_none());
        assert!(choose_service(&[svc("a", "elasticsearch-headless", &[], &[9200])]).is_none());
        assert!(choose_service(&[]).is_none());
    }
}
