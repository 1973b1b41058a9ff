//! What a plugin author outside this repository relies on: the contract
//! from the binary (`rekey plugin wit`), the conformance kit (`rekey plugin
//! test`) against the bundled plugins and a real key API, and errors that
//! say what to fix when a build went wrong.

mod support;

use rekey_test_artifacts::plugins;
use support::{KeyServer, rekey, run, text};

#[test]
fn plugin_wit_writes_the_contract_this_host_speaks() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("wit");
    let output = run(rekey(&cache).args(["plugin", "wit", "--out"]).arg(&dir), "");
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(text(&output).0.contains("wrote 11 files of rekey:provider@0.3.0"), "{:?}", text(&output));
    let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for name in ["world.wit", "types.wit", "provider.wit", "log.wit", "deps/http.wit", "deps/sockets.wit"] {
        assert_eq!(std::fs::read(dir.join(name)).unwrap(), std::fs::read(repository.join(name)).unwrap(), "{name}");
    }
}

#[test]
fn the_conformance_kit_passes_random_and_skips_what_does_not_apply() {
    let cache = tempfile::tempdir().unwrap();
    let output = run(rekey(&cache).args(["plugin", "test", plugins::RANDOM]), "");
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    for rule in [
        "PASS  loads",
        "PASS  info is deterministic and does no I/O",
        "PASS  verify accepts the new key",
        "SKIP  the same rotation id makes no second key",
        "PASS  another rotation gets a different key",
        "SKIP  a revoked key no longer verifies",
        "PASS  revoking twice succeeds",
        "SKIP  a wrong admin secret is unauthorized",
        "PASS  requests go only to declared hosts",
    ] {
        assert!(stdout.contains(rule), "missing {rule:?} in:\n{stdout}");
    }
    assert!(stdout.contains(" 0 failed,"), "{stdout}");
}

/// `rekey plugin test webhook.wasm` against `server`, with `verify-path`.
fn webhook_test(server: &KeyServer, verify_path: &str, json: bool) -> std::process::Output {
    let cache = tempfile::tempdir().unwrap();
    let base = server.base_url();
    let mut command = rekey(&cache);
    command
        .args(["plugin", "test", plugins::WEBHOOK, "--grant", &server.addr.to_string()])
        .args([
            "-c",
            &format!("base-url={base}"),
            "-c",
            "create-path=/keys",
            "-c",
            &format!("verify-path={verify_path}"),
        ])
        .env("REKEY_ADMIN_ADMIN_TOKEN", KeyServer::ADMIN_TOKEN);
    if json {
        command.arg("--json");
    }
    run(&mut command, "")
}

#[test]
fn the_conformance_kit_passes_webhook_against_a_real_key_api_and_leaves_no_key_behind() {
    let server = KeyServer::start();
    let output = webhook_test(&server, "/me", true);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    let rules: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let result =
        |rule: &str| rules.iter().find(|r| r["rule"] == rule).map(|r| r["result"].as_str().unwrap().to_string());
    for rule in [
        "a revoked key no longer verifies",
        "a wrong admin secret is unauthorized",
        "list-keys shows the new key with its rotation id",
        "another rotation gets a different key",
    ] {
        assert_eq!(result(rule).as_deref(), Some("pass"), "{rule}: {stdout}");
    }
    assert!(server.keys.lock().unwrap().is_empty(), "every key the kit made is revoked");
    assert!(!stdout.contains(KeyServer::ADMIN_TOKEN), "no secret in the report");
}

#[test]
fn the_conformance_kit_fails_a_provider_whose_revoked_keys_still_verify() {
    // `/api/anyone` answers 200 to anyone: verify cannot tell a revoked key.
    let server = KeyServer::start();
    let output = webhook_test(&server, "/anyone", false);
    let (stdout, _) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  a revoked key no longer verifies"), "{stdout}");
    assert!(stdout.contains("verify still says valid: true after revoke"), "{stdout}");
}

#[test]
fn a_cargo_build_without_cdylib_is_explained() {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // What cargo leaves without `crate-type = ["cdylib"]`: an .rlib, and no .wasm.
    let rlib = dir.path().join("libmy_provider.rlib");
    std::fs::write(&rlib, b"!<arch>\n/               0           0     0     0       8         `\n").unwrap();
    let output = run(rekey(&cache).args(["plugin", "inspect"]).arg(&rlib), "");
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a Rust library archive (an .rlib)") && stderr.contains(r#"crate-type = ["cdylib"]"#),
        "{stderr}"
    );

    let missing = dir.path().join("target/wasm32-wasip2/release/my_provider.wasm");
    let output = run(rekey(&cache).args(["plugin", "call"]).arg(&missing).arg("generate"), "");
    let (_, stderr) = text(&output);
    assert!(stderr.contains(r#"a library makes a .wasm only with `[lib] crate-type = ["cdylib"]`"#), "{stderr}");
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "the cause is said once: {stderr}");
}

#[test]
fn inspect_shows_a_placeholder_secret_as_one() {
    let cache = tempfile::tempdir().unwrap();
    let output = run(rekey(&cache).args(["plugin", "inspect", plugins::WEBHOOK]), "");
    let (stdout, _) = text(&output);
    let line = stdout.lines().find(|l| l.contains("admin-token")).unwrap_or_default();
    assert!(line.contains("placeholder: the plugin sees {{secret:NAME}}"), "{stdout}");
}
