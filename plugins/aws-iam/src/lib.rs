//! The `aws-iam` provider: access keys of an IAM user.
//!
//! IAM lets a user hold two access keys, which gives a rotation with no
//! downtime: `generate` is `CreateAccessKey` (when the user already has two,
//! it fails with the keys listed, or deletes an inactive one if
//! `delete-inactive` is set); `verify` calls `sts:GetCallerIdentity` signed
//! with the *new* key and reports the key's last use
//! (`GetAccessKeyLastUsed`); `revoke` is `UpdateAccessKey` to `Inactive`,
//! then `DeleteAccessKey`. Requests are signed with SigV4 inside the sandbox
//! and go only to the IAM and STS endpoints in the config.

use rekey_sdk::aws::{self, Keys, Signed};
use rekey_sdk::http::{Request, Response};
use rekey_sdk::{
    CallContext, Capabilities, Config, ConfigField, Credential, FieldType, KeySummary, Permissions, PluginInfo,
    Provider, ProviderError, Verification,
};

/// The provider; see the crate documentation.
pub struct AwsIam;

/// One call's settings.
struct Aws<'a> {
    config: Config<'a>,
    user: &'a str,
    region: &'a str,
}

impl<'a> Aws<'a> {
    fn from(ctx: &'a CallContext) -> Result<Self, ProviderError> {
        let config = Config::new(ctx);
        Ok(Self { user: config.required("user-name")?, region: config.get("region").unwrap_or("us-east-1"), config })
    }

    fn admin(&self) -> Result<Keys<'a>, ProviderError> {
        Ok(Keys {
            id: self.config.required("admin-access-key-id")?,
            secret: self.config.secret("admin-secret-access-key")?,
        })
    }

    /// A signed Query API call; `Ok` holds the XML of a 2xx answer.
    fn call(
        &self,
        endpoint: &str,
        service: &str,
        keys: &Keys<'_>,
        params: &[(&str, &str)],
    ) -> Result<Result<String, Fault>, ProviderError> {
        let url = self.config.required(endpoint)?.trim_end_matches('/');
        let version = if service == "sts" { "2011-06-15" } else { "2010-05-08" };
        let body: Vec<String> =
            params.iter().chain(&[("Version", version)]).map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        let body = body.join("&");
        let signed = Signed {
            service,
            region: self.region,
            host: aws::host_of(url),
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            headers: &[],
            body: &body,
        };
        let mut request = Request::post(&format!("{url}/"));
        for (name, value) in aws::sign(keys, &signed, aws::now()) {
            request = request.header(&name, &value);
        }
        let response = request.body(body).send_any_status()?;
        Ok(if (200..300).contains(&response.status()) { Ok(response.text()) } else { Err(Fault::from(&response)) })
    }

    /// An IAM call as the admin; AWS errors become provider errors.
    fn iam(&self, params: &[(&str, &str)]) -> Result<String, ProviderError> {
        self.call("endpoint", "iam", &self.admin()?, params)?.map_err(|fault| fault.into_error(params[0].1))
    }
}

/// An AWS error answer.
struct Fault {
    status: u16,
    code: String,
    message: String,
    retry_after: Option<u32>,
}

impl Fault {
    fn from(response: &Response) -> Self {
        let xml = response.text();
        Self {
            status: response.status(),
            code: tag(&xml, "Code").unwrap_or_default(),
            message: tag(&xml, "Message").unwrap_or_default(),
            retry_after: response.header("retry-after").and_then(|v| v.parse().ok()),
        }
    }

    fn into_error(self, action: &str) -> ProviderError {
        aws::fault(action, self.status, &self.code, &self.message, self.retry_after)
    }
}

/// The text of the first `<name>…</name>` element.
fn tag(xml: &str, name: &str) -> Option<String> {
    let start = xml.find(&format!("<{name}>"))? + name.len() + 2;
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

/// RFC 3986 percent-encoding, as SigV4 wants it.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `2024-01-02T03:04:05Z` (fractions allowed) as Unix seconds.
fn parse_time(text: &str) -> Option<u64> {
    let at = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?;
    at.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

impl Provider for AwsIam {
    fn info() -> PluginInfo {
        let text = |name, help| ConfigField::new(name, FieldType::Text, help);
        PluginInfo {
            name: "aws-iam".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Access keys of an AWS IAM user (two may be active at once), SigV4-signed in the sandbox"
                .into(),
            config: vec![
                text("user-name", "The IAM user whose access keys are rotated").required(),
                ConfigField::new("endpoint", FieldType::Url, "IAM endpoint").default_value("https://iam.amazonaws.com"),
                ConfigField::new("sts-endpoint", FieldType::Url, "STS endpoint")
                    .default_value("https://sts.amazonaws.com"),
                text("region", "Signing region").default_value("us-east-1"),
                text("admin-access-key-id", "Access key id of the admin identity").required(),
                text("admin-secret-access-key", "Secret access key of the admin identity").secret(),
                ConfigField::new(
                    "delete-inactive",
                    FieldType::Boolean,
                    "When the user already has two keys, delete an inactive one",
                )
                .default_value("false"),
            ],
            // `ListAccessKeys` shows every key of the user, but IAM keeps no
            // label with an access key: listed keys carry no rotation id, so
            // the host reports them and `rekey reconcile` revokes them.
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: true,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: vec!["{endpoint}".into(), "{sts-endpoint}".into()], tcp: vec![] },
        }
    }

    fn generate(ctx: CallContext) -> Result<Credential, ProviderError> {
        let aws = Aws::from(&ctx)?;
        let listed = aws.iam(&[("Action", "ListAccessKeys"), ("UserName", aws.user)])?;
        let keys: Vec<(String, String)> = listed
            .split("<member>")
            .skip(1)
            .filter_map(|m| Some((tag(m, "AccessKeyId")?, tag(m, "Status").unwrap_or_default())))
            .collect();
        if keys.len() >= 2 {
            let inactive = keys.iter().find(|(_, status)| status == "Inactive");
            match inactive {
                Some((id, _)) if aws.config.boolean("delete-inactive", false)? => {
                    aws.iam(&[("Action", "DeleteAccessKey"), ("UserName", aws.user), ("AccessKeyId", id)])?;
                }
                _ => {
                    let list: Vec<String> = keys.iter().map(|(id, status)| format!("{id} ({status})")).collect();
                    return Err(ProviderError::Rejected(format!(
                        "IAM user `{}` already has two access keys: {}; IAM allows two. Delete the one not in use, or set delete-inactive = true to let rekey delete an inactive one",
                        aws.user,
                        list.join(", ")
                    )));
                }
            }
        }
        let created = aws.iam(&[("Action", "CreateAccessKey"), ("UserName", aws.user)])?;
        let missing = || ProviderError::Rejected("CreateAccessKey answered without a key".into());
        Ok(Credential {
            key_id: tag(&created, "AccessKeyId").ok_or_else(missing)?,
            secret: tag(&created, "SecretAccessKey").ok_or_else(missing)?,
            attributes: vec![],
            expires_at: None,
        })
    }

    fn verify(ctx: CallContext, credential: Credential) -> Result<Verification, ProviderError> {
        let aws = Aws::from(&ctx)?;
        let keys = Keys { id: &credential.key_id, secret: &credential.secret };
        let identity = match aws.call("sts-endpoint", "sts", &keys, &[("Action", "GetCallerIdentity")])? {
            Ok(xml) => xml,
            Err(fault) if fault.status == 403 || fault.status == 401 => {
                let detail = format!("STS refused the key: {} {}", fault.code, fault.message);
                return Ok(Verification { valid: false, detail: Some(detail), last_used: None });
            }
            Err(fault) => return Err(fault.into_error("GetCallerIdentity")),
        };
        let used = aws.iam(&[("Action", "GetAccessKeyLastUsed"), ("AccessKeyId", &credential.key_id)]).ok();
        Ok(Verification {
            valid: true,
            detail: Some(format!("signed in as {}", tag(&identity, "Arn").unwrap_or_default())),
            last_used: used.and_then(|xml| tag(&xml, "LastUsedDate")).and_then(|t| parse_time(&t)),
        })
    }

    fn revoke(ctx: CallContext, credential: Credential) -> Result<(), ProviderError> {
        let aws = Aws::from(&ctx)?;
        let key = credential.key_id.as_str();
        for action in ["UpdateAccessKey", "DeleteAccessKey"] {
            let mut params = vec![("Action", action), ("UserName", aws.user), ("AccessKeyId", key)];
            if action == "UpdateAccessKey" {
                params.push(("Status", "Inactive"));
            }
            match aws.iam(&params) {
                Ok(_) => {}
                // Already gone: revoking again is a success.
                Err(ProviderError::NotFound(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn list_keys(ctx: CallContext) -> Result<Vec<KeySummary>, ProviderError> {
        let aws = Aws::from(&ctx)?;
        let listed = aws.iam(&[("Action", "ListAccessKeys"), ("UserName", aws.user)])?;
        Ok(listed
            .split("<member>")
            .skip(1)
            .filter_map(|member| {
                Some(KeySummary {
                    key_id: tag(member, "AccessKeyId")?,
                    tag: None,
                    created_at: tag(member, "CreateDate").and_then(|t| parse_time(&t)),
                    last_used: None,
                    attributes: vec![],
                })
            })
            .collect())
    }
}

rekey_sdk::export_provider!(AwsIam);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_tags_and_times_are_read() {
        let xml = "<R><AccessKeyId>AKIA1</AccessKeyId><LastUsedDate>2024-02-29T10:20:30Z</LastUsedDate></R>";
        assert_eq!(tag(xml, "AccessKeyId").as_deref(), Some("AKIA1"));
        assert_eq!(parse_time(&tag(xml, "LastUsedDate").unwrap()), Some(1_709_202_030));
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
