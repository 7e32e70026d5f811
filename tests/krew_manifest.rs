//! krew/logbackup.yaml against krew-index's rules, the release archives' layout, and the real
//! `kubectl` discovering the plugin on PATH.
#![allow(clippy::unwrap_used, clippy::expect_used)] // A test crate: a panic is how a test reports.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const BIN: &str = env!("CARGO_BIN_EXE_kubectl-logbackup");

fn manifest(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("read krew manifest");
    logbackup::manifest::parse_documents("krew", &text)
        .expect("parse")
        .remove(0)
}

/// The rules krew-index's validation applies to a plugin manifest.
fn krew_violations(m: &Value, file_stem: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    if s(&m["apiVersion"]) != "krew.googlecontainertools.github.com/v1alpha2"
        || s(&m["kind"]) != "Plugin"
    {
        bad.push("apiVersion/kind".into());
    }
    if s(&m["metadata"]["name"]) != file_stem {
        bad.push(format!(
            "metadata.name {:?} is not the file name {file_stem:?}",
            m["metadata"]["name"]
        ));
    }
    let version = s(&m["spec"]["version"]);
    let semver = version.strip_prefix('v').map(|v| {
        v.split(['-', '+'])
            .next()
            .unwrap_or_default()
            .split('.')
            .collect::<Vec<_>>()
    });
    if !semver.is_some_and(|parts| {
        parts.len() == 3
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    }) {
        bad.push(format!(
            "version {version:?} is not semver with a leading v"
        ));
    }
    let short = s(&m["spec"]["shortDescription"]);
    if short.is_empty() || short.len() > 50 {
        bad.push(format!(
            "shortDescription must be 1..=50 characters, is {}",
            short.len()
        ));
    }
    if s(&m["spec"]["homepage"]).is_empty() {
        bad.push("homepage".into());
    }
    let platforms = m["spec"]["platforms"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if platforms.is_empty() {
        bad.push("no platforms".into());
    }
    for p in &platforms {
        let uri = s(&p["uri"]);
        if !uri.starts_with("https://")
            || !(uri.ends_with(".tar.gz") || uri.ends_with(".zip"))
            || !uri.contains(&version)
        {
            bad.push(format!("uri {uri}"));
        }
        let sha = s(&p["sha256"]);
        if sha.len() != 64
            || !sha
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            bad.push(format!("sha256 {sha:?}"));
        }
        if s(&p["bin"]).is_empty() {
            bad.push("bin".into());
        }
    }
    for (i, a) in platforms.iter().enumerate() {
        for b in &platforms[i + 1..] {
            let (la, lb) = (&a["selector"]["matchLabels"], &b["selector"]["matchLabels"]);
            let disjoint = la
                .as_object()
                .into_iter()
                .flatten()
                .any(|(k, v)| lb.get(k).is_some_and(|w| w != v));
            if !disjoint {
                bad.push(format!("selectors overlap: {la} and {lb}"));
            }
        }
    }
    bad
}

#[test]
fn the_manifest_follows_krew_rules_and_covers_the_platforms() {
    let path = Path::new(ROOT).join("krew/logbackup.yaml");
    let m = manifest(&path);
    assert_eq!(krew_violations(&m, "logbackup"), Vec::<String>::new());
    assert_eq!(
        m["spec"]["version"],
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "krew version follows Cargo.toml"
    );
    let mut platforms: Vec<String> = m["spec"]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p["selector"]["matchLabels"]["os"].as_str().unwrap_or("?"),
                p["selector"]["matchLabels"]["arch"].as_str().unwrap_or("?")
            )
        })
        .collect();
    platforms.sort();
    assert_eq!(
        platforms,
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );
}

#[test]
fn the_rule_check_catches_what_krew_index_rejects() {
    let good = manifest(&Path::new(ROOT).join("krew/logbackup.yaml"));
    let mut bad = good.clone();
    bad["spec"]["version"] = "0.1".into();
    bad["spec"]["platforms"][1]["selector"]["matchLabels"] =
        good["spec"]["platforms"][0]["selector"]["matchLabels"].clone();
    bad["spec"]["platforms"][2]["sha256"] = "abc".into();
    let found = krew_violations(&bad, "other-name");
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(found.iter().any(|f| f.contains("overlap")), "{found:#?}");
}

#[test]
fn release_archives_carry_the_binary_and_license_and_their_sha256() {
    let dist = tempfile::tempdir().expect("tempdir");
    let out = Command::new("bash")
        .arg(Path::new(ROOT).join("scripts/release.sh"))
        .env("DIST_DIR", dist.path())
        .env("RELEASE_BIN", BIN)
        .output()
        .expect("run release.sh");
    assert!(
        out.status.success(),
        "release.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let (archive, sum) = line.split_once(' ').expect("archive and sha256 printed");
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(archive)
        .output()
        .expect("tar");
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        "LICENSE\nkubectl-logbackup\n"
    );
    let filled = manifest(&dist.path().join("logbackup.yaml"));
    let platform = filled["spec"]["platforms"]
        .as_array()
        .expect("platforms")
        .iter()
        .find(|p| p["sha256"] == sum);
    let platform = platform.unwrap_or_else(|| panic!("sha256 {sum} not filled in"));
    assert!(archive.ends_with(
        platform["uri"]
            .as_str()
            .unwrap_or_default()
            .rsplit('/')
            .next()
            .unwrap_or("?")
    ));
    assert!(krew_violations(&filled, "logbackup").is_empty());
}

#[test]
fn kubectl_finds_the_plugin_on_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(BIN, dir.path().join("kubectl-logbackup")).expect("copy plugin");
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let help = Command::new("kubectl")
        .args(["logbackup", "--help"])
        .env("PATH", &path)
        .output();
    let help = help.expect(
        "kubectl is installed on these machines (apt/dispatcher); install it to run this test",
    );
    assert!(
        help.status.success(),
        "{}",
        String::from_utf8_lossy(&help.stderr)
    );
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.contains("Usage: kubectl logbackup"), "{text}");
    let list = Command::new("kubectl")
        .args(["plugin", "list"])
        .env("PATH", &path)
        .output()
        .expect("kubectl plugin list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(&format!("{}/kubectl-logbackup", dir.path().display())),
        "{listed}"
    );
}
