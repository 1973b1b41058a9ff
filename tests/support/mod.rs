//! What the end-to-end tests share: a runtime, the `rekey` binary, and real
//! servers on loopback (a key-issuing HTTP API, raw TCP listeners).

#![allow(dead_code)] // each test binary uses its own part of this module

use rekey::runtime::{Limits, Runtime};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
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

/// A key-issuing HTTP API on loopback, the kind the `webhook` plugin
/// rotates: `POST /api/keys` (admin token) creates a key — or returns the
/// live key already created under the same `name`, which makes `generate`
/// idempotent per rotation id — `GET /api/me` answers 200 to a live key and
/// 401 otherwise, `DELETE /api/keys/ID` (admin token) deletes one, and
/// `GET /api/big` answers 8 MiB to anyone, `GET /api/redirect`
/// redirects to a host nobody declared, and `GET /api/echo` echoes the
/// `X-Token` header (200 when it is the admin token, 401 otherwise). It records every request it
/// served, and `keys` is exactly the set of live keys.
pub struct KeyServer {
    pub addr: SocketAddr,
    pub keys: Arc<Mutex<BTreeMap<String, String>>>,
    pub requests: Arc<Mutex<Vec<String>>>,
    server: Arc<tiny_http::Server>,
}

impl KeyServer {
    pub const ADMIN_TOKEN: &str = "admin-token-3f9d0c1e";

    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let addr = server.server_addr().to_ip().unwrap();
        let keys: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let names: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let (s, k, r, n) = (server.clone(), keys.clone(), requests.clone(), names);
        thread::spawn(move || {
            for mut request in s.incoming_requests() {
                let mut body = String::new();
                let _ = request.as_reader().read_to_string(&mut body);
                let (status, reply) = Self::answer(&request, &body, &k, &n);
                r.lock().unwrap().push(format!("{} {}", request.method(), request.url()));
                let response = tiny_http::Response::from_string(reply.clone()).with_status_code(status);
                let response = match status {
                    // A redirect carries its target in `Location`.
                    302 => response.with_header(tiny_http::Header::from_bytes("location", reply.as_bytes()).unwrap()),
                    _ => response,
                };
                let _ = request.respond(response);
            }
        });
        Self { addr, keys, requests, server }
    }

    /// When `GET /api/me` says a key was last used: three days ago.
    pub fn last_used() -> u64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 3 * 86_400
    }

    /// The base URL the plugin is configured with.
    pub fn base_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    fn answer(
        request: &tiny_http::Request,
        body: &str,
        keys: &Mutex<BTreeMap<String, String>>,
        names: &Mutex<BTreeMap<String, String>>,
    ) -> (u16, String) {
        let bearer = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("authorization"))
            .map(|h| h.value.as_str().trim_start_matches("Bearer ").to_string())
            .unwrap_or_default();
        let admin = bearer == Self::ADMIN_TOKEN;
        let mut keys = keys.lock().unwrap();
        match (request.method(), request.url()) {
            (tiny_http::Method::Post, "/api/keys") if admin => {
                let name = serde_json::from_str::<serde_json::Value>(body)
                    .ok()
                    .and_then(|b| b["name"].as_str().map(String::from));
                let mut names = names.lock().unwrap();
                if let Some(id) = name.as_ref().and_then(|n| names.get(n)).filter(|id| keys.contains_key(*id)) {
                    return (200, format!(r#"{{"id": "{id}", "secret": "{}"}}"#, keys[id]));
                }
                let id = format!("key-{}", rand_u128() % 1_000_000_007);
                let secret = format!("sk_{:032x}", rand_u128());
                keys.insert(id.clone(), secret.clone());
                if let Some(name) = name {
                    names.insert(name, id.clone());
                }
                (201, format!(r#"{{"id": "{id}", "secret": "{secret}"}}"#))
            }
            (tiny_http::Method::Get, "/api/big") => (200, "x".repeat(8 << 20)),
            (tiny_http::Method::Get, "/api/echo") => {
                let token = request.headers().iter().find(|h| h.field.equiv("x-token")).map(|h| h.value.to_string());
                let token = token.unwrap_or_default();
                (if token == Self::ADMIN_TOKEN { 200 } else { 401 }, format!("you sent {token}"))
            }
            (tiny_http::Method::Get, "/api/redirect") => (302, "http://exfil.example/collect?stolen=1".into()),
            (tiny_http::Method::Get, "/api/me") if keys.values().any(|s| *s == bearer) => {
                (200, format!(r#"{{"ok": true, "last_used": {}}}"#, Self::last_used()))
            }
            (tiny_http::Method::Delete, url) if admin => match keys.remove(url.trim_start_matches("/api/keys/")) {
                Some(_) => (204, String::new()),
                None => (404, String::new()),
            },
            _ => (401, r#"{"error": "unauthorized"}"#.into()),
        }
    }
}

impl Drop for KeyServer {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// Random enough for test secrets, from the OS through std's hasher seed.
fn rand_u128() -> u128 {
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
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rekey.toml"), toml).unwrap();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let project = Self { dir, cache: tempfile::tempdir().unwrap(), env };
        let init = project.run(&["init"], "");
        assert!(init.status.success(), "{:?}", text(&init));
        approve_plugins(toml, |args| project.run(args, ""));
        project
    }

    /// `rekey ARGS` in the folder, with `stdin`.
    pub fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut command = rekey(&self.cache);
        command.current_dir(self.dir.path()).args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        run(&mut command, stdin)
    }

    /// The same, with the environment variable `name` set to `value`.
    pub fn run_with(&self, name: &str, value: &str, args: &[&str]) -> Output {
        let mut command = rekey(&self.cache);
        command.current_dir(self.dir.path()).args(args).envs(self.env.iter().map(|(k, v)| (k, v))).env(name, value);
        run(&mut command, "")
    }

    /// The value of `variable` in the env file `file` of the folder.
    pub fn env_value(&self, file: &str, variable: &str) -> String {
        env_value(&self.dir.path().join(file), variable)
    }
}

/// Approves every plugin file `toml` names by path with `rekey plugin
/// install --yes` (run by `rekey`), as an operator does before the first
/// rotation. Plugins named without a path are left to the test.
pub fn approve_plugins(toml: &str, rekey: impl Fn(&[&str]) -> Output) {
    let manifest: toml::Table = toml::from_str(toml).unwrap();
    let credentials = manifest.get("credential").and_then(|c| c.as_array()).cloned().unwrap_or_default();
    let paths = credentials.iter().filter_map(|c| c.get("plugin").and_then(|p| p.as_str())).filter(|p| p.contains('/'));
    for plugin in paths {
        let output = rekey(&["plugin", "install", plugin, "--yes"]);
        assert!(output.status.success(), "approving {plugin}: {:?}", text(&output));
    }
}

/// The value of `variable` in the env file at `path` (empty if absent).
pub fn env_value(path: &std::path::Path, variable: &str) -> String {
    let prefix = format!("{variable}=");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_default()
        .to_string()
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
