//! The `azure-app-secret` provider: client secrets (password credentials)
//! of a Microsoft Entra ID application, through Microsoft Graph, managed by
//! an admin application.
//!
//! - Every call first signs the admin in: the client credentials grant at
//!   the identity platform's token endpoint, for a Graph token. The admin's
//!   secret is a placeholder the host fills in.
//! - `generate`: `POST /applications/{id}/microsoft.graph.addPassword` with
//!   the display name `KEY-NAME rekey ROTATION-ID` and an end date
//!   `lifetime-days` on; the secret is the `secretText` Graph shows once,
//!   the key id its `keyId`, and its end date the key's expiry.
//! - `verify`: signs the application in **with the new secret itself**
//!   (the client credentials grant, as the application will).
//! - `revoke`: `POST …/microsoft.graph.removePassword`, when the
//!   application still holds the key.
//! - `list-keys`: the application's passwords named `KEY-NAME rekey …`
//!   (`GET /applications/{id}?$select=passwordCredentials`).

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rekey_sdk::http::{Request, Response, segment};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

/// The provider; see the crate documentation.
pub struct Azure;

/// Every token is for Graph, with the permissions granted to the app.
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// One call's settings.
struct Tenant<'a> {
    graph: &'a str,
    token_url: String,
    application: &'a str,
    /// Every secret of this credential is named `{prefix}{rotation id}`.
    prefix: String,
    lifetime: Duration,
}

impl<'a> Tenant<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        let tenant = config.required("tenant")?;
        let login = config.get("login-url").unwrap_or("https://login.microsoftonline.com").trim_end_matches('/');
        let days = config.integer("lifetime-days", 180)?;
        if !(1..=730).contains(&days) {
            return Err(ProviderError::InvalidConfig(format!(
                "lifetime-days {days}: Entra ID takes 1 to 730 days (your tenant's policy may allow fewer)"
            )));
        }
        Ok(Self {
            graph: config.get("graph-url").unwrap_or("https://graph.microsoft.com/v1.0").trim_end_matches('/'),
            token_url: format!("{login}/{}/oauth2/v2.0/token", segment(tenant)),
            application: config.required("application-object-id")?,
            prefix: format!("{} rekey ", config.required("key-name")?),
            lifetime: Duration::from_secs(days * 86_400),
        })
    }

    /// A Graph token for `client`, or the token endpoint's refusal
    /// (`Ok(Err(reason))`). `secret` goes in the form as is: Entra's client
    /// secrets hold only characters a form leaves unescaped, and the
    /// admin's is a placeholder the host fills in on the way out.
    fn sign_in(&self, client: &str, secret: &str) -> Result<Result<String, String>, ProviderError> {
        let form = format!(
            "grant_type=client_credentials&client_id={}&client_secret={secret}&scope={}",
            utf8_percent_encode(client, NON_ALPHANUMERIC),
            utf8_percent_encode(GRAPH_SCOPE, NON_ALPHANUMERIC)
        );
        rekey_sdk::oauth::token(&self.token_url, form)
    }

    /// The admin's Graph token.
    fn admin(&self, ctx: &CallContext) -> Result<Graph<'_>, ProviderError> {
        let config = Config::new(ctx);
        let token = self
            .sign_in(config.required("admin-client-id")?, config.secret("admin-client-secret")?)?
            .map_err(|reason| ProviderError::Unauthorized(format!("the admin application: {reason}")))?;
        Ok(Graph { tenant: self, token })
    }
}

/// Graph, as the admin.
struct Graph<'a> {
    tenant: &'a Tenant<'a>,
    token: String,
}

impl Graph<'_> {
    fn url(&self, rest: &str) -> String {
        format!("{}/applications/{}{rest}", self.tenant.graph, segment(self.tenant.application))
    }

    fn send(&self, request: Request, what: &str) -> Result<Value, ProviderError> {
        answer(request.bearer(&self.token).header("accept", "application/json").send_any_status()?, what)
    }

    /// The application's app id and its passwords.
    fn application(&self) -> Result<(String, Vec<Value>), ProviderError> {
        let app = self.send(Request::get(&self.url("?$select=appId,passwordCredentials")), "read the application")?;
        let app_id =
            app["appId"].as_str().ok_or_else(|| ProviderError::Rejected("Graph's answer has no appId".into()))?;
        Ok((app_id.into(), app["passwordCredentials"].as_array().cloned().unwrap_or_default()))
    }
}

/// A Graph answer's JSON, or the failure with Graph's message.
fn answer(response: Response, what: &str) -> Result<Value, ProviderError> {
    response.expect_json(&format!("Microsoft Graph: {what}"))
}

/// A time of the vendor's (RFC 3339) as Unix seconds.
fn seconds(time: &Value) -> Option<u64> {
    rekey_sdk::time::unix_seconds(time.as_str()?)
}

impl Provider for Azure {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "azure-app-secret".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Client secrets of a Microsoft Entra ID application".into(),
            config: vec![
                text("tenant", "The directory (tenant) id").required(),
                text("application-object-id", "The object id of the application whose secrets rotate (not its app id)")
                    .required(),
                text("key-name", "What the secrets are for; each is named `KEY-NAME rekey ROTATION-ID`").required(),
                ConfigField::new("lifetime-days", FieldType::Integer, "Days each secret stays valid (1 to 730)")
                    .default_value("180"),
                text("admin-client-id", "The app id of the admin application").required(),
                ConfigField::new("graph-url", FieldType::Url, "Microsoft Graph, e.g. a national cloud's")
                    .default_value("https://graph.microsoft.com/v1.0"),
                ConfigField::new("login-url", FieldType::Url, "The identity platform, e.g. a national cloud's")
                    .default_value("https://login.microsoftonline.com"),
                text(
                    "admin-client-secret",
                    "A client secret of the admin application, with Application.ReadWrite.OwnedBy",
                )
                .placeholder(),
            ],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec!["{graph-url}".into(), "{login-url}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let tenant = Tenant::from(&ctx)?;
        let graph = tenant.admin(&ctx)?;
        let now = SystemTime::now();
        let format = |time: SystemTime| humantime::format_rfc3339_seconds(time).to_string();
        let body = json!({ "passwordCredential": {
            // Required by Graph's description, though Microsoft's examples leave it out.
            "@odata.type": "#microsoft.graph.passwordCredential",
            "displayName": format!("{}{}", tenant.prefix, ctx.rotation_id),
            "endDateTime": format(now + tenant.lifetime),
        }});
        let made =
            graph.send(Request::post(&graph.url("/microsoft.graph.addPassword")).json(&body), "add a password")?;
        match (made["keyId"].as_str(), made["secretText"].as_str()) {
            (Some(id), Some(secret)) => Ok(Credential {
                key_id: id.into(),
                secret: secret.into(),
                attributes: vec![],
                expires_at: seconds(&made["endDateTime"]),
            }),
            _ => Err(ProviderError::Rejected("Graph's answer has no keyId or secretText".into())),
        }
    }

    fn verify(ctx: CallContext, key: Credential) -> Result<Verification, ProviderError> {
        let tenant = Tenant::from(&ctx)?;
        let (app_id, _) = tenant.admin(&ctx)?.application()?;
        if key.secret.chars().any(|c| !(c.is_ascii_alphanumeric() || "-._~".contains(c))) {
            return Ok(Verification::invalid("not an Entra ID client secret (unexpected characters)"));
        }
        Ok(match tenant.sign_in(&app_id, &key.secret)? {
            Ok(_) => Verification::valid("the application signs in with it"),
            Err(reason) => Verification::invalid(reason),
        })
    }

    fn revoke(ctx: CallContext, key: Credential) -> Result<(), ProviderError> {
        let tenant = Tenant::from(&ctx)?;
        let graph = tenant.admin(&ctx)?;
        let (_, passwords) = graph.application()?;
        if !passwords.iter().any(|p| p["keyId"].as_str() == Some(&key.key_id)) {
            return Ok(());
        }
        let body = json!({ "keyId": key.key_id });
        graph.send(Request::post(&graph.url("/microsoft.graph.removePassword")).json(&body), "remove the password")?;
        Ok(())
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let tenant = Tenant::from(&ctx)?;
        let (_, passwords) = tenant.admin(&ctx)?.application()?;
        Ok(passwords
            .iter()
            .filter_map(|p| {
                let (id, name) = (p["keyId"].as_str()?, p["displayName"].as_str()?);
                name.starts_with(&tenant.prefix)
                    .then(|| KeySummary { created_at: seconds(&p["startDateTime"]), ..KeySummary::tagged(id, name) })
            })
            .collect())
    }
}

rekey_sdk::export_provider!(Azure);
