//! A `rekey daemon` under test: started in the background with its log in
//! a file, signalled, and read through its HTTP endpoints.

use super::Project;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// The variable the key API's admin token is in.
pub const ADMIN_VAR: &str = "TEST_API_ADMIN_TOKEN";

/// `c00`, `c01`…
pub fn names(count: usize) -> Vec<String> {
    (0..count).map(|i| format!("c{i:02}")).collect()
}

/// `webhook` credentials `names` against `server`, due every `max_age`,
/// each creating keys named after itself so the server can tell whose
/// creates overlap.
pub fn webhook_credentials(server: &super::KeyServer, names: &[String], max_age: &str) -> String {
    names
        .iter()
        .map(|name| {
            super::webhook_credential(
                name,
                rekey_test_artifacts::plugins::WEBHOOK,
                server,
                ADMIN_VAR,
                &format!("{name}.env"),
            )
            .replace(
                r#"verify-path = "/me" }"#,
                &format!(r#"verify-path = "/me", create-body = '{{"name": "{name} {{rotation-id}}"}}' }}"#),
            )
            .replace(
                r#"policy = { grace_period = "0s" }"#,
                &format!(r#"policy = {{ max_age = "{max_age}", grace_period = "0s" }}"#),
            )
        })
        .collect()
}

/// A `[daemon]` table serving on a free loopback port, and that port.
pub fn daemon_table(extra: &str) -> (String, SocketAddr) {
    let addr = SocketAddr::from(([127, 0, 0, 1], super::free_port()));
    (format!("[daemon]\nlisten = \"{addr}\"\n{extra}\n"), addr)
}

/// A `rekey daemon` running in the background, its log in `daemon.log`.
pub struct Daemon {
    pub child: Child,
    pub addr: SocketAddr,
    log: std::path::PathBuf,
}

impl Daemon {
    /// Starts it and waits until `/healthz` answers.
    pub fn start(project: &Project, addr: SocketAddr) -> Self {
        Self::start_with(project, addr, |addr| get(addr, "/healthz").is_some_and(|(s, _)| s == 200))
    }

    /// Starts it and waits until `ready(addr)`.
    pub fn start_with(project: &Project, addr: SocketAddr, ready: impl Fn(SocketAddr) -> bool) -> Self {
        Self::launch(project, project.command(&["daemon"]), addr, ready)
    }

    /// Starts it with at most `files` open files (soft and hard), as a
    /// service with a low limit runs, and waits until `/healthz` answers.
    pub fn start_with_file_limit(project: &Project, addr: SocketAddr, files: u64) -> Self {
        use std::os::unix::process::CommandExt;
        let mut command = project.command(&["daemon"]);
        let limit = move || {
            let limit = libc::rlimit { rlim_cur: files, rlim_max: files };
            // SAFETY: setrlimit is async-signal-safe and touches only this process.
            match unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        };
        // SAFETY: the closure calls only setrlimit.
        unsafe { command.pre_exec(limit) };
        Self::launch(project, command, addr, |addr| get(addr, "/healthz").is_some_and(|(s, _)| s == 200))
    }

    /// Runs `command` (a `rekey daemon` of `project`) in the background,
    /// its log in `daemon.log`, and waits until `ready(addr)`.
    fn launch(project: &Project, mut command: Command, addr: SocketAddr, ready: impl Fn(SocketAddr) -> bool) -> Self {
        let log = project.dir.path().join("daemon.log");
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let child = command.stdout(std::process::Stdio::null()).stderr(file).spawn().unwrap();
        let daemon = Self { child, addr, log };
        daemon.wait_for("the endpoints to answer", || ready(addr));
        daemon
    }

    /// How many files it has open.
    pub fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).map_or(0, |fds| fds.count())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: rustix::process::Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, signal).unwrap();
    }

    /// Waits (up to a minute) until `done`, polling.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}; daemon log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends SIGTERM and returns the exit code.
    pub fn terminate(mut self) -> Option<i32> {
        self.signal(rustix::process::Signal::TERM);
        self.child.wait().unwrap().code()
    }

    /// The metrics, parsed by a Prometheus text parser.
    pub fn metrics(&self) -> prometheus_parse::Scrape {
        let (status, body) = get(self.addr, "/metrics").expect("/metrics answers");
        assert_eq!(status, 200);
        prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).expect("valid exposition text")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET path` on `addr`: the status and body, or `None` when nothing answers.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    get_as(addr, path, None)
}

/// `GET path` on `addr` with `token` as the bearer, if any.
pub fn get_as(addr: SocketAddr, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    request(addr, "GET", path, token)
}

/// `METHOD path` (with no body) on `addr` with `token` as the bearer, if any.
pub fn request(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> Option<(u16, String)> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    exchange(stream, &head(addr, method, path, token))
}

/// A request's head, naming `addr` as its `Host`.
pub fn head(addr: SocketAddr, method: &str, path: &str, token: Option<&str>) -> String {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

/// A connection to `addr` from the loopback address `source` (127.0.0.0/8
/// is all this machine's: a test can be many clients).
pub fn connect_from(source: std::net::Ipv4Addr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::from((source, 0)).into())?;
    socket.connect_timeout(&addr.into(), Duration::from_secs(2))?;
    Ok(socket.into())
}

/// Sends the request `head` on `stream`: the status and body of the answer.
pub fn exchange(mut stream: TcpStream, head: &str) -> Option<(u16, String)> {
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    stream.write_all(head.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// A sample's value, by metric name and labels.
pub fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape.samples.iter().find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))).map(
        |s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        },
    )
}
