//! The `github-actions-secret` target against a stateful fake GitHub whose
//! every request and response Prism validates against GitHub's own OpenAPI
//! description (`tests/github/api.github.com.json`, taken from
//! github/rest-api-description as npm's @octokit/openapi publishes it), and
//! which opens each sealed value with real libsodium (PyNaCl), installed
//! into the test virtualenv.

use crate::support;

use rekey_test_artifacts::plugins;
use std::collections::BTreeMap;
use support::vendor::Vendor;
use support::{Project, text};

pub const TOKEN: &str = "ghp_rekeytest0123456789abcdef";

/// The fake GitHub behind Prism.
pub fn github() -> Vendor {
    Vendor::start("github", "api.github.com.json", &[TOKEN])
}

/// Every secret the fake holds, opened, by `SCOPE/NAME`.
pub fn secrets(github: &Vendor) -> BTreeMap<String, String> {
    github.state("secrets")
}

/// Prism found nothing that breaks GitHub's description, and a secret was
/// created through it.
pub fn all_valid(github: &Vendor) {
    github.all_valid(201, &[]);
}

/// The three scopes the project writes, as the fake names them.
const SCOPES: [&str; 3] =
    ["/repos/acme/app/actions/CI_KEY", "/repos/acme/app/environments/production/CI_KEY", "/orgs/acme/actions/CI_KEY"];

/// The target for secret `CI_KEY` of `scope` (its config fields), as a
/// stage's `targets` names it (the token in `TEST_GITHUB_TOKEN`).
pub fn target(github: &Vendor, scope: &str) -> String {
    format!(
        r#"{{ plugin = "{plugin}", config = {{ api-url = "http://127.0.0.1:{port}", secret-name = "CI_KEY", {scope} }}, admin_secrets = {{ token = "env:TEST_GITHUB_TOKEN" }}, grants = ["127.0.0.1:{port}"] }},"#,
        plugin = plugins::GITHUB_ACTIONS_SECRET,
        port = github.port,
    )
}

fn project(github: &Vendor) -> Project {
    let target = |scope: &str| target(github, scope);
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
fn holds(github: &Vendor, secret: &str) {
    let secrets = secrets(github);
    for scope in SCOPES {
        assert_eq!(secrets.get(scope).map(String::as_str), Some(secret), "{scope}: {secrets:?}");
    }
}

#[test]
fn repository_environment_and_organisation_secrets_are_sealed_rolled_back_and_survive_kills() {
    let github = github();
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
        let secrets = secrets(&github);
        let new: std::collections::BTreeSet<&String> =
            SCOPES.iter().map(|s| &secrets[*s]).filter(|value| **value != old).collect();
        assert!(new.len() <= 1, "killed at {boundary}: {secrets:?}");
        let resumed = project.run(&["resume"], "");
        assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
        holds(&github, &project.current_secret("ci"));
    }
    let audit = String::from_utf8(project.run(&["audit", "log", "--json"], "").stdout).unwrap();
    assert!(!audit.contains(TOKEN) && !audit.contains(&current), "a secret is in the audit log");
    all_valid(&github);
}

#[test]
fn the_target_passes_the_conformance_kit_against_the_validated_fake() {
    let github = github();
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
    let secrets = secrets(&github);
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    all_valid(&github);
}
