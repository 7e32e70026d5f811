//! Targets as kubectl spells them: `sts/NAME`, `statefulset/NAME`, `statefulsets.apps/NAME`,
//! `es/NAME`, `elasticsearch/NAME` (and the ECK group's long forms).

use super::error::EnableError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    StatefulSet,
    Elasticsearch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub name: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            TargetKind::StatefulSet => write!(f, "statefulset/{}", self.name),
            TargetKind::Elasticsearch => write!(f, "elasticsearch/{}", self.name),
        }
    }
}

pub fn parse_target(text: &str) -> Result<Target, EnableError> {
    let bad = || EnableError::BadTarget(text.to_owned());
    let (kind, name) = text.split_once('/').ok_or_else(bad)?;
    let kind = match kind.to_ascii_lowercase().as_str() {
        "sts" | "statefulset" | "statefulsets" | "statefulset.apps" | "statefulsets.apps" => {
            TargetKind::StatefulSet
        }
        "es"
        | "elasticsearch"
        | "elasticsearches"
        | "elasticsearch.elasticsearch.k8s.elastic.co"
        | "elasticsearches.elasticsearch.k8s.elastic.co" => TargetKind::Elasticsearch,
        _ => return Err(bad()),
    };
    if crate::inject::valid_claim(name).is_err() {
        // An object name has the same shape as a claim name: a DNS subdomain.
        return Err(bad());
    }
    Ok(Target {
        kind,
        name: name.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kubectl_spelling_parses() {
        for s in [
            "sts/a",
            "statefulset/a",
            "statefulsets/a",
            "statefulsets.apps/a",
            "StatefulSet/a",
        ] {
            assert_eq!(
                parse_target(s).unwrap().kind,
                TargetKind::StatefulSet,
                "{s}"
            );
        }
        for s in [
            "es/a",
            "elasticsearch/a",
            "elasticsearches.elasticsearch.k8s.elastic.co/a",
        ] {
            assert_eq!(
                parse_target(s).unwrap().kind,
                TargetKind::Elasticsearch,
                "{s}"
            );
        }
    }

    #[test]
    fn other_kinds_and_bad_names_are_refused() {
        for s in ["deploy/a", "a", "sts/", "sts/A_B", "pod/x"] {
            assert_eq!(
                parse_target(s),
                Err(EnableError::BadTarget(s.into())),
                "{s}"
            );
        }
    }

    #[test]
    fn display_uses_the_long_kind() {
        assert_eq!(parse_target("sts/x").unwrap().to_string(), "statefulset/x");
        assert_eq!(parse_target("es/x").unwrap().to_string(), "elasticsearch/x");
    }
}
