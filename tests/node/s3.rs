//! moto, a real S3 server, for the pods that copy to S3.

use std::time::Duration;

use crate::cluster::Node;

/// moto, a real S3 server, on the node's address so that pods reach it; stopped on drop.
pub struct S3 {
    child: std::process::Child,
    pub url: String,
}

impl S3 {
    /// Started on the node's address, so that pods reach it, with the bucket `bucket`.
    pub fn start(node: &Node, bucket: &str) -> S3 {
        let port = std::net::TcpListener::bind((node.ip.as_str(), 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = crate::cluster::command("moto_server")
            .args(["-H", &node.ip, "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]')");
        let s3 = S3 {
            child,
            url: format!("http://{}:{port}", node.ip),
        };
        node.wait("moto answers", Duration::from_secs(30), || {
            std::net::TcpStream::connect((node.ip.as_str(), port)).ok()
        });
        let status = crate::cluster::command("curl")
            .args(["-sf", "-X", "PUT", &format!("{}/{bucket}", s3.url)])
            .status()
            .unwrap();
        assert!(status.success(), "could not create the bucket");
        s3
    }

    pub fn list(&self, bucket: &str, prefix: &str) -> String {
        let out = crate::cluster::command("curl")
            .args([
                "-sf",
                &format!("{}/{bucket}?list-type=2&prefix={prefix}", self.url),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
