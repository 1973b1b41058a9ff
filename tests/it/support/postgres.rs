//! A real PostgreSQL server for the tests: each one a cluster initialised
//! in a temporary folder and started on a free loopback port (as the
//! `postgres` user: the server refuses to run as root). The provider tests
//! start one each; the store suite (`REKEY_TEST_STORE=postgres`) shares one
//! per test process, a database per project.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A PostgreSQL cluster in a temporary folder, stopped when dropped. Its log
/// records every statement (`log_statement=all`).
pub struct Postgres {
    pub port: u16,
    dir: tempfile::TempDir,
    /// Whether it serves TLS (with `server.crt` and `server.key` in `dir`).
    tls: bool,
}

fn bin(tool: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let version = std::fs::read_dir(root)
        .expect("PostgreSQL is installed (scripts/test installs it)")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .max();
    version.expect("a PostgreSQL version").join("bin").join(tool)
}

fn as_postgres(tool: &str, args: &[&str]) {
    let status = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin(tool))
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{tool} {args:?} failed");
}

impl Postgres {
    pub fn start() -> Self {
        let server = Self::initialised(false);
        server.run();
        server
    }

    /// A server that takes TCP clients over TLS only (`hostssl`), with a
    /// certificate `ca` issued for `localhost`, 127.0.0.1 and `db.test`.
    pub fn start_tls(ca: &super::pki::Ca) -> Self {
        let server = Self::initialised(true);
        let issued = ca.issue(&["localhost", "127.0.0.1", "db.test"]);
        let (cert, key) = (server.dir.path().join("server.crt"), server.dir.path().join("server.key"));
        std::fs::write(&cert, issued.cert).unwrap();
        std::fs::write(&key, issued.key).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let hba = server.dir.path().join("data/pg_hba.conf");
        std::fs::write(&hba, "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n").unwrap();
        Command::new("chown").arg("postgres").arg(&cert).arg(&key).arg(&hba).status().unwrap();
        server.run();
        server
    }

    fn initialised(tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Command::new("chown").arg("postgres").arg(dir.path()).status().unwrap();
        let path = dir.path().to_str().unwrap().to_string();
        let port = super::free_port();
        as_postgres(
            "initdb",
            &["-D", &format!("{path}/data"), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"],
        );
        Self { port, dir, tls }
    }

    /// Starts the server (again, after a kill).
    pub fn run(&self) {
        let path = self.dir.path().to_str().unwrap();
        let mut options = format!("-p {} -k {path} -c listen_addresses=127.0.0.1 -c log_statement=all", self.port);
        if self.tls {
            options
                .push_str(&format!(" -c ssl=on -c ssl_cert_file={path}/server.crt -c ssl_key_file={path}/server.key"));
        }
        let (data, log) = (format!("{path}/data"), format!("{path}/server.log"));
        as_postgres("pg_ctl", &["-D", &data, "-l", &log, "-w", "-o", &options, "start"]);
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> String {
        let pid_file = std::fs::read_to_string(self.dir.path().join("data/postmaster.pid")).unwrap();
        pid_file.lines().next().unwrap().to_string()
    }

    /// Runs SQL as the superuser over the local socket.
    pub fn sql(&self, sql: &str) {
        self.sql_in("postgres", sql);
    }

    /// Runs SQL as the superuser in `database`; what it printed, a row a
    /// line, columns separated by `|`.
    pub fn sql_in(&self, database: &str, sql: &str) -> String {
        let output = self.psql(database).args(["-tA", "-c", sql]).output().unwrap();
        assert!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// An open superuser session in `database`, which runs each statement
    /// sent to it in turn: to hold a lock while a test watches rekey.
    pub fn session(&self, database: &str) -> Session {
        let child = self.psql(database).stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
        Session(child)
    }

    /// `psql` as the superuser over the local socket, stopping at the first error.
    fn psql(&self, database: &str) -> Command {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin("psql")).args([
            "-h",
            self.dir.path().to_str().unwrap(),
            "-p",
            &self.port.to_string(),
            "-d",
            database,
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
        ]);
        command
    }

    /// Whether `role` can log in over TCP with `password`.
    pub fn login(&self, role: &str, password: &str) -> bool {
        Command::new(bin("psql"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", role, "-d", "postgres", "-tAc", "SELECT 1"])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "5")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Postgres {
    /// Stops the server at once.
    pub fn stop(&self) {
        let data = format!("{}/data", self.dir.path().display());
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin("pg_ctl"))
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

/// The password of the `rekey` role that owns the store databases.
const STORE_PASSWORD: &str = "store-pw-5b0c";

/// The cluster this test process shares, stopped when the process exits.
fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| {
        let server = Postgres::start();
        server.sql(&format!("CREATE ROLE rekey LOGIN CREATEDB PASSWORD '{STORE_PASSWORD}';"));
        extern "C" fn stop() {
            if let Some(server) = SHARED.get() {
                server.stop();
            }
        }
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(stop) };
        server
    })
}

/// A new, empty database in the shared cluster, and the `rekey.toml`
/// lines that make it a project's store (the password in a file beside
/// the cluster, as an operator would keep it).
pub fn store_database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = shared();
    let name = format!("store_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    server.sql(&format!("CREATE DATABASE {name} OWNER rekey;"));
    let password = server.dir.path().join("store-password");
    if !password.exists() {
        std::fs::write(&password, STORE_PASSWORD).unwrap();
    }
    format!(
        "store = \"postgres://rekey@127.0.0.1:{}/{name}\"\nstore_password = \"file:{}\"\n",
        server.port,
        password.display()
    )
}

/// Runs `sql` in a store database of the shared cluster; what it printed.
pub fn store_sql(database: &str, sql: &str) -> String {
    shared().sql_in(database, sql)
}

/// An open session in a store database of the shared cluster.
pub fn store_session(database: &str) -> Session {
    shared().session(database)
}

/// How many of rekey's sessions on store `database` match `condition`
/// (SQL over `pg_stat_activity`).
pub fn rekey_sessions(database: &str, condition: &str) -> usize {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND application_name = 'rekey' AND {condition}"
    );
    store_sql(database, &sql).trim().parse().unwrap()
}

/// Stops the rekey process `pid` inside a write transaction on store
/// `database`, holding the write lock every rekey writer takes ("rekey" in
/// ASCII): another session takes the lock, `meanwhile` runs, and once the
/// process's next write waits for the lock it is SIGSTOPped and the lock
/// let go. Returns when the stopped process holds the lock, idle in its
/// transaction.
pub fn stop_at_its_next_write(database: &str, pid: u32, meanwhile: impl FnOnce()) {
    let mut holder = store_session(database);
    holder.send("SELECT pg_advisory_lock(491327808889);");
    let held = || store_sql(database, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted");
    wait_until("the write lock to be held", || held().trim() == "1");
    meanwhile();
    wait_until("the next write to wait for the write lock", || {
        rekey_sessions(database, "wait_event = 'advisory'") == 1
    });
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).unwrap();
    holder.send("SELECT pg_advisory_unlock_all();");
    wait_until("the stopped process to hold the write lock", || idle_in_a_transaction(database) == 1);
}

/// rekey's sessions on store `database` idle inside a transaction.
pub fn idle_in_a_transaction(database: &str) -> usize {
    rekey_sessions(database, "state LIKE 'idle in transaction%'")
}

/// Waits (up to 30 s) until `done`.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A `psql` session kept open; it ends when dropped.
pub struct Session(Child);

impl Session {
    /// Sends statements to run next (not waiting for them).
    pub fn send(&mut self, sql: &str) {
        let stdin = self.0.stdin.as_mut().unwrap();
        writeln!(stdin, "{sql}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every file of the shared cluster (tables, WAL), concatenated.
pub fn cluster_bytes() -> Vec<u8> {
    fn walk(dir: &Path, out: &mut Vec<u8>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.extend(bytes);
            }
        }
    }
    let mut out = Vec::new();
    walk(&shared().dir.path().join("data"), &mut out);
    out
}
