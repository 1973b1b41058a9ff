//! A real OCI registry (Debian's `docker-registry`, the CNCF distribution
//! server) on loopback, shared by the tests of one process, and `wkg`
//! (wasm-pkg-tools), which `scripts/test` installs with `cargo install`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The registry; its blobs live in `storage`.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub address: String,
    child: Mutex<Child>,
    dir: tempfile::TempDir,
}

/// The registry this test process shares, stopped when the process exits.
pub fn shared() -> &'static Registry {
    static SHARED: OnceLock<Registry> = OnceLock::new();
    SHARED.get_or_init(|| {
        let registry = Registry::start();
        extern "C" fn stop() {
            if let Some(registry) = SHARED.get() {
                let mut child = registry.child.lock().unwrap();
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(stop) };
        registry
    })
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let address = format!("127.0.0.1:{}", super::free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {address}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (scripts/test installs it)");
        super::listening(address.rsplit(':').next().unwrap().parse().unwrap());
        Self { address, child: Mutex::new(child), dir }
    }

    /// `oci://ADDRESS/PATH`.
    pub fn oci(&self, path: &str) -> String {
        format!("oci://{}/{path}", self.address)
    }

    /// The file the registry keeps the blob `sha256:HEX` in.
    pub fn blob(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir.path().join(format!("data/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]))
    }
}

/// `wkg`, as `scripts/test` installs it.
pub fn wkg() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/wkg");
    assert!(path.exists(), "{} is missing: scripts/test installs wkg with cargo install", path.display());
    path
}

/// `sha256:HEX` of a file, as OCI names content.
pub fn digest_of(file: &str) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(std::fs::read(file).unwrap())))
}
