//! A provider that can neither list its keys nor return the same key for
//! the same rotation id, as many SaaS key APIs are: a `generate` whose
//! answer is lost must be recorded as a suspected orphan, never retried
//! blindly.
use rekey_sdk::http::Request;
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};

struct Unlisted;

fn base(ctx: &CallContext) -> Result<String, ProviderError> {
    Ok(Config::new(ctx).required("base-url")?.trim_end_matches('/').to_string())
}

fn token(ctx: &CallContext) -> Result<String, ProviderError> {
    Ok(Config::new(ctx).secret("admin-token")?.to_string())
}

impl Provider for Unlisted {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "unlisted-keys".into(),
            version: "0.0.1".into(),
            description: "test guest: keys that cannot be listed".into(),
            config: vec![
                ConfigField::new("base-url", FieldType::Url, "the key API").required(),
                ConfigField::new("admin-token", FieldType::Text, "admin token").placeholder(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: false,
            },
            permissions: Permissions { http_hosts: vec!["{base-url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let created: serde_json::Value = Request::post(&format!("{}/keys", base(&ctx)?))
            .bearer(&token(&ctx)?)
            .json(&serde_json::json!({ "name": "no label" }))
            .send()?
            .json()?;
        let field = |name: &str| created[name].as_str().unwrap_or_default().to_string();
        Ok(Credential { key_id: field("id"), secret: field("secret"), attributes: vec![], expires_at: None })
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let status = Request::get(&format!("{}/me", base(&ctx)?)).bearer(&key.secret).send_any_status()?.status();
        Ok(Verification { valid: status == 200, detail: None, last_used: None })
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        Request::delete(&format!("{}/keys/{}", base(&ctx)?, key.key_id)).bearer(&token(&ctx)?).send()?;
        Ok(())
    }

    fn list_keys(_: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

rekey_sdk::export_provider!(Unlisted);
