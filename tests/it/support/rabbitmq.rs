//! A real RabbitMQ node (Debian's `rabbitmq-server`) with its management
//! plugin, on free loopback ports, started once per test process and shared:
//! an Erlang node takes seconds to start. Each test uses users of its own.

use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const ADMIN: &str = "rekey-admin";
pub const ADMIN_PASSWORD: &str = "rmq-admin-pw-4f0a";

/// The shared node.
pub struct Rabbitmq {
    /// The management API's port.
    pub port: u16,
    child: Mutex<Child>,
    _dir: tempfile::TempDir,
}

/// The node this test process shares, stopped when the process exits.
pub fn shared() -> &'static Rabbitmq {
    static SHARED: OnceLock<Rabbitmq> = OnceLock::new();
    SHARED.get_or_init(|| {
        let node = Rabbitmq::start();
        extern "C" fn stop() {
            if let Some(node) = SHARED.get() {
                node.stop();
            }
        }
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(stop) };
        node
    })
}

impl Rabbitmq {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (amqp, port, distribution) = (super::free_port(), super::free_port(), super::free_port());
        let path = dir.path();
        std::fs::write(
            path.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{amqp}\nmanagement.tcp.port = {port}\nmanagement.tcp.ip = 127.0.0.1\n\
                 default_user = {ADMIN}\ndefault_pass = {ADMIN_PASSWORD}\ndefault_user_tags.administrator = true\n\
                 loopback_users = none\n"
            ),
        )
        .unwrap();
        std::fs::write(path.join("enabled_plugins"), "[rabbitmq_management].\n").unwrap();
        use std::os::unix::process::CommandExt;
        let child = Command::new("/usr/lib/rabbitmq/bin/rabbitmq-server")
            .env("RABBITMQ_NODENAME", format!("rekey-test-{port}@localhost"))
            .env("RABBITMQ_DIST_PORT", distribution.to_string())
            .env("RABBITMQ_CONFIG_FILE", path.join("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", path.join("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", path.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", path.join("log"))
            .env("RABBITMQ_PID_FILE", path.join("pid"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rabbitmq-server is installed (scripts/test installs it)");
        let node = Self { port, child: Mutex::new(child), _dir: dir };
        for _ in 0..600 {
            if node.logs_in(ADMIN, ADMIN_PASSWORD) {
                return node;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("rabbitmq-server did not start within 60 s (management API on port {port})");
    }

    /// The management API's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A call to the management API as the admin; its status and body.
    pub fn admin(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let url = format!("{}/api/{path}", self.url());
        let authorization = basic(ADMIN, ADMIN_PASSWORD);
        let response = match body {
            Some(body) => agent
                .put(&url)
                .header("authorization", &authorization)
                .header("content-type", "application/json")
                .send(body.to_string()),
            None if method == "DELETE" => agent.delete(&url).header("authorization", &authorization).call(),
            None => agent.get(&url).header("authorization", &authorization).call(),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().unwrap_or_default())
    }

    /// Whether RabbitMQ accepts `password` for `user` (a user without a
    /// management tag is authenticated, then refused the API).
    pub fn logs_in(&self, user: &str, password: &str) -> bool {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response =
            agent.get(format!("{}/api/whoami", self.url())).header("authorization", &basic(user, password)).call();
        match response {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string().unwrap_or_default();
                status == 200 || status == 401 && body.contains("Not management user")
            }
            Err(_) => false,
        }
    }

    fn stop(&self) {
        let child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let group = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}
