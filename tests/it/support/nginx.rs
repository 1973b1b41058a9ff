//! nginx as the tests' real HTTP server: one process (`master_process
//! off`, so that stopping it leaves no worker behind) on a free loopback
//! port, with its configuration, temporary files and any served files in
//! its own folder.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running nginx.
pub struct Nginx {
    child: Child,
    pub port: u16,
    /// Its folder: what `server` may name, such as a root to serve.
    pub dir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Nginx {
    /// nginx with one `server` block: `server(folder, port)` returns its
    /// body, which listens on the port.
    pub fn start(server: impl FnOnce(&Path, u16) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let conf = dir.path().join("nginx.conf");
        let d = dir.path().display();
        let body = server(dir.path(), port);
        std::fs::write(
            &conf,
            format!(
                "daemon off;\nmaster_process off;\nuser root root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  server {{\n{body}\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| Path::new(p).exists());
        let child = Command::new(nginx.expect("nginx is missing: scripts/test installs it"))
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        super::listening(port);
        Self { child, port, dir: dir.path().to_path_buf(), _dir: dir }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
