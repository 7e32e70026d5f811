//! `kubectl logbackup inject`: the webhook's injection, offline, over manifest files.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use logbackup::inject::{self, Options, Outcome, Overrides, Selection};
use logbackup::manifest;
use serde_json::Value;

#[derive(Debug, Args)]
#[command(after_help = "\
Reads Kubernetes manifests (multi-document YAML or JSON, `kind: List` too) and writes them back with the
snapshot repository injected into every StatefulSet labelled logbackup.io/inject=enabled: a volume on
the shared ReadWriteMany claim, its mount in the Elasticsearch container, path.repo, and an init
container that chowns the repository. Workloads (Deployments, StatefulSets, DaemonSets, ReplicaSets,
Jobs, CronJobs, bare Pods) labelled logbackup.io/files=enabled get the directories their pod template's
logbackup.io/log-dirs annotation names mounted on the node's log root, for the files collector. Other
documents pass through unchanged. Injecting twice is the same as injecting once. Nothing is written
if any labelled object cannot be injected.

Examples:
  kubectl get sts -n kubesphere-logging-system -o yaml \\
      | kubectl logbackup inject -f - | kubectl apply -f -
  kubectl logbackup inject -f elasticsearch.yaml --all --claim logs-backup

Manual: https://github.com/logbackup/kubectl-logbackup/blob/main/docs/inject.md")]
pub struct InjectArgs {
    /// Manifest file to read, `-` for stdin; repeat for several
    #[arg(short = 'f', long = "filename", value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Inject every StatefulSet with an Elasticsearch container, labelled or not (opt-outs still win)
    #[arg(long)]
    pub all: bool,
    /// PersistentVolumeClaim of the repository (default: the StatefulSet name without its role suffix, plus -backup)
    #[arg(long, value_name = "NAME")]
    pub claim: Option<String>,
    /// Repository directory inside the container (default: per image, /usr/share/elasticsearch/backup)
    #[arg(long, value_name = "DIR")]
    pub path: Option<String>,
    /// Name of the Elasticsearch container (default: found by name, image or port 9200)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// uid Elasticsearch runs as (default: from the securityContext, else the image's)
    #[arg(long, value_name = "UID")]
    pub uid: Option<i64>,
    /// gid that owns the repository (default: from the securityContext, else the image's)
    #[arg(long, value_name = "GID")]
    pub gid: Option<i64>,
    /// Output format
    #[arg(short = 'o', long = "output", value_enum, default_value_t = ManifestFormat::Yaml)]
    pub output: ManifestFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ManifestFormat {
    Yaml,
    Json,
}

pub fn run(args: &InjectArgs) -> Result<ExitCode> {
    let options = options(args)?;
    let mut documents = Vec::new();
    for file in &args.files {
        let (name, text) = read(file)?;
        documents.extend(manifest::parse_documents(&name, &text)?);
    }
    let mut report = Vec::new();
    let mut stale = Vec::new();
    manifest::for_each_object(&mut documents, &mut |doc: &mut Value| -> Result<()> {
        let text = |key: &str| doc.get(key).and_then(Value::as_str).unwrap_or_default();
        if inject::template_path(text("apiVersion"), text("kind")).is_none() {
            if let Some(w) = inject::stale_api_version(doc) {
                stale.push(w);
            }
            return Ok(());
        }
        let name = format!(
            "{} {}",
            text("kind"),
            doc.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("<unnamed>")
        );
        let plan = inject::apply_object(doc, &options)?;
        report.push((name, plan));
        Ok(())
    })?;

    let out = match args.output {
        ManifestFormat::Yaml => manifest::to_yaml_stream(&documents)?,
        ManifestFormat::Json => {
            let value = match documents.as_slice() {
                [one] => one.clone(),
                _ => serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": documents }),
            };
            serde_json::to_string_pretty(&value)? + "\n"
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .context("failed to write the manifests to stdout")?;

    for w in &stale {
        eprintln!("warning: {}", w.message);
    }
    for (name, plan) in &report {
        for w in &plan.warnings {
            eprintln!("warning: {}", w.message);
        }
        let what = match plan.outcome {
            Outcome::Injected => "injected",
            Outcome::Updated => "updated",
            Outcome::Unchanged => "already injected",
            Outcome::Skipped(_) => continue,
        };
        tracing::info!(object = %name, outcome = what, "inject");
    }
    Ok(ExitCode::SUCCESS)
}

fn options(args: &InjectArgs) -> Result<Options> {
    let overrides = Overrides {
        claim: args.claim.clone(),
        path: args.path.clone(),
        container: args.container.clone(),
        uid: args.uid,
        gid: args.gid,
    };
    overrides.validate()?;
    Ok(Options {
        selection: if args.all {
            Selection::All
        } else {
            Selection::Labelled
        },
        overrides,
    })
}

fn read(file: &PathBuf) -> Result<(String, String)> {
    if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("failed to read manifests from stdin")?;
        return Ok(("stdin".into(), text));
    }
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).with_context(|| format!("failed to read {name}"))?;
    Ok((name, text))
}
