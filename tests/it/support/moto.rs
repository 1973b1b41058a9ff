//! A `moto_server` (AWS: IAM, STS, KMS, Secrets Manager) started by a test
//! on a free loopback port with request authentication on, so keys and SigV4
//! signatures are checked as AWS checks them. The moto virtualenv is made by
//! `scripts/test`.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A tool of the test virtualenv.
pub fn venv(tool: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/venv/bin").join(tool);
    assert!(path.exists(), "{} is missing: scripts/test installs moto into target/venv", path.display());
    path
}

/// A script of `tests/aws`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/aws").join(name)
}

/// A moto server with an admin user, a user `app` with one key and a
/// user `kit` with none.
pub struct Moto {
    pub endpoint: String,
    pub port: u16,
    pub child: Child,
    pub admin: (String, String),
    pub app: (String, String),
}

impl Moto {
    pub fn start() -> Self {
        let port = super::free_port();
        let child = Self::spawn(port, 8);
        let endpoint = format!("http://127.0.0.1:{port}");
        let setup = Command::new(venv("python")).arg(script("setup.py")).arg(&endpoint).output().unwrap();
        assert!(setup.status.success(), "{}", String::from_utf8_lossy(&setup.stderr));
        let keys: Value = serde_json::from_slice(&setup.stdout).unwrap();
        let pair = |who: &str| (keys[who][0].as_str().unwrap().to_string(), keys[who][1].as_str().unwrap().to_string());
        Self { endpoint, port, child, admin: pair("admin"), app: pair("app") }
    }

    /// A moto server on `port` that authenticates every request after the
    /// first `unauthenticated`, once it accepts connections.
    pub fn spawn(port: u16, unauthenticated: u32) -> Child {
        let child = Command::new(venv("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("INITIAL_NO_AUTH_ACTION_COUNT", unauthenticated.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        super::listening(port);
        child
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One version of a secret in Secrets Manager.
#[derive(Debug)]
pub struct SecretVersion {
    pub labels: Vec<String>,
    pub value: String,
}

impl Moto {
    /// Every version of the secret `id` with its labels and value, read
    /// with boto3 as the admin; none if there is no such secret.
    pub fn secret_versions(&self, id: &str) -> Vec<SecretVersion> {
        let out = Command::new(venv("python"))
            .arg(script("secret.py"))
            .args([&self.endpoint, &self.admin.0, &self.admin.1, id])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let versions: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        versions
            .iter()
            .map(|v| SecretVersion {
                labels: v["labels"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect(),
                value: v["value"].as_str().unwrap_or_default().into(),
            })
            .collect()
    }

    /// The values of the SSM parameter `name`, oldest first, read with
    /// boto3 as the admin; none if there is no such parameter.
    pub fn parameter_values(&self, name: &str) -> Vec<String> {
        let out = Command::new(venv("python"))
            .arg(script("parameter.py"))
            .args([&self.endpoint, &self.admin.0, &self.admin.1, name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let versions: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        versions.iter().map(|v| v["value"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// The value of the secret `id` that has `label`, if one has it.
    pub fn secret_labelled(&self, id: &str, label: &str) -> Option<String> {
        self.secret_versions(id).into_iter().find(|v| v.labels.iter().any(|l| l == label)).map(|v| v.value)
    }
}
