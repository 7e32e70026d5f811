//! Credentials. `Debug` and `Display` never show a secret, so a stray `{:?}` in a log cannot leak one.

/// A password or API key: a string that redacts itself (not a Kubernetes Secret).
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The value, for building the Authorization header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redacted(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Auth {
    #[default]
    None,
    Basic {
        username: String,
        password: Redacted,
    },
    /// The base64 `id:api_key` value Elasticsearch returns as `encoded`.
    ApiKey(Redacted),
}

impl Auth {
    /// The `Authorization` header value, if any.
    pub fn header(&self) -> Option<String> {
        match self {
            Self::None => None,
            Self::Basic { username, password } => Some(format!(
                "Basic {}",
                base64(format!("{username}:{}", password.expose()).as_bytes())
            )),
            Self::ApiKey(key) => Some(format!("ApiKey {}", key.expose())),
        }
    }
}

/// Standard base64 with padding: eight lines instead of a dependency for one header.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug() {
        let auth = Auth::Basic {
            username: "elastic".into(),
            password: Redacted::new("hunter2"),
        };
        let shown = format!("{auth:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("elastic"));
        assert!(!format!("{:?}", Auth::ApiKey(Redacted::new("k3y"))).contains("k3y"));
    }

    #[test]
    fn headers_are_standard() {
        let auth = Auth::Basic {
            username: "elastic".into(),
            password: Redacted::new("changeme"),
        };
        assert_eq!(
            auth.header().as_deref(),
            Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
        );
        assert_eq!(
            Auth::ApiKey(Redacted::new("abc")).header().as_deref(),
            Some("ApiKey abc")
        );
        assert_eq!(Auth::None.header(), None);
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}

/// `text` with the credentials of every URL in it (`scheme://user:password@host`) replaced by
/// `***`, for error messages and logs. Hand-written over a URL parser because it must also clean
/// free text (a transport error that quotes the URL), not just one well-formed URL.
pub fn redact_url_credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the path, query or fragment, or where the URL ends in the text.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || c == ')')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("***");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// Whether `url` carries a user name or password before its host.
pub fn url_has_credentials(url: &str) -> bool {
    redact_url_credentials(url) != url
}

#[cfg(test)]
mod redaction_tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_wherever_a_url_appears() {
        assert_eq!(
            redact_url_credentials("failed to connect to http://elastic:s3cr3t@es:9200/_cat (x)"),
            "failed to connect to http://***@es:9200/_cat (x)"
        );
        assert_eq!(
            redact_url_credentials("error sending request for url (https://u:p@h/)"),
            "error sending request for url (https://***@h/)"
        );
        assert_eq!(
            redact_url_credentials("https://es:9200/?q=a@b"),
            "https://es:9200/?q=a@b"
        );
        assert!(url_has_credentials("http://elastic:s3cr3t@host"));
        assert!(url_has_credentials("http://token@host:9200"));
        assert!(!url_has_credentials("http://host:9200/path@x"));
    }
}
