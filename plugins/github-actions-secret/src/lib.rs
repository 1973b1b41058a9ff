//! The `github-actions-secret` deploy target: one GitHub Actions secret, of
//! a repository, one of its environments, or an organisation.
//!
//! - `write`: the scope's public key (`…/secrets/public-key`), the value
//!   sealed with it in the sandbox (libsodium's sealed box: X25519 +
//!   XSalsa20-Poly1305), then `PUT …/secrets/NAME` with the key's id.
//!   Writing again re-seals the same value: harmless.
//! - `check`: GitHub never returns a secret's value, so the check is that the
//!   secret exists, with its `updated_at`.
//! - `restore`: the previous key sealed and written again; with none, the
//!   secret is deleted.
//!
//! The token is a placeholder secret: the plugin sees `{{secret:token}}`,
//! and the host puts the value into the request on its way to GitHub.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rekey_sdk::http::{Request, Response};
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};
use serde_json::{Value, json};

/// The target; see the crate documentation.
pub struct ActionsSecret;

/// One call's settings: where the secret lives.
struct Scope<'a> {
    config: Config<'a>,
    /// `…/actions/secrets` of the repository, environment or organisation.
    base: String,
    name: &'a str,
    organization: bool,
}

impl<'a> Scope<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let api = config.get("api-url").unwrap_or("https://api.github.com").trim_end_matches('/');
        let (base, organization) = match (config.get("organization"), config.get("environment")) {
            (Some(org), None) => (format!("{api}/orgs/{org}/actions/secrets"), true),
            (None, environment) => {
                let repo = format!("{api}/repos/{}/{}", config.required("owner")?, config.required("repository")?);
                match environment {
                    Some(env) => (format!("{repo}/environments/{env}/secrets"), false),
                    None => (format!("{repo}/actions/secrets"), false),
                }
            }
            (Some(_), Some(_)) => {
                return Err(ProviderError::InvalidConfig(
                    "give `organization` for an organisation secret, or `owner`, `repository` and optionally `environment`, not both".into(),
                ));
            }
        };
        Ok(Self { name: config.required("secret-name")?, base, organization, config })
    }

    fn request(&self, method: &str, url: &str) -> Request {
        Request::new(method, url)
            .header("authorization", "Bearer {{secret:token}}")
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .header("user-agent", "rekey")
    }

    fn location(&self) -> String {
        format!("GitHub Actions secret `{}` at {}", self.name, self.base)
    }

    /// Seals `value` with the scope's public key and writes it.
    fn put(&self, value: &str) -> Result<(), ProviderError> {
        let key: Value =
            answer(self.request("GET", &format!("{}/public-key", self.base)).send_any_status()?, "get the public key")?;
        let (Some(key_id), Some(public)) = (key["key_id"].as_str(), key["key"].as_str()) else {
            return Err(ProviderError::Rejected("the public key answer has no key_id or key".into()));
        };
        let public: [u8; 32] = STANDARD
            .decode(public)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| ProviderError::Rejected("the public key is not 32 bytes of base64".into()))?;
        let sealed = crypto_box::PublicKey::from(public)
            .seal(&mut crypto_box::aead::OsRng, value.as_bytes())
            .map_err(|_| ProviderError::Rejected("sealing the value failed".into()))?;
        let mut body = json!({ "encrypted_value": STANDARD.encode(sealed), "key_id": key_id });
        if self.organization {
            body["visibility"] = self.config.get("visibility").unwrap_or("private").into();
        }
        let response = self.request("PUT", &format!("{}/{}", self.base, self.name)).json(&body).send_any_status()?;
        answer(response, "write the secret").map(drop)
    }

    fn value(&self, key: &Credential) -> Result<String, ProviderError> {
        rekey_sdk::template::value(self.config.get("value").unwrap_or("{secret}"), key)
            .map_err(|e| ProviderError::InvalidConfig(format!("config field `value`: {e}")))
    }
}

/// A GitHub answer's JSON (none for 204), or the failure as a provider
/// error. GitHub answers an exhausted rate limit with 403, not 429.
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    if response.status() == 403 && response.header("x-ratelimit-remaining") == Some("0") {
        let message = format!("GitHub: {what} answered 403: the rate limit is spent");
        return Err(ProviderError::RateLimited(rekey_sdk::RateLimit { retry_after_seconds: None, message }));
    }
    response.expect_json(&format!("GitHub: {what}"))
}

impl Target for ActionsSecret {
    fn info() -> TargetInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        TargetInfo {
            name: "github-actions-secret".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A GitHub Actions secret of a repository, environment or organisation, sealed in the sandbox"
                .into(),
            config: vec![
                text("secret-name", "The secret's name, e.g. PAYMENTS_API_KEY").required(),
                text("owner", "The repository's owner (a repository or environment secret)"),
                text("repository", "The repository's name"),
                text("environment", "An environment of the repository, for an environment secret"),
                text("organization", "The organisation, for an organisation secret (instead of owner and repository)"),
                text("visibility", "An organisation secret's visibility: all, private or selected")
                    .default_value("private"),
                text("value", "What the secret holds: {secret} and {key-id} (JSON-escaped in a JSON template)")
                    .default_value("{secret}"),
                ConfigField::new(
                    "api-url",
                    FieldType::Url,
                    "The GitHub API (GitHub Enterprise Server: https://HOST/api/v3)",
                )
                .default_value("https://api.github.com"),
                ConfigField::new("token", FieldType::Text, "A token allowed to write the secrets").placeholder(),
            ],
            permissions: Permissions { http_hosts: vec!["{api-url}".into()], tcp: vec![] },
            stages_keys: false,
        }
    }

    fn write(ctx: CallContext, key: Credential, _staged: bool) -> Result<Placed, ProviderError> {
        let scope = Scope::from(&ctx)?;
        scope.put(&scope.value(&key)?)?;
        Ok(Placed { location: scope.location(), revision: None })
    }

    fn check(ctx: CallContext, _key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let scope = Scope::from(&ctx)?;
        let response = scope.request("GET", &format!("{}/{}", scope.base, scope.name)).send_any_status()?;
        match answer(response, "read the secret") {
            Ok(secret) => {
                let updated = secret["updated_at"].as_str().unwrap_or("an unknown time");
                let detail =
                    format!("{} exists, updated at {updated} (GitHub never returns a value)", scope.location());
                Ok(Verification { valid: true, detail: Some(detail), last_used: None })
            }
            Err(ProviderError::NotFound(_)) => {
                let detail = format!("{} does not exist", scope.location());
                Ok(Verification { valid: false, detail: Some(detail), last_used: None })
            }
            Err(e) => Err(e),
        }
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        // Not called: the target does not stage keys.
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let scope = Scope::from(&ctx)?;
        match previous {
            Some(previous) => scope.put(&scope.value(&previous)?),
            None => {
                let response = scope.request("DELETE", &format!("{}/{}", scope.base, scope.name)).send_any_status()?;
                rekey_sdk::done_if_gone(answer(response, "delete the secret"))
            }
        }
    }
}

rekey_sdk::export_target!(ActionsSecret);
