//! Credentials of a named profile in `~/.aws/credentials`. Pure: the file's text in, keys out.
//!
//! Hand-written because object_store 0.12 reads only `AWS_*` variables, and the AWS SDK's
//! `aws-config` would bring the whole SDK stack for this one INI lookup.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: Option<String>,
}

/// The keys of `[profile]` in a credentials (or config: `[profile NAME]`) file.
pub fn find(text: &str, profile: &str) -> Option<ProfileKeys> {
    let mut inside = false;
    let mut id = None;
    let mut secret = None;
    let mut token = None;
    let mut region = None;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = section.trim();
            let name = name.strip_prefix("profile ").unwrap_or(name).trim();
            inside = name == profile;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = Some(value.trim().to_string());
            match key.trim() {
                "aws_access_key_id" => id = value,
                "aws_secret_access_key" => secret = value,
                "aws_session_token" => token = value,
                "region" => region = value,
                _ => {}
            }
        }
    }
    Some(ProfileKeys {
        access_key_id: id?,
        secret_access_key: secret?,
        session_token: token,
        region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n# backup account\n[profile backup]\naws_access_key_id=C\naws_secret_access_key=D\naws_session_token = T\nregion = eu-west-1\n[broken]\naws_access_key_id = E\n";

    #[test]
    fn finds_the_named_profile() {
        let keys = find(FILE, "backup").unwrap();
        assert_eq!(keys.access_key_id, "C");
        assert_eq!(keys.secret_access_key, "D");
        assert_eq!(keys.session_token.as_deref(), Some("T"));
        assert_eq!(keys.region.as_deref(), Some("eu-west-1"));
        assert_eq!(find(FILE, "default").unwrap().access_key_id, "A");
        assert_eq!(find(FILE, "broken"), None, "no secret");
        assert_eq!(find(FILE, "missing"), None);
    }
}
