//! S3 repositories in Elasticsearch itself: the settings, whether the cluster can have one, and the
//! keystore steps for the credentials. Pure.
//!
//! Elasticsearch 8+ ships S3 support as a built-in module; 7.x (and 6.x) and OpenSearch need the
//! `repository-s3` plugin on every master and data node. Credentials are secure settings in each
//! node's keystore (`s3.client.NAME.access_key`, `.secret_key`), never repository settings: 7.x
//! warns and 8.x refuses them there.

use serde::Serialize;

use crate::es::types::needs_repo;
use crate::es::version::{Flavour, ServerVersion};

pub const PLUGIN: &str = "repository-s3";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct S3Settings {
    pub bucket: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
    /// The `s3.client.NAME.*` settings to use; Elasticsearch's default is `default`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub compress: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub readonly: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PutS3Repository {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub settings: S3Settings,
}

impl PutS3Repository {
    pub fn new(settings: S3Settings) -> Self {
        Self {
            kind: "s3",
            settings,
        }
    }
}

/// One node as `GET _nodes/plugins` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePlugins {
    pub name: String,
    pub roles: Vec<String>,
    /// Plugin and module names.
    pub installed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// Elasticsearch 8+: nothing to install.
    BuiltIn,
    /// The plugin is on every node that needs it.
    Plugin,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{version} has no S3 repository support on {}: the {PLUGIN} plugin is missing. Install it on every master and data node and restart them one at a time:\n  {}\n(On Kubernetes, add it to the image or run it in an init container before Elasticsearch starts.)", .nodes.join(", "), install_command(.version.flavour))]
pub struct Missing {
    pub version: ServerVersion,
    pub nodes: Vec<String>,
}

pub fn install_command(flavour: Flavour) -> String {
    match flavour {
        Flavour::Elasticsearch => format!("bin/elasticsearch-plugin install --batch {PLUGIN}"),
        Flavour::OpenSearch => format!("bin/opensearch-plugin install --batch {PLUGIN}"),
    }
}

/// Can this cluster register an S3 repository? `nodes` only matters before Elasticsearch 8.
pub fn support(version: &ServerVersion, nodes: &[NodePlugins]) -> Result<Support, Missing> {
    if version.flavour == Flavour::Elasticsearch && version.major >= 8 {
        return Ok(Support::BuiltIn);
    }
    let lacking: Vec<String> = nodes
        .iter()
        .filter(|n| needs_repo(&n.roles) && !n.installed.iter().any(|p| p == PLUGIN))
        .map(|n| n.name.clone())
        .collect();
    if lacking.is_empty() {
        Ok(Support::Plugin)
    } else {
        Err(Missing {
            version: version.clone(),
            nodes: lacking,
        })
    }
}

/// The exact steps that put the S3 credentials of `client` into every node's keystore.
pub fn keystore_steps(flavour: Flavour, client: &str) -> Vec<String> {
    let tool = match flavour {
        Flavour::Elasticsearch => "bin/elasticsearch-keystore",
        Flavour::OpenSearch => "bin/opensearch-keystore",
    };
    vec![
        format!("On every master and data node, as the user Elasticsearch runs as ({tool}):"),
        format!("  {tool} add --stdin s3.client.{client}.access_key   # paste the access key id"),
        format!("  {tool} add --stdin s3.client.{client}.secret_key   # paste the secret key"),
        format!("  {tool} add --stdin s3.client.{client}.session_token   # only for temporary credentials"),
        "Then load them without a restart: POST _nodes/reload_secure_settings".to_string(),
        "On ECK, put the keys in a Secret and list it under spec.secureSettings of the Elasticsearch resource instead.".to_string(),
        format!("Endpoint, region and path-style addressing for MinIO/Ceph RGW are node settings in elasticsearch.yml (opensearch.yml): s3.client.{client}.endpoint, s3.client.{client}.protocol, s3.client.{client}.path_style_access: true."),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(flavour: Flavour, number: &str) -> ServerVersion {
        let mut it = number.split('.').map(|p| p.parse().unwrap_or(0));
        ServerVersion {
            flavour,
            number: number.into(),
            major: it.next().unwrap_or(0),
            minor: it.next().unwrap_or(0),
        }
    }

    fn node(name: &str, roles: &[&str], installed: &[&str]) -> NodePlugins {
        NodePlugins {
            name: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            installed: installed.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn elasticsearch_8_has_it_built_in() {
        let v = version(Flavour::Elasticsearch, "8.19.0");
        assert_eq!(support(&v, &[]), Ok(Support::BuiltIn));
    }

    #[test]
    fn others_need_the_plugin_on_master_and_data_nodes() {
        let v = version(Flavour::OpenSearch, "2.11.0");
        let nodes = [
            node("data-0", &["data", "ingest"], &[PLUGIN]),
            node("master-0", &["cluster_manager"], &[]),
            node("coord-0", &["ingest"], &[]),
        ];
        let err = support(&v, &nodes).unwrap_err();
        assert_eq!(err.nodes, ["master-0"]);
        let text = err.to_string();
        assert!(text.contains("OpenSearch 2.11.0 has no S3 repository support on master-0"));
        assert!(text.contains("bin/opensearch-plugin install --batch repository-s3"));
        let all = [node("data-0", &["data"], &[PLUGIN])];
        assert_eq!(support(&v, &all), Ok(Support::Plugin));
        let es7 = version(Flavour::Elasticsearch, "7.17.0");
        assert!(support(&es7, &[node("n", &[], &["analysis-icu"])])
            .unwrap_err()
            .to_string()
            .contains("bin/elasticsearch-plugin install --batch repository-s3"));
    }

    #[test]
    fn settings_leave_out_what_is_not_given_and_never_hold_keys() {
        let body = PutS3Repository::new(S3Settings {
            bucket: "logs".into(),
            base_path: None,
            client: Some("offsite".into()),
            compress: true,
            readonly: false,
        });
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "s3", "settings": {"bucket": "logs", "client": "offsite", "compress": true}})
        );
    }

    #[test]
    fn keystore_steps_name_the_flavour_tool_and_client() {
        let es = keystore_steps(Flavour::Elasticsearch, "offsite").join("\n");
        assert!(es.contains("bin/elasticsearch-keystore add --stdin s3.client.offsite.access_key"));
        assert!(es.contains("POST _nodes/reload_secure_settings"));
        let os = keystore_steps(Flavour::OpenSearch, "default").join("\n");
        assert!(os.contains("bin/opensearch-keystore add --stdin s3.client.default.secret_key"));
    }
}
