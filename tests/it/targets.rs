//! Deploy target plugins, through the real `rekey` binary: the
//! `aws-secrets-manager` and `aws-ssm-parameter` targets against
//! `moto_server` (requests SigV4-authenticated as AWS does). In Secrets
//! Manager the key is staged as `AWSPENDING`, made `AWSCURRENT` exactly when
//! rekey promotes, and a rollback moves the label back; in Parameter Store
//! it is written at the deploy step and a rollback writes the version before
//! again.

use crate::support;

use rekey_test_artifacts::{guests, plugins};
use support::moto::Moto;
use support::{Project, text};

pub const SECRET_ID: &str = "prod/app";
pub const PARAMETER: &str = "/prod/app/key";

/// The `aws-secrets-manager` target for [`SECRET_ID`] and the
/// `aws-ssm-parameter` target for [`PARAMETER`], in moto, as a stage's
/// `targets` names them (the admin's secret key in `TEST_AWS_ADMIN_SECRET`).
pub fn aws_targets(moto: &Moto) -> String {
    let target = |plugin: &str, config: &str| {
        format!(
            r#"{{ plugin = "{plugin}", config = {{ {config}, endpoint = "{endpoint}", admin-access-key-id = "{admin}" }}, admin_secrets = {{ admin-secret-access-key = "env:TEST_AWS_ADMIN_SECRET" }}, grants = ["127.0.0.1:{port}"] }}"#,
            endpoint = moto.endpoint,
            admin = moto.admin.0,
            port = moto.port,
        )
    };
    format!(
        "{},\n  {}",
        target(plugins::AWS_SECRETS_MANAGER, &format!(r#"secret-id = "{SECRET_ID}""#)),
        target(plugins::AWS_SSM_PARAMETER, &format!(r#"name = "{PARAMETER}""#))
    )
}

/// rekey.toml for `app`: random keys, deployed to Secrets Manager, Parameter
/// Store and an env file in one stage.
fn project(moto: &Moto, grace: &str) -> Project {
    let toml = format!(
        r#"
[[credential]]
name = "app"
plugin = "{random}"
policy = {{ grace_period = "{grace}" }}

[[credential.stages]]
name = "prod"
targets = [
  {aws},
  {{ type = "env-file", path = "app.env", variable = "APP_KEY" }},
]
"#,
        random = plugins::RANDOM,
        aws = aws_targets(moto),
    );
    Project::new(&toml, &[("TEST_AWS_ADMIN_SECRET", &moto.admin.1)])
}

fn rotated(project: &Project, args: &[&str]) {
    let out = project.run(args, "");
    assert!(out.status.success(), "{args:?}: {:?}", text(&out));
}

/// Rewrites the project's rekey.toml with `edit`.
fn edit_config(project: &Project, edit: impl Fn(String) -> String) {
    let path = project.dir.path().join("rekey.toml");
    std::fs::write(&path, edit(std::fs::read_to_string(&path).unwrap())).unwrap();
}

/// Secrets Manager holds the store's current key as `AWSCURRENT`, with no
/// version left pending, and so does Parameter Store as its latest version.
fn holds_the_current_key(moto: &Moto, project: &Project) {
    let current = project.current_secret("app");
    assert_eq!(moto.secret_labelled(SECRET_ID, "AWSCURRENT").as_deref(), Some(current.as_str()));
    let versions = moto.secret_versions(SECRET_ID);
    assert!(versions.iter().all(|v| !v.labels.iter().any(|l| l == "AWSPENDING")), "{versions:?}");
    assert_eq!(moto.parameter_values(PARAMETER).last(), Some(&current));
}

#[test]
fn a_key_is_staged_made_current_at_promote_and_a_rollback_moves_the_label_back() {
    let moto = Moto::start();
    let project = project(&moto, "0s");

    rotated(&project, &["rotate", "app"]);
    let first = project.current_secret("app");
    holds_the_current_key(&moto, &project);
    assert_eq!(project.env_value("app.env", "APP_KEY"), first);

    rotated(&project, &["rotate", "app"]);
    let second = project.current_secret("app");
    assert_ne!(first, second);
    holds_the_current_key(&moto, &project);
    assert_eq!(moto.secret_labelled(SECRET_ID, "AWSPREVIOUS").as_deref(), Some(first.as_str()));

    // A failing check after the deploy: the new key never became current,
    // and its pending label is gone.
    edit_config(&project, |toml| {
        format!("{toml}checks = [{{ type = \"exec\", command = [\"false\"], retries = 0 }}]\n")
    });
    let failed = project.run(&["rotate", "app"], "");
    assert!(!failed.status.success(), "{:?}", text(&failed));
    assert!(text(&failed).0.contains("rolled back"), "{:?}", text(&failed));
    assert_eq!(project.current_secret("app"), second);
    holds_the_current_key(&moto, &project);
    assert_eq!(project.env_value("app.env", "APP_KEY"), second);

    // A rollback after the promotion, in the grace period: AWSCURRENT goes
    // back to the version it left.
    edit_config(&project, |toml| toml.replace("checks = [", "# checks = [").replace("\"0s\"", "\"1h\""));
    rotated(&project, &["rotate", "app"]);
    assert_ne!(project.current_secret("app"), second);
    holds_the_current_key(&moto, &project);
    rotated(&project, &["rollback", "app", "--yes"]);
    assert_eq!(project.current_secret("app"), second);
    holds_the_current_key(&moto, &project);

    // Where each key went is in the history, built-in targets too, and in
    // the audit log.
    let history = text(&project.run(&["history", "app"], "")).0;
    assert!(history.contains("deployed to env-file app.env (APP_KEY) (prod)"), "{history}");
    assert!(history.contains("deployed to secret `prod/app` in us-east-1 by aws-secrets-manager (prod"), "{history}");
    let all = project.run(&["audit", "log", "--json"], "");
    let all: Vec<serde_json::Value> = serde_json::from_slice(&all.stdout).unwrap();
    let deployed: Vec<&str> = all
        .iter()
        .filter(|e| e["event"] == rekey::rotation::DEPLOYED)
        .filter_map(|e| e["detail"]["location"].as_str())
        .collect();
    assert!(deployed.contains(&"secret `prod/app` in us-east-1"), "{deployed:?}");
    assert!(deployed.contains(&"parameter `/prod/app/key` in us-east-1"), "{deployed:?}");

    // Every target call is in the audit log, with its requests, and no key.
    let parameter = project.run(&["audit", "log", "--plugin", "aws-ssm-parameter", "--json"], "");
    let parameter: Vec<serde_json::Value> = serde_json::from_slice(&parameter.stdout).unwrap();
    let calls: std::collections::BTreeSet<&str> =
        parameter.iter().filter_map(|e| e["detail"]["call"].as_str()).collect();
    assert_eq!(calls, ["check", "restore", "write"].into(), "a target that does not stage is never promoted");
    let audit = project.run(&["audit", "log", "--plugin", "aws-secrets-manager", "--json"], "");
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).unwrap();
    let calls: std::collections::BTreeSet<&str> = entries.iter().filter_map(|e| e["detail"]["call"].as_str()).collect();
    assert_eq!(calls, ["check", "promote", "restore", "write"].into(), "{entries:?}");
    assert!(entries.iter().all(|e| e["detail"]["requests"].as_array().is_some_and(|r| !r.is_empty())));
    let audit = String::from_utf8(audit.stdout).unwrap();
    for secret in [&first, &second] {
        assert!(!audit.contains(secret.as_str()), "a key is in the audit log");
    }
}

#[test]
fn a_kill_at_any_step_boundary_leaves_secrets_manager_with_the_journals_current_key() {
    let moto = Moto::start();
    let project = project(&moto, "0s");
    rotated(&project, &["rotate", "app"]);
    for boundary in support::step_boundaries(&project.plan("app")) {
        let old = project.current_secret("app");
        project.killed_at("app", &boundary);
        // Killed: Secrets Manager's current key is the store's current key,
        // old or new, never a third; Parameter Store, which has no staging,
        // holds the old key or (once the deploy began) the new one.
        let current = project.current_secret("app");
        let labelled = moto.secret_labelled(SECRET_ID, "AWSCURRENT");
        assert_eq!(labelled.as_deref(), Some(current.as_str()), "killed at {boundary}");
        let pending = moto.secret_versions(SECRET_ID).into_iter().find(|v| v.labels.iter().any(|l| l == "AWSPENDING"));
        let latest = moto.parameter_values(PARAMETER).pop().unwrap();
        assert!(
            latest == old || pending.is_some_and(|p| p.value == latest) || latest == current,
            "killed at {boundary}: the parameter holds a third key"
        );
        let resumed = project.run(&["resume"], "");
        assert!(resumed.status.success(), "resume after {boundary}: {:?}", text(&resumed));
        holds_the_current_key(&moto, &project);
    }
}

#[test]
fn both_targets_pass_the_conformance_kit_against_moto() {
    let moto = Moto::start();
    let cache = tempfile::tempdir().unwrap();
    let n = support::rand_u128();
    for (plugin, place, staged) in [
        (plugins::AWS_SECRETS_MANAGER, format!("secret-id=kit/{n}"), "PASS  promote makes the staged key current"),
        (plugins::AWS_SSM_PARAMETER, format!("name=/kit/{n}"), "SKIP  promote makes the staged key current"),
    ] {
        let mut command = support::rekey(&cache);
        command.args(["plugin", "test", plugin, "--grant", &format!("127.0.0.1:{}", moto.port)]);
        for value in [place, format!("endpoint={}", moto.endpoint), format!("admin-access-key-id={}", moto.admin.0)] {
            command.args(["-c", &value]);
        }
        let out = support::run(command.env("REKEY_ADMIN_ADMIN_SECRET_ACCESS_KEY", &moto.admin.1), "");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        for rule in [
            "PASS  write puts the key in",
            "PASS  check finds the key written",
            "PASS  a repeated write changes nothing",
            staged,
            "PASS  another rotation's write replaces it",
            "PASS  restore puts the previous key back",
            "PASS  restoring twice succeeds",
            "PASS  no result carries a secret",
            "PASS  requests go only to declared hosts",
        ] {
            assert!(stdout.contains(rule), "{rule}: {stdout}");
        }
        assert!(
            !stdout.contains(&moto.admin.1) && !stderr.contains(&moto.admin.1),
            "the admin secret is in the report"
        );
    }
}

#[test]
fn the_conformance_kit_fails_a_target_that_is_not_idempotent_or_returns_a_secret() {
    let cache = tempfile::tempdir().unwrap();
    let kit = |how: &str| {
        let how = format!("how={how}");
        let args = ["plugin", "test", guests::TARGET_SMUGGLER, "-c", &how, "-c", "url=http://127.0.0.1:9/"];
        let out = support::run(support::rekey(&cache).args(args).env("REKEY_ADMIN_TOKEN", "sk-admin-0123456789"), "");
        assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
        text(&out).0
    };
    let fresh = kit("fresh");
    assert!(fresh.contains("FAIL  a repeated write changes nothing") && fresh.contains("not idempotent"), "{fresh}");
    let leaky = kit("revision");
    assert!(leaky.contains("FAIL  no result carries a secret"), "{leaky}");
    assert!(leaky.contains("the revision holds the key it was given"), "{leaky}");
}
