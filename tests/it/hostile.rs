//! The hostile-plugin suite: each guest in `tests/guests` carries one attack,
//! and each test here states the exact error it must produce, then checks
//! that the same runtime still serves a normal call.
//!
//! Every guest must have a test of the same name: `foreach_guest!` below
//! refers to each one, so a guest without a test does not compile.

use crate::support;

use rekey::runtime::{CallOptions, Denial, Endpoint, Grants, Limits, PluginError, Runtime};
use rekey_test_artifacts::{guests, plugins};
use std::path::Path;
use std::time::Duration;
use support::{KeyServer, Listener};

macro_rules! assert_tested {
    ($name:ident) => {
        #[allow(unused_imports)]
        use self::$name as _;
    };
}
rekey_test_artifacts::foreach_guest!(assert_tested);

/// Loads `guest`, runs its `generate`, and returns the error it must end in;
/// then proves the runtime is unharmed by running the `random` plugin.
async fn attack(runtime: &Runtime, guest: &str, options: CallOptions) -> PluginError {
    let plugin = runtime.load(Path::new(guest)).await.expect("the guest loads");
    let error = plugin.generate(&options).await.result.expect_err("the attack must fail");
    still_serves(runtime).await;
    error
}

async fn still_serves(runtime: &Runtime) {
    let random = runtime.load(Path::new(plugins::RANDOM)).await.unwrap();
    let credential = random.generate(&CallOptions::default()).await.result.expect("a normal call after the attack");
    assert_eq!(credential.secret.len(), 32);
}

fn granting(endpoints: &[&str]) -> Grants {
    Grants { endpoints: endpoints.iter().map(|e| Endpoint::parse(e).unwrap()).collect(), ..Grants::default() }
}

/// Options for a guest that connects to `target` (config field `target`), granted.
fn connecting(target: std::net::SocketAddr) -> CallOptions {
    CallOptions {
        config: config(&[("target", target.to_string())]),
        grants: granting(&[&target.to_string()]),
        ..CallOptions::default()
    }
}

/// Options for a guest that fetches `url` (config field `url`), with `grants`.
fn fetching(url: &str, grants: &[&str]) -> CallOptions {
    CallOptions { config: config(&[("url", url.to_string())]), grants: granting(grants), ..CallOptions::default() }
}

fn config(pairs: &[(&str, String)]) -> std::collections::BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[tokio::test]
async fn infinite_loop() {
    let (runtime, _cache) = support::runtime(Limits { deadline: Duration::from_millis(300), ..Limits::default() });
    let error = attack(&runtime, guests::INFINITE_LOOP, CallOptions::default()).await;
    assert!(matches!(error, PluginError::Deadline { .. }), "{error:?}");
    assert_eq!(error.to_string(), "plugin `infinite-loop` ran past its deadline of 300ms and was stopped");
}

#[tokio::test]
async fn memory_bomb() {
    let (runtime, _cache) = support::runtime(Limits { memory_bytes: 16 << 20, ..Limits::default() });
    let error = attack(&runtime, guests::MEMORY_BOMB, CallOptions::default()).await;
    assert!(matches!(error, PluginError::MemoryLimit { limit, .. } if limit == 16 << 20), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `memory-bomb` tried to use more than 16777216 bytes of memory (its memories, tables and host resources together) and was stopped"
    );
}

/// Host memory a plugin makes the host hold: header maps and unsent bodies
/// are resources, and the call may hold only so many.
async fn hoards(guest: &str, name: &str) {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = attack(&runtime, guest, CallOptions::default()).await;
    assert!(matches!(error, PluginError::ResourceLimit { limit: 128, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "plugin `{name}` held more than 128 host resources (header maps, requests, bodies, streams) at once and was stopped"
        )
    );
}

/// The peak resident memory of `rekey plugin call GUEST generate`, in bytes,
/// and what it printed on stderr.
fn peak_rss(guest: &str) -> (u64, String) {
    let cache = tempfile::tempdir().unwrap();
    let report = cache.path().join("peak-kib");
    // Measured by GNU time, whose child starts small: Linux counts in a
    // child's peak the pages it shared with its parent until exec, and this
    // test process, running every other test, is not small.
    let rekey = support::rekey(&cache);
    let mut time = support::wrapping(&rekey, "/usr/bin/time");
    time.args(["-f", "%M", "-o"]).arg(&report).arg(rekey.get_program()).args(["plugin", "call", guest, "generate"]);
    let out = support::run(&mut time, "");
    // The last line: before it, time says when the command failed (as these do).
    let kib: u64 = std::fs::read_to_string(&report).unwrap().lines().last().unwrap().parse().unwrap();
    (kib * 1024, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What a `rekey` process holds besides the plugin's budget: the binary,
/// wasmtime and its pooling allocator's bookkeeping, the compiled plugin,
/// tokio, and the host's buffers (measured at 23 MB for `random`).
const PROCESS_BASE: u64 = 32 << 20;

#[test]
fn no_memory_bomb_takes_the_process_past_its_budget() {
    let limit = Limits::default().memory_bytes as u64;
    for (guest, refused) in [
        (guests::MEMORY_BOMB, "bytes of memory"),
        (guests::FIELDS_HOARD, "host resources"),
        (guests::BODY_HOARD, "host resources"),
        (guests::INFO_HOARD, "host resources"),
    ] {
        let (rss, stderr) = peak_rss(guest);
        assert!(stderr.contains(refused), "{guest}: {stderr}");
        eprintln!("{guest}: peak RSS {} MiB", rss >> 20);
        assert!(rss <= limit + PROCESS_BASE, "{guest}: peak RSS {} MiB", rss >> 20);
    }
}

#[tokio::test]
async fn fields_hoard() {
    hoards(guests::FIELDS_HOARD, "fields-hoard").await;
}

#[tokio::test]
async fn info_hoard() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = runtime.load(Path::new(guests::INFO_HOARD)).await.err().expect("refused at load");
    assert!(matches!(error, PluginError::ResourceLimit { limit: 128, .. }), "{error:?}");
    still_serves(&runtime).await;
}

#[tokio::test]
async fn body_hoard() {
    hoards(guests::BODY_HOARD, "body-hoard").await;
}

#[tokio::test]
async fn deep_recursion() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = attack(&runtime, guests::DEEP_RECURSION, CallOptions::default()).await;
    assert!(matches!(error, PluginError::StackOverflow { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `deep-recursion` overflowed its 1048576-byte stack (runaway recursion?) and was stopped"
    );
}

#[tokio::test]
async fn undeclared_host() {
    let server = KeyServer::start();
    let (runtime, _cache) = support::runtime(Limits::default());
    // Granting the address does not help: the plugin never declared it.
    let options = fetching(&format!("{}/keys", server.base_url()), &[&server.addr.to_string()]);
    let error = attack(&runtime, guests::UNDECLARED_HOST, options).await;
    let expected = Denial::Undeclared { target: server.addr.to_string(), declared: "api.declared.example".into() };
    assert!(matches!(&error, PluginError::Denied { denial, .. } if *denial == expected), "{error:?}");
    assert!(server.requests.lock().unwrap().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn ungranted_host() {
    let server = KeyServer::start();
    let (runtime, _cache) = support::runtime(Limits::default());
    let options = fetching(&format!("{}/keys", server.base_url()), &[]);
    let error = attack(&runtime, guests::UNGRANTED_HOST, options).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::NotGranted { .. }, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "plugin `ungranted-host` was denied network access: {0} is declared by the plugin but not granted; \
             grant it with `--grant {0}` once you trust the plugin to reach it",
            server.addr
        )
    );
    assert!(server.requests.lock().unwrap().is_empty(), "nothing reached the server");
}

/// `evil.example@127.0.0.1:PORT`: the policy would check `127.0.0.1`, while
/// the request names `evil.example`. Refused before anything is sent.
#[tokio::test]
async fn ungranted_host_with_userinfo() {
    let server = KeyServer::start();
    let (runtime, _cache) = support::runtime(Limits::default());
    let url = format!("http://evil.example@{}/api/me", server.addr);
    let error = attack(&runtime, guests::UNGRANTED_HOST, fetching(&url, &[&server.addr.to_string()])).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::Userinfo, .. }), "{error:?}");
    assert!(server.requests.lock().unwrap().is_empty(), "nothing reached the server");
}

#[tokio::test]
async fn metadata_name() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let mut grants = granting(&["instance-data.test"]);
    grants.resolve.insert("instance-data.test".into(), "169.254.169.254".parse().unwrap());
    let error = attack(&runtime, guests::METADATA_NAME, CallOptions { grants, ..CallOptions::default() }).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::Reserved { .. }, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `metadata-name` was denied network access: instance-data.test:80 resolved to 169.254.169.254, \
         a cloud metadata address; cloud metadata endpoints are never reachable from plugins"
    );
    // The same address inside IPv6 forms a gateway would translate back.
    for embedded in ["64:ff9b::a9fe:a9fe", "64:ff9b:1::a9fe:a9fe", "::169.254.169.254", "2002:a9fe:a9fe::1"] {
        let mut grants = granting(&["instance-data.test"]);
        grants.resolve.insert("instance-data.test".into(), embedded.parse().unwrap());
        let error = attack(&runtime, guests::METADATA_NAME, CallOptions { grants, ..CallOptions::default() }).await;
        assert!(error.to_string().contains("a cloud metadata address"), "{embedded}: {error}");
    }
}

#[tokio::test]
async fn panic() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = attack(&runtime, guests::PANIC, CallOptions::default()).await;
    assert!(matches!(error, PluginError::Panic { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with("plugin `panic` panicked: boom: the provider exploded (at tests/guests/panic/src/lib.rs:"),
        "{error}"
    );
}

#[tokio::test]
async fn log_flood() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = attack(&runtime, guests::LOG_FLOOD, CallOptions::default()).await;
    assert!(matches!(error, PluginError::OutputLimit { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `log-flood` wrote more than 262144 bytes of log output in one call (a line counts at least 256) and was stopped"
    );
}

/// Bare newlines, well within the byte budget: each line costs 256 bytes of
/// it, so at most 1,024 lines reach the log.
#[test]
fn line_flood() {
    let cache = tempfile::tempdir().unwrap();
    let output = support::run(support::rekey(&cache).args(["plugin", "call", guests::LINE_FLOOD, "generate"]), "");
    let (_, stderr) = support::text(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("wrote more than 262144 bytes of log output"), "{stderr}");
    assert!(stderr.lines().count() <= 1024 + 10, "{} lines", stderr.lines().count());
}

#[test]
fn ansi_log() {
    let cache = tempfile::tempdir().unwrap();
    let token = "tok-5ecret-value-81c2";
    let output = support::run(
        support::rekey(&cache).args(["plugin", "call", guests::ANSI_LOG, "generate"]).env("REKEY_ADMIN_TOKEN", token),
        "",
    );
    let (stdout, stderr) = support::text(&output);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("red alert") && stderr.contains("stdout says"), "the lines are shown: {stderr}");
    assert!(stderr.contains("token=***"), "the admin secret is masked: {stderr}");
    for forbidden in [token, "\x1b", "\x07", "\u{202e}"] {
        assert!(
            !stderr.contains(forbidden) && !stdout.contains(forbidden),
            "{forbidden:?} reached the terminal: {stderr:?}"
        );
    }
}

/// Not an attack on the sandbox but on the promise that no key is lost: a
/// provider that can neither list its keys nor return the same key again,
/// whose create makes the key and then answers 500. rekey must not call
/// `generate` blindly again, and must say loudly that a key may be live.
#[test]
fn unlisted_keys() {
    let server = KeyServer::start().not_idempotent();
    let toml = format!(
        r#"
[[credential]]
name = "api"
plugin = "{plugin}"
config = {{ base-url = "{base}" }}
admin_secrets = {{ admin-token = "env:ADMIN_TOKEN" }}
grants = ["{addr}"]
policy = {{ grace_period = "0s" }}

[[credential.stages]]
name = "prod"
targets = [{{ type = "env-file", path = "app.env", variable = "KEY" }}]
"#,
        plugin = guests::UNLISTED_KEYS,
        base = server.base_url(),
        addr = server.addr,
    );
    let project = support::Project::new(&toml, &[("ADMIN_TOKEN", KeyServer::ADMIN_TOKEN)]);
    assert!(project.run(&["rotate", "api"], "").status.success());
    server.fail_creates(&[support::Fault::Status(500)]);
    let out = project.run(&["rotate", "api"], "");
    let (stdout, stderr) = support::text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("not generating again blindly") && stdout.contains("rolled back"), "{stdout}");
    assert!(stderr.contains("possible orphaned key of `api`"), "{stderr}");
    let creates = server.requests.lock().unwrap().iter().filter(|r| *r == "POST /api/keys").count();
    assert_eq!(creates, 2, "one create for the first rotation, one (not retried) for the second");
    let status = support::text(&project.run(&["status"], "")).0;
    assert!(status.contains("1 SUSPECTED ORPHAN(S): rekey reconcile api"), "{status}");
    let audit = support::text(&project.run(&["audit", "log", "--json"], "")).0;
    assert!(audit.contains("key.possible_orphan"), "{audit}");
    let reconcile = project.run(&["reconcile", "api"], "");
    assert_eq!(reconcile.status.code(), Some(1), "a suspect is drift until dealt with");
    assert!(support::text(&reconcile).0.contains("SUSPECTED ORPHAN #1"), "{:?}", support::text(&reconcile));
    // The operator revokes it at the provider by hand, and says so.
    let show: serde_json::Value =
        serde_json::from_str(&support::text(&project.run(&["credential", "show", "api", "--json"], "")).0).unwrap();
    let versions = show["versions"].as_array().unwrap();
    let current = versions.iter().find(|v| v["label"] == "current").unwrap()["key_id"].as_str().unwrap();
    let orphans: Vec<String> = server.keys.lock().unwrap().keys().filter(|id| *id != current).cloned().collect();
    assert_eq!(orphans.len(), 1, "the one key the store does not hold");
    server.keys.lock().unwrap().remove(&orphans[0]);
    assert!(project.run(&["reconcile", "api", "--resolve"], "").status.success());
    assert!(!support::text(&project.run(&["status"], "")).0.contains("SUSPECTED"));
    assert!(project.run(&["rotate", "api"], "").status.success(), "the next rotation runs");
}

#[tokio::test]
async fn secret_smuggler() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let server = KeyServer::start();
    let plugin = runtime.load(Path::new(guests::SECRET_SMUGGLER)).await.unwrap();
    let token = "sk-live-0123456789abcdef";
    let ptoken = "p@ss w0rd/+t0ken";
    let options = |how: &str| CallOptions {
        config: config(&[("how", how.to_string()), ("url", format!("{}/echo", server.base_url()))]),
        admin_secrets: config(&[("token", token.to_string()), ("ptoken", ptoken.to_string())]),
        grants: granting(&[&server.addr.to_string()]),
        ..CallOptions::default()
    };
    let leaked = |text: &str| text.contains(token) || text.contains(ptoken);
    let refused = |result: Result<rekey::runtime::Credential, PluginError>, field: &str| {
        let error = result.unwrap_err();
        assert!(matches!(&error, PluginError::InvalidResult { .. }), "{error:?}");
        assert!(error.to_string().contains(&format!("{field} holds an admin secret")), "{error}");
        assert!(!leaked(&error.to_string()));
    };
    // In what it returns, encoded: refused, naming the field.
    refused(plugin.generate(&options("key-id")).await.result, "the key id");
    refused(plugin.generate(&options("attribute")).await.result, "attribute `note`");
    let any =
        rekey::runtime::Credential { key_id: "k".into(), secret: "s".into(), attributes: vec![], expires_at: None };
    let error = plugin.verify(&options("detail"), &any).await.result.unwrap_err();
    assert!(error.to_string().contains("the detail holds an admin secret"), "{error}");
    // In an error message: masked.
    let error = plugin.generate(&options("error")).await.result.unwrap_err().to_string();
    assert!(error.ends_with("rejected (permanent): the server refused ***"), "{error}");
    // In a host name: the denial and the transcript mask it.
    let outcome = plugin.generate(&options("host")).await;
    let error = outcome.result.unwrap_err().to_string();
    let hex_token = hex::encode(token);
    assert!(error.contains("***") && !error.contains(&hex_token), "{error}");
    assert!(outcome.transcript.iter().all(|e| !e.host.contains(&hex_token)), "{:?}", outcome.transcript);
    // A placeholder in a URL is never filled in, so never echoed decoded.
    let error = plugin.generate(&options("url-placeholder")).await.result.unwrap_err();
    assert!(matches!(&error, PluginError::Denied { denial: Denial::PlaceholderInUrl, .. }), "{error:?}");
    // Echoed back by a granted server in any encoding, it is masked in all of them.
    let echoed = plugin.generate(&options("echo")).await.result.unwrap().secret;
    assert_eq!(
        echoed,
        "plain=you sent {{secret:ptoken}} percent=you sent {{secret:ptoken}} plus=you sent {{secret:ptoken}} \
         json=you sent \"{{secret:ptoken}}\" base64=you sent dG9rZW49{{secret:ptoken}} hex=you sent {{secret:ptoken}}"
    );
    still_serves(&runtime).await;
}

/// What `rekey plugin call` of the smuggler's `generate` logs, told `how`,
/// with `token` as its admin secret.
fn smuggler_logs(how: &str, token: &str) -> String {
    let cache = tempfile::tempdir().unwrap();
    let stdin = serde_json::json!({ "admin_secrets": { "token": token, "ptoken": "unused-token" } }).to_string();
    let how = format!("how={how}");
    let args = ["plugin", "call", guests::SECRET_SMUGGLER, "generate", "-c", &how, "-c", "url=http://127.0.0.1:9/"];
    let output = support::run(support::rekey(&cache).args(args).arg("--stdin"), &stdin);
    let (stdout, stderr) = support::text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    stderr
}

/// Logs a PEM admin secret line by line with zero-width characters woven
/// in, and whole: no line of it reaches the log.
#[test]
fn secret_smuggler_logs() {
    let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj\n-----END PRIVATE KEY-----";
    let stderr = smuggler_logs("log", pem);
    assert!(stderr.contains("line: ***") && stderr.contains("whole: ***"), "{stderr}");
    assert!(!stderr.contains("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSj"), "{stderr}");
}

/// Logs an admin secret in two halves, one per line, then one character
/// per line of stdout: each part is masked, as the whole would be.
#[test]
fn secret_smuggler_splits_a_secret_across_lines() {
    let token = "sk-live-0123456789abcdef";
    let stderr = smuggler_logs("split", token);
    let (first, second) = token.split_at(token.len() / 2);
    assert!(!stderr.contains(first) && !stderr.contains(second), "{stderr}");
    let parts = stderr.lines().filter(|line| line.contains("***")).count();
    assert_eq!(parts, 2 + token.len(), "two halves and every character masked: {stderr}");
}

#[tokio::test]
async fn shifty_info() {
    // No cache: the cache keeps the first answer, and `info` must be asked twice.
    let runtime = Runtime::new(Limits::default(), None).unwrap();
    let first = runtime.load(Path::new(guests::SHIFTY_INFO)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = runtime.load(Path::new(guests::SHIFTY_INFO)).await.unwrap();
    // Frozen clocks and fixed randomness: the same answer, whenever asked.
    assert_eq!(first.info().description, "described at 0 s with dice 0");
    assert_eq!(serde_json::to_string(first.info()).unwrap(), serde_json::to_string(second.info()).unwrap());
    still_serves(&runtime).await;

    // And the approval pins the answer: a description that differs from
    // the approved one (here, the pin edited) is refused like new bytes.
    let toml = format!(
        "[[credential]]\nname = \"api\"\nplugin = \"{}\"\nadmin_secrets = {{ token = \"env:TOKEN\" }}\n",
        guests::SHIFTY_INFO
    );
    let project = support::Project::new(&toml, &[("TOKEN", "t0k3n")]);
    let lock_path = project.dir.path().join("rekey.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    let pinned = lock.lines().find_map(|l| l.strip_prefix("info_sha256 = ")).unwrap().trim_matches('"').to_string();
    std::fs::write(&lock_path, lock.replace(&pinned, &"0".repeat(64))).unwrap();
    let out = project.run(&["rotate", "api"], "");
    let (stdout, stderr) = support::text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("plugin `shifty-info` describes itself differently from when it was approved (its pin in rekey.lock matches none of the parts recorded beside it: was the lock edited?: info sha256 {} → {pinned})", "0".repeat(64))),
        "{stdout}"
    );
    // An approval from before descriptions were pinned must be renewed.
    std::fs::write(&lock_path, lock.replace(&format!("info_sha256 = \"{pinned}\"\n"), "")).unwrap();
    let out = project.run(&["rotate", "api"], "");
    assert!(support::text(&out).0.contains("info sha256 (none) →"), "{:?}", support::text(&out));
}

#[tokio::test]
async fn contract_v0_2() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let plugin = runtime.load(Path::new(guests::CONTRACT_V0_2)).await.expect("a 0.2 plugin still loads");
    assert_eq!(plugin.surface().world().as_deref(), Some("rekey:provider/plugin@0.2.0"));
    let capabilities = &plugin.info().capabilities;
    assert!(capabilities.idempotent_generate && !capabilities.lists_keys, "{capabilities:?}");
    let options = CallOptions { rotation_id: "rot-1".into(), ..CallOptions::default() };
    let key = plugin.generate(&options).await.result.unwrap();
    assert_eq!((key.key_id.as_str(), key.secret.as_str()), ("old-rot-1", "old-secret"));
    assert!(plugin.verify(&options, &key).await.result.unwrap().valid);
    let error = plugin.revoke(&options, &key).await.result.unwrap_err();
    assert_eq!(error.to_string(), "plugin `contract-v0-2` failed: not found: old-rot-1 is already gone");
    still_serves(&runtime).await;
}

#[tokio::test]
async fn edited_contract() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = runtime.load(Path::new(guests::EDITED_CONTRACT)).await.err().expect("refused at load");
    assert!(matches!(error, PluginError::Incompatible { .. }), "{error:?}");
    assert!(
        error.to_string().contains("its `rekey:provider` types differ from those of the contract version it names (was it built from an edited copy of the WIT?)"),
        "{error}"
    );
    still_serves(&runtime).await;
}

#[tokio::test]
async fn wrong_world() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = runtime.load(Path::new(guests::WRONG_WORLD)).await.err().expect("refused at load");
    assert!(matches!(error, PluginError::WrongWorld { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "plugin `{}` does not export rekey:provider/provider@0.4.0 (a provider) or \
             rekey:provider/destination@0.4.0 (a target); it exports: greet. \
             Build it against the `plugin` or the `target` world of that contract (rekey-sdk does this)",
            guests::WRONG_WORLD
        )
    );
    still_serves(&runtime).await;
}

#[tokio::test]
async fn tcp_escape() {
    let (allowed, other) = (Listener::start(), Listener::start());
    let (runtime, _cache) = support::runtime(Limits::default());
    let options = CallOptions {
        config: config(&[("target", allowed.addr.to_string()), ("sneak", other.addr.to_string())]),
        grants: granting(&[&allowed.addr.to_string(), &other.addr.to_string()]),
        ..CallOptions::default()
    };
    let error = attack(&runtime, guests::TCP_ESCAPE, options).await;
    let expected = Denial::Tcp { addr: other.addr };
    assert!(matches!(&error, PluginError::Denied { denial, .. } if *denial == expected), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("plugin `tcp-escape` was denied network access: TCP connection to {} is not granted", other.addr)
    );
    // The granted address got its bytes; the other one never saw a connection.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(allowed.received.lock().unwrap().as_slice(), [b"hello".to_vec()]);
    assert!(other.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn tcp_flood() {
    let listener = Listener::start();
    let (runtime, _cache) = support::runtime(Limits::default());
    let error = attack(&runtime, guests::TCP_FLOOD, connecting(listener.addr)).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::ConnectionLimit { limit: 16 }, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `tcp-flood` was denied network access: more than 16 TCP connections in one call"
    );
}

#[tokio::test]
async fn tcp_firehose() {
    let (runtime, _cache) = support::runtime(Limits { max_tcp_bytes: 1 << 20, ..Limits::default() });
    let error = attack(&runtime, guests::TCP_FIREHOSE, connecting(support::sink())).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::TcpBytes { limit: 1048576 }, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `tcp-firehose` was denied network access: more than 1048576 bytes over TCP in one call"
    );
}

#[tokio::test]
async fn request_flood() {
    let server = KeyServer::start();
    let (runtime, _cache) = support::runtime(Limits { max_requests: 20, ..Limits::default() });
    let options = fetching(&format!("{}/me", server.base_url()), &[&server.addr.to_string()]);
    let error = attack(&runtime, guests::REQUEST_FLOOD, options).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::RequestLimit { limit: 20 }, .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `request-flood` was denied network access: more than 20 requests in one call"
    );
    assert_eq!(server.requests.lock().unwrap().len(), 20, "the cap held at the server too");
}

#[tokio::test]
async fn inert_imports() {
    let (runtime, _cache) = support::runtime(Limits::default());
    // It imports wasi:filesystem, UDP and name lookups, as language runtimes do: it loads, and none of them opens anything.
    let report = attack(&runtime, guests::INERT_IMPORTS, CallOptions::default()).await.to_string();
    for refused in ["file: refused", "preopened directories: 0", "udp: refused", "lookup: refused"] {
        assert!(report.contains(refused), "{refused:?} in {report}");
    }
}

#[tokio::test]
async fn oversized_body() {
    let server = KeyServer::start();
    let (runtime, _cache) = support::runtime(Limits { max_response_body: 256 << 10, ..Limits::default() });
    let options = fetching(&format!("{}/big", server.base_url()), &[&server.addr.to_string()]);
    let error = attack(&runtime, guests::OVERSIZED_BODY, options).await;
    let expected = Denial::BodyLimit { direction: "response", limit: 256 << 10 };
    assert!(matches!(&error, PluginError::Denied { denial, .. } if *denial == expected), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `oversized-body` was denied network access: a response body exceeded 262144 bytes"
    );
}

#[tokio::test]
async fn slow_reader() {
    let addr = support::drip_server(10_000, Duration::from_millis(20));
    let (runtime, _cache) = support::runtime(Limits { deadline: Duration::from_millis(800), ..Limits::default() });
    let options = fetching(&format!("http://{addr}/keys"), &[&addr.to_string()]);
    let started = std::time::Instant::now();
    let error = attack(&runtime, guests::SLOW_READER, options).await;
    assert!(matches!(error, PluginError::Deadline { .. }), "{error:?}");
    assert_eq!(error.to_string(), "plugin `slow-reader` ran past its deadline of 800ms and was stopped");
    // The body would take 200 s; the call ended near its deadline.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn redirect_follower() {
    let server = KeyServer::start();
    let (runtime, _cache) = support::runtime(Limits::default());
    let options = fetching(&format!("{}/redirect", server.base_url()), &[&server.addr.to_string(), "exfil.example"]);
    let plugin = runtime.load(Path::new(guests::REDIRECT_FOLLOWER)).await.unwrap();
    let outcome = plugin.generate(&options).await;
    let error = outcome.result.expect_err("the second request is refused");
    let expected = Denial::Undeclared { target: "exfil.example:80".into(), declared: server.addr.to_string() };
    assert!(matches!(&error, PluginError::Denied { denial, .. } if *denial == expected), "{error:?}");
    // The transcript shows both: the redirect, then the refusal.
    assert_eq!(outcome.transcript.len(), 2);
    assert_eq!(outcome.transcript[0].status, Some(302));
    assert!(outcome.transcript[1].error.as_deref().is_some_and(|e| e.starts_with("denied:")));
    assert_eq!(outcome.transcript[1].path, "/collect", "no query string in the transcript");
    still_serves(&runtime).await;
}

#[tokio::test]
async fn oversized_headers() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let server = KeyServer::start();
    let mut options = fetching(&format!("{}/me", server.base_url()), &[&server.addr.to_string()]);
    options.config.insert("header-bytes".into(), "100000".into());
    let error = attack(&runtime, guests::OVERSIZED_HEADERS, options.clone()).await;
    let expected = Denial::HeaderLimit { limit: 64 << 10 };
    assert!(matches!(&error, PluginError::Denied { denial, .. } if *denial == expected), "{error:?}");
    assert_eq!(
        error.to_string(),
        "plugin `oversized-headers` was denied network access: the request headers exceeded 65536 bytes"
    );

    // Past 128 KiB, wasmtime's own cap on a header map stops the plugin
    // while it is still building the request.
    options.config.insert("header-bytes".into(), "1000000".into());
    let error = attack(&runtime, guests::OVERSIZED_HEADERS, options).await;
    assert!(
        matches!(&error, PluginError::Trap { message, .. } if message.ends_with("total size of fields exceeds limit"))
    );

    // A server answering with a 1 MiB header: the client gives up on the
    // response head instead of buffering it, and the plugin gets an error.
    let addr = support::big_header_server(1 << 20);
    let options = fetching(&format!("http://{addr}/keys"), &[&addr.to_string()]);
    let plugin = runtime.load(Path::new(guests::OVERSIZED_HEADERS)).await.unwrap();
    let outcome = plugin.generate(&options).await;
    let error = outcome.result.expect_err("a 1 MiB response head is refused");
    assert!(matches!(error, PluginError::Provider { .. }), "{error:?}");
    assert!(outcome.transcript[0].error.is_some(), "{:?}", outcome.transcript);
    still_serves(&runtime).await;
}

#[tokio::test]
async fn placeholder_thief() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let server = KeyServer::start();
    let token = KeyServer::ADMIN_TOKEN;
    let secrets = config(&[("token", token.to_string())]);
    let plugin = runtime.load(Path::new(guests::PLACEHOLDER_THIEF)).await.unwrap();

    // Sent to the granted server, the placeholder carries the real token
    // (the echo answers 200 only to it), and the echo comes back masked.
    let honest = CallOptions {
        config: config(&[("url", format!("{}/echo", server.base_url())), ("exfil", String::new())]),
        admin_secrets: secrets.clone(),
        grants: granting(&[&server.addr.to_string()]),
        ..CallOptions::default()
    };
    let seen = plugin.generate(&honest).await.result.expect("the echo call succeeds").secret;
    assert_eq!(
        seen, "given {{secret:token}}; the server answered 200 with: you sent {{secret:token}}",
        "the plugin never holds the token"
    );

    // Sent to a host it declares but the operator did not grant, the
    // request is refused before anything is filled in or sent.
    let thief = CallOptions {
        config: config(&[("url", format!("{}/echo", server.base_url())), ("exfil", "http://exfil.example/c".into())]),
        ..honest
    };
    let error = attack(&runtime, guests::PLACEHOLDER_THIEF, thief).await;
    assert!(matches!(&error, PluginError::Denied { denial: Denial::NotGranted { .. }, .. }), "{error:?}");
    assert!(!error.to_string().contains(token), "{error}");
}

/// `tls-impostor`: TLS the host did not verify, or clear text after TLS.
mod tls_impostor {
    use super::*;

    /// Options for `tls-impostor` in `mode`, its one connection granted.
    fn impersonating(target: std::net::SocketAddr, mode: &str, name: &str) -> CallOptions {
        CallOptions {
            config: config(&[("target", target.to_string()), ("mode", mode.into()), ("name", name.into())]),
            grants: granting(&[&target.to_string()]),
            ..CallOptions::default()
        }
    }

    #[tokio::test]
    async fn tls_as_a_name_the_operator_did_not_grant_is_refused() {
        let server = Listener::start();
        let (runtime, _cache) = support::runtime(Limits::default());
        let error = attack(&runtime, guests::TLS_IMPOSTOR, impersonating(server.addr, "name", "bank.example")).await;
        let expected = Denial::TlsName { name: "bank.example".into(), address: server.addr, port: server.addr.port() };
        assert!(matches!(&error, PluginError::Denied { denial, .. } if *denial == expected), "{error:?}");
        assert!(error.to_string().contains(&format!("TLS to {} as `bank.example` is refused", server.addr)), "{error}");
        // No handshake began: the server saw the connection and not one byte.
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(server.received.lock().unwrap().concat(), b"");
    }

    #[tokio::test]
    async fn tls_over_streams_of_two_connections_is_refused() {
        let server = Listener::start();
        let (runtime, _cache) = support::runtime(Limits::default());
        let error = attack(&runtime, guests::TLS_IMPOSTOR, impersonating(server.addr, "mixed", "")).await;
        assert!(matches!(&error, PluginError::Denied { denial: Denial::TlsStreams, .. }), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_handed_to_tls_carries_nothing_in_clear_afterwards() {
        let server = Listener::start();
        let (runtime, _cache) = support::runtime(Limits::default());
        let error = attack(&runtime, guests::TLS_IMPOSTOR, impersonating(server.addr, "clear-after", "")).await;
        assert!(matches!(&error, PluginError::Trap { .. }), "{error:?}");
        std::thread::sleep(Duration::from_millis(100));
        let received = server.received.lock().unwrap().concat();
        assert!(!String::from_utf8_lossy(&received).contains("secret-in-clear"), "{received:?}");
    }
}

/// A deploy target aims the same attacks at the `target` world: the key it
/// was given or an admin secret back in what it returns (refused, naming
/// the field), the key in a request to a host it did not declare or that
/// was not granted (denied), and in an error (masked).
#[tokio::test]
async fn target_smuggler() {
    let (runtime, _cache) = support::runtime(Limits::default());
    let listener = Listener::start();
    let plugin = runtime.load(Path::new(guests::TARGET_SMUGGLER)).await.unwrap();
    assert_eq!(plugin.kind(), rekey::runtime::Kind::Target { stages_keys: false });
    let token = "sk-live-0123456789abcdef";
    let key = rekey::runtime::Credential {
        key_id: "k1".into(),
        secret: "new-key-5f1e2d".into(),
        attributes: vec![],
        expires_at: None,
    };
    let options = |how: &str, grants: &[&str]| CallOptions {
        config: config(&[("how", how.to_string()), ("url", format!("http://{}/", listener.addr))]),
        admin_secrets: config(&[("token", token.to_string())]),
        grants: granting(grants),
        ..CallOptions::default()
    };
    let granted = listener.addr.to_string();
    let refused = |error: PluginError, field: &str, what: &str| {
        assert!(matches!(&error, PluginError::InvalidResult { .. }), "{error:?}");
        assert!(error.to_string().contains(&format!("{field} holds {what}")), "{error}");
        assert!(!error.to_string().contains(&key.secret) && !error.to_string().contains(token), "{error}");
    };
    for (how, field, what) in [
        ("location", "the location", "the key it was given"),
        ("revision", "the revision", "the key it was given"),
        ("admin", "the location", "an admin secret"),
    ] {
        let error = plugin.write(&options(how, &[&granted]), &key, false).await.result.unwrap_err();
        refused(error, field, what);
    }
    let error = plugin.check(&options("none", &[&granted]), &key, false).await.result.unwrap_err();
    refused(error, "the detail", "the key it was given");

    let error = plugin.write(&options("undeclared", &[&granted]), &key, false).await.result.unwrap_err();
    assert!(matches!(&error, PluginError::Denied { denial: Denial::Undeclared { .. }, .. }), "{error:?}");
    let error = plugin.write(&options("ungranted", &[]), &key, false).await.result.unwrap_err();
    assert!(matches!(&error, PluginError::Denied { denial: Denial::NotGranted { .. }, .. }), "{error:?}");
    assert!(listener.received.lock().unwrap().is_empty(), "no request reached the listener");

    let error = plugin.restore(&options("none", &[&granted]), Some(&key)).await.result.unwrap_err().to_string();
    assert!(error.ends_with("rejected (permanent): cannot restore ***"), "{error}");
    // A provider call on a target is refused, and the runtime still serves.
    let error = plugin.generate(&options("none", &[&granted])).await.result.unwrap_err().to_string();
    assert!(error.contains("is a deploy target, not a provider"), "{error}");
    still_serves(&runtime).await;
}
