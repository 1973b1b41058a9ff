//! The `aws-secrets-manager` deploy target: one secret in AWS Secrets
//! Manager, rotated the way Secrets Manager's own rotation does it.
//!
//! - `write`: `PutSecretValue` with the rotation's `ClientRequestToken`, so a
//!   resumed write is the same version (Secrets Manager answers it again).
//!   Staged, the version is labelled `AWSPENDING`; applications that read
//!   `AWSCURRENT` (the default) still get the old key. A secret that does
//!   not exist yet is created (`CreateSecret`, with `kms-key-id` if set).
//! - `check`: `GetSecretValue` of that version: it holds the value this
//!   rotation wrote, with the label expected.
//! - `promote`: `UpdateSecretVersionStage` moves `AWSCURRENT` to it (Secrets
//!   Manager moves `AWSPREVIOUS` to the version it leaves).
//! - `restore`: `AWSCURRENT` moved back to the version that had it, the
//!   `AWSPENDING` label removed; with no earlier version, the previous key
//!   is written again, or the secret this rotation created is scheduled for
//!   deletion.
//!
//! Requests are JSON, signed with SigV4 inside the sandbox.

use rekey_sdk::aws::JsonApi;
use rekey_sdk::{
    CallContext, Config, ConfigField, Credential, FieldType, Permissions, Placed, ProviderError, Target, TargetInfo,
    Verification,
};
use serde_json::{Value, json};

/// The target; see the crate documentation.
pub struct SecretsManager;

/// A secret's versions, each with its labels (`AWSCURRENT`…).
type Versions = Vec<(String, Vec<String>)>;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
const PREVIOUS: &str = "AWSPREVIOUS";

/// One call's settings.
struct Aws<'a> {
    config: Config<'a>,
    secret_id: &'a str,
    region: &'a str,
    rotation: &'a str,
}

impl<'a> Aws<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        Ok(Self {
            secret_id: config.required("secret-id")?,
            region: config.get("region").unwrap_or("us-east-1"),
            rotation: &ctx.rotation_id,
            config,
        })
    }

    /// The version id this rotation writes: its `ClientRequestToken`
    /// (32 to 64 characters), the same on every retry.
    fn version(&self, purpose: &str) -> String {
        format!("{:-<32}", format!("{}-rekey-{purpose}", self.rotation))
    }

    /// One Secrets Manager action; AWS errors become provider errors.
    fn call(&self, action: &str, body: Value) -> Result<Value, ProviderError> {
        JsonApi::configured(&self.config, "secretsmanager", "secretsmanager")?.call(action, &body)
    }

    /// The secret's versions and their labels, or `None` if there is no
    /// such secret.
    fn versions(&self) -> Result<Option<Versions>, ProviderError> {
        let described = match self.call("DescribeSecret", json!({ "SecretId": self.secret_id })) {
            Ok(described) => described,
            Err(ProviderError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let stages = described["VersionIdsToStages"].as_object().cloned().unwrap_or_default();
        Ok(Some(
            stages
                .into_iter()
                .map(|(id, labels)| {
                    let labels = labels.as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from);
                    (id, labels.collect())
                })
                .collect(),
        ))
    }

    /// Moves `label` to `to` from whichever version has it.
    fn move_label(&self, versions: &[(String, Vec<String>)], label: &str, to: &str) -> Result<(), ProviderError> {
        let from = holding(versions, label);
        if from == Some(to) {
            return Ok(());
        }
        let mut body = json!({ "SecretId": self.secret_id, "VersionStage": label, "MoveToVersionId": to });
        if let Some(from) = from {
            body["RemoveFromVersionId"] = from.into();
        }
        self.call("UpdateSecretVersionStage", body).map(drop)
    }

    /// Writes `value` as the version `version`, with `label`; creates the
    /// secret if it does not exist.
    fn put(&self, value: &str, version: &str, label: &str) -> Result<(), ProviderError> {
        let put = json!({
            "SecretId": self.secret_id,
            "SecretString": value,
            "ClientRequestToken": version,
            "VersionStages": [label],
        });
        match self.call("PutSecretValue", put) {
            Err(ProviderError::NotFound(_)) => {
                let mut create =
                    json!({ "Name": self.secret_id, "SecretString": value, "ClientRequestToken": version });
                if let Some(kms) = self.config.get("kms-key-id").filter(|k| !k.is_empty()) {
                    create["KmsKeyId"] = kms.into();
                }
                self.call("CreateSecret", create).map(drop)
            }
            other => other.map(drop),
        }
    }

    /// What the secret holds for `key`: the `value` template filled in.
    fn value(&self, key: &Credential) -> Result<String, ProviderError> {
        rekey_sdk::template::value(self.config.get("value").unwrap_or("{secret}"), key)
            .map_err(|e| ProviderError::InvalidConfig(format!("config field `value`: {e}")))
    }

    fn location(&self) -> String {
        format!("secret `{}` in {}", self.secret_id, self.region)
    }
}

/// The version that has `label`.
fn holding<'v>(versions: &'v [(String, Vec<String>)], label: &str) -> Option<&'v str> {
    versions.iter().find(|(_, labels)| labels.iter().any(|l| l == label)).map(|(id, _)| id.as_str())
}

/// Whether `version` has `label`.
fn has(versions: &[(String, Vec<String>)], version: &str, label: &str) -> bool {
    versions.iter().any(|(id, labels)| id == version && labels.iter().any(|l| l == label))
}

impl Target for SecretsManager {
    fn info() -> TargetInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        TargetInfo {
            name: "aws-secrets-manager".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A secret in AWS Secrets Manager: the new key staged as AWSPENDING, made AWSCURRENT when rekey promotes".into(),
            config: vec![
                text("secret-id", "The secret's name or ARN").required(),
                text("region", "Its region").default_value("us-east-1"),
                ConfigField::new("endpoint", FieldType::Url, "Secrets Manager endpoint of that region")
                    .default_value("https://secretsmanager.us-east-1.amazonaws.com"),
                text("value", "What the secret holds: {secret} and {key-id}, e.g. {\"password\":\"{secret}\"} (values JSON-escaped in a JSON template)")
                    .default_value("{secret}"),
                text("kms-key-id", "KMS key to encrypt the secret with, when rekey creates it [default: the account's aws/secretsmanager key]"),
                text("admin-access-key-id", "Access key id of the identity that writes the secret").required(),
                text("admin-secret-access-key", "Its secret access key").secret(),
            ],
            permissions: Permissions { http_hosts: vec!["{endpoint}".into()], tcp: vec![] },
            stages_keys: true,
        }
    }

    fn write(ctx: CallContext, key: Credential, staged: bool) -> Result<Placed, ProviderError> {
        let aws = Aws::from(&ctx)?;
        let version = aws.version("version");
        aws.put(&aws.value(&key)?, &version, if staged { PENDING } else { CURRENT })?;
        Ok(Placed { location: aws.location(), revision: Some(version) })
    }

    fn check(ctx: CallContext, key: Credential, staged: bool) -> Result<Verification, ProviderError> {
        let aws = Aws::from(&ctx)?;
        let version = aws.version("version");
        let got = match aws.call("GetSecretValue", json!({ "SecretId": aws.secret_id, "VersionId": version })) {
            Ok(got) => got,
            Err(ProviderError::NotFound(_)) => {
                let detail = format!("{} has no version {version}", aws.location());
                return Ok(Verification { valid: false, detail: Some(detail), last_used: None });
            }
            Err(e) => return Err(e),
        };
        // A secret's first version is current at once, staged or not.
        let label = if staged { PENDING } else { CURRENT };
        let labels: Vec<&str> =
            got["VersionStages"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        let labelled = labels.contains(&label) || labels.contains(&CURRENT);
        let holds = got["SecretString"].as_str() == Some(aws.value(&key)?.as_str());
        let detail = match (holds, labelled) {
            (true, true) => format!("{} version {version} holds the key, labelled {label}", aws.location()),
            (false, _) => format!("{} version {version} holds another value", aws.location()),
            (true, false) => format!("{} version {version} holds the key but is not labelled {label}", aws.location()),
        };
        Ok(Verification { valid: holds && labelled, detail: Some(detail), last_used: None })
    }

    fn promote(ctx: CallContext, _key: Credential) -> Result<(), ProviderError> {
        let aws = Aws::from(&ctx)?;
        let version = aws.version("version");
        let versions =
            aws.versions()?.ok_or_else(|| ProviderError::NotFound(format!("{} does not exist", aws.location())))?;
        if !versions.iter().any(|(id, _)| *id == version) {
            return Err(ProviderError::NotFound(format!("{} has no version {version} to promote", aws.location())));
        }
        aws.move_label(&versions, CURRENT, &version)?;
        if has(&versions, &version, PENDING) {
            let body = json!({ "SecretId": aws.secret_id, "VersionStage": PENDING, "RemoveFromVersionId": version });
            aws.call("UpdateSecretVersionStage", body)?;
        }
        Ok(())
    }

    fn restore(ctx: CallContext, previous: Option<Credential>) -> Result<(), ProviderError> {
        let aws = Aws::from(&ctx)?;
        let version = aws.version("version");
        let Some(versions) = aws.versions()? else { return Ok(()) };
        if !versions.iter().any(|(id, _)| *id == version) {
            // This rotation never wrote here.
            return Ok(());
        }
        if has(&versions, &version, PENDING) {
            let body = json!({ "SecretId": aws.secret_id, "VersionStage": PENDING, "RemoveFromVersionId": version });
            aws.call("UpdateSecretVersionStage", body)?;
        }
        if !has(&versions, &version, CURRENT) {
            return Ok(());
        }
        // Ours is current: the version it replaced has AWSPREVIOUS.
        if let Some(before) = holding(&versions, PREVIOUS).filter(|id| *id != version) {
            return aws.move_label(&versions, CURRENT, before);
        }
        match previous {
            Some(previous) => aws.put(&aws.value(&previous)?, &aws.version("restore"), CURRENT),
            None if versions.len() == 1 => {
                // This rotation created the secret: nothing was there before.
                let body = json!({ "SecretId": aws.secret_id, "RecoveryWindowInDays": 7 });
                aws.call("DeleteSecret", body).map(drop)
            }
            None => Err(ProviderError::Rejected(format!(
                "{} has no version labelled {PREVIOUS} to go back to and rekey has no earlier key; restore it by hand",
                aws.location()
            ))),
        }
    }
}

rekey_sdk::export_target!(SecretsManager);
