//! The `github-actions-secret` target against a stateful fake GitHub whose
//! every request and response Prism validates against GitHub's own OpenAPI
//! description (`tests/github/api.github.com.json`, taken from
//! github/rest-api-description as npm's @octokit/openapi publishes it), and
//! which opens each sealed value with real libsodium (PyNaCl). Prism is
//! installed by `scripts/test` (`npm ci` in tests/github), PyNaCl into the
//! test virtualenv.

use crate::support;

use rekey_test_artifacts::plugins;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use support::moto::venv;
use support::{Project, text};

const TOKEN: &str = "ghp_rekeytest0123456789abcdef";

/// The fake GitHub and Prism in front of it.
struct GitHub {
    fake: Child,
    prism: Child,
    fake_port: u16,
    /// Where the plugin sends its requests: Prism.
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl GitHub {
    fn start() -> Self {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/github");
        let prism = folder.join("node_modules/.bin/prism");
        assert!(prism.exists(), "{} is missing: scripts/test runs npm ci in tests/github", prism.display());
        let (fake_port, port) = (free_port(), free_port());
        let fake = Command::new(venv("python"))
            .arg(folder.join("fake.py"))
            .args([&fake_port.to_string(), TOKEN])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("prism.log");
        let prism = Command::new(prism)
            .arg("proxy")
            .arg(folder.join("api.github.com.json"))
            .arg(format!("http://127.0.0.1:{fake_port}"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--errors"])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        support::listening(fake_port);
        support::listening(port);
        Self { fake, prism, fake_port, port, log, _dir: dir }
    }

    /// Every secret the fake holds, opened, by `SCOPE/NAME`.
    fn secrets(&self) -> BTreeMap<String, String> {
        let url = format!("http://127.0.0.1:{}/_fake/secrets", self.fake_port);
        let out = Command::new("curl").args(["-sf", &url]).output().unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Prism found no request or response that breaks GitHub's description.
    fn all_valid(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap();
        let broken: Vec<&str> = log.lines().filter(|l| l.contains('✖') || l.contains("Violation")).collect();
        assert!(broken.is_empty(), "Prism: {broken:#?}");
        assert!(log.contains("has returned 201"), "no secret was created through Prism: {log}");
    }
}

impl Drop for GitHub {
    fn drop(&mut self) {
        for child in [&mut self.fake, &mut self.prism] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The three scopes the project writes, as the fake names them.
const SCOPES: [&str; 3] =
    ["/repos/acme/app/actions/CI_KEY", "/repos/acme/app/environments/production/CI_KEY", "/orgs/acme/actions/CI_KEY"];

fn project(github: &GitHub) -> Project {
    let target = |scope: &str| {
        format!(
            r#"{{ plugin = "{plugin}", config = {{ api-url = "http://127.0.0.1:{port}", secret-name = "CI_KEY", {scope} }}, admin_secrets = {{ token = "env:TEST_GITHUB_TOKEN" }}, grants = ["127.0.0.1:{port}"] }},"#,
            plugin = plugins::GITHUB_ACTIONS_SECRET,
            port = github.port,
        )
    };
    let toml = format!(
        "[[credential]]\nname = \"ci\"\nplugin = \"{random}\"\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"ci\"\ntargets = [\n{}\n{}\n{}\n]\n",
        target(r#"owner = "acme", repository = "app""#),
        target(r#"owner = "acme", repository = "app", environment = "production""#),
        target(r#"organization = "acme", visibility = "private""#),
        random = plugins::RANDOM,
    );
    Project::new(&toml, &[("TEST_GITHUB_TOKEN", TOKEN)])
}

/// Every scope holds `secret`.
fn holds(github: &GitHub, secret: &str) {
    let secrets = github.secrets();
    for scope in SCOPES {
        assert_eq!(secrets.get(scope).map(String::as_str), Some(secret), "{scope}: {secrets:?}");
    }
}

#[test]
fn repository_environment_and_organisation_secrets_are_sealed_rolled_back_and_survive_kills() {
    let github = GitHub::start();
    let project = project(&github);
    let rotate = |args: &[&str]| {
        let out = project.run(args, "");
        assert!(out.status.success(), "{args:?}: {:?}", text(&out));
    };
    rotate(&["rotate", "ci"]);
    rotate(&["rotate", "ci"]);
    let current = project.current_secret("ci");
    holds(&github, &current);

    // A failing check: each secret holds the previous key again.
    let path = project.dir.path().join("rekey.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{toml}checks = [{{ type = \"exec\", command = [\"false\"], retries = 0 }}]\n"))
        .unwrap();
    let failed = project.run(&["rotate", "ci"], "");
    assert!(!failed.status.success() && text(&failed).0.contains("rolled back"), "{:?}", text(&failed));
    holds(&github, &current);
    std::fs::write(&path, toml).unwrap();

    for boundary in support::step_boundaries(&project.plan("ci")) {
        let old = project.current_secret("ci");
        project.killed_at("ci", &boundary);
        // Killed: each secret holds the old key or (once the deploy began)
        // the new one, never a third.
        let secrets = github.secrets();
        let new: std::collections::BTreeSet<&String> =
            SCOPES.iter().map(|s| &secrets[*s]).filter(|value| **value != old).collect();
        assert!(new.len() <= 1, "killed at {boundary}: {secrets:?}");
        let resumed = project.run(&["resume"], "");
        assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
        holds(&github, &project.current_secret("ci"));
    }
    let audit = String::from_utf8(project.run(&["audit", "log", "--json"], "").stdout).unwrap();
    assert!(!audit.contains(TOKEN) && !audit.contains(&current), "a secret is in the audit log");
    github.all_valid();
}

#[test]
fn the_target_passes_the_conformance_kit_against_the_validated_fake() {
    let github = GitHub::start();
    let cache = tempfile::tempdir().unwrap();
    let api = format!("api-url=http://127.0.0.1:{}", github.port);
    let args =
        ["plugin", "test", plugins::GITHUB_ACTIONS_SECRET, "-c", &api, "-c", "owner=acme", "-c", "repository=kit"];
    let mut command = support::rekey(&cache);
    command.args(args).args(["-c", "secret-name=KIT", "--grant", &format!("127.0.0.1:{}", github.port)]);
    let out = support::run(command.env("REKEY_ADMIN_TOKEN", TOKEN), "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  restore puts the previous key back"), "{stdout}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "the token is in the report");
    let secrets = github.secrets();
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    github.all_valid();
}
