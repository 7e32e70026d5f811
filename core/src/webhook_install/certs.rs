//! The webhook's private CA and serving certificate, PURE (the clock is an argument): generate
//! with rcgen, read back with x509-parser, check the chain, the names and the expiry, and decide
//! what a re-install keeps.

use jiff::Timestamp;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use x509_parser::extensions::GeneralName;
use x509_parser::pem::parse_x509_pem;

const DAY: i64 = 86_400;
pub const CA_DAYS: i64 = 10 * 365;
pub const SERVING_DAYS: i64 = 365;
/// `status` warns, and `install` renews the serving certificate, under this many days left.
pub const RENEW_DAYS: i64 = 30;
/// A CA this close to its end is replaced (and the serving certificate with it).
pub const CA_RENEW_DAYS: i64 = 90;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("failed to generate the {what}: {source}")]
    Generate {
        what: &'static str,
        source: rcgen::Error,
    },
    #[error("failed to read the {what} as a PEM certificate: {why}")]
    Parse { what: &'static str, why: String },
}

/// The CA (with its key, kept apart from the pods) and the serving pair the Deployment mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    pub ca_cert: String,
    pub ca_key: String,
    pub tls_cert: String,
    pub tls_key: String,
}

/// The names the API server uses for the webhook Service.
pub fn service_names(service: &str, namespace: &str) -> Vec<String> {
    vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ]
}

fn ymd(ts: Timestamp) -> (i32, u8, u8) {
    let d = ts.to_zoned(jiff::tz::TimeZone::UTC).date();
    (i32::from(d.year()), d.month() as u8, d.day() as u8)
}

fn validity(params: &mut CertificateParams, now: Timestamp, days: i64) {
    // From yesterday: a node whose clock lags a little still accepts a fresh certificate.
    let (y, m, d) = ymd(Timestamp::from_second(now.as_second() - DAY).unwrap_or(now));
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = ymd(Timestamp::from_second(now.as_second() + days * DAY).unwrap_or(now));
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

fn gen<T>(what: &'static str, r: Result<T, rcgen::Error>) -> Result<T, CertError> {
    r.map_err(|source| CertError::Generate { what, source })
}

/// A new self-signed CA: (certificate PEM, key PEM).
pub fn new_ca(now: Timestamp) -> Result<(String, String), CertError> {
    let key = gen("CA key", KeyPair::generate())?;
    let mut params = gen(
        "CA certificate",
        CertificateParams::new(Vec::<String>::new()),
    )?;
    params
        .distinguished_name
        .push(DnType::CommonName, "logbackup-webhook-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, now, CA_DAYS);
    let cert = gen("CA certificate", params.self_signed(&key))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A serving certificate for `names`, signed by the CA: (certificate PEM, key PEM).
pub fn issue_serving(
    ca_cert: &str,
    ca_key: &str,
    names: &[String],
    now: Timestamp,
) -> Result<(String, String), CertError> {
    let ca_key = gen("CA key (reading it back)", KeyPair::from_pem(ca_key))?;
    let issuer = gen(
        "CA issuer (reading the CA back)",
        Issuer::from_ca_cert_pem(ca_cert, ca_key),
    )?;
    let key = gen("serving key", KeyPair::generate())?;
    let mut params = gen(
        "serving certificate",
        CertificateParams::new(names.to_vec()),
    )?;
    if let Some(first) = names.first() {
        params.distinguished_name.push(DnType::CommonName, first);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity(&mut params, now, SERVING_DAYS);
    let cert = gen("serving certificate", params.signed_by(&key, &issuer))?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub dns_names: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub is_ca: bool,
}

impl CertInfo {
    pub fn days_left(&self, now: Timestamp) -> i64 {
        (self.not_after - now.as_second()).div_euclid(DAY)
    }
}

fn with_cert<T>(
    what: &'static str,
    pem: &str,
    f: impl FnOnce(&x509_parser::certificate::X509Certificate) -> T,
) -> Result<T, CertError> {
    let parse = |why: String| CertError::Parse { what, why };
    let (_, block) = parse_x509_pem(pem.as_bytes()).map_err(|e| parse(e.to_string()))?;
    let cert = block.parse_x509().map_err(|e| parse(e.to_string()))?;
    Ok(f(&cert))
}

pub fn inspect(what: &'static str, pem: &str) -> Result<CertInfo, CertError> {
    with_cert(what, pem, |c| CertInfo {
        subject: c.subject().to_string(),
        dns_names: c
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|ext| {
                ext.value
                    .general_names
                    .iter()
                    .filter_map(|n| match n {
                        GeneralName::DNSName(d) => Some(d.to_string()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        not_before: c.validity().not_before.timestamp(),
        not_after: c.validity().not_after.timestamp(),
        is_ca: c.is_ca(),
    })
}

/// Whether `leaf` carries a valid signature by `ca`'s key (and `ca` is a CA).
pub fn signed_by(leaf: &str, ca: &str) -> Result<bool, CertError> {
    let ca_der = {
        let (_, block) = parse_x509_pem(ca.as_bytes()).map_err(|e| CertError::Parse {
            what: "CA certificate",
            why: e.to_string(),
        })?;
        block.contents
    };
    let (_, ca_cert) =
        x509_parser::parse_x509_certificate(&ca_der).map_err(|e| CertError::Parse {
            what: "CA certificate",
            why: e.to_string(),
        })?;
    with_cert("serving certificate", leaf, |l| {
        ca_cert.is_ca()
            && l.issuer() == ca_cert.subject()
            && l.verify_signature(Some(ca_cert.public_key())).is_ok()
    })
}

/// The health of what is installed, for `webhook status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertHealth {
    pub ca: CertInfo,
    pub serving: CertInfo,
    pub chain_verifies: bool,
    pub names_covered: bool,
    pub serving_days_left: i64,
    pub ca_days_left: i64,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

impl CertHealth {
    pub fn healthy(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the caBundle's CA against the serving certificate the pods mount.
pub fn check(
    ca_bundle: &str,
    serving: &str,
    names: &[String],
    now: Timestamp,
) -> Result<CertHealth, CertError> {
    let ca = inspect("caBundle", ca_bundle)?;
    let leaf = inspect("serving certificate", serving)?;
    let chain_verifies = signed_by(serving, ca_bundle)?;
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !leaf.dns_names.contains(n))
        .collect();
    let serving_days_left = leaf.days_left(now);
    let ca_days_left = ca.days_left(now);
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    if !chain_verifies {
        problems.push("the serving certificate is not signed by the CA in the caBundle: the API server will refuse the webhook's TLS".into());
    }
    if !missing.is_empty() {
        problems.push(format!(
            "the serving certificate does not name {}: the API server will refuse it",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    for (what, info, left) in [
        ("serving certificate", &leaf, serving_days_left),
        ("CA", &ca, ca_days_left),
    ] {
        if now.as_second() >= info.not_after {
            problems.push(format!("the {what} expired {} days ago", -left));
        } else if now.as_second() < info.not_before {
            problems.push(format!("the {what} is not valid yet"));
        } else if left < RENEW_DAYS {
            warnings.push(format!(
                "the {what} expires in {left} days: run `kubectl logbackup webhook install` again to renew it"
            ));
        }
    }
    Ok(CertHealth {
        ca,
        serving: leaf,
        chain_verifies,
        names_covered: missing.is_empty(),
        serving_days_left,
        ca_days_left,
        problems,
        warnings,
    })
}

/// What a (re-)install does with the certificates it finds, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    KeepAll,
    /// The CA stays (so the caBundle does not change); a new serving certificate.
    RenewServing(String),
    /// A new CA and serving certificate.
    NewCa(String),
}

/// Re-running install keeps a CA with life left (idempotent: same caBundle) and renews a serving
/// certificate that is near its end, does not chain to that CA, or lacks a name.
pub fn decide(existing: Option<&Bundle>, names: &[String], now: Timestamp) -> Decision {
    let Some(b) = existing else {
        return Decision::NewCa("no certificates yet".into());
    };
    let ca = match inspect("CA", &b.ca_cert) {
        Ok(ca) => ca,
        Err(e) => return Decision::NewCa(e.to_string()),
    };
    if b.ca_key.trim().is_empty() {
        return Decision::NewCa("the CA key is missing".into());
    }
    if ca.days_left(now) < CA_RENEW_DAYS {
        return Decision::NewCa(format!("the CA expires in {} days", ca.days_left(now)));
    }
    match check(&b.ca_cert, &b.tls_cert, names, now) {
        Err(e) => Decision::RenewServing(e.to_string()),
        Ok(h) if !h.chain_verifies => Decision::RenewServing("not signed by the CA".into()),
        Ok(h) if !h.names_covered => Decision::RenewServing("a service name is missing".into()),
        Ok(h) if h.serving_days_left < RENEW_DAYS => {
            Decision::RenewServing(format!("it expires in {} days", h.serving_days_left))
        }
        Ok(_) if b.tls_key.trim().is_empty() => Decision::RenewServing("its key is missing".into()),
        Ok(_) => Decision::KeepAll,
    }
}

/// Carries out the decision.
pub fn apply(
    decision: &Decision,
    existing: Option<&Bundle>,
    names: &[String],
    now: Timestamp,
) -> Result<Bundle, CertError> {
    match (decision, existing) {
        (Decision::KeepAll, Some(b)) => Ok(b.clone()),
        (Decision::RenewServing(_), Some(b)) => {
            let (tls_cert, tls_key) = issue_serving(&b.ca_cert, &b.ca_key, names, now)?;
            Ok(Bundle {
                tls_cert,
                tls_key,
                ..b.clone()
            })
        }
        _ => {
            let (ca_cert, ca_key) = new_ca(now)?;
            let (tls_cert, tls_key) = issue_serving(&ca_cert, &ca_key, names, now)?;
            Ok(Bundle {
                ca_cert,
                ca_key,
                tls_cert,
                tls_key,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
    fn names() -> Vec<String> {
        service_names("logbackup-webhook", "logbackup-system")
    }
    fn fresh(now: Timestamp) -> Bundle {
        apply(&Decision::NewCa("test".into()), None, &names(), now).unwrap()
    }
    const NOW: &str = "2026-11-22T04:00:00Z";

    #[test]
    fn a_fresh_bundle_is_healthy_and_names_the_service() {
        let now = ts(NOW);
        let b = fresh(now);
        let h = check(&b.ca_cert, &b.tls_cert, &names(), now).unwrap();
        assert!(h.healthy(), "{:?}", h.problems);
        assert!(h.warnings.is_empty());
        assert!(h.chain_verifies && h.names_covered);
        assert!(h.ca.is_ca && !h.serving.is_ca);
        assert_eq!(
            h.serving.dns_names,
            [
                "logbackup-webhook.logbackup-system.svc",
                "logbackup-webhook.logbackup-system.svc.cluster.local"
            ]
        );
        assert!(
            (364..=365).contains(&h.serving_days_left),
            "{}",
            h.serving_days_left
        );
        assert!(h.ca_days_left > 3600);
        assert!(h.ca.subject.contains("logbackup-webhook-ca"));
    }

    #[test]
    fn another_cas_certificate_does_not_verify() {
        let now = ts(NOW);
        let a = fresh(now);
        let b = fresh(now);
        assert!(!signed_by(&a.tls_cert, &b.ca_cert).unwrap());
        // A serving certificate is not a CA, even for itself.
        assert!(!signed_by(&a.tls_cert, &a.tls_cert).unwrap());
        let h = check(&b.ca_cert, &a.tls_cert, &names(), now).unwrap();
        assert!(!h.healthy());
        assert!(
            h.problems[0].contains("not signed by the CA"),
            "{:?}",
            h.problems
        );
        assert_eq!(
            decide(
                Some(&Bundle {
                    tls_cert: a.tls_cert.clone(),
                    ..b.clone()
                }),
                &names(),
                now
            ),
            Decision::RenewServing("not signed by the CA".into())
        );
    }

    #[test]
    fn names_of_another_namespace_are_a_problem() {
        let now = ts(NOW);
        let b = fresh(now);
        let other = service_names("logbackup-webhook", "elsewhere");
        let h = check(&b.ca_cert, &b.tls_cert, &other, now).unwrap();
        assert!(!h.names_covered);
        assert!(
            h.problems[0].contains("logbackup-webhook.elsewhere.svc"),
            "{:?}",
            h.problems
        );
        assert!(matches!(
            decide(Some(&b), &other, now),
            Decision::RenewServing(_)
        ));
    }

    #[test]
    fn expiry_warns_under_30_days_and_fails_after() {
        let issued = ts(NOW);
        let b = fresh(issued);
        let near = Timestamp::from_second(issued.as_second() + 350 * DAY).unwrap();
        let h = check(&b.ca_cert, &b.tls_cert, &names(), near).unwrap();
        assert!(h.healthy());
        assert_eq!(h.warnings.len(), 1, "{:?}", h.warnings);
        assert!(
            h.warnings[0].contains("serving certificate expires in 1"),
            "{:?}",
            h.warnings
        );
        let after = Timestamp::from_second(issued.as_second() + 400 * DAY).unwrap();
        let h = check(&b.ca_cert, &b.tls_cert, &names(), after).unwrap();
        assert!(!h.healthy());
        assert!(h.problems[0].contains("expired"), "{:?}", h.problems);
        let before = Timestamp::from_second(issued.as_second() - 3 * DAY).unwrap();
        let h = check(&b.ca_cert, &b.tls_cert, &names(), before).unwrap();
        assert!(
            h.problems.iter().any(|p| p.contains("not valid yet")),
            "{:?}",
            h.problems
        );
    }

    #[test]
    fn reinstall_keeps_a_valid_ca_and_renews_a_serving_cert_near_expiry() {
        let issued = ts(NOW);
        let b = fresh(issued);
        assert_eq!(decide(Some(&b), &names(), issued), Decision::KeepAll);
        assert_eq!(
            apply(&Decision::KeepAll, Some(&b), &names(), issued).unwrap(),
            b
        );
        let later = Timestamp::from_second(issued.as_second() + 340 * DAY).unwrap();
        let d = decide(Some(&b), &names(), later);
        assert!(
            matches!(&d, Decision::RenewServing(why) if why.contains("expires in")),
            "{d:?}"
        );
        let renewed = apply(&d, Some(&b), &names(), later).unwrap();
        assert_eq!(renewed.ca_cert, b.ca_cert, "the caBundle must not change");
        assert_ne!(renewed.tls_cert, b.tls_cert);
        let h = check(&renewed.ca_cert, &renewed.tls_cert, &names(), later).unwrap();
        assert!(h.healthy() && h.warnings.is_empty(), "{h:?}");
        assert_eq!(decide(Some(&renewed), &names(), later), Decision::KeepAll);
    }

    #[test]
    fn a_ca_near_its_end_or_without_its_key_is_replaced() {
        let issued = ts(NOW);
        let b = fresh(issued);
        let late = Timestamp::from_second(issued.as_second() + (CA_DAYS - 30) * DAY).unwrap();
        assert!(matches!(
            decide(Some(&b), &names(), late),
            Decision::NewCa(_)
        ));
        let keyless = Bundle {
            ca_key: String::new(),
            ..b.clone()
        };
        assert_eq!(
            decide(Some(&keyless), &names(), issued),
            Decision::NewCa("the CA key is missing".into())
        );
        let garbage = Bundle {
            ca_cert: "not a pem".into(),
            ..b
        };
        assert!(matches!(
            decide(Some(&garbage), &names(), issued),
            Decision::NewCa(_)
        ));
        assert_eq!(
            decide(None, &names(), issued),
            Decision::NewCa("no certificates yet".into())
        );
    }

    #[test]
    fn unreadable_pems_are_errors_that_say_what() {
        let err = inspect(
            "caBundle",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("caBundle"), "{err}");
        assert!(check("", "", &names(), ts(NOW)).is_err());
    }
}
