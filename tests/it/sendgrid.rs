//! The `sendgrid-api-key` provider against a stateful fake SendGrid
//! (`tests/sendgrid/fake.py`) behind Prism, which validates every request
//! and response against SendGrid's own description
//! (`tests/sendgrid/sendgrid.json`: the API keys and scopes operations of
//! github.com/twilio/sendgrid-oai, cut unchanged by `tests/prism/subset.py`).

use crate::support;

use rekey_test_artifacts::plugins;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use support::vendor::Vendor;
use support::{Project, text};

/// The admin key, made in SendGrid's web app (the fake does not list it).
const ADMIN: &str = "SG.admin0123456789abcdef.0123456789abcdefghijklmnopqrstuvwxyzABCDEFG";

fn sendgrid() -> Vendor {
    Vendor::start("sendgrid", "sendgrid.json", &[ADMIN])
}

/// Every key the fake holds: id to `{name, scopes}`.
fn keys(sendgrid: &Vendor) -> BTreeMap<String, Value> {
    sendgrid.state("keys")
}

/// `curl` through Prism with the admin key: the status and the body.
fn admin_call(sendgrid: &Vendor, method: &str, path: &str, body: &str) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{}{path}", sendgrid.port);
    let mut curl = Command::new("curl");
    curl.args(["-s", "-w", "\n%{http_code}", "-X", method, &url, "-H", &format!("authorization: Bearer {ADMIN}")]);
    if !body.is_empty() {
        curl.args(["-H", "content-type: application/json", "--data", body]);
    }
    let out = curl.output().unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let (body, status) = out.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), serde_json::from_str(body).unwrap_or_default())
}

/// `mailer`, whose first key copies the scopes of `seed` (a key made by
/// hand) and each later one those of the key it replaces.
fn project(sendgrid: &Vendor, seed: &str) -> Project {
    let toml = format!(
        "[[credential]]\nname = \"mailer\"\nplugin = \"{plugin}\"\nconfig = {{ key-name = \"mailer\", api-url = \"http://127.0.0.1:{port}\", copy-scopes-from = \"{seed}\" }}\nadmin_secrets = {{ admin-key = \"env:TEST_SENDGRID_ADMIN\" }}\ngrants = [\"127.0.0.1:{port}\"]\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"app.env\", variable = \"SENDGRID_API_KEY\" }}]\n",
        plugin = plugins::SENDGRID_API_KEY,
        port = sendgrid.port,
    );
    Project::new(&toml, &[("TEST_SENDGRID_ADMIN", ADMIN)])
}

#[test]
fn keys_rotate_with_the_scopes_of_the_key_they_replace_and_a_lost_create_leaves_no_orphan() {
    let sendgrid = sendgrid();
    let (status, seed) =
        admin_call(&sendgrid, "POST", "/v3/api_keys", r#"{"name": "made by hand", "scopes": ["mail.send"]}"#);
    assert_eq!(status, 201, "{seed}");
    let seed = seed["api_key_id"].as_str().unwrap().to_string();
    let project = project(&sendgrid, &seed);
    let rotate = || {
        let out = project.run(&["rotate", "mailer"], "");
        assert!(out.status.success(), "{:?}", text(&out));
    };
    rotate();
    admin_call(&sendgrid, "DELETE", &format!("/v3/api_keys/{seed}"), "");
    rotate();
    // Only the current key is left (grace 0s), named for its rotation, with
    // the seed's scopes copied from key to key; the application has it.
    let held = keys(&sendgrid);
    let current = project.current_key_id("mailer");
    assert_eq!(held.keys().collect::<Vec<_>>(), [&current], "{held:?}");
    assert!(held[&current]["name"].as_str().unwrap().starts_with("mailer rekey "), "{held:?}");
    assert_eq!(held[&current]["scopes"], serde_json::json!(["mail.send"]));
    assert_eq!(project.env_value("app.env", "SENDGRID_API_KEY"), project.current_secret("mailer"));

    // A kill at any step, even after the create call whose answer is then
    // lost, leaves SendGrid with exactly the store's current key.
    project.kills_leave_only_the_current_key("mailer", || keys(&sendgrid).into_keys().collect());
    sendgrid.all_valid(201, &[]);
}

#[test]
fn the_provider_passes_the_kit_through_the_validating_proxy() {
    let sendgrid = sendgrid();
    let url = format!("api-url=http://127.0.0.1:{}", sendgrid.port);
    let args = [
        "-c",
        &url,
        "-c",
        "key-name=kit",
        "-c",
        "scopes=mail.send,alerts.read",
        "--grant",
        &format!("127.0.0.1:{}", sendgrid.port),
    ];
    support::passes_the_conformance_kit(plugins::SENDGRID_API_KEY, &args, "admin-key", ADMIN);
    assert!(keys(&sendgrid).is_empty(), "the kit revoked every key it made");
    sendgrid.all_valid(201, &[]);
}

#[test]
fn a_request_the_description_forbids_is_refused_with_its_complaint() {
    let sendgrid = sendgrid();
    // A create without its required `name`: Prism refuses it before the fake.
    let (status, complaint) = admin_call(&sendgrid, "POST", "/v3/api_keys", r#"{"scopes": ["mail.send"]}"#);
    assert_eq!(status, 422, "{complaint}");
    assert!(complaint.to_string().contains("must have required property 'name'"), "{complaint}");
    // The plugin pointed at a path SendGrid does not have: the call fails
    // with Prism's answer, and nothing was made.
    let cache = tempfile::tempdir().unwrap();
    let mut call = support::rekey(&cache);
    call.args([
        "plugin",
        "call",
        plugins::SENDGRID_API_KEY,
        "generate",
        "-c",
        "key-name=wrong",
        "-c",
        "scopes=mail.send",
    ])
    .args(["-c", &format!("api-url=http://127.0.0.1:{}/v2", sendgrid.port)])
    .args(["--grant", &format!("127.0.0.1:{}", sendgrid.port)]);
    let out = support::run(call.env("REKEY_ADMIN_ADMIN_KEY", ADMIN), "");
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("answered 404") && stderr.contains("no path matched"), "{stderr}");
    assert!(keys(&sendgrid).is_empty());
}
