//! The `twilio-api-key` provider against a stateful fake Twilio
//! (`tests/twilio/fake.py`) behind Prism, which validates every request and
//! response against Twilio's own description (`tests/twilio/twilio.json`:
//! the Keys and Balance operations of the 2010-04-01 API in
//! github.com/twilio/twilio-oai, cut unchanged by `tests/prism/subset.py`).

use crate::support;

use rekey_test_artifacts::plugins;
use std::collections::BTreeMap;
use support::vendor::Vendor;
use support::{Project, text};

const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-auth-token-0123456789abcdef";
/// Twilio's description declares no error status (only 200, 201 and 204),
/// while Twilio answers 401 and 404 as its documentation says: the one
/// violation allowed.
const UNDECLARED_STATUS: &str = "Unable to match the returned status code with those defined in the document";

fn twilio() -> Vendor {
    Vendor::start("twilio", "twilio.json", &[ACCOUNT, TOKEN])
}

/// Every key the fake holds: SID to friendly name.
fn keys(twilio: &Vendor) -> BTreeMap<String, String> {
    twilio.state("keys")
}

fn grant(twilio: &Vendor) -> String {
    format!("127.0.0.1:{}", twilio.port)
}

#[test]
fn keys_rotate_end_to_end_and_a_lost_create_leaves_no_orphan() {
    let twilio = twilio();
    let toml = format!(
        "[[credential]]\nname = \"sms\"\nplugin = \"{plugin}\"\nconfig = {{ account-sid = \"{ACCOUNT}\", key-name = \"sms\", api-url = \"http://{grant}\" }}\nadmin_secrets = {{ auth-token = \"env:TEST_TWILIO_TOKEN\" }}\ngrants = [\"{grant}\"]\npolicy = {{ grace_period = \"0s\" }}\n\n[[credential.stages]]\nname = \"prod\"\ntargets = [{{ type = \"env-file\", path = \"app.env\", variable = \"TWILIO_API_SECRET\" }}]\n",
        plugin = plugins::TWILIO_API_KEY,
        grant = grant(&twilio),
    );
    let project = Project::new(&toml, &[("TEST_TWILIO_TOKEN", TOKEN)]);
    for _ in 0..2 {
        let out = project.run(&["rotate", "sms"], "");
        assert!(out.status.success(), "{:?}", text(&out));
    }
    let held = keys(&twilio);
    let current = project.current_key_id("sms");
    assert_eq!(held.keys().collect::<Vec<_>>(), [&current], "the old key is revoked: {held:?}");
    assert!(held[&current].starts_with("sms rekey "), "{held:?}");
    assert_eq!(project.env_value("app.env", "TWILIO_API_SECRET"), project.current_secret("sms"));
    project.kills_leave_only_the_current_key("sms", || keys(&twilio).into_keys().collect());
    twilio.all_valid(201, &[UNDECLARED_STATUS]);
}

#[test]
fn the_provider_passes_the_kit_through_the_validating_proxy_and_a_wrong_path_is_refused() {
    let twilio = twilio();
    let grant = grant(&twilio);
    let args = [
        "-c",
        &format!("api-url=http://{grant}"),
        "-c",
        "key-name=kit",
        "-c",
        &format!("account-sid={ACCOUNT}"),
        "--grant",
        &grant,
    ];
    support::passes_the_conformance_kit(plugins::TWILIO_API_KEY, &args, "auth-token", TOKEN);
    assert!(keys(&twilio).is_empty(), "the kit revoked every key it made");
    twilio.all_valid(201, &[UNDECLARED_STATUS]);
    // The plugin pointed at a path Twilio does not have: Prism answers,
    // the fake is never asked.
    let cache = tempfile::tempdir().unwrap();
    let mut call = support::rekey(&cache);
    call.args(["plugin", "call", plugins::TWILIO_API_KEY, "list-keys", "-c", "key-name=kit", "--grant", &grant])
        .args(["-c", &format!("api-url=http://{grant}/v2"), "-c", &format!("account-sid={ACCOUNT}")]);
    let out = support::run(call.env("REKEY_ADMIN_AUTH_TOKEN", TOKEN), "");
    assert!(!out.status.success(), "{:?}", text(&out));
    assert!(text(&out).1.contains("no path matched"), "{:?}", text(&out));
}
