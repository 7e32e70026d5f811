//! The real Kubernetes tier: etcd, kube-apiserver and kube-controller-manager on 127.0.0.1 with
//! certificates of their own, torn down when the `Tier` is dropped (also when a test panics).
//!
//! The binaries come from `scripts/kube-binaries.sh` (built once from Debian's `kubernetes` source
//! package, cached outside the repository); `KUBE_ASSETS` points at existing ones instead.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Where the binaries are: `KUBE_ASSETS`, else the cache `scripts/kube-binaries.sh` fills.
pub fn assets() -> PathBuf {
    std::env::var_os("KUBE_ASSETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/logbackup/kube"))
}

/// One tier at a time in this test binary: each is three servers on two shared cores, and a test's
/// webhook configuration must not see another test's StatefulSets.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

pub struct Tier {
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
    pub server: String,
    pub etcd_url: String,
    children: Vec<(&'static str, Child)>,
    kubelet: Option<tokio::task::JoinHandle<()>>,
    /// Issues certificates the API server trusts (tests sign their users' with it).
    ca: (String, String),
    /// Runs the kubelet stand-in and the tests' own API calls.
    pub rt: tokio::runtime::Runtime,
    _turn: MutexGuard<'static, ()>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A CA: (certificate PEM, key PEM).
fn new_ca(name: &str) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A leaf signed by `ca`: serving for `names` (IP addresses or DNS names), or a client certificate
/// for user `cn` in group `org`. Returns (certificate PEM, key PEM).
pub fn issue(
    ca: &(String, String),
    cn: &str,
    org: Option<&str>,
    names: &[&str],
) -> (String, String) {
    let ca_key = KeyPair::from_pem(&ca.1).unwrap();
    let issuer = Issuer::from_ca_cert_pem(&ca.0, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(org) = org {
        params
            .distinguished_name
            .push(DnType::OrganizationName, org);
    }
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = if names.is_empty() {
        vec![ExtendedKeyUsagePurpose::ClientAuth]
    } else {
        vec![ExtendedKeyUsagePurpose::ServerAuth]
    };
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

impl Tier {
    /// Starts etcd, kube-apiserver (RBAC on) and kube-controller-manager, and waits until the API
    /// server is ready and the default ServiceAccount machinery works.
    pub fn start() -> Tier {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let bin = assets();
        for b in ["etcd", "kube-apiserver", "kube-controller-manager"] {
            assert!(
                bin.join(b).exists(),
                "{} has no {b}: run scripts/kube-binaries.sh (or set KUBE_ASSETS)",
                bin.display()
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let file = |name: &str, text: &str| {
            let p = d.join(name);
            write(&p, text);
            p
        };

        let ca = new_ca("logbackup-test-kubernetes-ca");
        let ca_file = file("ca.crt", &ca.0);
        let serving = issue(&ca, "kube-apiserver", None, &["127.0.0.1", "localhost"]);
        let (serving_crt, serving_key) = (
            file("apiserver.crt", &serving.0),
            file("apiserver.key", &serving.1),
        );
        let admin = issue(&ca, "logbackup-test-admin", Some("system:masters"), &[]);
        let (admin_crt, admin_key) = (file("admin.crt", &admin.0), file("admin.key", &admin.1));
        // The ServiceAccount token signer: the API server verifies, the controller manager signs.
        let sa = KeyPair::generate().unwrap();
        let sa_key = file("sa.key", &sa.serialize_pem());
        let sa_pub = file("sa.pub", &sa.public_key_pem());

        let mut tier = Tier {
            kubeconfig: d.join("kubeconfig"),
            server: String::new(),
            etcd_url: String::new(),
            kubelet: None,
            ca: ca.clone(),
            children: Vec::new(),
            rt: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap(),
            dir,
            _turn: turn,
        };
        let d = tier.dir.path().to_owned();

        let (client, peer) = (free_port(), free_port());
        let etcd_url = format!("http://127.0.0.1:{client}");
        tier.etcd_url = etcd_url.clone();
        let peer_url = format!("http://127.0.0.1:{peer}");
        tier.spawn(
            "etcd",
            Command::new(bin.join("etcd")).args([
                "--name=t",
                &format!("--data-dir={}", d.join("etcd").display()),
                &format!("--listen-client-urls={etcd_url}"),
                &format!("--advertise-client-urls={etcd_url}"),
                &format!("--listen-peer-urls={peer_url}"),
                &format!("--initial-advertise-peer-urls={peer_url}"),
                &format!("--initial-cluster=t={peer_url}"),
                "--log-level=warn",
            ]),
        );

        let port = free_port();
        tier.server = format!("https://127.0.0.1:{port}");
        let path = |p: &PathBuf| p.display().to_string();
        tier.spawn(
            "kube-apiserver",
            Command::new(bin.join("kube-apiserver")).args([
                &format!("--etcd-servers={etcd_url}"),
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                &format!("--secure-port={port}"),
                // No other API server to reconcile the `kubernetes` Service's endpoints with.
                "--endpoint-reconciler-type=none",
                &format!("--cert-dir={}", d.join("certs").display()),
                &format!("--tls-cert-file={}", path(&serving_crt)),
                &format!("--tls-private-key-file={}", path(&serving_key)),
                &format!("--client-ca-file={}", path(&ca_file)),
                &format!("--service-account-key-file={}", path(&sa_pub)),
                &format!("--service-account-signing-key-file={}", path(&sa_key)),
                "--service-account-issuer=https://kubernetes.default.svc",
                "--service-cluster-ip-range=10.96.0.0/16",
                "--authorization-mode=RBAC",
                "--allow-privileged=true",
                "--v=0",
            ]),
        );

        let admin_kubeconfig = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: tier\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: admin\n  user:\n    client-certificate: {}\n    client-key: {}\ncontexts:\n- name: tier\n  context:\n    cluster: tier\n    user: admin\n    namespace: default\ncurrent-context: tier\n",
            tier.server,
            path(&ca_file),
            path(&admin_crt),
            path(&admin_key)
        );
        write(&tier.kubeconfig, &admin_kubeconfig);
        tier.wait_ready(Duration::from_secs(120));

        tier.spawn(
            "kube-controller-manager",
            Command::new(bin.join("kube-controller-manager")).args([
                &format!("--kubeconfig={}", path(&tier.kubeconfig)),
                "--port=0",
                "--secure-port=0",
                "--leader-elect=false",
                &format!("--service-account-private-key-file={}", path(&sa_key)),
                &format!("--root-ca-file={}", path(&ca_file)),
                // The node lifecycle controller would evict the stand-in's pods when its Node's
                // heartbeat pauses under load; nothing here tests eviction.
                "--controllers=*,-nodelifecycle,-nodeipam",
                "--v=0",
            ]),
        );
        tier
    }

    fn spawn(&mut self, name: &'static str, command: &mut Command) {
        let log = std::fs::File::create(self.dir.path().join(format!("{name}.log"))).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        self.children.push((name, child));
    }

    /// The last lines a server logged, for failure messages.
    pub fn log_tail(&self, name: &str) -> String {
        let text = std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn wait_ready(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            for (name, child) in &mut self.children {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("{name} exited ({status}) while starting:\n{}", {
                        let text =
                            std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
                                .unwrap_or_default();
                        text.lines()
                            .rev()
                            .take(30)
                            .collect::<Vec<_>>()
                            .into_iter()
                            .rev()
                            .collect::<Vec<_>>()
                            .join("\n")
                    });
                }
            }
            let out = self.get_raw("/readyz");
            if out.0 && out.1.trim() == "ok" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kube-apiserver not ready after {timeout:?}:\n{}",
                self.log_tail("kube-apiserver")
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Starts the kubelet stand-in (`kubelet.rs`): a Node, and pods of StatefulSets that run.
    pub fn start_kubelet(&mut self) {
        let client = self.rt.block_on(self.client());
        self.kubelet = Some(self.rt.spawn(crate::kubelet::run(client)));
    }

    /// A kube client as the admin (build it inside `rt`).
    pub async fn client(&self) -> kube::Client {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&self.kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        kube::Client::try_from(config).unwrap()
    }

    /// GET `path` as the admin: (answered 2xx, body). The readiness probe before anything else.
    fn get_raw(&self, path: &str) -> (bool, String) {
        self.rt.block_on(async {
            let client = self.client().await;
            let req = http::Request::get(path).body(Vec::new()).unwrap();
            match tokio::time::timeout(Duration::from_secs(5), client.request_text(req)).await {
                Ok(Ok(text)) => (true, text),
                _ => (false, String::new()),
            }
        })
    }

    /// The object as the API server holds it now, if it exists (`namespace` None: cluster-scoped).
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<serde_json::Value> {
        self.rt.block_on(async {
            crate::fixtures::get(&self.client().await, api_version, kind, namespace, name).await
        })
    }

    /// Runs the plugin binary against this API server: (exit code, stdout, stderr).
    pub fn plugin(&self, args: &[&str]) -> (i32, String, String) {
        Self::plugin_as(&self.kubeconfig, args)
    }

    /// The plugin as the user of `kubeconfig` (see `kubeconfig_for`): (exit code, stdout, stderr).
    pub fn plugin_as(kubeconfig: &Path, args: &[&str]) -> (i32, String, String) {
        test_support::Runner::new(env!("CARGO_BIN_EXE_kubectl-logbackup"))
            .env("KUBECONFIG", kubeconfig)
            .env_remove("LOGBACKUP_ES_URL")
            .env_remove("LOGBACKUP_REPOSITORY")
            .env_remove("RUST_LOG")
            .run(args)
            .parts()
    }

    /// A kubeconfig for another user `cn`, with no group: RBAC gives it nothing unless a test
    /// binds a role to it.
    pub fn kubeconfig_for(&self, cn: &str) -> PathBuf {
        let (crt, key) = issue(&self.ca, cn, None, &[]);
        let d = self.dir.path();
        write(&d.join(format!("{cn}.crt")), &crt);
        write(&d.join(format!("{cn}.key")), &key);
        let text = std::fs::read_to_string(&self.kubeconfig)
            .unwrap()
            .replace("admin.crt", &format!("{cn}.crt"))
            .replace("admin.key", &format!("{cn}.key"));
        let path = d.join(format!("kubeconfig-{cn}"));
        write(&path, &text);
        path
    }
}

impl Drop for Tier {
    fn drop(&mut self) {
        if let Some(kubelet) = self.kubelet.take() {
            kubelet.abort();
        }
        // The controller manager first, etcd last, so nothing logs a storm of connection errors.
        for (_, child) in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
