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

/// `cargo ARGS` in `project`, on this repository's toolchain (which has the
/// wasm32-wasip2 target), with a target folder kept between runs.
fn cargo(project: &std::path::Path, args: &[&str]) -> std::process::Output {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let toolchain = std::fs::read_to_string(root.join("rust-toolchain.toml")).unwrap();
    let channel = toolchain.lines().find_map(|l| l.strip_prefix("channel = ")).unwrap().trim_matches('"').to_string();
    let mut command = std::process::Command::new("cargo");
    command
        .args(args)
        .current_dir(project)
        .env("RUSTUP_TOOLCHAIN", channel)
        .env("CARGO_TARGET_DIR", root.join("target/scaffold"))
        .env_remove("RUSTFLAGS");
    run(&mut command, "")
}

/// Makes a project with `rekey plugin new`, runs its unit tests natively,
/// builds it, and runs the conformance kit on it with `kit_args`.
fn new_plugin_passes_the_kit(template: &str, kit_args: &[String], env: &[(&str, &str)]) {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join(format!("my-{template}-keys"));
    let sdk = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    let name = format!("my-{template}-keys");
    let made = run(
        rekey(&cache)
            .args(["plugin", "new", &name, "--template", template, "--dir"])
            .arg(&project)
            .arg("--sdk-path")
            .arg(&sdk),
        "",
    );
    assert!(made.status.success(), "{:?}", text(&made));
    for file in ["Cargo.toml", "src/lib.rs", "README.md", ".github/workflows/ci.yml"] {
        assert!(project.join(file).exists(), "{file}");
    }
    let tested = cargo(&project, &["test", "--quiet"]);
    assert!(tested.status.success(), "the unit tests pass natively: {:?}", text(&tested));
    let built = cargo(&project, &["build", "--quiet", "--release", "--target", "wasm32-wasip2"]);
    assert!(built.status.success(), "{:?}", text(&built));
    let wasm = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../target/scaffold/wasm32-wasip2/release/my_{template}_keys.wasm"));
    let checked = run(rekey(&cache).args(["plugin", "test"]).arg(&wasm).args(kit_args).envs(env.iter().copied()), "");
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(" 0 failed,"), "{stdout}");
}

#[test]
fn a_new_http_plugin_builds_and_passes_the_kit_against_a_real_key_api_as_made() {
    let server = KeyServer::start();
    let args = ["-c".into(), format!("base-url={}", server.base_url()), "--grant".into(), server.addr.to_string()];
    new_plugin_passes_the_kit("http", &args, &[("REKEY_ADMIN_ADMIN_TOKEN", KeyServer::ADMIN_TOKEN)]);
    assert!(server.keys.lock().unwrap().is_empty(), "the kit revoked every key it made");
}

#[test]
fn a_new_static_plugin_builds_and_passes_the_kit_as_made() {
    new_plugin_passes_the_kit("static", &[], &[]);
}

#[test]
fn plugin_new_refuses_a_bad_name_and_a_folder_in_use() {
    let cache = tempfile::tempdir().unwrap();
    let out = run(rekey(&cache).args(["plugin", "new", "My_Plugin"]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("is not a plugin name"), "{:?}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let out = run(rekey(&cache).args(["plugin", "new", "ok-name", "--dir"]).arg(dir.path()), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("exists and is not empty"), "{:?}", text(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(), "mine", "nothing is overwritten");
}

#[test]
fn a_python_provider_built_with_componentize_py_passes_the_kit_and_rotates_a_credential() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let componentize = root.join("target/venv/bin/componentize-py");
    assert!(componentize.exists(), "scripts/test installs componentize-py into target/venv");
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wit = dir.path().join("wit");
    assert!(run(rekey(&cache).args(["plugin", "wit", "--out"]).arg(&wit), "").status.success());
    let wasm = dir.path().join("py_static.wasm");
    let built = run(
        std::process::Command::new(&componentize)
            .arg("-d")
            .arg(&wit)
            .args(["-w", "plugin", "componentize", "app", "-p"])
            .arg(root.join("plugins/examples/python-static"))
            .arg("-o")
            .arg(&wasm),
        "",
    );
    assert!(built.status.success(), "{:?}", text(&built));

    let checked = run(rekey(&cache).args(["plugin", "test"]).arg(&wasm), "");
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  another rotation gets a different key"), "{stdout}");
    assert!(stderr.contains("made a key for"), "the plugin's log lines reach the operator: {stderr}");

    let toml = format!(
        "[[credential]]\nname = \"py\"\nplugin = \"{}\"\npolicy = {{ grace_period = \"0s\" }}\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"py.env\", variable = \"KEY\" }}]\n",
        wasm.display()
    );
    let project = support::Project::new(&toml, &[]);
    for _ in 0..2 {
        let rotated = project.run(&["rotate", "py"], "");
        assert!(rotated.status.success(), "{:?}", text(&rotated));
    }
    assert_eq!(project.env_value("py.env", "KEY").len(), 48, "24 random bytes in hex");
}
