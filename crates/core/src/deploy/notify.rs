//! Notifications: a JSON event per step that matters, sent to every
//! notifier in `rekey.toml`. A webhook is signed with HMAC-SHA256 over the
//! body (`X-Rekey-Signature: sha256=<hex>`) and retried with backoff. A
//! notification that fails is logged, never fatal to the rotation; one
//! whose signing secret cannot be resolved is not sent at all (a session
//! refuses to start on such a secret, see `Session::new`).

use super::{DeployError, exec, http};
use crate::config::reference::Reference;
use crate::config::{Config, Notifier, SecretVia};
use crate::store::Store;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use std::time::Duration;
use zeroize::Zeroizing;

/// One event.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Event<'a> {
    /// `rotation.started`, `rotation.succeeded`, `rotation.failed`,
    /// `rotation.rolled_back`, `key.revoked`, `key.possible_orphan`, or
    /// from the daemon `key.due_soon`, `key.due`, `key.invalid`,
    /// `key.unused`, `key.revoke_pending`.
    pub event: &'a str,
    /// The credential.
    pub credential: &'a str,
    /// The rotation, for a rotation's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<&'a str>,
    /// Unix seconds.
    pub at: i64,
    /// The credential's owners and stakeholders.
    pub owners: &'a [String],
    /// Details (never a secret).
    pub detail: serde_json::Value,
}

/// Sends `event` to every notifier in `config`, once everything written
/// to the store so far is on disk (nobody is told of what a crash could
/// undo). A notifier that fails is logged and audited, not an error; an
/// audit entry that cannot be written is.
pub async fn broadcast(config: &Config, store: &Store, event: &Event<'_>) -> Result<(), String> {
    if !config.manifest.notify.is_empty() {
        store.durable().await.map_err(|e| format!("the journal could not be written to disk: {e}"))?;
    }
    for notifier in &config.manifest.notify {
        let notifier = notifier.get_ref();
        let sent = match signing_secret(notifier, &config.dir, store) {
            Ok(secret) => send(notifier, event, secret.as_deref().map(|s| s.as_str()), &config.dir).await,
            Err(cause) => Err(DeployError(format!("not sent, since it cannot be signed: signing_secret: {cause}"))),
        };
        if let Err(error) = sent {
            tracing::warn!("notification {} to {} failed: {error}", event.event, describe(notifier));
            store
                .audit(
                    "notify.failed",
                    Some(event.credential),
                    event.rotation,
                    serde_json::json!({ "event": event.event, "error": error.to_string() }),
                )
                .map_err(|e| format!("a failed notification could not be recorded in the audit log: {e}"))?;
        }
    }
    Ok(())
}

/// The resolved signing secret of a webhook that has one. One that is
/// configured and cannot be resolved is an error, never an unsigned event.
pub fn signing_secret(notifier: &Notifier, dir: &Path, store: &Store) -> Result<Option<Zeroizing<String>>, String> {
    match notifier {
        Notifier::Webhook { signing_secret: Some(reference), .. } => {
            Reference::parse(reference).and_then(|r| r.resolve(dir, store)).map(Some)
        }
        _ => Ok(None),
    }
}

/// Sends `event` to `notifier`; `signing_secret` is the resolved secret of a
/// webhook.
pub async fn send(
    notifier: &Notifier,
    event: &Event<'_>,
    signing_secret: Option<&str>,
    dir: &Path,
) -> Result<(), DeployError> {
    let body = serde_json::to_vec(event).expect("events serialize");
    match notifier {
        Notifier::Webhook { url, retries, .. } => {
            let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
            if let Some(secret) = signing_secret {
                let mut mac =
                    <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
                mac.update(&body);
                headers
                    .push(("x-rekey-signature".into(), format!("sha256={}", hex::encode(mac.finalize().into_bytes()))));
            }
            let mut delay = Duration::from_millis(200);
            let mut attempt = 0;
            loop {
                let result = match http::request("POST", url, &headers, body.clone(), Duration::from_secs(10)).await {
                    Ok(status) if (200..300).contains(&status) => return Ok(()),
                    Ok(status) => Err(DeployError(format!("webhook {url} answered {status}"))),
                    Err(e) => Err(e),
                };
                if attempt >= *retries {
                    return result;
                }
                attempt += 1;
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        Notifier::Exec { command, timeout } => {
            // The event is not secret; it goes on stdin like a secret would.
            let context = exec::Context { credential: event.credential, ..Default::default() };
            let json = String::from_utf8(body).expect("JSON is UTF-8");
            exec::run(command, SecretVia::Stdin, &json, *timeout, dir, &context).await
        }
    }
}

/// Describes a notifier for plans (no secret).
pub fn describe(notifier: &Notifier) -> String {
    match notifier {
        Notifier::Webhook { url, .. } => format!("webhook {url}"),
        Notifier::Exec { command, .. } => format!("exec {}", command.join(" ")),
    }
}
