//! A master key held by AWS KMS (`key = "aws-kms:arn:aws:kms:…:key/…"`):
//! envelope encryption. `rekey init` asks KMS for a data key
//! (`GenerateDataKey`) and keeps only its wrapped form in the store; each
//! open asks KMS to unwrap it (`Decrypt`, naming the key, with an
//! encryption context that binds it to rekey). The data key is the master
//! key: it never touches a disk in clear, and revoking rekey's right to
//! the KMS key locks the store.
//!
//! Requests are signed with SigV4 (`aws-sigv4`) using the standard
//! environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, and `AWS_ENDPOINT_URL_KMS` or `AWS_ENDPOINT_URL`
//! for another endpoint (a VPC endpoint, or moto in the tests).

use super::StoreError;
use super::crypto::MasterKey;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

/// What `key` starts with for a KMS key.
pub const PREFIX: &str = "aws-kms:";

/// A KMS key and how to reach it.
#[derive(Clone, Debug)]
pub struct Kms {
    arn: String,
    region: String,
}

impl Kms {
    /// Reads `aws-kms:arn:aws:kms:REGION:ACCOUNT:key/ID`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let arn = spec.strip_prefix(PREFIX).ok_or_else(|| format!("key must start with `{PREFIX}`"))?;
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        match parts.as_slice() {
            ["arn", _, "kms", region, _, resource]
                if !region.is_empty() && (resource.starts_with("key/") || resource.starts_with("alias/")) =>
            {
                Ok(Self { arn: arn.into(), region: (*region).into() })
            }
            _ => Err(format!(
                "key `{spec}` is not a KMS key ARN; write key = \"aws-kms:arn:aws:kms:REGION:ACCOUNT:key/KEY-ID\""
            )),
        }
    }

    /// The key's ARN, for messages and the audit log.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// A new master key and its form wrapped by KMS.
    pub fn generate(&self) -> Result<(MasterKey, Vec<u8>), StoreError> {
        let answer = self.call(
            "GenerateDataKey",
            serde_json::json!({ "KeyId": self.arn, "KeySpec": "AES_256", "EncryptionContext": context() }),
        )?;
        let key = self.decoded(&answer, "Plaintext")?;
        let wrapped = self.decoded(&answer, "CiphertextBlob")?.to_vec();
        Ok((MasterKey::from_bytes(&key).map_err(|e| self.failed(e))?, wrapped))
    }

    /// The master key `wrapped` holds. The key must be enabled: one
    /// disabled or pending deletion is named as such.
    pub fn unwrap(&self, wrapped: &[u8]) -> Result<MasterKey, StoreError> {
        let described = self.call("DescribeKey", serde_json::json!({ "KeyId": self.arn }))?;
        let state = described["KeyMetadata"]["KeyState"].as_str().unwrap_or("unknown");
        if state != "Enabled" {
            return Err(self.failed(format!(
                "the key is {state}, so it cannot unwrap the store's master key; enable it again (or cancel its deletion), or restore the store from a backup"
            )));
        }
        let answer = self.call(
            "Decrypt",
            serde_json::json!({ "KeyId": self.arn, "CiphertextBlob": BASE64.encode(wrapped), "EncryptionContext": context() }),
        )?;
        MasterKey::from_bytes(&self.decoded(&answer, "Plaintext")?).map_err(|e| self.failed(e))
    }

    fn decoded(&self, answer: &serde_json::Value, field: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let text = answer[field].as_str().ok_or_else(|| self.failed(format!("the answer has no {field}")))?;
        BASE64.decode(text).map(Zeroizing::new).map_err(|_| self.failed(format!("the answer's {field} is not base64")))
    }

    fn failed(&self, why: impl std::fmt::Display) -> StoreError {
        StoreError::MasterKey(format!("AWS KMS key {}: {why}", self.arn))
    }

    /// One KMS API call (JSON 1.1), signed with SigV4.
    fn call(&self, action: &str, body: serde_json::Value) -> Result<serde_json::Value, StoreError> {
        let endpoint = std::env::var("AWS_ENDPOINT_URL_KMS")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|_| format!("https://kms.{}.amazonaws.com", self.region));
        let endpoint = format!("{}/", endpoint.trim_end_matches('/'));
        let body = body.to_string();
        let target = format!("TrentService.{action}");
        let host = endpoint.split("://").nth(1).unwrap_or_default().trim_end_matches('/').to_string();
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", target.as_str()),
            ("host", host.as_str()),
        ];
        let signed = self.sign(&endpoint, &headers, body.as_bytes())?;
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(20)))
            .build()
            .into();
        let mut request = agent.post(&endpoint);
        for (name, value) in headers
            .iter()
            .filter(|(n, _)| *n != "host")
            .copied()
            .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            request = request.header(name, value);
        }
        let mut response = request.send(body.as_bytes()).map_err(|e| self.failed(format!("{action}: {e}")))?;
        let status = response.status();
        let text = response.body_mut().read_to_string().unwrap_or_default();
        let answer: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if !status.is_success() {
            let kind = answer["__type"].as_str().unwrap_or("error").rsplit('#').next().unwrap_or("error").to_string();
            let message = answer["message"].as_str().or(answer["Message"].as_str()).unwrap_or("").to_string();
            let message = if message.is_empty() { String::new() } else { format!(": {message}") };
            return Err(self.failed(format!("{action} refused ({status}): {kind}{message}")));
        }
        Ok(answer)
    }

    /// The SigV4 headers for a request.
    fn sign(&self, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Vec<(String, String)>, StoreError> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
            return Err(self.failed("no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary ones)"));
        };
        let identity =
            aws_credential_types::Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment").into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("kms")
            .time(std::time::SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| self.failed(e))?
            .into();
        let request = SignableRequest::new("POST", url, headers.iter().copied(), SignableBody::Bytes(body))
            .map_err(|e| self.failed(e))?;
        let (instructions, _) = sign(request, &params).map_err(|e| self.failed(e))?.into_parts();
        Ok(instructions.headers().map(|(n, v)| (n.to_string(), v.to_string())).collect())
    }
}

/// Binds a wrapped key to its use: KMS unwraps it only when asked with it.
fn context() -> serde_json::Value {
    serde_json::json!({ "rekey": "store-master-key" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_kms_key_arn_is_accepted() {
        let kms = Kms::parse("aws-kms:arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab").unwrap();
        assert_eq!(
            (kms.region.as_str(), kms.arn()),
            ("eu-west-1", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab")
        );
        for bad in ["aws-kms:1234abcd", "aws-kms:arn:aws:s3:eu-west-1:1:bucket/x", "arn:aws:kms:eu-west-1:1:key/x"] {
            assert!(Kms::parse(bad).is_err(), "{bad}");
        }
    }
}
