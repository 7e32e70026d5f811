//! `GET _nodes/plugins`: which plugins and modules each node has, for `repo register --type s3`.

use serde::Deserialize;
use std::collections::BTreeMap;

use logbackup_core::s3_repository::NodePlugins;

use super::client::EsClient;
use super::error::Failed;

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    nodes: BTreeMap<String, Node>,
}

#[derive(Debug, Deserialize)]
struct Node {
    name: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    plugins: Vec<Named>,
    #[serde(default)]
    modules: Vec<Named>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
}

impl EsClient {
    pub async fn nodes_plugins(&self) -> Result<Vec<NodePlugins>, Failed> {
        let response: Response = self
            .get("/_nodes/plugins", &[], "read the plugins of every node")
            .await?;
        Ok(response
            .nodes
            .into_values()
            .map(|n| NodePlugins {
                name: n.name,
                roles: n.roles,
                installed: n
                    .plugins
                    .into_iter()
                    .chain(n.modules)
                    .map(|p| p.name)
                    .collect(),
            })
            .collect())
    }
}
