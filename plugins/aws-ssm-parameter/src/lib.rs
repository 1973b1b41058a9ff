//! The `aws-ssm-parameter` deploy target: one `SecureString` parameter in
//! AWS Systems Manager Parameter Store, which keeps every value as a
//! numbered version.
//!
//! - `write`: `PutParameter` with `Overwrite`, then `LabelParameterVersion`
//!   labels the new version with the rotation (`rekey-rot-…`). A resumed
//!   write finds its labelled version, or, when the put went through and
//!   the label did not, the latest version already holding the value, and
//!   labels that instead of writing again.
//! - `check`: `GetParameter` (decrypted in the sandbox) holds the value.
//! - `restore`: when the rotation's version is the latest, the version
//!   before it is written again (a parameter the rotation created is
//!   deleted); when another write came after it, nothing is undone.
//!
//! Parameter Store has no staging: a write is what applications read at
//! once, so this target writes at the deploy step of its stage.

use rekey_sdk::aws::JsonApi;
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};
use serde_json::{Value, json};

/// The target; see the crate documentation.
pub struct SsmParameter;

/// One call's settings.
struct Ssm<'a> {
    config: Config<'a>,
    name: &'a str,
    region: &'a str,
    rotation: &'a str,
}

/// One version of the parameter.
struct Version {
    number: u64,
    value: String,
    labels: Vec<String>,
}

impl<'a> Ssm<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        Ok(Self {
            name: config.required("name")?,
            region: config.get("region").unwrap_or("us-east-1"),
            rotation: &ctx.rotation_id,
            config,
        })
    }

    fn call(&self, action: &str, body: Value) -> Result<Value, ProviderError> {
        JsonApi::configured(&self.config, "ssm", "AmazonSSM")?.call(action, &body)
    }

    /// The label of the version this rotation wrote (letters, digits, `.`,
    /// `-` and `_`; it may not start with a digit, `aws` or `ssm`).
    fn label(&self) -> String {
        let id: String = self
            .rotation
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '-' })
            .collect();
        format!("rekey-{id}")
    }

    /// Every version, oldest first; none when there is no such parameter.
    fn history(&self) -> Result<Vec<Version>, ProviderError> {
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({ "Name": self.name, "WithDecryption": true, "MaxResults": 50 });
            if let Some(token) = &token {
                body["NextToken"] = token.as_str().into();
            }
            let page = match self.call("GetParameterHistory", body) {
                Ok(page) => page,
                Err(ProviderError::NotFound(_)) => return Ok(vec![]),
                Err(e) => return Err(e),
            };
            for parameter in page["Parameters"].as_array().into_iter().flatten() {
                versions.push(Version {
                    number: parameter["Version"].as_u64().unwrap_or_default(),
                    value: parameter["Value"].as_str().unwrap_or_default().into(),
                    labels: parameter["Labels"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect(),
                });
            }
            token = page["NextToken"].as_str().filter(|t| !t.is_empty()).map(String::from);
            if token.is_none() {
                break;
            }
        }
        versions.sort_by_key(|v| v.number);
        Ok(versions)
    }

    /// Writes `value` as a new version; its number.
    fn put(&self, value: &str) -> Result<u64, ProviderError> {
        let mut body = json!({ "Name": self.name, "Value": value, "Type": "SecureString", "Overwrite": true });
        if let Some(kms) = self.config.get("kms-key-id").filter(|k| !k.is_empty()) {
            body["KeyId"] = kms.into();
        }
        let put = self.call("PutParameter", body)?;
        put["Version"].as_u64().ok_or_else(|| ProviderError::Rejected("PutParameter answered without a version".into()))
    }

    fn label_version(&self, number: u64, label: &str) -> Result<(), ProviderError> {
        let body = json!({ "Name": self.name, "ParameterVersion": number, "Labels": [label] });
        self.call("LabelParameterVersion", body).map(drop)
    }

    fn value(&self, key: &Credential) -> Result<String, ProviderError> {
        rekey_sdk::template::value(self.config.get("value").unwrap_or("{secret}"), key)
            .map_err(|e| ProviderError::InvalidConfig(format!("config field `value`: {e}")))
    }

    fn placed(&self, number: u64) -> Placed {
        Placed {
            location: format!("parameter `{}` in {}", self.name, self.region),
            revision: Some(format!("version {number}")),
        }
    }
}

impl Target for SsmParameter {
    fn info() -> TargetInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        TargetInfo {
            name: "aws-ssm-parameter".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A SecureString parameter in AWS SSM Parameter Store, rolled back to the version before"
                .into(),
            config: vec![
                text("name", "The parameter's name, e.g. /prod/payments/api-key").required(),
                text("region", "Its region").default_value("us-east-1"),
                ConfigField::new("endpoint", FieldType::Url, "SSM endpoint of that region")
                    .default_value("https://ssm.us-east-1.amazonaws.com"),
                text("value", "What the parameter holds: {secret} and {key-id} (JSON-escaped in a JSON template)")
                    .default_value("{secret}"),
                text("kms-key-id", "KMS key that encrypts it [default: the account's aws/ssm key]"),
                text("admin-access-key-id", "Access key id of the identity that writes the parameter").required(),
                text("admin-secret-access-key", "Its secret access key").secret(),
            ],
            permissions: Permissions { http_hosts: vec!["{endpoint}".into()], tcp: vec![] },
            stages_keys: false,
        }
    }

    fn write(ctx: CallContext, key: Credential, _staged: bool) -> Result<Placed, ProviderError> {
        let ssm = Ssm::from(&ctx)?;
        let (label, value) = (ssm.label(), ssm.value(&key)?);
        let history = ssm.history()?;
        if let Some(ours) = history.iter().find(|v| v.labels.contains(&label)) {
            return Ok(ssm.placed(ours.number));
        }
        // A put whose label was lost: the latest version holds the value.
        let number = match history.last() {
            Some(latest) if latest.value == value => latest.number,
            _ => ssm.put(&value)?,
        };
        ssm.label_version(number, &label)?;
        Ok(ssm.placed(number))
    }

    fn check(ctx: CallContext, key: Credential, _staged: bool) -> Result<Verification, ProviderError> {
        let ssm = Ssm::from(&ctx)?;
        let got = match ssm.call("GetParameter", json!({ "Name": ssm.name, "WithDecryption": true })) {
            Ok(got) => got,
            Err(ProviderError::NotFound(_)) => {
                let detail = format!("parameter `{}` does not exist", ssm.name);
                return Ok(Verification { valid: false, detail: Some(detail), last_used: None });
            }
            Err(e) => return Err(e),
        };
        let parameter = &got["Parameter"];
        let number = parameter["Version"].as_u64().unwrap_or_default();
        let holds = parameter["Value"].as_str() == Some(ssm.value(&key)?.as_str());
        let detail = if holds {
            format!("parameter `{}` version {number} holds the key", ssm.name)
        } else {
            format!("parameter `{}` version {number} holds another value", ssm.name)
        };
        Ok(Verification { valid: holds, detail: Some(detail), last_used: None })
    }

    fn promote(_ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        // Not called: the target does not stage keys.
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let ssm = Ssm::from(&ctx)?;
        let label = ssm.label();
        let history = ssm.history()?;
        let Some(at) = history.iter().position(|v| v.labels.contains(&label)) else {
            // This rotation never wrote here (or its write was never labelled,
            // and the check that follows every write failed it).
            return Ok(());
        };
        if at + 1 != history.len() {
            // Restored already, or written again since: nothing of ours is current.
            return Ok(());
        }
        match (at.checked_sub(1).map(|before| &history[before]), previous) {
            (Some(before), _) => ssm.put(&before.value).map(drop),
            (None, Some(previous)) => ssm.put(&ssm.value(&previous)?).map(drop),
            (None, None) => ssm.call("DeleteParameter", json!({ "Name": ssm.name })).map(drop),
        }
    }
}

rekey_sdk::export_target!(SsmParameter);
