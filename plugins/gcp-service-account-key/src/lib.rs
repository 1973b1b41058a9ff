//! The `gcp-service-account-key` provider: user-managed keys of a Google
//! Cloud service account, through IAM's `projects.serviceAccounts.keys`,
//! managed by an admin service account.
//!
//! - Every call first signs in as the admin: a JWT signed RS256 with the
//!   admin's key, exchanged at the token endpoint for an access token
//!   (RFC 7523, as Google's client libraries do).
//! - `generate`: `POST …/keys`; the new key's credentials file (the JSON
//!   applications load) is the secret, on one line; its key id the key id.
//! - `verify`: signs in **with the new key itself**: the token endpoint
//!   checks the signature against the key Google holds.
//! - `revoke`: `DELETE …/keys/{key}` (404: already gone).
//! - `list-keys`: `GET …/keys?keyTypes=USER_MANAGED`, but for the admin's
//!   own key.
//!
//! Google keeps no label with a key, so a key cannot carry the rotation
//! that made it, and `generate` cannot be idempotent: a key whose creation
//! was lost is found by `list-keys` as unknown and held as a suspected
//! orphan for `rekey reconcile --yes`.
//!
//! The admin's key is a secret the plugin computes with (it signs), not a
//! placeholder.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rekey_sdk::http::{Request, Response, segment};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Value, json};
use sha2::Sha256;

/// The provider; see the crate documentation.
pub struct Gcp;

/// The scope every token asks for: IAM takes no narrower one.
const SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
/// How long a signed assertion is good for: Google takes at most an hour.
const ASSERTION_SECONDS: u64 = 3600;

/// A service account key as its credentials file holds it.
struct ServiceKey {
    email: String,
    key_id: String,
    signer: SigningKey<Sha256>,
}

impl ServiceKey {
    /// From a credentials file, or why it is not one (never quoting it).
    fn parse(file: &str) -> Result<Self, String> {
        let file: Value =
            serde_json::from_str(file).map_err(|_| "not a service account key file (JSON)".to_string())?;
        let field = |name: &str| file[name].as_str().ok_or_else(|| format!("the key file has no `{name}`"));
        let signer = SigningKey::<Sha256>::from_pkcs8_pem(field("private_key")?)
            .map_err(|_| "the key file's `private_key` is not an RSA key in PKCS#8 PEM".to_string())?;
        Ok(Self { email: field("client_email")?.into(), key_id: field("private_key_id")?.into(), signer })
    }

    /// An access token for this key's account, or the token endpoint's
    /// refusal (`Ok(Err(reason))`).
    fn sign_in(&self, token_url: &str) -> Result<Result<String, String>, ProviderError> {
        let now = rekey_sdk::time::now();
        let part = |value: Value| URL_SAFE_NO_PAD.encode(value.to_string());
        let header = part(json!({ "alg": "RS256", "typ": "JWT", "kid": self.key_id }));
        let claims = part(json!({
            "iss": self.email, "scope": SCOPE, "aud": token_url, "iat": now, "exp": now + ASSERTION_SECONDS,
        }));
        let signed = format!("{header}.{claims}");
        let signature = URL_SAFE_NO_PAD.encode(self.signer.sign(signed.as_bytes()).to_bytes());
        let form = format!(
            "grant_type={}&assertion={signed}.{signature}",
            utf8_percent_encode("urn:ietf:params:oauth:grant-type:jwt-bearer", NON_ALPHANUMERIC)
        );
        rekey_sdk::oauth::token(token_url, form)
    }
}

/// One call's settings, signed in as the admin.
struct Account {
    /// `{api-url}/v1/projects/{project}/serviceAccounts/{email}/keys`.
    keys_url: String,
    token: String,
    /// The admin's own key id: never this credential's.
    admin_key: String,
}

fn settings(ctx: &CallContext) -> Result<(Config<'_>, &str), ProviderError> {
    let config = Config::new(ctx);
    let token_url = config.get("token-url").unwrap_or("https://oauth2.googleapis.com/token");
    Ok((config, token_url))
}

impl Account {
    fn sign_in(ctx: &CallContext) -> Result<Self, ProviderError> {
        let (config, token_url) = settings(ctx)?;
        let email = config.required("service-account")?;
        if !email.contains('@') {
            return Err(ProviderError::InvalidConfig(format!(
                "service-account `{email}` is not an email (NAME@PROJECT.iam.gserviceaccount.com)"
            )));
        }
        // A key that is not one fails as a wrong one does: the operator
        // must give the admin's key file.
        let unauthorized = |reason: String| ProviderError::Unauthorized(format!("admin secret `admin-key`: {reason}"));
        let admin = ServiceKey::parse(config.secret("admin-key")?).map_err(unauthorized)?;
        let token = admin.sign_in(token_url)?.map_err(unauthorized)?;
        let api = config.get("api-url").unwrap_or("https://iam.googleapis.com").trim_end_matches('/');
        let project = segment(config.get("project").unwrap_or("-"));
        let email = segment(email);
        Ok(Self {
            keys_url: format!("{api}/v1/projects/{project}/serviceAccounts/{email}/keys"),
            token,
            admin_key: admin.key_id,
        })
    }

    fn call(&self, method: &str, url: &str, what: &str) -> Result<Value, ProviderError> {
        answer(
            Request::new(method, url).bearer(&self.token).header("accept", "application/json").send_any_status()?,
            what,
        )
    }

    fn key_url(&self, key_id: &str) -> String {
        format!("{}/{}", self.keys_url, segment(key_id))
    }
}

/// A Google answer's JSON, or the failure with Google's message.
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    response.expect_json(&format!("Google IAM: {what}"))
}

/// The key id, the last part of a key's resource name.
fn key_id(key: &Value) -> Option<&str> {
    key["name"].as_str()?.rsplit('/').next()
}

/// A time of the vendor's (RFC 3339) as Unix seconds.
fn seconds(time: &Value) -> Option<u64> {
    rekey_sdk::time::unix_seconds(time.as_str()?)
}

impl Provider for Gcp {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        let url = |name, help| ConfigField::new(name, FieldType::Url, help);
        PluginInfo {
            name: "gcp-service-account-key".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Keys of a Google Cloud service account".into(),
            config: vec![
                text("service-account", "The account whose keys rotate: NAME@PROJECT.iam.gserviceaccount.com").required(),
                text("project", "Its project id; `-` lets Google infer it from the account").default_value("-"),
                url("api-url", "IAM's API").default_value("https://iam.googleapis.com"),
                url("token-url", "Google's OAuth 2.0 token endpoint").default_value("https://oauth2.googleapis.com/token"),
                text("admin-key", "The admin service account's key file (JSON), with iam.serviceAccountKeys.create, list and delete on the account (it signs in with it)").secret(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec!["{api-url}".into(), "{token-url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let account = Account::sign_in(&ctx)?;
        let request = json!({ "privateKeyType": "TYPE_GOOGLE_CREDENTIALS_FILE", "keyAlgorithm": "KEY_ALG_RSA_2048" });
        let response = Request::post(&account.keys_url).bearer(&account.token).json(&request).send_any_status()?;
        let made = answer(response, "create a key")?;
        let (Some(id), Some(data)) = (key_id(&made), made["privateKeyData"].as_str()) else {
            return Err(ProviderError::Rejected("Google's answer has no key name or private key data".into()));
        };
        let file = STANDARD
            .decode(data)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .ok_or_else(|| ProviderError::Rejected("Google's private key data is not a credentials file".into()))?;
        Ok(Credential { key_id: id.into(), secret: file.to_string(), attributes: vec![], expires_at: None })
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let (_, token_url) = settings(&ctx)?;
        let new = match ServiceKey::parse(&key.secret) {
            Ok(new) => new,
            Err(reason) => return Ok(Verification::invalid(reason)),
        };
        if new.key_id != key.key_id {
            return Ok(Verification::invalid(format!("the key file holds key {}, not {}", new.key_id, key.key_id)));
        }
        Ok(match new.sign_in(token_url)? {
            Ok(_) => Verification::valid("Google signs the account in with the key"),
            Err(reason) => Verification::invalid(reason),
        })
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        let account = Account::sign_in(&ctx)?;
        if key.key_id == account.admin_key {
            return Err(ProviderError::Rejected("refusing to delete the admin's own key".into()));
        }
        rekey_sdk::done_if_gone(account.call("DELETE", &account.key_url(&key.key_id), "delete the key"))
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let account = Account::sign_in(&ctx)?;
        let listed = account.call("GET", &format!("{}?keyTypes=USER_MANAGED", account.keys_url), "list the keys")?;
        Ok(listed["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|key| key["keyType"] != "SYSTEM_MANAGED")
            .filter_map(|key| {
                let id = key_id(key)?;
                (id != account.admin_key).then(|| KeySummary {
                    key_id: id.into(),
                    tag: None,
                    created_at: seconds(&key["validAfterTime"]),
                    last_used: None,
                    attributes: vec![],
                })
            })
            .collect())
    }
}

rekey_sdk::export_provider!(Gcp);
