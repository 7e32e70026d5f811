//! A real etcd (Debian's etcd-server) on free loopback ports, with kubeadm's layout of certificates
//! when TLS is on: `pki/etcd/{ca,server,healthcheck-client}.{crt,key}`, client certificates
//! required. Killed and removed when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// (certificate PEM, key PEM)
pub type Pair = (String, String);

pub fn new_ca(name: &str) -> Pair {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// A serving certificate for `names`, or a client certificate when `names` is empty.
pub fn issue(ca: &Pair, cn: &str, names: &[&str]) -> Pair {
    issue_with(ca, cn, names, true)
}

/// `issue`, choosing whether a serving certificate may also authenticate a client.
pub fn issue_with(ca: &Pair, cn: &str, names: &[&str], serving_client_auth: bool) -> Pair {
    let issuer = Issuer::from_ca_cert_pem(&ca.0, KeyPair::from_pem(&ca.1).unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    // As kubeadm issues etcd's serving certificate: server and client authentication both (etcd
    // dials itself with it, from its JSON gateway and between members).
    params.extended_key_usages = if names.is_empty() {
        vec![ExtendedKeyUsagePurpose::ClientAuth]
    } else {
        let mut usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if serving_client_auth {
            usages.push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        usages
    };
    let cert = params.signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

pub fn write_pair(dir: &Path, name: &str, pair: &Pair) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(dir.join(format!("{name}.crt")), &pair.0).unwrap();
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&key, &pair.1).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
}

pub struct Etcd {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
    pub tls: bool,
    child: Child,
}

impl Etcd {
    pub fn start(tls: bool) -> Self {
        Self::start_with(tls, true)
    }

    /// `serving_client_auth`: whether etcd's serving certificate also allows client
    /// authentication, as kubeadm's does.
    pub fn start_with(tls: bool, serving_client_auth: bool) -> Self {
        Self::start_at(tempfile::tempdir().unwrap(), tls, serving_client_auth)
    }

    /// A TLS etcd (client certificates required) whose kubeadm-shaped tree (`pki/`, `manifests/`,
    /// `data/`) is a new directory under `parent`: the real node mounts it into a pod from there.
    #[allow(dead_code)] // Only the real node's tests (tests/node/etcd.rs) start one there.
    pub fn start_under(parent: &Path) -> Self {
        std::fs::create_dir_all(parent).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("etcd-")
            .tempdir_in(parent)
            .unwrap();
        Self::start_at(dir, true, true)
    }

    fn start_at(dir: tempfile::TempDir, tls: bool, serving_client_auth: bool) -> Self {
        let d = dir.path();
        let (client, peer) = (free_port(), free_port());
        let scheme = if tls { "https" } else { "http" };
        let endpoint = format!("{scheme}://127.0.0.1:{client}");
        let etcd_pki = d.join("pki/etcd");
        std::fs::create_dir_all(&etcd_pki).unwrap();
        std::fs::create_dir_all(d.join("manifests")).unwrap();
        // kubeadm's layout: the cluster CA beside etcd's, static pod manifests.
        let cluster_ca = new_ca("kubernetes");
        write_pair(&d.join("pki"), "ca", &cluster_ca);
        std::fs::write(
            d.join("manifests/etcd.yaml"),
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\n",
        )
        .unwrap();
        std::fs::write(d.join("manifests/kube-apiserver.yaml"), "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kube-apiserver\n  namespace: kube-system\n").unwrap();
        let mut cmd = Command::new("etcd");
        cmd.arg("--name")
            .arg("cp1")
            .arg("--data-dir")
            .arg(d.join("data"))
            .arg(format!("--listen-client-urls={endpoint}"))
            .arg(format!("--advertise-client-urls={endpoint}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=cp1=http://127.0.0.1:{peer}"));
        if tls {
            let ca = new_ca("etcd-ca");
            write_pair(&etcd_pki, "ca", &ca);
            write_pair(
                &etcd_pki,
                "server",
                &issue_with(&ca, "cp1", &["127.0.0.1", "localhost"], serving_client_auth),
            );
            write_pair(
                &etcd_pki,
                "healthcheck-client",
                &issue(&ca, "kube-etcd-healthcheck-client", &[]),
            );
            cmd.arg("--client-cert-auth")
                .arg(format!(
                    "--trusted-ca-file={}",
                    etcd_pki.join("ca.crt").display()
                ))
                .arg(format!(
                    "--cert-file={}",
                    etcd_pki.join("server.crt").display()
                ))
                .arg(format!(
                    "--key-file={}",
                    etcd_pki.join("server.key").display()
                ));
        }
        let log = std::fs::File::create(d.join("etcd.log")).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("Debian's etcd-server (etcd on PATH)");
        let etcd = Etcd {
            dir,
            endpoint,
            tls,
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !etcd.ctl(&["endpoint", "health"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "etcd did not start: {}",
                std::fs::read_to_string(etcd.path("etcd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        etcd
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// The connection flags of kubeadm's layout in this directory.
    pub fn conn_args(&self) -> Vec<String> {
        let mut a = vec!["--endpoints".to_string(), self.endpoint.clone()];
        if self.tls {
            for (flag, file) in [
                ("--cacert", "ca.crt"),
                ("--cert", "healthcheck-client.crt"),
                ("--key", "healthcheck-client.key"),
            ] {
                a.push(flag.into());
                a.push(self.path(&format!("pki/etcd/{file}")).display().to_string());
            }
        }
        a
    }

    /// Real etcdctl, v3 API, with this server's certificates.
    pub fn ctl(&self, args: &[&str]) -> std::process::Output {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(self.conn_args())
            .args(args)
            .output()
            .expect("Debian's etcd-client (etcdctl on PATH)")
    }

    /// Puts `keys` with one etcdctl per batch of transactions' worth (a `txn` of puts).
    pub fn put_all(&self, keys: &[String], value: &str) {
        for chunk in keys.chunks(100) {
            let mut script = String::from("\n");
            for k in chunk {
                script.push_str(&format!("put {k} {value}\n"));
            }
            script.push('\n');
            script.push('\n');
            let mut child = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(self.conn_args())
                .arg("txn")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(script.as_bytes())
                .unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("SUCCESS"),
                "etcdctl txn: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}
