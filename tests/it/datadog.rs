//! The `datadog-key` provider against a stateful fake Datadog
//! (`tests/datadog/fake.py`) behind Prism, which validates every request and
//! response against Datadog's own description (`tests/datadog/datadog.json`:
//! the API key and validate operations of API v2, cut unchanged by
//! `tests/prism/subset.py` from `.generator/schemas/v2/openapi.yaml` of the
//! `datadog-api-client` 2.62.0 package on PyPI).

use crate::support;

use rekey_test_artifacts::plugins;
use std::collections::BTreeMap;
use support::vendor::Vendor;
use support::{Project, text};

const ADMIN_API: &str = "dd-admin-api-key-0123456789abcdef";
const ADMIN_APP: &str = "dd-admin-application-key-0123456789abcdef";

fn datadog() -> Vendor {
    Vendor::start("datadog", "datadog.json", &[ADMIN_API, ADMIN_APP])
}

/// Every key the fake holds: id to name.
fn keys(datadog: &Vendor) -> BTreeMap<String, String> {
    datadog.state("keys")
}

#[test]
fn keys_rotate_end_to_end_and_a_lost_create_is_found_again() {
    let datadog = datadog();
    let grant = format!("127.0.0.1:{}", datadog.port);
    let toml = format!(
        "[[credential]]\nname = \"agent\"\nplugin = \"{plugin}\"\nconfig = {{ key-name = \"agent\", api-url = \"http://{grant}\" }}\nadmin_secrets = {{ admin-api-key = \"env:TEST_DD_API\", admin-application-key = \"env:TEST_DD_APP\" }}\ngrants = [\"{grant}\"]\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"agent.env\", variable = \"DD_API_KEY\" }}]\n",
        plugin = plugins::DATADOG_KEY,
    );
    let project = Project::new(&toml, &[("TEST_DD_API", ADMIN_API), ("TEST_DD_APP", ADMIN_APP)]);
    for _ in 0..2 {
        let out = project.run(&["rotate", "agent"], "");
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let held = keys(&datadog);
    let current = project.current_key_id("agent");
    assert_eq!(held.keys().collect::<Vec<_>>(), [&current], "the old key is revoked: {held:?}");
    assert!(held[&current].starts_with("agent rekey "), "{held:?}");
    assert_eq!(project.env_value("agent.env", "DD_API_KEY"), project.current_secret("agent"));
    // Killed after the create call, the resumed generate finds the key by
    // its name and uses it: nothing to revoke, no second key.
    project.kills_leave_only_the_current_key("agent", || keys(&datadog).into_keys().collect());
    datadog.all_valid(201, &[]);
}

/// `rekey plugin test` of `kind` keys, the API at `path` under the fake.
fn kit(datadog: &Vendor, kind: &str, path: &str) -> std::process::Output {
    let grant = format!("127.0.0.1:{}", datadog.port);
    let cache = tempfile::tempdir().unwrap();
    let mut command = support::rekey(&cache);
    command.args(["plugin", "test", plugins::DATADOG_KEY, "-c", "key-name=kit", "--grant", &grant]);
    command.args(["-c", &format!("api-url=http://{grant}{path}"), "-c", &format!("kind={kind}")]);
    command.env("REKEY_ADMIN_ADMIN_API_KEY", ADMIN_API).env("REKEY_ADMIN_ADMIN_APPLICATION_KEY", ADMIN_APP);
    support::run(&mut command, "")
}

#[test]
fn the_provider_passes_the_kit_through_the_validating_proxy_and_a_wrong_path_is_refused() {
    let datadog = datadog();
    let kit = |path: &str| kit(&datadog, "api", path);
    let out = kit("");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  the same rotation id makes no second key"), "{stdout}");
    assert!(stdout.contains("PASS  a revoked key no longer verifies"), "{stdout}");
    assert!(!stdout.contains(ADMIN_API) && !stdout.contains(ADMIN_APP), "an admin key is in the report");
    assert!(keys(&datadog).is_empty(), "the kit revoked every key it made");
    datadog.all_valid(201, &[]);
    // Pointed at a path Datadog does not have, the kit fails on Prism's answer.
    let (stdout, _) = text(&kit("/v3"));
    assert!(stdout.contains("no path matched"), "{stdout}");
}

#[test]
fn application_keys_pass_the_kit_and_one_time_read_makes_a_lost_one_again() {
    let datadog = datadog();
    let out = kit(&datadog, "application", "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  verify accepts the new key"), "{stdout}");
    // One-time read: a key cannot be read back, so a repeated generate
    // deletes it and makes another; still one key per rotation.
    datadog.control("one-time-read");
    let out = kit(&datadog, "application", "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  the same rotation id makes no second key"), "{stdout}");
    assert!(keys(&datadog).is_empty(), "the kit revoked every key it made");
    datadog.all_valid(201, &[]);
}
