//! Flavour and version from `GET /`, and what each supported version needs from us.

use serde::Serialize;

use super::error::EsError;
use super::types::InfoResponse;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    Elasticsearch,
    OpenSearch,
}

impl std::fmt::Display for Flavour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Elasticsearch => "Elasticsearch",
            Self::OpenSearch => "OpenSearch",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerVersion {
    pub flavour: Flavour,
    pub number: String,
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.flavour, self.number)
    }
}

impl ServerVersion {
    /// Reads `GET /` and refuses versions we do not support, saying which we do.
    pub fn detect(info: &InfoResponse) -> Result<Self, EsError> {
        let flavour = match info.version.distribution.as_deref() {
            Some("opensearch") => Flavour::OpenSearch,
            _ => Flavour::Elasticsearch,
        };
        let number = info.version.number.clone();
        let mut parts = number.split(['.', '-']).map(|p| p.parse::<u32>());
        let (major, minor) = match (parts.next(), parts.next()) {
            (Some(Ok(major)), Some(Ok(minor))) => (major, minor),
            _ => return Err(EsError::UnsupportedVersion { flavour, number }),
        };
        let version = Self {
            flavour,
            number,
            major,
            minor,
        };
        let supported = match flavour {
            Flavour::Elasticsearch => matches!((major, minor), (6, 8..) | (7..=9, _)),
            Flavour::OpenSearch => matches!(major, 1 | 2),
        };
        if supported {
            Ok(version)
        } else {
            Err(EsError::UnsupportedVersion {
                flavour: version.flavour,
                number: version.number,
            })
        }
    }

    fn is_opensearch(&self) -> bool {
        self.flavour == Flavour::OpenSearch
    }

    /// The name of the master-timeout parameter: OpenSearch 2.0 renamed it `cluster_manager_timeout`.
    pub fn master_timeout_param(&self) -> &'static str {
        if self.is_opensearch() && self.major >= 2 {
            "cluster_manager_timeout"
        } else {
            "master_timeout"
        }
    }

    /// `DELETE _snapshot/{repo}/{snap}?wait_for_completion` exists from Elasticsearch 8.0 only
    /// (absent from the 7.17 rest-api-spec and from OpenSearch).
    pub fn delete_snapshot_waits(&self) -> bool {
        !self.is_opensearch() && self.major >= 8
    }

    /// `DELETE _snapshot/{repo}/a,b` deletes several snapshots in one call from ES 7.8 and in OpenSearch.
    pub fn multi_delete(&self) -> bool {
        self.is_opensearch() || self.major >= 8 || (self.major == 7 && self.minor >= 8)
    }

    /// Snapshot `metadata` is kept from Elasticsearch 7.3 and in every OpenSearch.
    pub fn snapshot_metadata(&self) -> bool {
        self.is_opensearch() || self.major >= 8 || (self.major == 7 && self.minor >= 3)
    }

    /// `GET _snapshot` pages with `size`/`after`/`sort`/`order` from Elasticsearch 7.14 (not in
    /// OpenSearch, whose definitions have `verbose` only).
    pub fn paginates_snapshots(&self) -> bool {
        !self.is_opensearch() && (self.major >= 8 || (self.major == 7 && self.minor >= 14))
    }

    /// Whether the client must see `X-Elastic-Product`: ES 7.14+ sends it, and clients check it.
    pub fn sends_product_header(&self) -> bool {
        !self.is_opensearch() && (self.major >= 8 || (self.major == 7 && self.minor >= 14))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::es::types::{InfoResponse, InfoVersion};

    fn info(number: &str, distribution: Option<&str>) -> InfoResponse {
        InfoResponse {
            name: None,
            cluster_name: "c".into(),
            version: InfoVersion {
                number: number.into(),
                distribution: distribution.map(str::to_string),
            },
            tagline: None,
        }
    }

    #[test]
    fn supported_versions_are_detected() {
        for (n, d, f) in [
            ("6.8.23", None, Flavour::Elasticsearch),
            ("7.17.0", None, Flavour::Elasticsearch),
            ("8.19.3", None, Flavour::Elasticsearch),
            ("9.1.0-SNAPSHOT", None, Flavour::Elasticsearch),
            ("1.3.20", Some("opensearch"), Flavour::OpenSearch),
            ("2.19.1", Some("opensearch"), Flavour::OpenSearch),
        ] {
            let v = ServerVersion::detect(&info(n, d)).unwrap();
            assert_eq!(v.flavour, f, "{n}");
        }
    }

    #[test]
    fn unsupported_versions_get_a_clear_message() {
        for (n, d) in [
            ("6.7.0", None),
            ("5.6.0", None),
            ("10.0.0", None),
            ("3.0.0", Some("opensearch")),
            ("x", None),
        ] {
            let err = ServerVersion::detect(&info(n, d)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(n) && text.contains("supported"), "{text}");
        }
    }

    #[test]
    fn parameters_adapt_to_the_version() {
        let es7 = ServerVersion::detect(&info("7.17.0", None)).unwrap();
        let es8 = ServerVersion::detect(&info("8.19.0", None)).unwrap();
        let os1 = ServerVersion::detect(&info("1.3.0", Some("opensearch"))).unwrap();
        let os2 = ServerVersion::detect(&info("2.11.0", Some("opensearch"))).unwrap();
        assert_eq!(es7.master_timeout_param(), "master_timeout");
        assert_eq!(os1.master_timeout_param(), "master_timeout");
        assert_eq!(os2.master_timeout_param(), "cluster_manager_timeout");
        assert!(
            !es7.delete_snapshot_waits()
                && es8.delete_snapshot_waits()
                && !os2.delete_snapshot_waits()
        );
        assert!(es7.multi_delete() && os1.multi_delete());
        assert!(!ServerVersion::detect(&info("6.8.0", None))
            .unwrap()
            .multi_delete());
        assert!(es7.sends_product_header() && !os2.sends_product_header());
    }
}
