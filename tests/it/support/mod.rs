//! What the end-to-end tests share: a runtime, the `rekey` binary, and real
//! servers on loopback (a key-issuing HTTP API, raw TCP listeners).

pub mod agreement;
pub mod client;
pub mod components;
pub mod daemon;
pub mod ldap;
pub mod mariadb;
pub mod moto;
pub mod nginx;
pub mod pki;
pub mod postgres;
pub mod rabbitmq;
pub mod redis;
pub mod registry;
pub mod vendor;

use rekey::runtime::{Limits, Runtime};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

/// A runtime with these limits and a private compiled-code cache.
pub fn runtime(limits: Limits) -> (Runtime, tempfile::TempDir) {
    let cache = tempfile::tempdir().unwrap();
    (Runtime::new(limits, Some(cache.path().to_path_buf())).unwrap(), cache)
}

/// The `rekey` binary with a private cache and no inherited secrets.
pub fn rekey(cache: &tempfile::TempDir) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rekey"));
    command.env("REKEY_CACHE_DIR", cache.path()).env("NO_COLOR", "1").env_remove("RUST_LOG");
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("REKEY_ADMIN_") || n == "REKEY_CREDENTIAL_SECRET") {
        command.env_remove(name);
    }
    command
}

/// `rekey plugin test PLUGIN ARGS` against a provider's real server, the
/// admin secret `field` given as `secret`: every rule that applies passes,
/// a revoked key no longer verifies, a wrong admin secret is refused, and
/// the secret is nowhere in the report. Returns the report.
pub fn passes_the_conformance_kit(plugin: &str, args: &[&str], field: &str, secret: &str) -> String {
    let cache = tempfile::tempdir().unwrap();
    let variable = format!("REKEY_ADMIN_{}", field.to_ascii_uppercase().replace('-', "_"));
    let out = run(rekey(&cache).args(["plugin", "test", plugin]).args(args).env(variable, secret), "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  a revoked key no longer verifies"), "{stdout}");
    assert!(stdout.contains("PASS  a wrong admin secret is unauthorized"), "{stdout}");
    assert!(!stdout.contains(secret) && !stderr.contains(secret), "the admin secret is in the report");
    stdout
}

/// Every step boundary of a rotation, as `REKEY_CRASH_AT` names them, from
/// its plan (`rekey rotate NAME --dry-run --json`): each step begun and
/// done, and `generate:returned` between.
pub fn step_boundaries(plan: &serde_json::Value) -> Vec<String> {
    let mut boundaries = Vec::new();
    for step in plan[0]["steps"].as_array().expect("a plan with steps") {
        let step = step["name"].as_str().unwrap();
        boundaries.push(format!("{step}:begun"));
        if step == "generate" {
            boundaries.push("generate:returned".into());
        }
        boundaries.push(format!("{step}:done"));
    }
    boundaries
}

/// Runs a command with `stdin` as its input.
pub fn run(command: &mut Command, stdin: &str) -> Output {
    use std::io::Write;
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// stdout and stderr as text.
pub fn text(output: &Output) -> (String, String) {
    (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

/// `program`, given `rekey`'s environment and folder, to run `rekey`
/// under it (`script` for a terminal, GNU time for a peak): the caller adds
/// the arguments, `rekey`'s program among them.
pub fn wrapping(rekey: &Command, program: &str) -> Command {
    let mut wrapper = Command::new(program);
    if let Some(dir) = rekey.get_current_dir() {
        wrapper.current_dir(dir);
    }
    for (name, value) in rekey.get_envs() {
        match value {
            Some(value) => wrapper.env(name, value),
            None => wrapper.env_remove(name),
        };
    }
    wrapper
}

/// The stdout of a command that must succeed; its output when it did not.
pub fn ok(output: Output) -> String {
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "failed:\n{stdout}\n{stderr}");
    stdout
}

/// Checks the exit code and that the error, on stderr or in the command's
/// own result line on stdout, says `expected`.
pub fn failed(output: Output, code: i32, expected: &str) -> String {
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(code), "{stdout}\n{stderr}");
    let said = format!("{stdout}{stderr}");
    assert!(said.contains(expected), "expected {expected:?} in:\n{said}");
    said
}

/// A key-issuing HTTP API on loopback, the kind the `webhook` plugin
/// rotates, that behaves like real ones do:
///
/// - `POST /api/keys` (admin token) creates a key named by the body's
///   `name`. In the idempotent mode (the default) a second create with the
///   same name returns the live key already made; in the other mode
///   ([`KeyServer::not_idempotent`]) every create makes a new key, as most
///   SaaS APIs do. A [`Fault`] makes the next creates make the key and then
///   fail (an error status, a dropped connection, a hang).
/// - `GET /api/keys` (admin token) lists the live keys: id, name, created.
/// - `GET /api/me` answers 200 to a live key and 401 otherwise.
/// - `DELETE /api/keys/ID` (admin token) deletes one (404 if unknown).
/// - `GET /api/anyone` answers 200 to anyone, key or not; `GET /api/big`
///   answers 8 MiB to anyone, `GET /api/redirect` redirects to a host
///   nobody declared, and `GET /api/echo` echoes the `X-Token`
///   header (200 when it is the admin token, 401 otherwise), encoded as
///   `?form=` says (`percent`, `plus`, `json`, `base64`, `hex`).
///
/// It records every request it served, and `keys` is exactly the set of
/// live keys (id → secret), so orphans can be counted.
pub struct KeyServer {
    pub addr: SocketAddr,
    pub keys: Arc<Mutex<BTreeMap<String, String>>>,
    pub requests: Arc<Mutex<Vec<String>>>,
    state: Arc<Mutex<State>>,
    server: Arc<tiny_http::Server>,
}

/// What a create does after it made the key, or instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers with this status instead of the key.
    Status(u16),
    /// Refuses with this status, making no key.
    Refuse(u16),
    /// Closes the connection without answering.
    Drop,
    /// Answers only after this long.
    Hang(std::time::Duration),
}

#[derive(Default)]
struct State {
    not_idempotent: bool,
    /// How long every answer waits, as a remote API's round trip would.
    latency: Option<std::time::Duration>,
    /// The next creates that fail (after making their key, but for a refusal).
    faults: Vec<Fault>,
    /// The status every list answers with instead of the keys, if any.
    lists_fail: Option<u16>,
    /// id → (name, created)
    labels: BTreeMap<String, (String, u64)>,
    /// Creates being served now, by the first word of their name.
    creating: BTreeMap<String, usize>,
    /// The most creates served at once, and how often one started while
    /// another with the same first word was being served.
    most_at_once: usize,
    overlaps: usize,
}

impl KeyServer {
    pub const ADMIN_TOKEN: &str = "admin-token-3f9d0c1e";

    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap();
        let keys: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let state: Arc<Mutex<State>> = Arc::default();
        let (s, k, r, st) = (server.clone(), keys.clone(), requests.clone(), state.clone());
        thread::spawn(move || {
            for request in s.incoming_requests() {
                let (k, r, st) = (k.clone(), r.clone(), st.clone());
                thread::spawn(move || Self::serve(request, &k, &r, &st));
            }
        });
        Self { addr, keys, requests, state, server }
    }

    /// Every create makes a new key, even for a name it already made one for.
    pub fn not_idempotent(self) -> Self {
        self.state.lock().unwrap().not_idempotent = true;
        self
    }

    /// Every answer comes after `latency`, like a provider across a network.
    pub fn with_latency(self, latency: std::time::Duration) -> Self {
        self.state.lock().unwrap().latency = Some(latency);
        self
    }

    /// The most creates it served at once, and how many creates started
    /// while another for the same credential (the first word of the
    /// created key's name) was being served.
    pub fn creates_at_once(&self) -> (usize, usize) {
        let state = self.state.lock().unwrap();
        (state.most_at_once, state.overlaps)
    }

    /// The next creates, one each, make their key and then fail this way.
    pub fn fail_creates(&self, faults: &[Fault]) {
        self.state.lock().unwrap().faults = faults.to_vec();
    }

    /// Every list answers `status` instead of the keys (a provider with
    /// no list endpoint, or one that is down); `None` lists again.
    pub fn fail_lists(&self, status: Option<u16>) {
        self.state.lock().unwrap().lists_fail = status;
    }

    fn serve(
        mut request: tiny_http::Request,
        keys: &Mutex<BTreeMap<String, String>>,
        requests: &Mutex<Vec<String>>,
        state: &Mutex<State>,
    ) {
        let mut body = String::new();
        let _ = request.as_reader().read_to_string(&mut body);
        requests.lock().unwrap().push(format!("{} {}", request.method(), request.url()));
        let creating = (*request.method() == tiny_http::Method::Post && request.url() == "/api/keys").then(|| {
            let name = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|b| b["name"].as_str().map(String::from));
            name.unwrap_or_default().split(' ').next().unwrap_or_default().to_string()
        });
        if let Some(who) = &creating {
            let mut state = state.lock().unwrap();
            let count = state.creating.entry(who.clone()).or_default();
            *count += 1;
            let overlapping = *count > 1;
            state.overlaps += usize::from(overlapping);
            let at_once = state.creating.values().sum();
            state.most_at_once = state.most_at_once.max(at_once);
        }
        let (status, reply, fault) = Self::answer(&request, &body, keys, state);
        let latency = state.lock().unwrap().latency;
        if let Some(latency) = latency {
            thread::sleep(latency);
        }
        if let Some(who) = &creating {
            *state.lock().unwrap().creating.get_mut(who).expect("counted above") -= 1;
        }
        match fault {
            Some(Fault::Drop) => {
                // Taking the raw writer and dropping it closes the connection unanswered.
                drop(request.into_writer());
                return;
            }
            Some(Fault::Hang(time)) => thread::sleep(time),
            _ => {}
        }
        let response = tiny_http::Response::from_string(reply.clone()).with_status_code(status);
        let response = match status {
            // A redirect carries its target in `Location`.
            302 => response.with_header(tiny_http::Header::from_bytes("location", reply.as_bytes()).unwrap()),
            _ => response,
        };
        let _ = request.respond(response);
    }

    /// When `GET /api/me` says a key was last used: three days ago.
    pub fn last_used() -> u64 {
        // Fixed for the test process: a test that reads it a second after
        // the server answered must find the same value.
        static AT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *AT.get_or_init(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 3 * 86_400
        })
    }

    /// The base URL the plugin is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    fn answer(
        request: &tiny_http::Request,
        body: &str,
        keys: &Mutex<BTreeMap<String, String>>,
        state: &Mutex<State>,
    ) -> (u16, String, Option<Fault>) {
        let bearer = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("authorization"))
            .map(|h| h.value.as_str().trim_start_matches("Bearer ").to_string())
            .unwrap_or_default();
        let admin = bearer == Self::ADMIN_TOKEN;
        let mut keys = keys.lock().unwrap();
        let mut state = state.lock().unwrap();
        let ok = |status: u16, reply: String| (status, reply, None);
        match (request.method(), request.url()) {
            (tiny_http::Method::Post, "/api/keys") if admin => {
                let name = serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|b| b["name"].as_str().map(String::from))
                    .unwrap_or_default();
                let made = (!state.not_idempotent)
                    .then(|| state.labels.iter().find(|(id, (n, _))| *n == name && keys.contains_key(*id)))
                    .flatten();
                if let Some((id, _)) = made {
                    return ok(200, format!(r#"{{"id": "{id}", "secret": "{}"}}"#, keys[id]));
                }
                if let Some(Fault::Refuse(status)) = state.faults.first().copied() {
                    state.faults.remove(0);
                    return ok(status, r#"{"error": "key quota reached"}"#.into());
                }
                let id = format!("key-{}", rand_u128() % 1_000_000_007);
                let secret = format!("sk_{:032x}", rand_u128());
                keys.insert(id.clone(), secret.clone());
                let created = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
                state.labels.insert(id.clone(), (name, created));
                let fault = (!state.faults.is_empty()).then(|| state.faults.remove(0));
                match fault {
                    Some(Fault::Status(status)) => (status, r#"{"error": "internal error"}"#.into(), fault),
                    _ => (201, format!(r#"{{"id": "{id}", "secret": "{secret}"}}"#), fault),
                }
            }
            (tiny_http::Method::Get, "/api/keys") if admin && state.lists_fail.is_some() => {
                ok(state.lists_fail.unwrap_or_default(), r#"{"error": "not here"}"#.into())
            }
            (tiny_http::Method::Get, "/api/keys") if admin => {
                let listed: Vec<serde_json::Value> = keys
                    .keys()
                    .map(|id| {
                        let (name, created) = state.labels.get(id).cloned().unwrap_or_default();
                        serde_json::json!({ "id": id, "name": name, "created": created })
                    })
                    .collect();
                ok(200, serde_json::Value::Array(listed).to_string())
            }
            (tiny_http::Method::Get, "/api/big") => ok(200, "x".repeat(8 << 20)),
            (tiny_http::Method::Get, "/api/anyone") => ok(200, r#"{"ok": true}"#.into()),
            (tiny_http::Method::Get, url) if url.starts_with("/api/echo") => {
                let token = request.headers().iter().find(|h| h.field.equiv("x-token")).map(|h| h.value.to_string());
                let token = token.unwrap_or_default();
                let form = url.split_once("form=").map_or("plain", |(_, form)| form);
                ok(if token == Self::ADMIN_TOKEN { 200 } else { 401 }, format!("you sent {}", encode(&token, form)))
            }
            (tiny_http::Method::Get, "/api/redirect") => ok(302, "http://exfil.example/collect?stolen=1".into()),
            (tiny_http::Method::Get, "/api/me") if keys.values().any(|s| *s == bearer) => {
                ok(200, format!(r#"{{"ok": true, "last_used": {}}}"#, Self::last_used()))
            }
            (tiny_http::Method::Delete, url) if admin => match keys.remove(url.trim_start_matches("/api/keys/")) {
                Some(_) => ok(204, String::new()),
                None => ok(404, String::new()),
            },
            _ => ok(401, r#"{"error": "unauthorized"}"#.into()),
        }
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// `text` as a server might echo it.
fn encode(text: &str, form: &str) -> String {
    use base64::Engine;
    let percent = percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string();
    match form {
        "percent" => percent,
        "plus" => percent.replace("%20", "+"),
        "json" => serde_json::to_string(text).unwrap(),
        "base64" => base64::engine::general_purpose::STANDARD.encode(format!("token={text}")),
        "hex" => hex::encode(text),
        _ => text.to_string(),
    }
}

/// A `[[credential]]` of `rekey.toml`: `name`, rotated by the `webhook`
/// plugin at `plugin` against `server` (admin token from `$admin_var`),
/// grace period 0, deployed in one stage `prod` to the env file `target`
/// (variable `KEY`) and checked with the new key.
pub fn webhook_credential(name: &str, plugin: &str, server: &KeyServer, admin_var: &str, target: &str) -> String {
    format!(
        r#"{}
[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "{target}", variable = "KEY" }}]
checks = [{{ type = "http", url = "{base}/me", retry_delay = "10ms" }}]
"#,
        webhook_table(name, plugin, server, admin_var, r#"grace_period = "0s""#),
        base = server.base_url(),
    )
}

/// The `[[credential]]` table, without stages, of `name` rotated by the
/// `webhook` plugin at `plugin` (a path, or an installed plugin's name)
/// against `server`, admin token from `$admin_var`, with `policy`.
pub fn webhook_table(name: &str, plugin: &str, server: &KeyServer, admin_var: &str, policy: &str) -> String {
    format!(
        r#"
[[credential]]
name = "{name}"
plugin = "{plugin}"
config = {{ base-url = "{base}", create-path = "/keys", verify-path = "/me" }}
admin_secrets = {{ admin-token = "env:{admin_var}" }}
grants = ["{addr}"]
policy = {{ {policy} }}
"#,
        base = server.base_url(),
        addr = server.addr,
    )
}

/// A `[[credential]]` of `rekey.toml`: `name`, generated by the `random`
/// plugin, due at once and again at every run (`max_age = "0s"`, grace
/// period 0), deployed in one stage `prod` to the env file `target` as
/// `variable`.
pub fn random_credential(name: &str, target: &str, variable: &str) -> String {
    format!(
        "[[credential]]\nname = \"{name}\"\nplugin = \"{}\"\npolicy = {{ max_age = \"0s\", grace_period = \"0s\" }}\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"{target}\", variable = \"{variable}\" }}]\n\n",
        rekey_test_artifacts::plugins::RANDOM
    )
}

/// A loopback port nothing listens on now, for a server a test starts.
///
/// Ports come from below Linux's ephemeral range (32768–60999), where
/// `bind(…:0)` and outgoing connections take theirs, and each is handed out
/// once per test process: a port asked of the OS and released could be
/// handed to another test before its server binds it, and that test would
/// then talk to the wrong server.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let offset = std::process::id() % COUNT;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < COUNT, "every test port below the ephemeral range is taken");
        let port = (FIRST + (offset + n) % COUNT) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Waits until a server accepts connections on loopback `port` (up to
/// 20 s), or fails the test.
pub fn listening(port: u16) {
    for _ in 0..400 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on port {port}");
}

/// Random enough for test secrets, from the OS through std's hasher seed.
pub fn rand_u128() -> u128 {
    use std::hash::{BuildHasher, RandomState};
    let state = RandomState::new();
    (state.hash_one(1u8) as u128) << 64 | state.hash_one(2u8) as u128
}

/// A TCP listener on loopback that records what each connection sent.
pub struct Listener {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Listener {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
        let sink = received.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut bytes = Vec::new();
                let _ = (&stream).take(1024).read_to_end(&mut bytes);
                sink.lock().unwrap().push(bytes);
            }
        });
        Self { addr, received }
    }
}

/// A folder holding a `rekey.toml`, its store and its deploy targets, with
/// the environment the `rekey` commands run under (admin secrets).
pub struct Project {
    pub dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Project {
    /// Writes `toml`, runs `rekey init` and approves its plugins.
    pub fn new(toml: &str, env: &[(&str, &str)]) -> Self {
        Self::in_dir(tempfile::tempdir().unwrap(), toml, env)
    }

    /// The same with `ca.pem` beside `rekey.toml` from the start, holding
    /// `ca` (a credential's `tls_ca`, read when the file is).
    pub fn with_ca(toml: &str, env: &[(&str, &str)], ca: &pki::Ca) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Self::in_dir(dir, toml, env)
    }

    /// The same in `dir`, prepared by the caller (a file system mounted in it).
    /// With `REKEY_TEST_STORE=postgres`, its store is a new database in a
    /// PostgreSQL server this test process shares, unless `toml` names one.
    pub fn in_dir(dir: tempfile::TempDir, toml: &str, env: &[(&str, &str)]) -> Self {
        let toml = match toml.contains("store = ") {
            true => toml.to_string(),
            false => format!("{}{toml}", store_lines()),
        };
        std::fs::write(dir.path().join("rekey.toml"), &toml).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let project = Self { dir, cache: tempfile::tempdir().unwrap(), env };
        let init = project.run(&["init"], "");
        assert!(init.status.success(), "{:?}", text(&init));
        approve_plugins(&toml, |args| project.run(args, ""));
        project
    }

    /// `rekey ARGS` in the folder, not started yet.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = rekey(&self.cache);
        command.current_dir(self.dir.path()).args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `rekey ARGS` in the folder, with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        run(&mut self.command(args), stdin)
    }

    /// The same, with the environment variable `name` set to `value`.
    pub fn run_with(&self, name: &str, value: &str, args: &[&str]) -> Output {
        run(self.command(args).env(name, value), "")
    }

    /// `rekey rotate NAME`, which must be killed by SIGKILL at `boundary`.
    pub fn killed_at(&self, name: &str, boundary: &str) {
        let killed = self.run_with(rekey::rotation::CRASH_VAR, boundary, &["rotate", name]);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(killed.status.signal(), Some(9), "killed by SIGKILL at {boundary}: {:?}", text(&killed));
    }

    /// Starts `rekey ARGS`, kills it with SIGKILL after a random delay
    /// below `within` (not only at a step boundary), and reaps it.
    pub fn killed_within(&self, args: &[&str], within: std::time::Duration) {
        let mut child =
            self.command(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_micros((rand_u128() % within.as_micros().max(1)) as u64));
        let _ = child.kill();
        child.wait().unwrap();
    }

    /// The same, then `rekey resume`, which must succeed.
    pub fn killed_and_resumed(&self, name: &str, boundary: &str) {
        self.killed_at(name, boundary);
        let resumed = self.run(&["resume"], "");
        assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
    }

    /// The plan of `name`'s next rotation (`rotate --dry-run --json`).
    pub fn plan(&self, name: &str) -> serde_json::Value {
        serde_json::from_slice(&self.run(&["rotate", name, "--dry-run", "--json"], "").stdout).unwrap()
    }

    /// The store's current secret of `name` (`credential show --reveal`).
    pub fn current_secret(&self, name: &str) -> String {
        let show = self.run(&["credential", "show", name, "--reveal", "--json"], "");
        let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        show["secret"].as_str().unwrap_or_default().to_string()
    }

    /// The id of the store's current key of `name`.
    pub fn current_key_id(&self, name: &str) -> String {
        let show = self.run(&["credential", "show", name, "--json"], "");
        let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
        let versions = show["versions"].as_array().unwrap();
        let current = versions.iter().find(|v| v["label"] == "current").expect("a current key");
        current["key_id"].as_str().unwrap().to_string()
    }

    /// Kills `rotate NAME` at every step boundary, each time resumes and
    /// reconciles: the provider then holds exactly the store's current key
    /// (`held` lists the key ids it holds). After `generate:returned` the
    /// key's answer is lost: it must be found by the rotation id it is
    /// tagged with, and used (an idempotent generate) or revoked.
    pub fn kills_leave_only_the_current_key(&self, name: &str, held: impl Fn() -> Vec<String>) {
        for boundary in step_boundaries(&self.plan(name)) {
            self.killed_at(name, &boundary);
            if boundary == "generate:returned" {
                assert_eq!(held().len(), 2, "the key whose answer was lost exists");
            }
            let resumed = self.run(&["resume"], "");
            assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
            let reconciled = self.run(&["reconcile", name, "--yes"], "");
            assert!(reconciled.status.success(), "reconcile after {boundary}: {:?}", text(&reconciled));
            assert_eq!(held(), [self.current_key_id(name)], "after {boundary}");
        }
    }

    /// The value of `variable` in the env file `file` of the folder.
    pub fn env_value(&self, file: &str, variable: &str) -> String {
        env_value(&self.dir.path().join(file), variable)
    }
}

/// Whether this run puts the projects' stores on PostgreSQL
/// (`REKEY_TEST_STORE=postgres`, as `scripts/test` runs the store suite a
/// second time).
pub fn on_postgres() -> bool {
    std::env::var("REKEY_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The `rekey.toml` lines that place a new project's store: none (SQLite
/// in its folder), or a new database in PostgreSQL.
pub fn store_lines() -> String {
    if on_postgres() { postgres::store_database() } else { String::new() }
}

/// Runs `sql` directly on the store of the project in `dir`, as someone
/// with access to its file or database (and not to the master key) could.
pub fn store_sql(dir: &std::path::Path, sql: &str) {
    match store_database(dir) {
        Some(database) => {
            postgres::store_sql(&database, sql);
        }
        None => rusqlite::Connection::open(dir.join("rekey.db")).unwrap().execute_batch(sql).unwrap(),
    }
}

/// Every byte the store of the project in `dir` keeps on disk: its SQLite
/// files, or the PostgreSQL cluster's.
pub fn store_bytes(dir: &std::path::Path) -> Vec<u8> {
    if store_database(dir).is_some() {
        return postgres::cluster_bytes();
    }
    let files = std::fs::read_dir(dir).unwrap().map(|f| f.unwrap().path());
    files.filter(|p| p.to_string_lossy().contains("rekey.db")).flat_map(|p| std::fs::read(p).unwrap()).collect()
}

/// The PostgreSQL database of the project in `dir`, if its store is one.
pub fn store_database(dir: &std::path::Path) -> Option<String> {
    let toml = std::fs::read_to_string(dir.join("rekey.toml")).unwrap();
    let url = toml.lines().find_map(|l| l.strip_prefix("store = \"postgres://"))?;
    Some(url.trim_end_matches('"').rsplit('/').next().unwrap().to_string())
}

/// Approves every plugin file `toml` names by path (providers and deploy
/// targets) with `rekey plugin
/// install --yes` (run by `rekey`), as an operator does before the first
/// rotation. Plugins named without a path are left to the test.
pub fn approve_plugins(toml: &str, rekey: impl Fn(&[&str]) -> Output) {
    let manifest: toml::Table = toml::from_str(toml).unwrap();
    let credentials = manifest.get("credential").and_then(|c| c.as_array()).cloned().unwrap_or_default();
    let targets = credentials
        .iter()
        .filter_map(|c| c.get("stages").and_then(|s| s.as_array()))
        .flatten()
        .filter_map(|stage| stage.get("targets").and_then(|t| t.as_array()))
        .flatten();
    let paths: std::collections::BTreeSet<&str> = credentials
        .iter()
        .chain(targets)
        .filter_map(|c| c.get("plugin").and_then(|p| p.as_str()))
        .filter(|p| p.contains('/'))
        .collect();
    for plugin in paths {
        let output = rekey(&["plugin", "install", plugin, "--yes"]);
        assert!(output.status.success(), "approving {plugin}: {:?}", text(&output));
    }
}

/// The value of `variable` in the env file at `path`, unquoted (empty if absent).
pub fn env_value(path: &std::path::Path, variable: &str) -> String {
    let prefix = format!("{variable}=");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let raw = text.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_default();
    // As a dotenv reader takes it: the env-file target quotes a value with
    // characters outside a safe set (`?`, `%`…), escaping `\ " $` and backquote.
    match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => {
            let mut value = String::new();
            let mut chars = quoted.chars();
            while let Some(c) = chars.next() {
                value.push(if c == '\\' { chars.next().unwrap_or(c) } else { c });
            }
            value
        }
        None => raw.to_string(),
    }
}

/// A TCP listener on loopback that reads and drops whatever it is sent.
pub fn sink() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || std::io::copy(&mut &stream, &mut std::io::sink()));
        }
    });
    addr
}

/// An HTTP server on loopback that answers every request with a response
/// head of `header_bytes` bytes of headers.
pub fn big_header_server(header_bytes: usize) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.read(&mut [0u8; 4096]);
            let head = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\nContent-Length: 0\r\n\r\n", "b".repeat(header_bytes));
            let _ = stream.write_all(head.as_bytes());
        }
    });
    addr
}

/// An HTTP server on loopback that answers every request with a status line
/// and headers, then drip-feeds a body of `length` bytes, one byte each
/// `every`, for as long as the client stays.
pub fn drip_server(length: usize, every: std::time::Duration) -> SocketAddr {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            thread::spawn(move || {
                let mut stream = stream;
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request);
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {length}\r\n\r\n");
                if stream.write_all(head.as_bytes()).is_err() {
                    return;
                }
                for _ in 0..length {
                    thread::sleep(every);
                    if stream.write_all(b"x").is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}
