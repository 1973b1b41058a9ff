//! The operator's trust decisions through the real `rekey` binary: plugins
//! run only as approved in `rekey.lock`, signatures are checked against the
//! trusted keys, `plugin audit` shows a reviewer everything, and the audit
//! log keeps every request a plugin made.

use crate::support;

use rekey_test_artifacts::{guests, plugins};
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{KeyServer, Project, failed, ok};

fn sha256(path: &std::path::Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// `api`, rotated by the installed `webhook` plugin (named, not a path)
/// against `server`, deployed to `app.env`.
fn webhook_project(server: &KeyServer, trust: &str) -> Project {
    let toml = format!(
        r#"{trust}{}
[[credential.stages]]
name = "dev"
targets = [{{ type = "env-file", path = "app.env", variable = "API_KEY" }}]
"#,
        support::webhook_table("api", "webhook", server, "ADMIN_TOKEN", r#"grace_period = "0s""#),
    );
    Project::new(&toml, &[("ADMIN_TOKEN", KeyServer::ADMIN_TOKEN)])
}

#[test]
fn a_plugin_runs_only_as_approved() {
    let server = KeyServer::start();
    let project = webhook_project(&server, "");
    let lock = project.dir.path().join("rekey.lock");
    let installed = project.dir.path().join("plugins/webhook.wasm");

    let refused = project.run(&["plugin", "install", plugins::WEBHOOK, "--grant", "http api.example"], "");
    failed(refused, 2, "not approved: the plugin also declares http {base-url}, which --grant does not list");
    assert!(!lock.exists() && !installed.exists(), "a refused install writes nothing");

    let stdout = ok(project.run(&["plugin", "install", plugins::WEBHOOK, "--grant", "http {base-url}"], ""));
    assert!(stdout.contains("permissions  http {base-url}"), "{stdout}");
    let approved = sha256(std::path::Path::new(plugins::WEBHOOK));
    let lock_text = std::fs::read_to_string(&lock).unwrap();
    assert!(
        lock_text.contains(&format!("[plugin.webhook]\nversion = \"0.1.0\"\nsha256 = \"{approved}\"")),
        "{lock_text}"
    );
    ok(project.run(&["rotate", "api"], ""));
    let key = project.env_value("app.env", "API_KEY");
    assert!(ok(project.run(&["plugin", "list"], "")).contains("approved "));

    // The installed file changes: refused before it is compiled, with both
    // digests and the way back.
    let mut bytes = std::fs::read(&installed).unwrap();
    bytes.extend_from_slice(b"\0tampered");
    std::fs::write(&installed, &bytes).unwrap();
    let changed = hex::encode(Sha256::digest(&bytes));
    let stderr = failed(project.run(&["rotate", "api"], ""), 2, "plugin `webhook` changed since it was approved");
    assert!(stderr.contains(&format!("sha256 {approved} → {changed}")), "{stderr}");
    assert!(stderr.contains("re-approve it with `rekey plugin install"), "{stderr}");
    assert_eq!(project.env_value("app.env", "API_KEY"), key, "nothing was deployed");
    assert!(ok(project.run(&["plugin", "list"], "")).contains("CHANGED since approval"));

    // Re-approving the original restores service; nothing changed since
    // the approval, and the output says so.
    let stdout = ok(project.run(&["plugin", "install", plugins::WEBHOOK, "--yes"], ""));
    assert!(stdout.contains("admin secrets admin-token"), "{stdout}");
    assert!(stdout.contains("  (none: the same file, version and permissions)"), "{stdout}");
    ok(project.run(&["rotate", "api"], ""));

    // A plugin that declares more than was approved is refused, naming what is new.
    std::fs::write(&lock, std::fs::read_to_string(&lock).unwrap().replace("\"http {base-url}\"", "")).unwrap();
    failed(
        project.run(&["rotate", "api"], ""),
        2,
        "plugin `webhook` now declares permissions that were not approved: http {base-url}",
    );
}

#[test]
fn a_component_importing_what_the_host_does_not_provide_is_refused_at_install() {
    let server = KeyServer::start();
    let project = webhook_project(&server, "");
    let stderr = failed(project.run(&["plugin", "install", &unprovided(&project), "--yes"], ""), 2, "wasi:keyvalue/");
    assert!(stderr.contains("which rekey does not provide to plugins"), "{stderr}");
    assert!(!project.dir.path().join("rekey.lock").exists());
}

#[test]
fn signatures_are_checked_against_the_trusted_keys() {
    let scratch = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let rekey = |args: &[&str], password: Option<&str>| {
        let mut command = support::rekey(&cache);
        command.current_dir(scratch.path()).args(args);
        if let Some(password) = password {
            command.env("REKEY_SIGNING_PASSWORD", password);
        }
        support::run(&mut command, "")
    };
    ok(rekey(&["plugin", "keygen", "author", "--unencrypted"], None));
    ok(rekey(&["plugin", "keygen", "stranger"], Some("a strong password")));
    let plugin = scratch.path().join("random.wasm");
    std::fs::copy(plugins::RANDOM, &plugin).unwrap();
    let plugin = plugin.to_str().unwrap();
    ok(rekey(&["plugin", "sign", plugin, "--key", "author.key"], None));
    let public = std::fs::read_to_string(scratch.path().join("author.pub")).unwrap();
    let key_line = public.lines().nth(1).unwrap().to_string();
    assert!(ok(rekey(&["plugin", "verify", plugin, "--key", "author.pub"], None)).contains("good signature by key"));

    // minisign's encrypted key needs its password.
    let copy = scratch.path().join("copy.wasm");
    std::fs::copy(plugins::RANDOM, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    failed(rekey(&["plugin", "sign", copy, "--key", "stranger.key"], None), 1, "the secret key is encrypted");
    ok(rekey(&["plugin", "sign", copy, "--key", "stranger.key"], Some("a strong password")));
    failed(rekey(&["plugin", "verify", copy, "--key", &key_line], None), 1, "which is not in `trust.keys`");

    let mut bytes = std::fs::read(plugin).unwrap();
    bytes.push(0);
    std::fs::write(scratch.path().join("tampered.wasm"), &bytes).unwrap();
    std::fs::copy(format!("{plugin}.minisig"), scratch.path().join("tampered.wasm.minisig")).unwrap();
    failed(
        rekey(&["plugin", "verify", "tampered.wasm", "--key", &key_line], None),
        1,
        "the file was changed after signing",
    );

    // Without trusted keys a signature cannot be checked, and says so.
    let server = KeyServer::start();
    let unconfigured = webhook_project(&server, "");
    let stdout = ok(unconfigured.run(&["plugin", "install", plugin, "--yes"], ""));
    assert!(stdout.contains("signed, but not checked: rekey.toml lists no `trust.keys`"), "{stdout}");

    // An operator who requires signatures by the author's key.
    let server = KeyServer::start();
    let project = webhook_project(&server, &format!("[trust]\nkeys = [\"{key_line}\"]\nrequire_signature = true\n"));
    failed(project.run(&["plugin", "install", plugins::WEBHOOK, "--yes"], ""), 2, "plugin `webhook`: no signature");
    failed(project.run(&["plugin", "install", copy, "--yes"], ""), 2, "which is not in `trust.keys`");
    let stdout = ok(project.run(&["plugin", "install", plugin, "--yes"], ""));
    assert!(stdout.contains("signed       yes, by trusted key"), "{stdout}");
    let lock = std::fs::read_to_string(project.dir.path().join("rekey.lock")).unwrap();
    assert!(lock.contains("signer = \""), "{lock}");
    assert!(project.dir.path().join("plugins/random.wasm.minisig").exists(), "the signature is installed with it");
    assert!(ok(project.run(&["plugin", "list"], "")).contains("signed: yes, by trusted key"));
}

#[test]
fn the_audit_view_shows_a_reviewer_everything() {
    let server = KeyServer::start();
    let project = webhook_project(&server, "");
    let report: Value =
        serde_json::from_str(&ok(project.run(&["plugin", "audit", plugins::WEBHOOK, "--json"], ""))).unwrap();
    assert_eq!(report["name"], "webhook");
    assert_eq!(report["kind"], "provider");
    assert_eq!(report["sha256"], sha256(std::path::Path::new(plugins::WEBHOOK)));
    assert_eq!(report["refused"], Value::Null);
    assert!(report["producers"].as_array().unwrap().iter().any(|p| p == "language: Rust"), "{}", report["producers"]);
    let treatment = |name: &str| {
        let imports = report["imports"].as_array().unwrap();
        imports.iter().find(|i| i["name"].as_str().unwrap().starts_with(name)).map(|i| i["treatment"].clone())
    };
    assert_eq!(treatment("wasi:http/outgoing-handler@0.2."), Some("filtered".into()));
    assert_eq!(treatment("wasi:random/insecure-seed@0.2."), Some("granted".into()));
    assert_eq!(treatment("wasi:cli/environment@0.2."), Some("filtered".into()));
    assert_eq!(report["declared"], serde_json::json!(["http {base-url}"]));
    assert_eq!(report["approval"]["status"], "not approved");
    assert_eq!(report["secrets"][0]["name"], "admin-token");
    assert_eq!(report["secrets"][0]["seen_by_plugin"], false);
    assert_eq!(report["limits"]["max_requests"], 32);
    let wit = report["wit"].as_str().unwrap();
    assert!(
        wit.contains("export rekey:provider/provider@0.4.0;") && wit.contains("interface outgoing-handler"),
        "{wit}"
    );

    let refused = ok(project.run(&["plugin", "audit", &unprovided(&project)], ""));
    assert!(refused.contains("verdict      REFUSED:"), "{refused}");
    assert!(refused.lines().any(|l| l.trim_start().starts_with("REFUSED   wasi:keyvalue/")), "{refused}");
    // A deploy target: what it is, and what it does with the key it is given.
    let target = ok(project.run(&["plugin", "audit", plugins::AWS_SECRETS_MANAGER], ""));
    assert!(target.contains("kind         deploy target that stages keys"), "{target}");
    assert!(target.contains("the rotated key          in clear: the plugin writes it where"), "{target}");
    assert!(target.contains("rekey:provider/destination@0.4.0"), "{target}");
    let tls = ok(project.run(&["plugin", "audit", plugins::REDIS_ACL], ""));
    assert!(tls.lines().any(|l| l.trim_start().starts_with("filtered  wasi:tls/types@0.2.0-draft")), "{tls}");
    let inert = ok(project.run(&["plugin", "audit", guests::INERT_IMPORTS], ""));
    for import in
        ["wasi:filesystem/types", "wasi:filesystem/preopens", "wasi:sockets/udp", "wasi:sockets/ip-name-lookup"]
    {
        assert!(inert.lines().any(|l| l.trim_start().starts_with(&format!("filtered  {import}"))), "{import}: {inert}");
    }
}

#[test]
fn the_audit_log_holds_every_request_a_plugin_made() {
    let server = KeyServer::start();
    let project = webhook_project(&server, "");
    ok(project.run(&["plugin", "install", plugins::WEBHOOK, "--yes"], ""));
    ok(project.run(&["rotate", "api"], ""));
    ok(project.run(&["rotate", "api"], ""));
    let calls: Value =
        serde_json::from_str(&ok(project.run(&["audit", "log", "--plugin", "webhook", "--json"], ""))).unwrap();
    let calls = calls.as_array().unwrap();
    let names: Vec<&str> = calls.iter().map(|c| c["detail"]["call"].as_str().unwrap()).collect();
    assert_eq!(names, ["generate", "verify", "generate", "verify", "revoke"]);
    let create = &calls[0]["detail"]["requests"][0];
    assert_eq!(
        (create["method"].as_str(), create["path"].as_str(), create["status"].as_u64()),
        (Some("POST"), Some("/api/keys"), Some(201))
    );
    assert_eq!(calls[4]["detail"]["requests"][0]["method"], "DELETE");
    let text_log = ok(project.run(&["audit", "log", "--plugin", "webhook"], ""));
    assert!(
        text_log.contains(&format!("POST http://{}:{}/api/keys -> 201", server.addr.ip(), server.addr.port())),
        "{text_log}"
    );
    ok(project.run(&["audit", "verify"], ""));
    let store = std::fs::read(project.dir.path().join("rekey.db")).unwrap();
    let token = KeyServer::ADMIN_TOKEN.as_bytes();
    assert!(!store.windows(token.len()).any(|w| w == token), "the admin token is nowhere in the store");
}

/// A component importing what no plugin is given (`wasi:keyvalue`), written
/// into the project's folder; its path.
fn unprovided(project: &Project) -> String {
    let path = project.dir.path().join("keyvalue.wasm");
    std::fs::write(&path, support::components::component(&[], &["wasi:keyvalue/store@0.2.0"], &[])).unwrap();
    path.display().to_string()
}
