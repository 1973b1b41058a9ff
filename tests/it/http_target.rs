//! The `http-target` against a real HTTP store: nginx's WebDAV module
//! (PUT, GET, DELETE of files), behind a bearer-token check, started by
//! each test.

use crate::support;

use rekey_test_artifacts::plugins;
use support::nginx::Nginx;
use support::{Project, text};

pub const TOKEN: &str = "webdav-admin-0123456789";

/// nginx serving WebDAV under `/kv/`, files in its folder's `www`.
pub fn webdav() -> Nginx {
    Nginx::start(|dir, port| {
        std::fs::create_dir_all(dir.join("www/kv")).unwrap();
        format!(
            "    listen 127.0.0.1:{port};\n    root {}/www;\n    location /kv/ {{\n      if ($http_authorization != \"Bearer {TOKEN}\") {{ return 401; }}\n      dav_methods PUT DELETE;\n      create_full_put_path on;\n    }}",
            dir.display()
        )
    })
}

/// What the store holds at `path` under `/kv/`, if anything.
pub fn held(nginx: &Nginx, path: &str) -> Option<String> {
    std::fs::read_to_string(nginx.dir.join("www/kv").join(path)).ok()
}

/// The target writing `/kv/shop/api-key`, as a stage's `targets` names it
/// (the token in `TEST_DAV_TOKEN`).
pub fn target(nginx: &Nginx) -> String {
    format!(
        r#"{{ plugin = "{plugin}", config = {{ base-url = "http://127.0.0.1:{port}", write-path = "/kv/shop/api-key" }}, admin_secrets = {{ admin-token = "env:TEST_DAV_TOKEN" }}, grants = ["127.0.0.1:{port}"] }}"#,
        plugin = plugins::HTTP_TARGET,
        port = nginx.port,
    )
}

#[test]
fn keys_are_written_checked_rolled_back_and_survive_kills_at_every_step() {
    let nginx = webdav();
    let toml = format!(
        "[[credential]]\nname = \"api\"\nplugin = \"{random}\"\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{}]\n",
        target(&nginx),
        random = plugins::RANDOM,
    );
    let project = Project::new(&toml, &[("TEST_DAV_TOKEN", TOKEN)]);
    let run = |args: &[&str]| {
        let out = project.run(args, "");
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    };
    run(&["rotate", "api"]);
    run(&["rotate", "api"]);
    let current = project.current_secret("api");
    assert_eq!(held(&nginx, "shop/api-key"), Some(current.clone()));

    let path = project.dir.path().join("rekey.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{original}checks = [{{ type = \"exec\", command = [\"false\"], retries = 0 }}]\n"))
        .unwrap();
    let failed = project.run(&["rotate", "api"], "");
    assert!(!failed.status.success() && text(&failed).0.contains("rolled back"), "{:?}", text(&failed));
    assert_eq!(held(&nginx, "shop/api-key"), Some(current), "the previous key was written back");
    std::fs::write(&path, original).unwrap();

    for boundary in support::step_boundaries(&project.plan("api")) {
        project.killed_and_resumed("api", &boundary);
        assert_eq!(held(&nginx, "shop/api-key"), Some(project.current_secret("api")), "after {boundary}");
    }
}

#[test]
fn the_target_passes_the_conformance_kit_and_a_wrong_token_is_unauthorized() {
    let nginx = webdav();
    let cache = tempfile::tempdir().unwrap();
    let kit = |token: &str| {
        let mut command = support::rekey(&cache);
        command.args(["plugin", "test", plugins::HTTP_TARGET, "--grant", &format!("127.0.0.1:{}", nginx.port)]);
        for value in [format!("base-url=http://127.0.0.1:{}", nginx.port), "write-path=/kv/kit/key".into()] {
            command.args(["-c", &value]);
        }
        support::run(command.env("REKEY_ADMIN_ADMIN_TOKEN", token), "")
    };
    let out = kit(TOKEN);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  restore puts the previous key back"), "{stdout}");
    assert!(!stdout.contains(TOKEN), "the token is in the report");
    let refused = kit("wrong-token");
    assert!(text(&refused).0.contains("unauthorized: write: the API answered 401"), "{:?}", text(&refused));
}
