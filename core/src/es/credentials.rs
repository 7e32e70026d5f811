//! Which credentials and which CA to use, decided from the flags and what discovery found. Pure:
//! reading the chosen Secrets is the plugin's (`src/workflows/connect.rs`).

/// The user basic authentication falls back to, as Elasticsearch and ECK name it.
pub const DEFAULT_USER: &str = "elastic";
/// The key of `--password-secret NAME` without `/KEY`.
pub const DEFAULT_PASSWORD_KEY: &str = "password";
/// The key of `--ca-secret NAME` without `/KEY`.
pub const DEFAULT_CA_KEY: &str = "ca.crt";

/// The credential flags, as given (values are not needed to choose).
#[derive(Debug, Clone, Copy, Default)]
pub struct CredentialFlags<'a> {
    pub api_key: bool,
    pub password: bool,
    pub username: Option<&'a str>,
    /// `--password-secret NAME[/KEY]`.
    pub password_secret: Option<&'a str>,
}

/// A key of a Secret to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKey {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    /// `--api-key`.
    ApiKey,
    /// `--password`, as this user.
    Password {
        username: String,
    },
    /// A password read from a Secret, as this user: `--password-secret`, or ECK's
    /// `<cluster>-es-elastic-user` when discovery found an ECK Service and nothing was given.
    PasswordFrom {
        secret: SecretKey,
        username: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error("{0} needs -n NAMESPACE with --es-url (the namespace of the Secret)")]
    NoNamespace(&'static str),
}

fn split<'a>(reference: &'a str, default_key: &'a str) -> (&'a str, &'a str) {
    reference
        .split_once('/')
        .unwrap_or((reference, default_key))
}

/// Flags win over Secrets, an API key over a password. `secret_namespace` is where discovery found
/// Elasticsearch, else `-n`; `eck_user_secret` is ECK's user Secret when discovery found ECK.
pub fn choose_credentials(
    flags: CredentialFlags<'_>,
    secret_namespace: Option<&str>,
    eck_user_secret: Option<&str>,
) -> Result<Credentials, ChoiceError> {
    let username = flags.username.unwrap_or(DEFAULT_USER).to_owned();
    if flags.api_key {
        return Ok(Credentials::ApiKey);
    }
    if flags.password {
        return Ok(Credentials::Password { username });
    }
    if let Some(reference) = flags.password_secret {
        let namespace = secret_namespace.ok_or(ChoiceError::NoNamespace("--password-secret"))?;
        let (name, key) = split(reference, DEFAULT_PASSWORD_KEY);
        return Ok(Credentials::PasswordFrom {
            secret: SecretKey {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                key: key.to_owned(),
            },
            username,
        });
    }
    match (eck_user_secret, secret_namespace) {
        (Some(secret), Some(namespace)) => Ok(Credentials::PasswordFrom {
            secret: SecretKey {
                namespace: namespace.to_owned(),
                name: secret.to_owned(),
                key: DEFAULT_USER.to_owned(),
            },
            // ECK's Secret holds the `elastic` user's password, whatever --username says.
            username: DEFAULT_USER.to_owned(),
        }),
        _ => Ok(Credentials::None),
    }
}

/// Where the CA comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaSource {
    /// The system's roots (or none needed: HTTP, or `--insecure`).
    System,
    /// `--ca-file`, read by the caller.
    File,
    /// `--ca-secret`: must be read.
    Secret(SecretKey),
    /// ECK's `<cluster>-es-http-certs-public`, found by discovery: read if it can be, else the
    /// system's roots.
    EckPublic(SecretKey),
}

/// What discovery found, as far as the CA is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Discovered<'a> {
    pub namespace: &'a str,
    pub service: &'a str,
    pub https: bool,
}

/// `--ca-secret` wins over ECK's public certificate; `--ca-file` and `--insecure` skip the latter.
pub fn choose_ca(
    ca_file: bool,
    ca_secret: Option<&str>,
    insecure: bool,
    secret_namespace: Option<&str>,
    discovered: Option<Discovered<'_>>,
) -> Result<CaSource, ChoiceError> {
    if let Some(reference) = ca_secret {
        let namespace = secret_namespace.ok_or(ChoiceError::NoNamespace("--ca-secret"))?;
        let (name, key) = split(reference, DEFAULT_CA_KEY);
        return Ok(CaSource::Secret(SecretKey {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            key: key.to_owned(),
        }));
    }
    if ca_file {
        return Ok(CaSource::File);
    }
    match discovered {
        Some(d) if d.https && !insecure => {
            let cluster = d.service.trim_end_matches("-es-http");
            Ok(CaSource::EckPublic(SecretKey {
                namespace: d.namespace.to_owned(),
                name: format!("{cluster}-es-http-certs-public"),
                key: DEFAULT_CA_KEY.to_owned(),
            }))
        }
        _ => Ok(CaSource::System),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(namespace: &str, name: &str, key: &str) -> SecretKey {
        SecretKey {
            namespace: namespace.into(),
            name: name.into(),
            key: key.into(),
        }
    }

    #[test]
    fn an_api_key_wins_over_a_password_and_a_password_over_secrets() {
        let both = CredentialFlags {
            api_key: true,
            password: true,
            password_secret: Some("s"),
            ..Default::default()
        };
        assert_eq!(
            choose_credentials(both, Some("ns"), Some("es-es-elastic-user")),
            Ok(Credentials::ApiKey)
        );
        let password = CredentialFlags {
            password: true,
            username: Some("admin"),
            password_secret: Some("s"),
            ..Default::default()
        };
        assert_eq!(
            choose_credentials(password, Some("ns"), Some("es-es-elastic-user")),
            Ok(Credentials::Password {
                username: "admin".into()
            })
        );
    }

    #[test]
    fn a_password_secret_is_read_in_the_elasticsearch_namespace_with_its_key() {
        let flags = CredentialFlags {
            password_secret: Some("creds/pw"),
            ..Default::default()
        };
        assert_eq!(
            choose_credentials(flags, Some("logging"), Some("es-es-elastic-user")),
            Ok(Credentials::PasswordFrom {
                secret: key("logging", "creds", "pw"),
                username: "elastic".into()
            })
        );
        let default_key = CredentialFlags {
            password_secret: Some("creds"),
            ..Default::default()
        };
        assert!(matches!(
            choose_credentials(default_key, Some("logging"), None),
            Ok(Credentials::PasswordFrom { secret, .. }) if secret.key == "password"
        ));
    }

    #[test]
    fn a_secret_without_a_namespace_is_refused_with_what_to_pass() {
        let flags = CredentialFlags {
            password_secret: Some("creds"),
            ..Default::default()
        };
        let err = choose_credentials(flags, None, None).unwrap_err();
        assert!(err.to_string().contains("--password-secret needs -n"));
        let err = choose_ca(false, Some("ca"), false, None, None).unwrap_err();
        assert!(err.to_string().contains("--ca-secret needs -n"));
    }

    #[test]
    fn eck_is_reached_as_elastic_with_its_own_secret_when_nothing_is_given() {
        let flags = CredentialFlags {
            username: Some("someone"),
            ..Default::default()
        };
        assert_eq!(
            choose_credentials(flags, Some("es"), Some("quick-es-elastic-user")),
            Ok(Credentials::PasswordFrom {
                secret: key("es", "quick-es-elastic-user", "elastic"),
                username: "elastic".into()
            })
        );
        assert_eq!(
            choose_credentials(CredentialFlags::default(), Some("es"), None),
            Ok(Credentials::None)
        );
    }

    #[test]
    fn the_ca_comes_from_the_flag_then_eck_then_the_system() {
        let eck = Discovered {
            namespace: "es",
            service: "quick-es-http",
            https: true,
        };
        assert_eq!(
            choose_ca(false, Some("mine/root.pem"), false, Some("es"), Some(eck)),
            Ok(CaSource::Secret(key("es", "mine", "root.pem")))
        );
        assert_eq!(
            choose_ca(true, None, false, Some("es"), Some(eck)),
            Ok(CaSource::File)
        );
        assert_eq!(
            choose_ca(false, None, false, Some("es"), Some(eck)),
            Ok(CaSource::EckPublic(key(
                "es",
                "quick-es-http-certs-public",
                "ca.crt"
            )))
        );
        assert_eq!(
            choose_ca(false, None, true, Some("es"), Some(eck)),
            Ok(CaSource::System)
        );
        let plain = Discovered {
            https: false,
            ..eck
        };
        assert_eq!(
            choose_ca(false, None, false, Some("es"), Some(plain)),
            Ok(CaSource::System)
        );
    }
}
