//! The `kubernetes-secret` deploy target: one key of a Secret in a
//! namespace, and optionally a rolling restart of the Deployments that read
//! it, so that "update the application" includes the restart.
//!
//! - `write`: the Secret is read; when it is missing it is created, and
//!   otherwise the key is set and the Secret replaced with the
//!   `resourceVersion` it was read at, so a concurrent change is never
//!   overwritten (a 409 Conflict reads it again). A Secret already holding
//!   the value (a resumed step) is left as it is. Then each named
//!   Deployment's pod template gets the annotation `kubectl rollout
//!   restart` sets (`kubectl.kubernetes.io/restartedAt`), which rolls its
//!   pods, with the Secret's `resourceVersion` beside it: a Deployment
//!   already restarted for that version (a resumed step) is not restarted
//!   again.
//! - `check`: the Secret holds the value (compared in the sandbox; nothing
//!   secret goes back to the host) and each Deployment was restarted for
//!   the Secret's current version; the rollout's progress is reported.
//! - `restore`: the previous key written back (or, with none, the key
//!   removed), and the Deployments restarted again.
//!
//! The token is a placeholder secret: the plugin only holds
//! `{{secret:token}}`; the cluster's CA is the target's `tls_ca`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rekey_sdk::http::{Request, Response};
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};
use serde_json::{Value, json};

/// The target; see the crate documentation.
pub struct KubernetesSecret;

/// The pod template annotation `kubectl rollout restart` sets.
const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";
/// The pod template annotation naming the Secret's `resourceVersion` a
/// Deployment was last restarted for: what makes a resumed step's restart
/// harmless, and what the check compares.
const RESTARTED_FOR: &str = "rekey.dev/secret-version";
/// How often a write that met a concurrent change is tried again.
const CONFLICT_ATTEMPTS: usize = 5;

/// One call's settings: which Secret, which key, which Deployments.
struct Place<'a> {
    config: Config<'a>,
    api: &'a str,
    namespace: &'a str,
    name: &'a str,
    key: &'a str,
    restart: Vec<&'a str>,
}

impl<'a> Place<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let restart = config.get("restart").unwrap_or_default();
        Ok(Self {
            api: config.required("api-url")?.trim_end_matches('/'),
            namespace: config.required("namespace")?,
            name: config.required("secret-name")?,
            key: config.required("key")?,
            restart: restart.split(',').map(str::trim).filter(|d| !d.is_empty()).collect(),
            config,
        })
    }

    fn request(&self, method: &str, url: &str) -> Request {
        Request::new(method, url)
            .header("authorization", "Bearer {{secret:token}}")
            .header("accept", "application/json")
    }

    fn secrets(&self) -> String {
        format!("{}/api/v1/namespaces/{}/secrets", self.api, self.namespace)
    }

    fn deployment(&self, name: &str) -> String {
        format!("{}/apis/apps/v1/namespaces/{}/deployments/{name}", self.api, self.namespace)
    }

    fn location(&self) -> String {
        format!("key `{}` of Secret `{}/{}` at {}", self.key, self.namespace, self.name, self.api)
    }

    /// What the key holds for `credential`, base64 as a Secret's data is.
    fn encoded(&self, credential: &Credential) -> Result<String, ProviderError> {
        let value = rekey_sdk::template::value(self.config.get("value").unwrap_or("{secret}"), credential)
            .map_err(|e| ProviderError::InvalidConfig(format!("config field `value`: {e}")))?;
        Ok(STANDARD.encode(value))
    }

    /// The Secret, or none when it does not exist.
    fn read(&self) -> Result<Option<Value>, ProviderError> {
        let response = self.request("GET", &format!("{}/{}", self.secrets(), self.name)).send_any_status()?;
        match answer(response, "read the Secret") {
            Ok(secret) => Ok(Some(secret)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Sets the key to `encoded` (or removes it, with none); returns the
    /// Secret's `resourceVersion` after. A write that met a concurrent
    /// change (409) reads the Secret again and retries.
    fn set(&self, encoded: Option<&str>) -> Result<String, ProviderError> {
        for _ in 0..CONFLICT_ATTEMPTS {
            let response = match (self.read()?, encoded) {
                (None, None) => return Ok(String::new()),
                (None, Some(encoded)) => {
                    let secret = json!({
                        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                        "metadata": { "name": self.name, "namespace": self.namespace },
                        "data": { self.key: encoded },
                    });
                    self.request("POST", &self.secrets()).json(&secret).send_any_status()?
                }
                (Some(mut secret), encoded) => {
                    let held = secret["data"][self.key].as_str();
                    if held == encoded {
                        return Ok(resource_version(&secret));
                    }
                    // It differs, so a removal has the key to remove.
                    match (encoded, secret["data"].as_object_mut()) {
                        (Some(encoded), _) => secret["data"][self.key] = encoded.into(),
                        (None, data) => drop(data.and_then(|data| data.remove(self.key))),
                    }
                    let url = format!("{}/{}", self.secrets(), self.name);
                    self.request("PUT", &url).json(&secret).send_any_status()?
                }
            };
            if response.status() == 409 {
                continue; // created or changed meanwhile: read it again
            }
            return Ok(resource_version(&answer(response, "write the Secret")?));
        }
        Err(ProviderError::Unavailable(format!(
            "the Secret `{}/{}` changed under every one of {CONFLICT_ATTEMPTS} writes (409 Conflict)",
            self.namespace, self.name
        )))
    }

    /// Restarts each Deployment not yet restarted for the Secret's
    /// `version`, as `kubectl rollout restart` does: a strategic merge
    /// patch of its pod template's annotations. Nothing to restart for
    /// when there is no Secret.
    fn restart(&self, version: &str) -> Result<(), ProviderError> {
        if version.is_empty() {
            return Ok(());
        }
        for name in &self.restart {
            let deployment =
                answer(self.request("GET", &self.deployment(name)).send_any_status()?, "read a Deployment")?;
            if template_annotation(&deployment, RESTARTED_FOR) == Some(version) {
                continue;
            }
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let patch = json!({ "spec": { "template": { "metadata": { "annotations": {
                RESTARTED_AT: now, RESTARTED_FOR: version,
            } } } } });
            let request = self
                .request("PATCH", &self.deployment(name))
                .header("content-type", "application/strategic-merge-patch+json")
                .body(serde_json::to_vec(&patch).expect("JSON to memory"));
            answer(request.send_any_status()?, &format!("restart Deployment `{name}`"))?;
        }
        Ok(())
    }

    /// Whether every Deployment was restarted for the Secret's `version`,
    /// and how far each rollout is.
    fn restarted(&self, version: &str) -> Result<(bool, Vec<String>), ProviderError> {
        let mut all = true;
        let mut notes = Vec::new();
        for name in &self.restart {
            let deployment =
                answer(self.request("GET", &self.deployment(name)).send_any_status()?, "read a Deployment")?;
            if template_annotation(&deployment, RESTARTED_FOR) != Some(version) {
                all = false;
                notes.push(format!("Deployment `{name}` was not restarted since the Secret was written"));
                continue;
            }
            let status = &deployment["status"];
            notes.push(format!(
                "Deployment `{name}` restarted, {} of {} replicas updated",
                status["updatedReplicas"].as_u64().unwrap_or(0),
                deployment["spec"]["replicas"].as_u64().unwrap_or(1)
            ));
        }
        Ok((all, notes))
    }
}

fn resource_version(object: &Value) -> String {
    object["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string()
}

fn template_annotation<'v>(deployment: &'v Value, name: &str) -> Option<&'v str> {
    deployment["spec"]["template"]["metadata"]["annotations"][name].as_str()
}

/// An API server answer's JSON, or the failure as a provider error (with
/// the `Status` message the server gives).
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    response.expect_json(&format!("Kubernetes: {what}"))
}

impl Target for KubernetesSecret {
    fn info() -> TargetInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        TargetInfo {
            name: "kubernetes-secret".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "One key of a Kubernetes Secret, and a rolling restart of the Deployments that read it".into(),
            config: vec![
                ConfigField::new("api-url", FieldType::Url, "The cluster's API server, e.g. https://10.0.0.1:6443")
                    .required(),
                text("namespace", "The Secret's namespace (and the Deployments')").required(),
                text("secret-name", "The Secret's name; created when missing").required(),
                text("key", "The key in the Secret's data, e.g. API_KEY").required(),
                text("value", "What the key holds: {secret} and {key-id} (JSON-escaped in a JSON template)")
                    .default_value("{secret}"),
                text("restart", "Deployments to restart once the Secret is written, comma-separated"),
                ConfigField::new(
                    "token",
                    FieldType::Text,
                    "A bearer token allowed to get, create and update the Secret (and get and patch the Deployments)",
                )
                .placeholder(),
            ],
            permissions: Permissions { http_hosts: vec!["{api-url}".into()], tcp: vec![] },
            stages_keys: false,
        }
    }

    fn write(ctx: CallContext, key: Credential, _staged: bool) -> Result<Placed, ProviderError> {
        let place = Place::from(&ctx)?;
        let revision = place.set(Some(&place.encoded(&key)?))?;
        place.restart(&revision)?;
        Ok(Placed { location: place.location(), revision: Some(revision).filter(|r| !r.is_empty()) })
    }

    fn check(ctx: CallContext, key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let place = Place::from(&ctx)?;
        let Some(secret) = place.read()? else {
            let detail = format!("{} does not exist", place.location());
            return Ok(Verification { valid: false, detail: Some(detail), last_used: None });
        };
        let version = resource_version(&secret);
        let holds = secret["data"][place.key].as_str() == Some(place.encoded(&key)?.as_str());
        let what = if holds { "holds this key" } else { "holds another value" };
        let mut notes = vec![format!("{} {what} (resourceVersion {version})", place.location())];
        let (restarted, rollouts) = place.restarted(&version)?;
        notes.extend(rollouts);
        Ok(Verification { valid: holds && restarted, detail: Some(notes.join("; ")), last_used: None })
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        // Not called: the target does not stage keys.
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let place = Place::from(&ctx)?;
        let encoded = previous.as_ref().map(|previous| place.encoded(previous)).transpose()?;
        let version = place.set(encoded.as_deref())?;
        place.restart(&version)
    }
}

rekey_sdk::export_target!(KubernetesSecret);
