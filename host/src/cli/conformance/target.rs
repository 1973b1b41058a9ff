//! The conformance kit's rules for a deploy target, run against the
//! destination in its config (point it at a test secret: the kit writes two
//! test keys there):
//!
//! - `write` puts a key in, and `check` finds it there;
//! - a repeated write changes nothing: the same revision;
//! - with `stages-keys`, `promote` makes the staged key current;
//! - another rotation's write replaces it;
//! - `restore` puts the previous key back, and restoring again succeeds;
//! - no result carries a secret (the host refuses one that does).

use super::{Kit, describe, valid};
use crate::cli::call::PluginArgs;
use crate::runtime::{CallOptions, Credential, Placed, Plugin, PluginError};
use std::collections::BTreeMap;

/// Runs the target rules.
pub(super) async fn rules(
    kit: &mut Kit,
    plugin: &Plugin,
    args: &PluginArgs,
    admin_secrets: &BTreeMap<String, String>,
    stages_keys: bool,
    denied: &mut Vec<String>,
) {
    let (first, second) = (test_key(1), test_key(2));
    let first_options = kit.options(args, admin_secrets);
    let written = kit.timed("write", plugin.write(&first_options, &first, stages_keys).await, denied);
    let placed = match written {
        Ok(placed) => placed,
        Err(e) => {
            kit.check("write puts the key in", Err(describe(&e)));
            secrets_rule(kit, &e);
            return;
        }
    };
    kit.check("write puts the key in", Ok(describe_placed(&placed)));
    let checked = kit.timed("check", plugin.check(&first_options, &first, stages_keys).await, denied);
    let found = verified(checked, kit);
    kit.check("check finds the key written", found);

    let again = kit.timed("write", plugin.write(&first_options, &first, stages_keys).await, denied);
    kit.check(
        "a repeated write changes nothing",
        match again {
            Ok(same) if same.revision == placed.revision => Ok(describe_placed(&same)),
            Ok(other) => Err(format!(
                "not idempotent: the same rotation's second write made {} after {}",
                describe_placed(&other),
                describe_placed(&placed)
            )),
            Err(e) => Err(describe(&e)),
        },
    );
    const PROMOTE: &str = "promote makes the staged key current";
    if stages_keys {
        let promoted = kit.timed("promote", plugin.promote(&first_options, &first).await, denied);
        let current = match promoted {
            Ok(()) => verified(kit.timed("check", plugin.check(&first_options, &first, false).await, denied), kit),
            Err(e) => Err(describe(&e)),
        };
        kit.check(PROMOTE, current);
    } else {
        kit.record(PROMOTE, "skip", "the target does not declare stages-keys: a write is current at once".into());
    }

    let second_options = kit.options(args, admin_secrets);
    let replaced = write_current(kit, plugin, &second_options, &second, stages_keys, denied).await;
    kit.check("another rotation's write replaces it", replaced);

    let restored = kit.timed("restore", plugin.restore(&second_options, Some(&first)).await, denied);
    let back = match restored {
        Ok(()) => verified(kit.timed("check", plugin.check(&first_options, &first, false).await, denied), kit),
        Err(e) => Err(describe(&e)),
    };
    kit.check("restore puts the previous key back", back);
    let again = kit.timed("restore", plugin.restore(&second_options, Some(&first)).await, denied);
    kit.check("restoring twice succeeds", again.map(|()| "nothing left to undo".into()).map_err(|e| describe(&e)));
    kit.record("no result carries a secret", "pass", "the host refused none of the target's results".into());
}

/// Writes `key` for another rotation and makes it current, then checks it.
async fn write_current(
    kit: &mut Kit,
    plugin: &Plugin,
    options: &CallOptions,
    key: &Credential,
    stages_keys: bool,
    denied: &mut Vec<String>,
) -> Result<String, String> {
    kit.timed("write", plugin.write(options, key, stages_keys).await, denied).map_err(|e| describe(&e))?;
    if stages_keys {
        kit.timed("promote", plugin.promote(options, key).await, denied).map_err(|e| describe(&e))?;
    }
    verified(kit.timed("check", plugin.check(options, key, false).await, denied), kit)
}

/// A `check`'s answer as a rule's outcome; a result the host refused for
/// carrying a secret fails the secrets rule too.
fn verified(checked: Result<crate::runtime::Verification, PluginError>, kit: &mut Kit) -> Result<String, String> {
    match checked {
        Ok(v) => valid(v.valid, v.detail),
        Err(e) => {
            secrets_rule(kit, &e);
            Err(describe(&e))
        }
    }
}

/// Fails "no result carries a secret" when the host refused a result.
fn secrets_rule(kit: &mut Kit, error: &PluginError) {
    if let PluginError::InvalidResult { reason, .. } = error {
        kit.record("no result carries a secret", "fail", reason.clone());
    }
}

fn describe_placed(placed: &Placed) -> String {
    match &placed.revision {
        Some(revision) => format!("{}, revision {revision}", placed.location),
        None => placed.location.clone(),
    }
}

/// A key made up for the test: a random secret no real service holds.
fn test_key(n: u8) -> Credential {
    let secret: String = crate::store::rand_bytes::<16>().iter().map(|b| format!("{b:02x}")).collect();
    Credential { key_id: format!("rekey-conformance-{n}"), secret, attributes: vec![], expires_at: None }
}
