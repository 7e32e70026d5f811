//! Finding the container that runs Elasticsearch, whatever it is called.

use super::view::Container;

use super::error::InjectError;
use super::family::Family;

const SERVER_NAMES: &[&str] = &["elasticsearch", "opensearch", "elasticsearch-logging"];
const HTTP_PORT: i32 = 9200;

/// A way to recognise the Elasticsearch container, named for error messages.
type Rule = (&'static str, fn(&Container<'_>) -> bool);

/// Index of the Elasticsearch container: the annotation decides if set; otherwise the first rule
/// (name, then image, then the 9200 port) that matches exactly one container.
pub fn find(
    sts: &str,
    containers: &[Container],
    annotated: Option<&str>,
) -> Result<usize, InjectError> {
    let names = || {
        containers
            .iter()
            .map(|c| c.name.to_owned())
            .collect::<Vec<_>>()
    };
    if let Some(wanted) = annotated {
        return containers
            .iter()
            .position(|c| c.name == wanted)
            .ok_or_else(|| InjectError::ContainerNotFound {
                sts: sts.to_owned(),
                reason: format!("named {wanted:?} (from logbackup.io/container)"),
                containers: names(),
            });
    }
    let rules: [Rule; 3] = [
        ("by name", |c| SERVER_NAMES.contains(&c.name)),
        ("by image", |c| c.image.is_some_and(Family::is_server_image)),
        ("by port 9200", |c| {
            c.ports
                .iter()
                .flatten()
                .any(|p| p.container_port == HTTP_PORT)
        }),
    ];
    for (how, rule) in rules {
        let matched: Vec<usize> = (0..containers.len())
            .filter(|&i| rule(&containers[i]))
            .collect();
        match matched.as_slice() {
            [] => continue,
            [only] => return Ok(*only),
            many => {
                return Err(InjectError::AmbiguousContainer {
                    sts: sts.to_owned(),
                    how,
                    candidates: many
                        .iter()
                        .map(|&i| containers[i].name.to_owned())
                        .collect(),
                })
            }
        }
    }
    Err(InjectError::ContainerNotFound {
        sts: sts.to_owned(),
        reason:
            "is named elasticsearch/opensearch, runs an Elasticsearch image or exposes port 9200"
                .into(),
        containers: names(),
    })
}
