//! A real MariaDB server (Debian's `mariadbd`), initialised in a temporary
//! folder and started on a free loopback port, once per test process and
//! shared: each test uses accounts of its own. It serves TLS (a certificate
//! for 127.0.0.1 from [`ca`]) beside plain connections, and logs every
//! statement (`general_log`), so a test can look for a password in it.

use super::pki::Ca;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const ADMIN: &str = "rekey_admin";
pub const ADMIN_PASSWORD: &str = "maria-admin-pw-9d3e";

/// The shared server.
pub struct Mariadb {
    pub port: u16,
    child: Mutex<Child>,
    dir: tempfile::TempDir,
}

/// The CA that issued the shared server's certificate.
pub fn ca() -> &'static Ca {
    static CA: OnceLock<Ca> = OnceLock::new();
    CA.get_or_init(|| Ca::new("database-ca"))
}

/// The server this test process shares, stopped when the process exits.
pub fn shared() -> &'static Mariadb {
    static SHARED: OnceLock<Mariadb> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = Mariadb::start();
        extern "C" fn stop() {
            if let Some(server) = SHARED.get() {
                let _ = server.child.lock().unwrap_or_else(|e| e.into_inner()).kill();
            }
        }
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(stop) };
        server
    })
}

impl Mariadb {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let issued = ca().issue(&["127.0.0.1", "localhost"]);
        std::fs::write(path.join("server.crt"), issued.cert).unwrap();
        std::fs::write(path.join("server.key"), issued.key).unwrap();
        std::fs::write(path.join("ca.crt"), ca().pem()).unwrap();
        let installed = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=root", "--auth-root-authentication-method=socket", "--skip-test-db"])
            .arg(format!("--datadir={}", path.join("data").display()))
            .output()
            .expect("mariadb-server is installed (scripts/test installs it)");
        assert!(installed.status.success(), "mariadb-install-db: {}", String::from_utf8_lossy(&installed.stderr));
        let port = super::free_port();
        let file = |name: &str| path.join(name).display().to_string();
        let child = Command::new("/usr/sbin/mariadbd")
            .arg("--no-defaults")
            .arg("--user=root")
            .arg(format!("--datadir={}", file("data")))
            .arg(format!("--socket={}", file("socket")))
            .arg(format!("--pid-file={}", file("pid")))
            .arg(format!("--log-error={}", file("error.log")))
            .arg(format!("--port={port}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--ssl-cert={}", file("server.crt")))
            .arg(format!("--ssl-key={}", file("server.key")))
            .arg(format!("--ssl-ca={}", file("ca.crt")))
            .arg("--general-log=1")
            .arg(format!("--general-log-file={}", file("general.log")))
            .arg("--innodb-buffer-pool-size=16M")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mariadb-server is installed (scripts/test installs it)");
        let server = Self { port, child: Mutex::new(child), dir };
        for _ in 0..300 {
            if server.try_sql("SELECT 1").is_ok() {
                server.sql(&format!(
                    "CREATE USER {ADMIN}@'%' IDENTIFIED BY '{ADMIN_PASSWORD}'; GRANT CREATE USER ON *.* TO {ADMIN}@'%'; GRANT SELECT ON mysql.* TO {ADMIN}@'%';"
                ));
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "mariadbd did not start: {}",
            std::fs::read_to_string(server.dir.path().join("error.log")).unwrap_or_default()
        );
    }

    fn try_sql(&self, sql: &str) -> Result<String, String> {
        let output = Command::new("mariadb")
            .args(["--no-defaults", "-u", "root", "-N", "-B"])
            .arg(format!("--socket={}", self.dir.path().join("socket").display()))
            .args(["-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        match output.status.success() {
            true => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&output.stderr).into_owned()),
        }
    }

    /// Runs `sql` as root over the local socket; what it printed.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Whether `user` can log in over TCP with `password` (given in the
    /// environment, not on the command line).
    pub fn login(&self, user: &str, password: &str) -> bool {
        Command::new("mariadb")
            .args(["--no-defaults", "-h", "127.0.0.1", "-P", &self.port.to_string(), "-u", user, "-e", "SELECT 1"])
            .env("MYSQL_PWD", password)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    /// Whether `user`'s account is locked.
    pub fn locked(&self, user: &str) -> bool {
        self.sql(&format!("SHOW CREATE USER '{user}'@'%'")).contains("ACCOUNT LOCK")
    }

    /// Every statement the server has run.
    pub fn general_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("general.log")).unwrap_or_default()
    }
}
