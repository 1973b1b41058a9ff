//! What a plugin author outside this repository relies on: the contract
//! from the binary (`rekey plugin wit`), the conformance kit (`rekey plugin
//! test`) against the bundled plugins and a real key API, and errors that
//! say what to fix when a build went wrong.

use crate::{http_target, support};

use rekey_test_artifacts::plugins;
use std::path::{Path, PathBuf};
use support::{KeyServer, rekey, run, text};

#[test]
fn plugin_wit_writes_the_contract_this_host_speaks() {
    let cache = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("wit");
    let output = run(rekey(&cache).args(["plugin", "wit", "--out"]).arg(&dir), "");
    assert!(output.status.success(), "{:?}", text(&output));
    assert!(text(&output).0.contains("wrote 13 files of rekey:provider@0.4.0"), "{:?}", text(&output));
    let repository = root().join("wit");
    for name in [
        "world.wit",
        "types.wit",
        "provider.wit",
        "destination.wit",
        "log.wit",
        "deps/http.wit",
        "deps/sockets.wit",
        "deps/tls.wit",
    ] {
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
    let mut command = webhook_kit(&cache, &server.base_url(), server.addr, verify_path);
    command.env("REKEY_ADMIN_ADMIN_TOKEN", KeyServer::ADMIN_TOKEN);
    if json {
        command.arg("--json");
    }
    run(&mut command, "")
}

/// The kit's command for webhook.wasm against `base` (at `addr`), with no admin secret.
fn webhook_kit(
    cache: &tempfile::TempDir,
    base: &str,
    addr: std::net::SocketAddr,
    verify_path: &str,
) -> std::process::Command {
    let mut command = rekey(cache);
    command.args(["plugin", "test", plugins::WEBHOOK, "--grant", &addr.to_string()]).args([
        "-c",
        &format!("base-url={base}"),
        "-c",
        "create-path=/keys",
        "-c",
        &format!("verify-path={verify_path}"),
    ]);
    command
}

#[test]
fn a_recorded_run_replays_with_no_server_and_no_secret_and_a_changed_plugin_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("webhook.tape.json");
    let server = KeyServer::start();
    let (base, addr) = (server.base_url(), server.addr);
    let mut live = webhook_kit(&dir, &base, addr, "/me");
    live.arg("--record").arg(&tape).env("REKEY_ADMIN_ADMIN_TOKEN", KeyServer::ADMIN_TOKEN);
    let recorded = run(&mut live, "");
    assert!(recorded.status.success(), "{:?}", text(&recorded));
    let made: Vec<String> = server.requests.lock().unwrap().clone();
    drop(server);

    let written = std::fs::read_to_string(&tape).unwrap();
    assert!(!written.contains(KeyServer::ADMIN_TOKEN), "the admin secret is masked");
    assert!(!written.contains("\"sk_"), "so is every key the run made");
    assert!(written.contains("{{secret:admin-token}}"), "a placeholder stays as the plugin sent it");
    let exchanges = serde_json::from_str::<serde_json::Value>(&written).unwrap()["exchanges"].as_array().unwrap().len();
    assert_eq!(exchanges, made.len(), "every request the server saw is on the tape");

    // No server, no admin token: the tape answers.
    let replayed = run(webhook_kit(&dir, &base, addr, "/me").arg("--replay").arg(&tape), "");
    let (stdout, stderr) = text(&replayed);
    assert!(replayed.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  every request is on the tape"), "{stdout}");
    assert!(stdout.contains("PASS  a revoked key no longer verifies"), "{stdout}");

    // A plugin (here: its config) that asks something else is told so.
    let changed = run(webhook_kit(&dir, &base, addr, "/whoami").arg("--replay").arg(&tape), "");
    let (stdout, _) = text(&changed);
    assert_eq!(changed.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL  every request is on the tape") && stdout.contains("/api/whoami"), "{stdout}");
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
        "list-keys shows the new key",
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
fn cargo(project: &Path, args: &[&str]) -> std::process::Output {
    let root = root();
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

/// A command run in `project` with this repository's language toolchains
/// first on the PATH (componentize-py in `target/venv`).
fn in_project(project: &Path, program: &str, args: &[&str]) -> std::process::Output {
    let path = format!("{}:{}", root().join("target/venv/bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut command = std::process::Command::new(program);
    command.args(args).current_dir(project).env("PATH", path).env("PYTHONDONTWRITEBYTECODE", "1");
    run(&mut command, "")
}

/// Makes a project with `rekey plugin new --kind KIND --lang LANG --template
/// TEMPLATE`, runs its unit tests natively and builds it with the commands
/// its README gives, and runs the conformance kit on it with `kit_args`.
fn new_plugin_passes_the_kit(kind: &str, lang: &str, template: &str, kit_args: &[String], env: &[(&str, &str)]) {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("my-{lang}-{template}-{kind}");
    let project = dir.path().join(&name);
    // Outside the checkout and with no path to it: the SDK comes from the binary.
    let mut new = rekey(&cache);
    new.args(["plugin", "new", &name, "--kind", kind, "--lang", lang, "--template", template, "--dir"]).arg(&project);
    let made = run(&mut new, "");
    assert!(made.status.success(), "{:?}", text(&made));
    for file in ["README.md", ".github/workflows/ci.yml", ".gitignore"] {
        assert!(project.join(file).exists(), "{file}");
    }
    if lang == "rust" {
        let pinned = std::fs::read_to_string(project.join("rust-toolchain.toml")).unwrap();
        assert_eq!(pinned, std::fs::read_to_string(root().join("rust-toolchain.toml")).unwrap(), "rekey's toolchain");
    }
    let snake = name.replace('-', "_");
    let (test, build, wasm) = match lang {
        "rust" => (
            cargo(&project, &["test", "--quiet"]),
            cargo(&project, &["build", "--quiet", "--release", "--target", "wasm32-wasip2"]),
            root().join(format!("target/scaffold/wasm32-wasip2/release/{snake}.wasm")),
        ),
        "js" => {
            // `npm install` fetches the pinned componentize-js: the one scripts/test installed.
            std::os::unix::fs::symlink(
                root().join("plugins/examples/js-static/node_modules"),
                project.join("node_modules"),
            )
            .unwrap();
            (
                in_project(&project, "npm", &["test"]),
                in_project(&project, "npm", &["run", "build"]),
                project.join(format!("{snake}.wasm")),
            )
        }
        "python" => (
            in_project(&project, "make", &["test"]),
            in_project(&project, "make", &["build"]),
            project.join(format!("{snake}.wasm")),
        ),
        other => unreachable!("no language {other}"),
    };
    assert!(test.status.success(), "the unit tests pass natively: {:?}", text(&test));
    assert!(build.status.success(), "{:?}", text(&build));
    let checked = run(rekey(&cache).args(["plugin", "test"]).arg(&wasm).args(kit_args).envs(env.iter().copied()), "");
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(" 0 failed,"), "{stdout}");
}

/// A new http plugin in `lang` against a real key API, which it leaves with no key.
fn new_http_plugin_passes_the_kit(lang: &str) {
    let server = KeyServer::start();
    let args = ["-c".into(), format!("base-url={}", server.base_url()), "--grant".into(), server.addr.to_string()];
    new_plugin_passes_the_kit("provider", lang, "http", &args, &[("REKEY_ADMIN_ADMIN_TOKEN", KeyServer::ADMIN_TOKEN)]);
    assert!(server.keys.lock().unwrap().is_empty(), "the kit revoked every key it made");
}

/// A new target in `lang` against a real HTTP store (nginx's WebDAV).
fn new_target_passes_the_kit(lang: &str) {
    let webdav = http_target::webdav();
    let grant = format!("127.0.0.1:{}", webdav.port);
    let args = [
        "-c".into(),
        format!("base-url=http://{grant}"),
        "-c".into(),
        "path=/kv/kit/key".into(),
        "--grant".into(),
        grant,
    ];
    new_plugin_passes_the_kit("target", lang, "http", &args, &[("REKEY_ADMIN_ADMIN_TOKEN", http_target::TOKEN)]);
}

#[test]
fn a_new_rust_target_builds_and_passes_the_kit_against_a_real_http_store_as_made() {
    new_target_passes_the_kit("rust");
}

#[test]
fn a_new_javascript_target_builds_and_passes_the_kit_against_a_real_http_store_as_made() {
    new_target_passes_the_kit("js");
}

#[test]
fn a_new_python_target_builds_and_passes_the_kit_against_a_real_http_store_as_made() {
    new_target_passes_the_kit("python");
}

#[test]
fn a_new_rust_http_plugin_builds_and_passes_the_kit_against_a_real_key_api_as_made() {
    new_http_plugin_passes_the_kit("rust");
}

#[test]
fn a_new_rust_tcp_plugin_builds_and_passes_the_kit_against_a_real_redis_as_made() {
    let redis = support::redis::Redis::start();
    let args = ["-c", "host=127.0.0.1", "-c", &format!("port={}", redis.port), "-c", "user=app", "--grant"];
    let args: Vec<String> = args.iter().map(|a| a.to_string()).chain([format!("127.0.0.1:{}", redis.port)]).collect();
    new_plugin_passes_the_kit(
        "provider",
        "rust",
        "tcp",
        &args,
        &[("REKEY_ADMIN_ADMIN_PASSWORD", support::redis::ADMIN_PASSWORD)],
    );
    assert_eq!(redis.app_passwords(), 1, "the kit removed the passwords it made, and only those");
}

#[test]
fn a_new_rust_static_plugin_builds_and_passes_the_kit_as_made() {
    new_plugin_passes_the_kit("provider", "rust", "static", &[], &[]);
}

#[test]
fn a_new_javascript_http_plugin_builds_and_passes_the_kit_against_a_real_key_api_as_made() {
    new_http_plugin_passes_the_kit("js");
}

#[test]
fn a_new_javascript_static_plugin_builds_and_passes_the_kit_as_made() {
    new_plugin_passes_the_kit("provider", "js", "static", &[], &[]);
}

#[test]
fn a_new_python_http_plugin_builds_and_passes_the_kit_against_a_real_key_api_as_made() {
    new_http_plugin_passes_the_kit("python");
}

#[test]
fn a_new_python_static_plugin_builds_and_passes_the_kit_as_made() {
    new_plugin_passes_the_kit("provider", "python", "static", &[], &[]);
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
    let out = run(rekey(&cache).args(["plugin", "new", "py-keys", "--lang", "python", "--template", "tcp"]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("the tcp template is in rust only"), "{:?}", text(&out));
    let out = run(rekey(&cache).args(["plugin", "new", "js-keys", "--lang", "js", "--sdk-path", "."]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("--sdk-path is for --lang rust projects"), "{:?}", text(&out));
    let out = run(rekey(&cache).args(["plugin", "new", "rs-target", "--kind", "target", "--template", "static"]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("a deploy target is made from the http template"), "{:?}", text(&out));
    assert_eq!(std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(), "mine", "nothing is overwritten");
}

/// Builds an example provider of `plugins/examples` with `build` (given
/// the contract's folder and the component to write), runs the kit on it,
/// rotates a credential with it twice, and checks that what it prints and
/// an exception it does not catch reach the operator.
fn an_example_provider_works_end_to_end(name: &str, build: impl FnOnce(&Path, &Path) -> std::process::Command) {
    let cache = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wit = dir.path().join("wit");
    assert!(run(rekey(&cache).args(["plugin", "wit", "--out"]).arg(&wit), "").status.success());
    // Named as the plugin is, which is how rekey.toml finds its approval.
    let wasm = dir.path().join(format!("{}.wasm", name.replace('-', "_")));
    let built = run(&mut build(&wit, &wasm), "");
    assert!(built.status.success(), "{:?}", text(&built));

    let checked = run(rekey(&cache).args(["plugin", "test"]).arg(&wasm), "");
    let (stdout, stderr) = text(&checked);
    assert!(checked.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  another rotation gets a different key"), "{stdout}");
    assert!(stderr.contains("made a key for"), "the plugin's log lines reach the operator: {stderr}");
    assert!(stderr.contains("drawing 24 random bytes"), "so does what it prints: {stderr}");

    let crashed = run(
        rekey(&cache).args(["plugin", "call"]).arg(&wasm).args(["generate", "-c", "prefix=far-too-long-a-prefix"]),
        "",
    );
    assert!(!crashed.status.success());
    assert!(
        text(&crashed).1.contains("uncaught ")
            && text(&crashed).1.contains("Error: prefix is 21 characters; at most 16"),
        "an uncaught exception is the error the operator sees: {:?}",
        text(&crashed)
    );

    let toml = format!(
        "[[credential]]\nname = \"ex\"\nplugin = \"{}\"\npolicy = {{ grace_period = \"0s\" }}\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"ex.env\", variable = \"KEY\" }}]\n",
        wasm.display()
    );
    let project = support::Project::new(&toml, &[]);
    for _ in 0..2 {
        let rotated = project.run(&["rotate", "ex"], "");
        assert!(rotated.status.success(), "{:?}", text(&rotated));
    }
    assert_eq!(project.env_value("ex.env", "KEY").len(), 48, "24 random bytes in hex");
}

/// This repository's folder.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn a_python_provider_built_with_componentize_py_passes_the_kit_and_rotates_a_credential() {
    let componentize = root().join("target/venv/bin/componentize-py");
    assert!(componentize.exists(), "scripts/test installs componentize-py into target/venv");
    an_example_provider_works_end_to_end("py-static", |wit, wasm| {
        let mut command = std::process::Command::new(&componentize);
        command.arg("-d").arg(wit).args(["-w", "plugin", "componentize", "app", "-p"]);
        command.arg(root().join("plugins/examples/python-static")).arg("-o").arg(wasm);
        command.env("PYTHONDONTWRITEBYTECODE", "1");
        command
    });
}

#[test]
fn a_javascript_provider_built_with_componentize_js_passes_the_kit_and_rotates_a_credential() {
    let example = root().join("plugins/examples/js-static");
    let componentize = example.join("node_modules/.bin/componentize-js");
    assert!(componentize.exists(), "scripts/test installs componentize-js into {}", example.display());
    an_example_provider_works_end_to_end("js-static", |wit, wasm| {
        let mut command = std::process::Command::new(&componentize);
        command.arg(example.join("app.js")).arg("--wit").arg(wit).args(["--world-name", "plugin", "--out"]).arg(wasm);
        command
    });
}
