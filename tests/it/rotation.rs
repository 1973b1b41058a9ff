//! Rotations through the real `rekey` binary, the real `webhook` plugin and a
//! key-issuing HTTP API on loopback that records which keys are live: the
//! happy path, a SIGKILL at every step boundary, every kind of rollback,
//! concurrent runs, emergency and grace periods, and bad input.

use crate::support;

use rekey_test_artifacts::plugins;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::{KeyServer, text};

const ADMIN_VAR: &str = "TEST_API_ADMIN_TOKEN";

/// A folder with `rekey.toml`, a store, and two stages of targets for the
/// credential `api`: `dev.env` (API_KEY) and `prod.json` (/api/key), each
/// checked by calling the API with the new key.
struct Workspace {
    dir: tempfile::TempDir,
    cache: tempfile::TempDir,
    server: KeyServer,
}

impl Workspace {
    fn new(extra_stage: &str) -> Self {
        let server = KeyServer::start();
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            r#"{store}{credential}
[[credential.stages]]
name = "dev"
targets = [{{ type = "env-file", path = "dev.env", variable = "API_KEY" }}]
checks = [{{ type = "http", url = "{base}/me" }}]

[[credential.stages]]
name = "prod"
targets = [{{ type = "json-file", path = "prod.json", pointer = "/api/key" }}]
checks = [{{ type = "http", url = "{base}/me" }}]
{extra_stage}
"#,
            store = support::store_lines(),
            credential = support::webhook_table(
                "api",
                plugins::WEBHOOK,
                &server,
                ADMIN_VAR,
                r#"grace_period = "0s", owners = ["team@example.com"]"#
            ),
            base = server.base_url(),
        );
        std::fs::write(dir.path().join("rekey.toml"), &toml).unwrap();
        let workspace = Self { dir, cache: tempfile::tempdir().unwrap(), server };
        workspace.ok(&["init"]);
        support::approve_plugins(&toml, |args| workspace.run(args));
        workspace
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> std::process::Command {
        let mut command = support::rekey(&self.cache);
        command.current_dir(self.dir.path()).args(args).env(ADMIN_VAR, KeyServer::ADMIN_TOKEN);
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        support::run(&mut self.command(args), "")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "`rekey {}` failed:\n{stdout}\n{stderr}", args.join(" "));
        stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// The current key: id and secret.
    fn current(&self) -> (String, String) {
        let show = self.json(&["credential", "show", "api", "--reveal", "--json"]);
        let current =
            show["versions"].as_array().unwrap().iter().find(|v| v["label"] == "current").expect("a current key");
        (current["key_id"].as_str().unwrap().into(), show["secret"].as_str().unwrap().into())
    }

    /// What the two targets hold.
    fn targets(&self) -> (Option<String>, Option<String>) {
        let dev = std::fs::read_to_string(self.path("dev.env"))
            .ok()
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("API_KEY=").map(String::from)));
        let prod = std::fs::read_to_string(self.path("prod.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|j| j["api"]["key"].as_str().map(String::from));
        (dev, prod)
    }

    /// Rewrites `rekey.toml`.
    fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let path = self.path("rekey.toml");
        std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
    }

    /// After a good rotation, breaks the config with `edit`, and checks the
    /// next rotation fails at `failure` and is rolled back: the old key is
    /// current again, in every target, and still works.
    fn assert_rolls_back(&self, edit: impl FnOnce(String) -> String, failure: &str) {
        self.ok(&["rotate", "api"]);
        let before = self.current();
        self.edit_config(edit);
        let out = self.run(&["rotate", "api"]);
        failed_with(&out, 1, failure);
        failed_with(&out, 1, "rolled back: the old key is current again in every target");
        assert_eq!(self.current(), before);
        let history = self.ok(&["history", "api"]);
        let newest = history.lines().next().unwrap_or_default();
        assert!(
            newest.contains("  rolled-back  v") && newest.contains(" → v"),
            "the state as status spells it: {history}"
        );
        assert!(history.contains("  succeeded  none → v1"), "a first rotation comes from no key: {history}");
        self.assert_settled();
    }

    /// The steps the latest rotation journaled as done, in order.
    fn done_steps(&self) -> Vec<String> {
        let history = self.json(&["history", "api", "--json"]);
        let journal = history[0]["journal"].as_array().unwrap();
        journal.iter().filter(|j| j["state"] == "done").map(|j| j["step"].as_str().unwrap().to_string()).collect()
    }

    fn live_keys(&self) -> Vec<String> {
        self.server.keys.lock().unwrap().keys().cloned().collect()
    }

    /// The invariants of a credential at rest: one live key at the provider,
    /// it is current in the store, every target holds it, nothing is open,
    /// and the audit chain verifies.
    fn assert_settled(&self) {
        let (key_id, secret) = self.current();
        assert_eq!(self.live_keys(), vec![key_id.clone()], "exactly the current key is live at the provider");
        assert_eq!(self.targets(), (Some(secret.clone()), Some(secret)), "every target holds the current key");
        let status = self.json(&["status", "--json"]);
        assert_eq!(status[0]["in_progress"], Value::Null, "{status}");
        self.ok(&["audit", "verify"]);
    }
}

fn failed_with(output: &Output, code: i32, message: &str) {
    let (stdout, stderr) = text(output);
    assert_eq!(output.status.code(), Some(code), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains(message) || stderr.contains(message), "expected {message:?} in:\n{stdout}\n{stderr}");
}

#[test]
fn a_rotation_deploys_stage_by_stage_then_revokes_the_old_key() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    ws.assert_settled();
    let (first, _) = ws.current();

    let out = ws.ok(&["rotate", "api"]);
    assert!(out.contains("api: rotated; the old key is revoked"), "{out}");
    ws.assert_settled();
    let (second, _) = ws.current();
    assert_ne!(first, second);
    assert!(!ws.live_keys().contains(&first), "the old key is revoked at the provider");

    let steps = ws.done_steps();
    assert_eq!(
        steps,
        [
            "notify:started",
            "backup",
            "generate",
            "verify",
            "deploy:dev",
            "check:dev",
            "deploy:prod",
            "check:prod",
            "promote",
            "revoke-old",
            "notify:done"
        ]
    );
    let events: Vec<String> = ws
        .json(&["audit", "log", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_string())
        .collect();
    for expected in ["rotation.started", "key.generated", "key.promoted", "key.revoked", "rotation.succeeded"] {
        assert!(events.contains(&expected.to_string()), "{events:?}");
    }
}

#[test]
fn all_due_rotates_only_credentials_without_a_key_or_past_their_max_age() {
    let ws = Workspace::new("");
    assert_eq!(ws.json(&["status", "--json"])[0]["due"], true, "no key yet: due");
    let out = ws.ok(&["rotate", "--all-due"]);
    assert!(out.contains("api: rotated"), "{out}");
    assert_eq!(ws.json(&["status", "--json"])[0]["due"], false);
    // Nothing due is success: a nightly cron job stays quiet.
    assert_eq!(ws.ok(&["rotate", "--all-due"]).trim(), "nothing due");
    failed_with(&ws.run(&["rotate"]), 2, "nothing to rotate: name credentials, or use --all-due");
    ws.edit_config(|toml| toml.replace("grace_period = \"0s\"", "grace_period = \"0s\", max_age = \"0s\""));
    assert!(ws.ok(&["rotate", "--all-due"]).contains("api: rotated"), "a key at its max age is due");
    ws.assert_settled();
}

#[test]
fn verify_records_the_last_use_the_provider_reports_and_status_flags_unused_keys() {
    let ws = Workspace::new("");
    ws.edit_config(|toml| {
        toml.replace("verify-path = \"/me\"", "verify-path = \"/me\", last-used-pointer = \"/last_used\"")
            .replace("grace_period = \"0s\"", "grace_period = \"0s\", unused_after = \"30d\"")
    });
    ws.ok(&["rotate", "api"]);
    let out = ws.ok(&["verify", "api"]);
    assert!(out.contains("api: valid (last used: "), "{out}");
    let status = ws.json(&["status", "--json"]);
    assert_eq!(status[0]["last_used_at"].as_u64(), Some(KeyServer::last_used()));
    assert_eq!((status[0]["valid"].clone(), status[0]["unused"].clone()), (Value::Bool(true), Value::Bool(false)));

    // Three days without use is too long under a one-day policy.
    ws.edit_config(|toml| toml.replace("unused_after = \"30d\"", "unused_after = \"1d\""));
    assert_eq!(ws.json(&["status", "--json"])[0]["unused"], true);
    assert!(ws.ok(&["status"]).contains("UNUSED "), "the text status flags it too");

    // A key the provider no longer accepts makes `verify` exit with 3.
    ws.server.keys.lock().unwrap().clear();
    failed_with(&ws.run(&["verify", "api"]), 3, "api: NOT VALID");
    assert_eq!(ws.json(&["status", "--json"])[0]["valid"], false);
}

#[test]
fn a_kill_at_any_step_boundary_resumes_without_losing_or_leaking_a_key() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    let boundaries = support::step_boundaries(&ws.json(&["rotate", "api", "--dry-run", "--json"]));
    let revoked_from = boundaries.iter().position(|b| b == "revoke-old:done").unwrap();
    for (i, boundary) in boundaries.iter().enumerate() {
        let (old_id, old_secret) = ws.current();
        let mut command = ws.command(&["rotate", "api"]);
        let killed = support::run(command.env("REKEY_CRASH_AT", boundary), "");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(killed.status.signal(), Some(9), "killed by SIGKILL at {boundary}: {:?}", text(&killed));

        // Nothing is revoked early: the old key works until revoke-old is done.
        assert_eq!(ws.live_keys().contains(&old_id), i < revoked_from, "old key liveness after a kill at {boundary}");
        // Every target holds a key that works at the provider.
        let (dev, prod) = ws.targets();
        let live: Vec<String> = ws.server.keys.lock().unwrap().values().cloned().collect();
        for held in [dev, prod].into_iter().flatten() {
            assert!(
                live.contains(&held) || held == old_secret && i < revoked_from,
                "a target holds a dead key after a kill at {boundary}"
            );
        }

        let resumed = ws.run(&["resume"]);
        assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
        ws.assert_settled();
        if i > boundaries.iter().position(|b| b == "generate:begun").unwrap() {
            assert_ne!(ws.current().0, old_id, "the rotation interrupted at {boundary} completed");
        }
    }
}

#[test]
fn a_new_key_that_does_not_verify_is_rolled_back() {
    Workspace::new("").assert_rolls_back(
        |toml| toml.replace("verify-path = \"/me\"", "verify-path = \"/denied\""),
        "failed at verify: the new key does not work",
    );
}

#[test]
fn a_failing_deploy_in_the_second_stage_is_rolled_back() {
    // A third stage whose target cannot be written.
    let edge = "\n[[credential.stages]]\nname = \"edge\"\ntargets = [{ type = \"env-file\", path = \"no-such-folder/edge.env\", variable = \"API_KEY\" }]\n";
    Workspace::new("").assert_rolls_back(
        |toml| toml + edge,
        "failed at deploy:edge: env-file no-such-folder/edge.env (API_KEY): cannot write",
    );
}

/// Puts `check` first among prod's checks.
fn prod_check(toml: String, check: &str) -> String {
    let at = toml.rfind("checks = [").unwrap();
    format!("{}checks = [{check}, {}", &toml[..at], &toml[at + "checks = [".len()..])
}

#[test]
fn a_failing_check_is_retried_then_rolled_back() {
    // prod's check fails every time; dev's passes, so dev must be restored too.
    Workspace::new("").assert_rolls_back(
        |toml| prod_check(toml, r#"{ type = "exec", command = ["sh", "-c", "exit 7"], retry_delay = "10ms" }"#),
        "failed at check:prod: exec sh -c exit 7: `sh -c exit 7` exited with exit status: 7 (4 attempts)",
    );
}

#[test]
fn a_check_that_passes_on_a_retry_does_not_roll_back() {
    let ws = Workspace::new("");
    // Fails twice (a service still reloading), then passes.
    let flaky = r#"n=$(cat tries 2>/dev/null || echo 0); echo $((n+1)) > tries; [ "$n" -ge 2 ]"#;
    ws.edit_config(|toml| {
        prod_check(toml, &format!(r#"{{ type = "exec", command = ["sh", "-c", '{flaky}'], retry_delay = "10ms" }}"#))
    });
    ws.ok(&["rotate", "api"]);
    assert_eq!(std::fs::read_to_string(ws.path("tries")).unwrap().trim(), "3");
    assert_eq!(ws.targets().1.unwrap(), ws.current().1, "prod has the new key");
}

#[test]
fn a_check_with_retries_0_fails_at_once() {
    Workspace::new("").assert_rolls_back(
        |toml| prod_check(toml, r#"{ type = "exec", command = ["sh", "-c", "exit 7"], retries = 0 }"#),
        "failed at check:prod: exec sh -c exit 7: `sh -c exit 7` exited with exit status: 7; rolled back",
    );
}

#[test]
fn two_concurrent_rotations_of_one_credential_make_one_rotation() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    ws.edit_config(|toml| {
        toml.replacen(
            r#"checks = [{ type = "http", url = "#,
            r#"checks = [{ type = "exec", command = ["sleep", "1"] }, { type = "http", url = "#,
            1,
        )
    });
    let first = ws
        .command(&["rotate", "api"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let second = ws.run(&["rotate", "api"]);
    failed_with(&second, 1, "is being rotated by another rekey process (rotation rot-");
    assert!(first.wait_with_output().unwrap().status.success());
    assert_eq!(
        ws.json(&["history", "api", "--json"]).as_array().unwrap().len(),
        2,
        "the setup rotation and exactly one more"
    );
    ws.assert_settled();
}

#[test]
fn an_emergency_revokes_the_old_key_right_after_the_new_one_verifies() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    let refused = ws.run(&["rotate", "api", "--emergency"]);
    failed_with(&refused, 2, "confirm with --yes");
    let (old, _) = ws.current();
    ws.ok(&["rotate", "api", "--emergency", "--yes"]);
    let steps = ws.done_steps();
    assert_eq!(&steps[..5], ["notify:started", "backup", "generate", "verify", "revoke-old"]);
    assert!(!ws.live_keys().contains(&old));
    ws.assert_settled();
}

#[test]
fn the_grace_period_keeps_the_old_key_until_it_ends_or_is_rolled_back() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    ws.edit_config(|toml| toml.replace("grace_period = \"0s\"", "grace_period = \"1h\""));
    let (old, old_secret) = ws.current();

    let out = ws.ok(&["rotate", "api"]);
    assert!(out.contains("the old key stays valid until"), "{out}");
    assert_eq!(ws.live_keys().len(), 2, "old and new keys both work during the grace period");
    failed_with(&ws.run(&["rotate", "api"]), 1, "is in its grace period until");

    // Rolling back puts the old key back everywhere and revokes the new one,
    // even when rekey is killed right after journaling the rollback.
    let mut command = ws.command(&["rollback", "api", "--yes"]);
    let killed = support::run(command.env("REKEY_CRASH_AT", "rollback:begun"), "");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(killed.status.signal(), Some(9));
    assert!(ws.live_keys().contains(&old), "the old key still works after the kill");
    ws.ok(&["resume"]);
    assert_eq!(ws.current(), (old.clone(), old_secret));
    ws.assert_settled();

    // Rotating again and ending the grace period early revokes the old key.
    ws.ok(&["rotate", "api"]);
    ws.ok(&["revoke-previous", "api", "--yes"]);
    assert!(!ws.live_keys().contains(&old));
    ws.assert_settled();
}

#[test]
fn an_existing_key_is_imported_then_rotated_away() {
    let ws = Workspace::new("");
    // A key made at the provider by hand, before rekey managed it.
    let created = ureq_post(&ws.server, "made by hand");
    let (id, secret) = (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string());
    let out = support::run(&mut ws.command(&["credential", "import", "api", "--key-id", &id]), &format!("{secret}\n"));
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(ws.current(), (id.clone(), secret));
    ws.ok(&["rotate", "api"]);
    assert!(!ws.live_keys().contains(&id), "the imported key is revoked");
    ws.assert_settled();
}

/// Creates a key named `name` at the test API directly, as an operator (or
/// a lost `generate`) would have.
fn ureq_post(server: &KeyServer, name: &str) -> Value {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    let body = serde_json::json!({ "name": name }).to_string();
    write!(
        stream,
        "POST /api/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        KeyServer::ADMIN_TOKEN,
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap()
}

/// Every file in the folder (not SQLite's transient WAL and lock files), with
/// its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && !p.to_string_lossy().ends_with("-wal") && !p.to_string_lossy().ends_with("-shm"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn a_passphrase_can_stand_in_for_the_key_file() {
    let server_less = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    std::fs::write(
        server_less.path().join("rekey.toml"),
        format!("[[credential]]\nname = \"s\"\nplugin = \"{}\"\n", plugins::RANDOM),
    )
    .unwrap();
    let rekey = |passphrase: &str, args: &[&str]| {
        let mut command = support::rekey(&cache);
        command.current_dir(server_less.path()).args(args).env("REKEY_PASSPHRASE", passphrase);
        support::run(&mut command, "")
    };
    assert!(rekey("a long passphrase", &["init"]).status.success());
    assert!(rekey("", &["plugin", "install", plugins::RANDOM, "--yes"]).status.success());
    assert!(!server_less.path().join("rekey.key").exists(), "no key file when a passphrase is set");
    assert!(rekey("a long passphrase", &["rotate", "s"]).status.success());
    failed_with(
        &rekey("another passphrase", &["status"]),
        1,
        "the master key from $REKEY_PASSPHRASE does not open this store",
    );
}

#[test]
fn bad_input_is_a_clear_error_that_changes_nothing() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    let toml = std::fs::read_to_string(ws.path("rekey.toml")).unwrap();
    let before = snapshot(ws.dir.path());
    let unchanged = |what: &str| assert!(snapshot(ws.dir.path()) == before, "{what} changed files on disk");

    let malformed = toml.replace("name = \"dev\"", "name = \"dev");
    std::fs::write(ws.path("bad.toml"), &malformed).unwrap();
    let line = malformed.lines().position(|l| l.contains("name = \"dev")).unwrap() + 1;
    failed_with(&ws.run(&["--config-file", "bad.toml", "rotate", "api"]), 2, &format!("bad.toml:{line}:"));

    std::fs::write(ws.path("bad.toml"), toml.replace(plugins::WEBHOOK, "nope")).unwrap();
    failed_with(&ws.run(&["--config-file", "bad.toml", "rotate", "api"]), 2, "unknown plugin `nope`");
    std::fs::remove_file(ws.path("bad.toml")).unwrap();

    let mut no_secret = ws.command(&["rotate", "api"]);
    failed_with(
        &support::run(no_secret.env_remove(ADMIN_VAR), ""),
        2,
        "admin secret `admin-token`: environment variable $TEST_API_ADMIN_TOKEN is not set",
    );
    unchanged("a missing admin secret");

    let mut wrong_key = ws.command(&["rotate", "api"]);
    wrong_key.env("REKEY_MASTER_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    failed_with(&support::run(&mut wrong_key, ""), 1, "the master key from $REKEY_MASTER_KEY does not open this store");
    unchanged("a wrong master key");

    // One flipped bit in the sealed secret of the current key.
    if support::on_postgres() {
        let flip = "set_byte(secret, length(secret) - 1, get_byte(secret, length(secret) - 1) # 1)";
        support::store_sql(ws.dir.path(), &format!("UPDATE versions SET secret = {flip} WHERE label = 'current'"));
    } else {
        let db = rusqlite::Connection::open(ws.path("rekey.db")).unwrap();
        let mut sealed: Vec<u8> =
            db.query_row("SELECT secret FROM versions WHERE label = 'current'", [], |r| r.get(0)).unwrap();
        *sealed.last_mut().unwrap() ^= 1;
        db.execute("UPDATE versions SET secret = ?1 WHERE label = 'current'", [sealed]).unwrap();
    }
    let tampered = snapshot(ws.dir.path());
    failed_with(&ws.run(&["rotate", "api"]), 1, "was tampered with (it does not decrypt for its row)");
    assert!(snapshot(ws.dir.path()) == tampered, "a tampered store changed nothing more");

    support::store_sql(ws.dir.path(), "UPDATE audit SET detail = '{\"emergency\":true}' WHERE seq = 2");
    failed_with(&ws.run(&["audit", "verify"]), 1, "the audit log was tampered with: audit entry 2 was edited or moved");
    support::store_sql(
        ws.dir.path(),
        "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit); DELETE FROM audit WHERE seq = 2",
    );
    failed_with(&ws.run(&["audit", "verify"]), 1, "audit entry 2 was removed");
}

#[test]
fn no_secret_is_ever_written_in_clear_to_the_store_or_the_logs() {
    let ws = Workspace::new("");
    let mut logs = String::new();
    for _ in 0..3 {
        let mut command = ws.command(&["rotate", "api"]);
        let out = support::run(command.env("RUST_LOG", "trace"), "");
        let (stdout, stderr) = text(&out);
        logs.push_str(&stdout);
        logs.push_str(&stderr);
    }
    let mut secrets: Vec<String> = ws.server.keys.lock().unwrap().values().cloned().collect();
    secrets.push(KeyServer::ADMIN_TOKEN.into());
    let history = ws.json(&["credential", "show", "api", "--json"]);
    assert_eq!(history["versions"].as_array().unwrap().len(), 3);
    let stored = support::store_bytes(ws.dir.path());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs");
        assert!(!stored.windows(secret.len()).any(|w| w == secret.as_bytes()), "a secret is in the store in clear");
    }
}

#[test]
fn a_backup_restores_into_a_fresh_store_with_another_master_key() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    ws.ok(&["rotate", "api"]);
    let current = ws.current();
    let mut export = ws.command(&["backup", "export", "--output", "backup.bin"]);
    assert!(support::run(export.env("REKEY_BACKUP_PASSPHRASE", "correct horse battery"), "").status.success());

    if support::on_postgres() {
        // A new, empty database stands for the lost one.
        ws.edit_config(|toml| {
            format!("{}\n[[credential]]{}", support::store_lines(), toml.split_once("\n[[credential]]").unwrap().1)
        });
        std::fs::remove_file(ws.path("rekey.key")).unwrap();
    } else {
        for file in ["rekey.db", "rekey.key"] {
            std::fs::remove_file(ws.path(file)).unwrap();
        }
    }
    ws.ok(&["init"]);
    let mut wrong = ws.command(&["backup", "import", "backup.bin"]);
    failed_with(
        &support::run(wrong.env("REKEY_BACKUP_PASSPHRASE", "wrong horse battery"), ""),
        1,
        "passphrase is wrong",
    );
    let mut import = ws.command(&["backup", "import", "backup.bin"]);
    let out = support::run(import.env("REKEY_BACKUP_PASSPHRASE", "correct horse battery"), "");
    assert!(out.status.success(), "{:?}", text(&out));
    assert_eq!(ws.current(), current);
    ws.ok(&["audit", "verify"]);
    ws.ok(&["rotate", "api"]);
    ws.assert_settled();
}

/// Each notification received: its body and its signature header.
type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// Receives notifications on loopback; returns its URL.
fn event_sink() -> (String, Received, std::sync::Arc<tiny_http::Server>) {
    let server = std::sync::Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://{}/hook", server.server_addr().to_ip().unwrap());
    let events: Received = Default::default();
    let (s, e) = (server.clone(), events.clone());
    std::thread::spawn(move || {
        for mut request in s.incoming_requests() {
            let mut body = String::new();
            let _ = std::io::Read::read_to_string(request.as_reader(), &mut body);
            let signature = request
                .headers()
                .iter()
                .find(|h| h.field.equiv("x-rekey-signature"))
                .map(|h| h.value.to_string())
                .unwrap_or_default();
            e.lock().unwrap().push((body, signature));
            let _ = request.respond(tiny_http::Response::empty(204));
        }
    });
    (url, events, server)
}

#[test]
fn notifications_are_signed_events_for_every_outcome() {
    let ws = Workspace::new("");
    let (url, events, _server) = event_sink();
    let hook_key = "hook-signing-key-77";
    let toml = std::fs::read_to_string(ws.path("rekey.toml")).unwrap();
    let notify = format!(
        "[[notify]]\ntype = \"webhook\"\nurl = \"{url}\"\nsigning_secret = \"env:TEST_HOOK_KEY\"\n\n[[notify]]\ntype = \"exec\"\ncommand = [\"sh\", \"-c\", \"cat >> events.jsonl; echo >> events.jsonl\"]\n"
    );
    let toml = toml.replacen("[[credential]]", &format!("{notify}[[credential]]"), 1);
    std::fs::write(ws.path("rekey.toml"), &toml).unwrap();
    let rotate = |args: &[&str]| support::run(ws.command(args).env("TEST_HOOK_KEY", hook_key), "");
    assert!(rotate(&["rotate", "api"]).status.success());
    assert!(rotate(&["rotate", "api"]).status.success());
    std::fs::write(ws.path("rekey.toml"), toml.replace("verify-path = \"/me\"", "verify-path = \"/denied\"")).unwrap();
    assert!(!rotate(&["rotate", "api"]).status.success());

    let received = events.lock().unwrap().clone();
    let names: Vec<String> = received
        .iter()
        .map(|(body, _)| serde_json::from_str::<Value>(body).unwrap()["event"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "rotation.started",
            "rotation.succeeded",
            "rotation.started",
            "key.revoked",
            "rotation.succeeded",
            "rotation.started",
            "key.revoked",
            "rotation.failed",
            "rotation.rolled_back",
        ],
        "{names:?}"
    );
    for (body, signature) in &received {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(hook_key.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        assert_eq!(
            *signature,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes())),
            "a valid HMAC-SHA256 signature"
        );
        let event: Value = serde_json::from_str(body).unwrap();
        assert_eq!(event["credential"], "api");
        assert_eq!(event["owners"], serde_json::json!(["team@example.com"]));
    }
    let lines = std::fs::read_to_string(ws.path("events.jsonl")).unwrap();
    assert_eq!(
        lines.lines().filter(|l| !l.is_empty()).count(),
        received.len(),
        "the exec notifier got every event too"
    );
    // A signing secret that cannot be resolved refuses the run: no event
    // goes out unsigned.
    let unsigned = support::run(&mut ws.command(&["rotate", "api"]), "");
    failed_with(
        &unsigned,
        2,
        &format!("notify webhook {url}: signing_secret: environment variable $TEST_HOOK_KEY is not set"),
    );
    assert_eq!(events.lock().unwrap().len(), received.len(), "nothing was sent");
}

#[test]
fn reconcile_revokes_the_keys_rekey_made_and_asks_before_any_other() {
    let ws = Workspace::new("");
    ws.ok(&["rotate", "api"]);
    ws.ok(&["rotate", "api"]);
    // The first rotation's key is revoked; a key labelled with that rotation
    // is what a generate whose answer was lost leaves behind.
    let rotation = ws.json(&["history", "api", "--json"])[1]["rotation"]["id"].as_str().unwrap().to_string();
    let ours = ureq_post(&ws.server, &format!("rekey {rotation}"))["id"].as_str().unwrap().to_string();
    let theirs = ureq_post(&ws.server, "made by hand")["id"].as_str().unwrap().to_string();
    failed_with(
        &ws.run(&["verify", "api"]),
        1,
        "api: valid (last used: not reported); DRIFT: 2 unknown key(s) at the provider, 0 stored key(s) missing there (run `rekey reconcile api`)",
    );

    let dry = ws.run(&["reconcile", "api", "--dry-run"]);
    failed_with(
        &dry,
        1,
        &format!("unknown key {ours} at the provider (made by rotation {rotation}, never stored): would be revoked"),
    );
    failed_with(
        &dry,
        1,
        &format!(
            "unknown key {theirs} at the provider (no rotation id in its label: it may be someone else's): would be revoked with --yes"
        ),
    );
    assert_eq!(ws.live_keys().len(), 3, "a dry run changes nothing");

    let out = ws.run(&["reconcile", "api"]);
    failed_with(
        &out,
        1,
        &format!("unknown key {ours} at the provider (made by rotation {rotation}, never stored): revoked now"),
    );
    failed_with(
        &out,
        1,
        &format!(
            "{theirs} at the provider (no rotation id in its label: it may be someone else's): left live (revoke it with --yes)"
        ),
    );
    assert!(!ws.live_keys().contains(&ours) && ws.live_keys().contains(&theirs));

    let out = ws.ok(&["reconcile", "api", "--yes"]);
    assert!(
        out.contains(&format!(
            "{theirs} at the provider (no rotation id in its label: it may be someone else's): revoked now"
        )),
        "{out}"
    );
    ws.assert_settled();
    assert_eq!(ws.ok(&["reconcile", "api"]).trim(), "api: in step with the provider");
    let audit = ws.json(&["audit", "log", "--json"]);
    let revoked: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"] == "key.orphan_revoked")
        .map(|e| e["detail"]["key_id"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, [ours.as_str(), theirs.as_str()], "each revocation is audited");

    // The current key revoked out of band: reconcile says so, verify too.
    let (current, _) = ws.current();
    ws.server.keys.lock().unwrap().remove(&current);
    failed_with(
        &ws.run(&["reconcile", "api"]),
        1,
        &format!(
            "(current, key {current}) is not at the provider: revoked out of band? rotate it now: rekey rotate api --emergency"
        ),
    );
    failed_with(&ws.run(&["verify", "api"]), 3, "api: NOT VALID");
}

#[test]
fn a_dry_run_names_the_targets_that_cannot_be_written_and_the_checks_that_cannot_run() {
    let ws = Workspace::new("");
    ws.edit_config(|toml| {
        prod_check(
            toml.replace(r#"path = "dev.env""#, r#"path = "missing/dev.env""#),
            r#"{ type = "exec", command = ["no-such-smoke-test"] }"#,
        )
    });
    let out = ws.run(&["rotate", "api", "--dry-run"]);
    failed_with(
        &out,
        2,
        "PROBLEM: stage dev: env-file missing/dev.env (API_KEY): the folder ./missing does not exist; create it first",
    );
    failed_with(
        &out,
        2,
        "PROBLEM: stage prod: exec no-such-smoke-test: `no-such-smoke-test` is not an executable file here or in PATH",
    );
    failed_with(&out, 2, "2 problem(s) would stop the rotation; fix them first");
    assert!(ws.live_keys().is_empty(), "a dry run makes no key");
}

#[test]
fn an_error_is_said_once_with_each_cause_once() {
    let ws = Workspace::new("");
    ws.edit_config(|toml| toml.replace(r#"verify-path = "/me""#, r#"verify-path = "/nope""#));
    let out = ws.run(&["rotate", "api"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout.matches("failed at verify").count(), 1, "{stdout}");
    assert!(!stderr.contains("error:"), "the result line already said it: {stderr}");

    let out = ws.run(&["-C", "nowhere.toml", "status"]);
    failed_with(
        &out,
        2,
        "error: nowhere.toml: cannot read it: No such file or directory (os error 2) (create it, or name another file with -C/--config-file)\n",
    );
    assert_eq!(text(&out).1.matches("No such file").count(), 1, "{:?}", text(&out));
}
