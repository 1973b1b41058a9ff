//! A real `redis-server` on a free loopback port, for the `redis-acl`
//! provider's tests and the `tcp` plugin template's.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The `default` user's password: the admin.
pub const ADMIN_PASSWORD: &str = "redis-admin-pw-5d1c";
/// The `app` user's first password.
pub const FIRST_PASSWORD: &str = "firstAppPassword0123456789";

/// A `redis-server` whose `default` user is the admin, with an ACL user
/// `app` that has one password. Users come from an ACL file, so a server
/// killed and started again comes back as the file says (changes made with
/// `ACL SETUSER` since are lost, as in production without `ACL SAVE`).
pub struct Redis {
    pub port: u16,
    /// The port that speaks TLS only, if the server has one.
    pub tls_port: Option<u16>,
    child: Child,
    dir: tempfile::TempDir,
}

impl Redis {
    pub fn start() -> Self {
        Self::started(None)
    }

    /// A server that also takes TLS clients on [`Self::tls_port`], its
    /// certificate (for 127.0.0.1 and `localhost`) issued by `ca`.
    pub fn start_tls(ca: &super::pki::Ca) -> Self {
        Self::started(Some(ca))
    }

    fn started(ca: Option<&super::pki::Ca>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let acl = format!("user default on >{ADMIN_PASSWORD} ~* &* +@all\nuser app on >{FIRST_PASSWORD} ~* &* +@all\n");
        std::fs::write(dir.path().join("users.acl"), acl).unwrap();
        let tls_port = ca.map(|ca| {
            let issued = ca.issue(&["127.0.0.1", "localhost"]);
            std::fs::write(dir.path().join("server.crt"), issued.cert).unwrap();
            std::fs::write(dir.path().join("server.key"), issued.key).unwrap();
            std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
            super::free_port()
        });
        let port = super::free_port();
        let child = Self::spawn(dir.path(), port, tls_port);
        let redis = Self { port, tls_port, child, dir };
        redis.wait();
        redis
    }

    fn spawn(dir: &std::path::Path, port: u16, tls_port: Option<u16>) -> Child {
        let mut command = Command::new("redis-server");
        command
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--aclfile")
            .arg(dir.join("users.acl"))
            .arg("--dir")
            .arg(dir);
        if let Some(tls_port) = tls_port {
            command.args(["--tls-port", &tls_port.to_string(), "--tls-auth-clients", "no"]);
            for (option, file) in
                [("--tls-cert-file", "server.crt"), ("--tls-key-file", "server.key"), ("--tls-ca-cert-file", "ca.crt")]
            {
                command.arg(option).arg(dir.join(file));
            }
        }
        command.stdout(Stdio::null()).spawn().expect("redis-server is installed (scripts/test installs it)")
    }

    fn wait(&self) {
        for _ in 0..100 {
            if self.auth("default", ADMIN_PASSWORD).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Starts the server again after it was killed, on the same port.
    pub fn restart(&mut self) {
        let _ = self.child.wait();
        self.child = Self::spawn(self.dir.path(), self.port, self.tls_port);
        self.wait();
    }

    /// `AUTH user password` on a fresh connection: Ok, or Redis's error.
    pub fn auth(&self, user: &str, password: &str) -> Result<(), String> {
        let reply = self.send(&format!("AUTH {user} {password}"))?;
        if reply == "+OK" { Ok(()) } else { Err(reply) }
    }

    /// An inline command as the admin; its whole reply.
    pub fn admin(&self, command: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(stream, "AUTH default {ADMIN_PASSWORD}\r\n{command}\r\nQUIT\r\n").unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).unwrap();
        reply.split_once("\r\n").map(|(_auth, rest)| rest.to_string()).unwrap_or_default()
    }

    /// How many passwords the `app` user holds.
    pub fn app_passwords(&self) -> usize {
        let acl = self.admin("ACL LIST");
        acl.lines().find(|l| l.starts_with("user app ")).map_or(0, |l| l.matches(" #").count())
    }

    fn send(&self, line: &str) -> Result<String, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        write!(stream, "{line}\r\nQUIT\r\n").map_err(|e| e.to_string())?;
        let mut reply = String::new();
        stream.read_to_string(&mut reply).map_err(|e| e.to_string())?;
        Ok(reply.lines().next().unwrap_or_default().to_string())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
