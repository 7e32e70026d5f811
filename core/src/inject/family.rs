//! Image families differ in where the repository goes, who the server runs as, and how `path.repo` is set.

use super::keys::{BITNAMI_REPO_ENV, PATH_REPO_ENV};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// docker.elastic.co images, the OSS builds KubeSphere ships, and images derived from them.
    Elasticsearch,
    OpenSearch,
    /// bitnami/elasticsearch: configured by its own scripts, runs as 1001.
    Bitnami,
}

impl Family {
    /// Guesses from the image reference; unknown images are treated as the official Elasticsearch layout.
    pub fn from_image(image: &str) -> Self {
        let repo = repository(image);
        if repo.contains("bitnami") && repo.contains("elasticsearch") {
            Family::Bitnami
        } else if repo
            .rsplit('/')
            .next()
            .is_some_and(|n| n.contains("opensearch"))
        {
            Family::OpenSearch
        } else {
            Family::Elasticsearch
        }
    }

    pub fn default_path(self) -> &'static str {
        match self {
            Family::Elasticsearch => "/usr/share/elasticsearch/backup",
            Family::OpenSearch => "/usr/share/opensearch/backup",
            // Outside /bitnami/elasticsearch, where the chart mounts the data volume.
            Family::Bitnami => "/snapshots",
        }
    }

    /// uid and gid the server runs as when the pod does not say.
    pub fn default_ids(self) -> (i64, i64) {
        match self {
            Family::Elasticsearch | Family::OpenSearch => (1000, 1000),
            Family::Bitnami => (1001, 1001),
        }
    }

    pub fn repo_env(self) -> &'static str {
        match self {
            Family::Bitnami => BITNAMI_REPO_ENV,
            Family::Elasticsearch | Family::OpenSearch => PATH_REPO_ENV,
        }
    }

    /// Whether the image name alone marks a container as the search server (not an exporter or a sidecar).
    pub fn is_server_image(image: &str) -> bool {
        let repo = repository(image);
        let name = repo.rsplit('/').next().unwrap_or_default();
        matches!(
            name,
            "elasticsearch" | "elasticsearch-oss" | "opensearch" | "elasticsearch-logging"
        )
    }
}

/// `registry:5000/org/name:tag@sha256:...` -> `registry:5000/org/name`, lowercased. A `:` is a tag
/// separator only after the last `/`: before it, it is a registry port.
fn repository(image: &str) -> String {
    let lower = image.to_ascii_lowercase();
    let without_digest = lower.split('@').next().unwrap_or_default();
    let last_slash = without_digest.rfind('/').map_or(0, |i| i + 1);
    match without_digest[last_slash..].find(':') {
        Some(colon) => without_digest[..last_slash + colon].to_owned(),
        None => without_digest.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_real_image_references() {
        for (image, family) in [
            (
                "docker.elastic.co/elasticsearch/elasticsearch:8.15.0",
                Family::Elasticsearch,
            ),
            (
                "kubesphere/elasticsearch-oss:6.7.0-1",
                Family::Elasticsearch,
            ),
            (
                "quay.io/fluentd_elasticsearch/elasticsearch:v7.10.2",
                Family::Elasticsearch,
            ),
            ("opensearchproject/opensearch:2.11.0", Family::OpenSearch),
            (
                "docker.io/bitnami/elasticsearch:8.11.3-debian-11-r0",
                Family::Bitnami,
            ),
            (
                "registry:5000/bitnami/elasticsearch@sha256:abc",
                Family::Bitnami,
            ),
            ("localhost:5000/opensearch", Family::OpenSearch),
        ] {
            assert_eq!(Family::from_image(image), family, "{image}");
        }
    }

    #[test]
    fn server_images_exclude_exporters_and_dashboards() {
        assert!(Family::is_server_image(
            "kubesphere/elasticsearch-oss:6.7.0-1"
        ));
        assert!(Family::is_server_image(
            "registry:5000/elastic/elasticsearch@sha256:00"
        ));
        assert!(!Family::is_server_image(
            "quay.io/prometheuscommunity/elasticsearch-exporter:v1.7.0"
        ));
        assert!(!Family::is_server_image(
            "opensearchproject/opensearch-dashboards:2.11.0"
        ));
        assert!(!Family::is_server_image("busybox:1.36"));
    }
}
