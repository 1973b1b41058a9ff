//! The `gcp-service-account-key` provider against a stateful fake of Google
//! Cloud IAM (`tests/gcp/fake.py`) behind Prism, which validates every
//! request and response against Google's own Discovery document of IAM v1
//! (`tests/gcp/iam.json`: the `projects.serviceAccounts.keys` methods, made
//! by `tests/gcp/discovery.py` from `iam.v1.json` revision 20261023 of the
//! google-api-python-client 2.202.0 wheel). The fake's token endpoint
//! checks each JWT's RS256 signature against the key it names.

use crate::support;

use rekey_test_artifacts::plugins;
use std::collections::BTreeMap;
use support::vendor::Vendor;
use support::{Project, text};

const APP: &str = "app@rekey-test.iam.gserviceaccount.com";

/// Google, and the admin account's key file.
fn google() -> (Vendor, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("admin.json");
    let vendor = Vendor::start("gcp", "iam.json", &[key_file.to_str().unwrap()]);
    let admin_key = std::fs::read_to_string(&key_file).unwrap();
    (vendor, admin_key, dir)
}

/// The user-managed key ids of the rotated account.
fn keys(google: &Vendor) -> Vec<String> {
    let mut held: BTreeMap<String, Vec<String>> = google.state("keys");
    held.remove(APP).unwrap()
}

/// The violation Google's description causes: it declares no error
/// response (only 200), while IAM answers 404 for a key already deleted.
const UNDECLARED_STATUS: &str = "Unable to match the returned status code";

#[test]
fn keys_rotate_end_to_end_and_a_lost_create_is_found_and_revoked() {
    let (google, admin_key, _dir) = google();
    let (api, token) = (format!("127.0.0.1:{}", google.port), google.direct());
    let toml = format!(
        "[[credential]]\nname = \"app-gcp\"\nplugin = \"{plugin}\"\nconfig = {{ service-account = \"{APP}\", project = \"rekey-test\", api-url = \"http://{api}\", token-url = \"http://{token}/token\" }}\nadmin_secrets = {{ admin-key = \"env:TEST_GCP_ADMIN_KEY\" }}\ngrants = [\"{api}\", \"{token}\"]\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"app.env\", variable = \"GOOGLE_CREDENTIALS\" }}]\n",
        plugin = plugins::GCP_SERVICE_ACCOUNT_KEY,
    );
    let project = Project::new(&toml, &[("TEST_GCP_ADMIN_KEY", &admin_key)]);
    for _ in 0..2 {
        let out = project.run(&["rotate", "app-gcp"], "");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"), "a key is in the output");
    }
    assert_eq!(keys(&google), [project.current_key_id("app-gcp")], "the old key is deleted");
    // The deployed value is the credentials file Google made, on one line,
    // as applications load it.
    let deployed = project.env_value("app.env", "GOOGLE_CREDENTIALS");
    assert_eq!(deployed, project.current_secret("app-gcp"));
    let file: serde_json::Value = serde_json::from_str(&deployed).unwrap();
    assert_eq!(file["client_email"], APP);
    assert_eq!(file["private_key_id"].as_str(), Some(project.current_key_id("app-gcp").as_str()));
    // Killed after the create call, the key Google made is unknown to the
    // store and carries no rotation id (Google keeps no label): the resumed
    // rotation makes another, and `reconcile --yes` deletes the lost one.
    project.kills_leave_only_the_current_key("app-gcp", || keys(&google));
    google.all_valid(200, &[UNDECLARED_STATUS]);
}

/// `rekey plugin test` with the admin key `admin_key`, IAM at `path` under Prism.
fn kit(google: &Vendor, admin_key: &str, path: &str) -> std::process::Output {
    let (api, token) = (format!("127.0.0.1:{}", google.port), google.direct());
    let cache = tempfile::tempdir().unwrap();
    let mut command = support::rekey(&cache);
    command.args(["plugin", "test", plugins::GCP_SERVICE_ACCOUNT_KEY, "--grant", &api, "--grant", &token]);
    command.args(["-c", &format!("service-account={APP}"), "-c", &format!("api-url=http://{api}{path}")]);
    command.args(["-c", &format!("token-url=http://{token}/token")]);
    command.env("REKEY_ADMIN_ADMIN_KEY", admin_key);
    support::run(&mut command, "")
}

#[test]
fn the_provider_passes_the_kit_through_the_validating_proxy_and_a_wrong_path_is_refused() {
    let (google, admin_key, _dir) = google();
    let out = kit(&google, &admin_key, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  verify accepts the new key"), "{stdout}");
    assert!(stdout.contains("PASS  a revoked key no longer verifies"), "{stdout}");
    assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"), "a key is in the report");
    assert!(keys(&google).is_empty(), "the kit revoked every key it made");
    google.all_valid(200, &[UNDECLARED_STATUS]);
    // Pointed at a path IAM does not have, the kit fails on Prism's answer.
    let (stdout, _) = text(&kit(&google, &admin_key, "/v2"));
    assert!(stdout.contains("no path matched"), "{stdout}");
}

#[test]
fn an_admin_key_google_does_not_hold_is_refused_with_the_token_endpoint_reason() {
    let (google, admin_key, _dir) = google();
    // A well-formed key file of the admin whose key Google never made.
    let mut forged: serde_json::Value = serde_json::from_str(&admin_key).unwrap();
    forged["private_key_id"] = "0123456789abcdef0123456789abcdef01234567".into();
    let (stdout, stderr) = text(&kit(&google, &forged.to_string(), ""));
    assert!(stdout.contains("Invalid JWT Signature"), "{stdout}{stderr}");
    assert!(!stdout.contains("PRIVATE KEY") && !stderr.contains("PRIVATE KEY"), "a key is in the report");
    assert!(keys(&google).is_empty());
}

#[test]
fn the_audit_says_what_google_does_not_offer_and_that_the_plugin_sees_the_admin_key() {
    let cache = tempfile::tempdir().unwrap();
    let mut command = support::rekey(&cache);
    command.args(["plugin", "audit", plugins::GCP_SERVICE_ACCOUNT_KEY]);
    let out = support::run(&mut command, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    for line in ["idempotent-generate  no", "lists-keys           yes", "reports-last-use     no"] {
        assert!(stdout.contains(line), "{line}: {stdout}");
    }
    assert!(stdout.contains("admin-key                in clear: the plugin computes with it"), "{stdout}");
}
