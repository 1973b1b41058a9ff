//! A vendor's API where no real server can run here: a stateful fake
//! (`tests/VENDOR/fake.py`) behind Prism, which validates every request and
//! response against the vendor's own published description
//! (`tests/VENDOR/SPEC`, cut from it by `tests/prism/subset.py`). Prism is
//! installed by `scripts/test` (`npm ci` in tests/prism); the fakes run in
//! the test virtualenv.

use super::moto::venv;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The fake and Prism in front of it.
pub struct Vendor {
    fake: Child,
    prism: Child,
    fake_port: u16,
    /// Where clients send their requests: Prism.
    pub port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Vendor {
    /// `tests/VENDOR/fake.py PORT ARGS…` behind Prism validating against
    /// `tests/VENDOR/SPEC`; a request or response that breaks it is answered
    /// with Prism's complaint (500), in place of the fake's answer.
    pub fn start(vendor: &str, spec: &str, args: &[&str]) -> Self {
        Self::spawn(vendor, spec, args, true)
    }

    /// As [`Vendor::start`], but Prism only logs what breaks the
    /// description, for one the vendor's every answer breaks (Microsoft
    /// Graph's requires `@odata.type`, which Graph never sends): the fake's
    /// answers come through as the vendor's would, and [`Vendor::all_valid`]
    /// still fails on any violation not allowed by name.
    pub fn start_logging(vendor: &str, spec: &str, args: &[&str]) -> Self {
        Self::spawn(vendor, spec, args, false)
    }

    fn spawn(vendor: &str, spec: &str, args: &[&str], errors: bool) -> Self {
        let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests");
        let prism = tests.join("prism/node_modules/.bin/prism");
        assert!(prism.exists(), "{} is missing: scripts/test runs npm ci in tests/prism", prism.display());
        let (fake_port, port) = (super::free_port(), super::free_port());
        let fake = Command::new(venv("python"))
            .arg(tests.join(vendor).join("fake.py"))
            .arg(fake_port.to_string())
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("prism.log");
        let prism = Command::new(prism)
            .arg("proxy")
            .arg(tests.join(vendor).join(spec))
            .arg(format!("http://127.0.0.1:{fake_port}"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(errors.then_some("--errors"))
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        super::listening(fake_port);
        super::listening(port);
        Self { fake, prism, fake_port, port, log, _dir: dir }
    }

    /// The fake itself, not through Prism: for the vendor's endpoints its
    /// description does not cover (Google's token endpoint).
    pub fn direct(&self) -> String {
        format!("127.0.0.1:{}", self.fake_port)
    }

    /// What the fake holds, from its own `GET /_fake/PATH` (not through
    /// Prism: it is not part of the vendor's API).
    pub fn state<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        let url = format!("http://127.0.0.1:{}/_fake/{path}", self.fake_port);
        let out = Command::new("curl").args(["-sf", &url]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Tells the fake `POST /_fake/PATH` (not through Prism).
    pub fn control(&self, path: &str) {
        let url = format!("http://127.0.0.1:{}/_fake/{path}", self.fake_port);
        let out = Command::new("curl").args(["-sf", "-X", "POST", &url]).output().unwrap();
        assert!(out.status.success(), "POST {url}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// What Prism logged against the description, but for the violations
    /// the vendor's description is known to cause (`allowed`, matched in
    /// the line).
    pub fn complaints(&self, allowed: &[&str]) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter(|l| l.contains('✖') || l.contains("Violation"))
            .filter(|l| !allowed.iter().any(|a| l.contains(a)))
            .map(String::from)
            .collect()
    }

    /// Prism found no request or response that breaks the description,
    /// but for the violations `allowed`, and forwarded at least one that
    /// answered `status`.
    pub fn all_valid(&self, status: u16, allowed: &[&str]) {
        let broken = self.complaints(allowed);
        assert!(broken.is_empty(), "Prism: {broken:#?}");
        let log = std::fs::read_to_string(&self.log).unwrap();
        assert!(log.contains(&format!("has returned {status}")), "no request answered {status} through Prism: {log}");
    }
}

impl Drop for Vendor {
    fn drop(&mut self) {
        for child in [&mut self.fake, &mut self.prism] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
