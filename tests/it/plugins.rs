//! The bundled plugins through the real `rekey` binary: `random` on its own,
//! `webhook` against a key-issuing HTTP API on loopback.

use crate::support;

use rekey_test_artifacts::plugins;
use serde_json::Value;
use sha2::{Digest, Sha256};
use support::{KeyServer, rekey, run, text};

fn json(output: &std::process::Output) -> Value {
    let (stdout, stderr) = text(output);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}\nstderr: {stderr}"))
}

#[test]
fn inspect_describes_identity_world_imports_and_schema() {
    let cache = tempfile::tempdir().unwrap();
    let output = run(rekey(&cache).args(["plugin", "inspect", plugins::WEBHOOK, "--json"]), "");
    assert!(output.status.success(), "{}", text(&output).1);
    let report = json(&output);
    let digest = hex::encode(Sha256::digest(std::fs::read(plugins::WEBHOOK).unwrap()));
    assert_eq!(report["sha256"], digest);
    assert_eq!(report["world"], "rekey:provider/plugin@0.4.0");
    assert_eq!(report["info"]["name"], "webhook");
    assert_eq!(report["info"]["permissions"]["http_hosts"], serde_json::json!(["{base-url}"]));
    let imports: Vec<&str> =
        report["imports"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert!(imports.iter().any(|i| i.starts_with("wasi:http/outgoing-handler@0.2.")), "{imports:?}");
    assert!(!imports.iter().any(|i| i.starts_with("wasi:filesystem")), "{imports:?}");
    let token = report["info"]["config"].as_array().unwrap().iter().find(|f| f["name"] == "admin-token").unwrap();
    assert_eq!(token["secret"], true);

    let text_output = run(rekey(&cache).args(["plugin", "inspect", plugins::RANDOM]), "");
    let (stdout, _) = text(&text_output);
    for expected in
        ["name         random", "world        rekey:provider/plugin@0.4.0", "length", "[integer, optional, default 32]"]
    {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
}

#[test]
fn random_generates_the_configured_shape_and_verifies_it() {
    let cache = tempfile::tempdir().unwrap();
    let config = ["-c", "length=48", "-c", "encoding=hex", "-c", "prefix=whsec_"];
    let generated = run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "generate", "--json"]).args(config), "");
    assert!(generated.status.success(), "{}", text(&generated).1);
    let report = json(&generated);
    let secret = report["credential"]["secret"].as_str().unwrap();
    let body = secret.strip_prefix("whsec_").expect("the prefix");
    assert_eq!(body.len(), 48);
    assert!(body.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{secret}");
    assert_eq!(report["transcript"], serde_json::json!([]));

    // The JSON of `generate` is what `verify --stdin` reads.
    let stdout = text(&generated).0;
    let verified =
        run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "verify", "--stdin"]).args(config), &stdout);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified).1);
    assert!(text(&verified).0.contains("valid        yes"));

    let other_shape =
        run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "verify", "--stdin", "-c", "prefix=sk_"]), &stdout);
    assert_eq!(other_shape.status.code(), Some(3), "an invalid key exits with 3");
    assert!(text(&other_shape).0.contains("does not start with the prefix `sk_`"));
}

#[test]
fn random_hides_the_secret_unless_asked() {
    let cache = tempfile::tempdir().unwrap();
    let output = run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "generate"]), "");
    let (stdout, _) = text(&output);
    assert!(stdout.contains("32 characters (hidden; --reveal or --json to print it)"), "{stdout}");
    let revealed = run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "generate", "--reveal"]), "");
    let line = text(&revealed).0.lines().find(|l| l.starts_with("secret")).unwrap().to_string();
    assert_eq!(line.split_whitespace().nth(1).unwrap().len(), 32, "{line}");
}

#[test]
fn bad_config_is_a_usage_error_that_names_the_field() {
    let cache = tempfile::tempdir().unwrap();
    let typo = run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "generate", "-c", "lenght=40"]), "");
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        text(&typo).1.contains("unknown config field `lenght`; the plugin accepts: length, encoding, prefix"),
        "{}",
        text(&typo).1
    );

    let too_short = run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "generate", "-c", "length=8"]), "");
    assert_eq!(too_short.status.code(), Some(2));
    assert!(text(&too_short).1.contains("`length` must be between 16 and 4096, got 8"), "{}", text(&too_short).1);

    let not_a_number =
        run(rekey(&cache).args(["plugin", "call", plugins::RANDOM, "generate", "-c", "length=many"]), "");
    assert_eq!(not_a_number.status.code(), Some(2));
    assert!(text(&not_a_number).1.contains("config field `length` must be an integer, got `many`"));
}

#[test]
fn secrets_are_refused_on_the_command_line() {
    let cache = tempfile::tempdir().unwrap();
    let output = run(
        rekey(&cache).args([
            "plugin",
            "call",
            plugins::WEBHOOK,
            "generate",
            "-c",
            "admin-token=oops",
            "-c",
            "base-url=http://127.0.0.1:9",
        ]),
        "",
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output).1.contains("`admin-token` is a secret: pass it as an admin secret"), "{}", text(&output).1);
}

/// `webhook` config for the test API.
fn webhook_args(server: &KeyServer) -> Vec<String> {
    let base = server.base_url();
    [
        "-c",
        &format!("base-url={base}"),
        "-c",
        "create-path=/keys",
        "-c",
        "verify-path=/me",
        "--grant",
        &server.addr.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn webhook_creates_verifies_and_revokes_a_key_at_the_api() {
    let server = KeyServer::start();
    let cache = tempfile::tempdir().unwrap();
    let call = |name: &str, stdin: &str| {
        let mut command = rekey(&cache);
        command.args(["plugin", "call", plugins::WEBHOOK, name, "--json", "--stdin"]).args(webhook_args(&server));
        run(&mut command, stdin)
    };
    let admin = serde_json::json!({ "admin_secrets": { "admin-token": KeyServer::ADMIN_TOKEN } }).to_string();

    let generated = call("generate", &admin);
    assert!(generated.status.success(), "{}", text(&generated).1);
    let report = json(&generated);
    let credential = report["credential"].clone();
    let key_id = credential["key_id"].as_str().unwrap().to_string();
    assert_eq!(server.keys.lock().unwrap().get(&key_id).map(String::as_str), credential["secret"].as_str());
    let exchange = &report["transcript"][0];
    assert_eq!(
        (exchange["method"].as_str(), exchange["path"].as_str(), exchange["status"].as_u64()),
        (Some("POST"), Some("/api/keys"), Some(201))
    );
    assert!(exchange["response_bytes"].as_u64().unwrap() > 0);

    let with_key =
        serde_json::json!({ "admin_secrets": { "admin-token": KeyServer::ADMIN_TOKEN }, "credential": credential })
            .to_string();
    let verified = call("verify", &with_key);
    assert_eq!(json(&verified)["verification"]["valid"], true);

    let revoked = call("revoke", &with_key);
    assert!(revoked.status.success(), "{}", text(&revoked).1);
    assert!(!server.keys.lock().unwrap().contains_key(&key_id), "the key is gone at the API");

    let after = call("verify", &with_key);
    assert_eq!(after.status.code(), Some(3));
    assert_eq!(json(&after)["verification"]["valid"], false);

    let again = call("revoke", &with_key);
    assert!(again.status.success(), "revoking a revoked key succeeds");

    // The admin token never reaches the output; the transcript has no headers.
    for output in [&generated, &verified, &revoked, &after] {
        let (stdout, stderr) = text(output);
        assert!(!stdout.contains(KeyServer::ADMIN_TOKEN) && !stderr.contains(KeyServer::ADMIN_TOKEN));
    }
}

#[test]
fn webhook_reports_a_refused_admin_token_as_unauthorized() {
    let server = KeyServer::start();
    let cache = tempfile::tempdir().unwrap();
    let mut command = rekey(&cache);
    command.args(["plugin", "call", plugins::WEBHOOK, "generate", "--json"]).args(webhook_args(&server));
    command.env("REKEY_ADMIN_ADMIN_TOKEN", "wrong-token-0000");
    let output = run(&mut command, "");
    assert_eq!(output.status.code(), Some(1));
    let report = json(&output);
    assert_eq!(report["error"]["kind"], "provider:unauthorized");
    assert!(report["error"]["message"].as_str().unwrap().contains("answered 401"), "{report}");
    assert!(server.keys.lock().unwrap().is_empty());
    assert!(!text(&output).1.contains("wrong-token-0000"));
}

#[test]
fn webhook_needs_a_grant_for_its_api() {
    let server = KeyServer::start();
    let cache = tempfile::tempdir().unwrap();
    let base = format!("base-url={}", server.base_url());
    let mut command = rekey(&cache);
    command.args([
        "plugin",
        "call",
        plugins::WEBHOOK,
        "generate",
        "-c",
        &base,
        "-c",
        "create-path=/keys",
        "-c",
        "verify-path=/me",
    ]);
    let output = run(command.env("REKEY_ADMIN_ADMIN_TOKEN", KeyServer::ADMIN_TOKEN), "");
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains(&format!("grant it with `--grant {}`", server.addr)), "{}", text(&output).1);
    assert!(server.requests.lock().unwrap().is_empty());
}

#[test]
fn version_and_completions() {
    let cache = tempfile::tempdir().unwrap();
    let version = run(rekey(&cache).arg("--version"), "");
    assert_eq!(text(&version).0.trim(), format!("rekey {}", env!("CARGO_PKG_VERSION")));
    let completions = run(rekey(&cache).args(["completions", "bash"]), "");
    assert!(text(&completions).0.contains("plugin"), "a bash completion script");
}
