//! `webhook status`, judged: the facts the plugin gathered (the Deployment's readiness, the
//! Service's ready endpoints, the certificates, a TLS handshake) in, a verdict per part out. Pure,
//! as `snapshot::status` is; gathering is in `src/workflows/webhook_status.rs`, printing in the CLI.

use jiff::Timestamp;
use serde::Serialize;

use super::certs;
use super::manifests::SERVICE;

/// What was seen in the cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// The webhook's namespace.
    pub namespace: String,
    /// The Deployment's ready and wanted replicas; `None` when there is no Deployment.
    pub deployment: Option<(i32, i32)>,
    /// Ready endpoints behind the Service.
    pub ready_endpoints: usize,
    /// The MutatingWebhookConfiguration's caBundle (PEM), when the configuration exists.
    pub ca_bundle: Option<String>,
    /// `tls.crt` of the serving Secret the pods mount (PEM), when the Secret exists.
    pub serving_cert: Option<String>,
    /// The handshake made as the API server makes it; `None` when [`can_probe`] said no.
    pub handshake: Option<Handshake>,
}

/// How a handshake that trusted only the caBundle, as the Service's DNS name, went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Handshake {
    /// Trusted, and the pod serves the certificate the Secret holds.
    ServesTheSecret,
    /// Trusted, but the pod serves another certificate than the Secret holds (not reloaded yet).
    ServesAnother,
    /// No trusted handshake: the API server could not call the webhook either.
    Failed { error: String },
}

/// A handshake is worth trying only with a CA to trust and a ready pod to reach.
pub fn can_probe(ca_bundle: Option<&str>, ready_endpoints: usize) -> bool {
    ca_bundle.is_some_and(|c| !c.trim().is_empty()) && ready_endpoints > 0
}

/// The DNS name the API server calls the webhook by, and checks the certificate against.
pub fn service_host(namespace: &str) -> String {
    format!("{SERVICE}.{namespace}.svc")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    Deployment,
    Service,
    Certificate,
    Handshake,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deployment => "deployment",
            Self::Service => "service",
            Self::Certificate => "certificate",
            Self::Handshake => "handshake",
        }
    }
}

/// A finding under a part: a problem makes the webhook unhealthy, a warning does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Note {
    Problem(String),
    Warning(String),
}

/// The verdict on one part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub part: Part,
    /// What was seen, in a few words.
    pub summary: String,
    /// Why this part is broken and what to do, when it is.
    pub problem: Option<String>,
    /// Further findings (the certificate's, or advice).
    pub notes: Vec<Note>,
}

impl Check {
    fn ok(part: Part, summary: String) -> Self {
        Self {
            part,
            summary,
            problem: None,
            notes: Vec::new(),
        }
    }

    fn broken(part: Part, summary: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            part,
            summary: summary.into(),
            problem: Some(problem.into()),
            notes: Vec::new(),
        }
    }

    pub fn healthy(&self) -> bool {
        self.problem.is_none() && !self.notes.iter().any(|n| matches!(n, Note::Problem(_)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub namespace: String,
    pub healthy: bool,
    pub checks: Vec<Check>,
}

/// Judges the facts at `now`.
pub fn evaluate(facts: &Facts, now: Timestamp) -> Health {
    let ns = facts.namespace.as_str();
    let mut checks = vec![
        deployment(ns, facts.deployment),
        service(facts.ready_endpoints),
        certificate(ns, facts, now),
    ];
    if let Some(h) = &facts.handshake {
        checks.push(handshake(ns, h));
    }
    Health {
        namespace: facts.namespace.clone(),
        healthy: checks.iter().all(Check::healthy),
        checks,
    }
}

fn deployment(ns: &str, seen: Option<(i32, i32)>) -> Check {
    match seen {
        Some((ready, want)) if ready >= want && want > 0 => {
            Check::ok(Part::Deployment, format!("{ready}/{want} ready"))
        }
        Some((ready, want)) => Check::broken(
            Part::Deployment,
            format!("{ready}/{want} ready"),
            format!("no webhook pod is ready; see `kubectl get pods -n {ns} -l app.kubernetes.io/name={SERVICE}` and `kubectl describe deployment -n {ns} {SERVICE}`"),
        ),
        None => Check::broken(
            Part::Deployment,
            format!("{ns}/{SERVICE} not found"),
            "run `kubectl logbackup webhook install`",
        ),
    }
}

fn service(ready_endpoints: usize) -> Check {
    if ready_endpoints == 0 {
        return Check::broken(
            Part::Service,
            "no ready endpoints",
            "the API server cannot reach the webhook, so it refuses every write to a StatefulSet labelled logbackup.io/inject=enabled (failurePolicy Fail)",
        );
    }
    Check::ok(Part::Service, format!("{ready_endpoints} ready endpoints"))
}

fn certificate(ns: &str, facts: &Facts, now: Timestamp) -> Check {
    let (ca, cert) =
        match (&facts.ca_bundle, &facts.serving_cert) {
            (Some(ca), Some(cert)) if !ca.trim().is_empty() => (ca, cert),
            (Some(_), Some(_)) => return Check::broken(
                Part::Certificate,
                "the caBundle is empty",
                "cert-manager's cainjector has not filled it yet, or the configuration was edited",
            ),
            _ => {
                return Check::broken(
                    Part::Certificate,
                    "caBundle or serving certificate missing",
                    "run `kubectl logbackup webhook install`",
                )
            }
        };
    let health = match certs::check(ca, cert, &certs::service_names(SERVICE, ns), now) {
        Ok(h) => h,
        Err(e) => return Check::broken(Part::Certificate, "unreadable", e.to_string()),
    };
    let summary = format!(
        "chain {}, names {}, serving expires in {} days, CA in {} days",
        if health.chain_verifies {
            "verifies"
        } else {
            "BROKEN"
        },
        if health.names_covered {
            "cover the Service"
        } else {
            "MISSING"
        },
        health.serving_days_left,
        health.ca_days_left
    );
    let notes = health
        .problems
        .into_iter()
        .map(Note::Problem)
        .chain(health.warnings.into_iter().map(Note::Warning))
        .collect();
    Check {
        part: Part::Certificate,
        summary,
        problem: None,
        notes,
    }
}

fn handshake(ns: &str, seen: &Handshake) -> Check {
    let host = service_host(ns);
    match seen {
        Handshake::ServesTheSecret => Check::ok(
            Part::Handshake,
            format!("trusted as {host}, serving the Secret's certificate"),
        ),
        Handshake::ServesAnother => Check {
            part: Part::Handshake,
            summary: format!(
                "trusted as {host}, but serving another certificate than the Secret holds"
            ),
            problem: None,
            notes: vec![Note::Warning(
                "the webhook re-reads its files every 10s; restart it if this persists".into(),
            )],
        },
        Handshake::Failed { error } => Check::broken(Part::Handshake, "FAILED", error.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook_install::certs::{apply, service_names, Bundle, Decision};

    fn generate(names: &[String], now: Timestamp) -> Bundle {
        apply(&Decision::NewCa("test".into()), None, names, now).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_800_000_000).unwrap()
    }

    /// A healthy installation's facts: two ready pods, a CA and a serving certificate for the
    /// Service's names, a handshake that got the Secret's certificate.
    fn good() -> Facts {
        let bundle = generate(&service_names(SERVICE, "logbackup-system"), now());
        Facts {
            namespace: "logbackup-system".into(),
            deployment: Some((2, 2)),
            ready_endpoints: 2,
            ca_bundle: Some(bundle.ca_cert),
            serving_cert: Some(bundle.tls_cert),
            handshake: Some(Handshake::ServesTheSecret),
        }
    }

    fn part(health: &Health, part: Part) -> &Check {
        health.checks.iter().find(|c| c.part == part).unwrap()
    }

    #[test]
    fn a_ready_installation_is_healthy_on_every_part() {
        let health = evaluate(&good(), now());
        assert!(health.healthy, "{health:#?}");
        assert_eq!(health.checks.len(), 4);
        assert_eq!(part(&health, Part::Deployment).summary, "2/2 ready");
        assert!(part(&health, Part::Certificate)
            .summary
            .starts_with("chain verifies, names cover the Service"));
    }

    #[test]
    fn no_ready_pod_and_no_endpoints_are_two_problems() {
        let facts = Facts {
            deployment: Some((0, 2)),
            ready_endpoints: 0,
            handshake: None,
            ..good()
        };
        let health = evaluate(&facts, now());
        assert!(!health.healthy);
        let deployment = part(&health, Part::Deployment);
        assert_eq!(deployment.summary, "0/2 ready");
        assert!(deployment
            .problem
            .as_deref()
            .unwrap()
            .starts_with("no webhook pod is ready"));
        assert!(part(&health, Part::Service)
            .problem
            .as_deref()
            .unwrap()
            .contains("cannot reach the webhook"));
        assert!(!health.checks.iter().any(|c| c.part == Part::Handshake));
    }

    #[test]
    fn a_deployment_scaled_to_zero_is_not_ready() {
        let facts = Facts {
            deployment: Some((0, 0)),
            ..good()
        };
        assert!(!evaluate(&facts, now()).healthy);
    }

    #[test]
    fn missing_objects_say_to_install() {
        let facts = Facts {
            deployment: None,
            serving_cert: None,
            ..good()
        };
        let health = evaluate(&facts, now());
        assert!(!health.healthy);
        for p in [Part::Deployment, Part::Certificate] {
            assert!(part(&health, p)
                .problem
                .as_deref()
                .unwrap()
                .contains("webhook install"));
        }
    }

    #[test]
    fn an_empty_ca_bundle_points_at_the_cainjector() {
        let facts = Facts {
            ca_bundle: Some("  \n".into()),
            ..good()
        };
        let health = evaluate(&facts, now());
        let cert = part(&health, Part::Certificate);
        assert_eq!(cert.summary, "the caBundle is empty");
        assert!(cert.problem.as_deref().unwrap().contains("cainjector"));
        assert!(!can_probe(facts.ca_bundle.as_deref(), 2));
    }

    #[test]
    fn a_serving_certificate_from_another_ca_breaks_the_chain() {
        let other = generate(&service_names(SERVICE, "logbackup-system"), now());
        let facts = Facts {
            serving_cert: Some(other.tls_cert),
            ..good()
        };
        let health = evaluate(&facts, now());
        assert!(!health.healthy);
        let cert = part(&health, Part::Certificate);
        assert!(cert.summary.starts_with("chain BROKEN"), "{}", cert.summary);
        assert!(cert.notes.iter().any(|n| matches!(n, Note::Problem(_))));
    }

    #[test]
    fn an_unreadable_certificate_is_a_problem_not_an_error() {
        let facts = Facts {
            serving_cert: Some("not PEM".into()),
            ..good()
        };
        let health = evaluate(&facts, now());
        assert_eq!(part(&health, Part::Certificate).summary, "unreadable");
        assert!(!health.healthy);
    }

    #[test]
    fn a_certificate_near_its_end_warns_but_stays_healthy() {
        // A year-long serving certificate read 350 days after it was made.
        let later = Timestamp::from_second(now().as_second() + 350 * 86_400).unwrap();
        let health = evaluate(&good(), later);
        assert!(health.healthy, "{health:#?}");
        assert!(part(&health, Part::Certificate)
            .notes
            .iter()
            .any(|n| matches!(n, Note::Warning(w) if w.contains("renew"))));
    }

    #[test]
    fn a_stale_certificate_in_the_pod_warns_and_a_failed_handshake_is_a_problem() {
        let stale = Facts {
            handshake: Some(Handshake::ServesAnother),
            ..good()
        };
        let health = evaluate(&stale, now());
        assert!(health.healthy);
        assert_eq!(part(&health, Part::Handshake).notes.len(), 1);
        let failed = Facts {
            handshake: Some(Handshake::Failed {
                error: "no TLS handshake within 10s".into(),
            }),
            ..good()
        };
        let health = evaluate(&failed, now());
        assert!(!health.healthy);
        assert_eq!(part(&health, Part::Handshake).summary, "FAILED");
    }

    #[test]
    fn a_handshake_needs_a_ca_and_a_ready_pod() {
        assert!(can_probe(Some("PEM"), 1));
        assert!(!can_probe(Some("PEM"), 0));
        assert!(!can_probe(None, 3));
    }
}
