//! AWS Signature Version 4, computed inside the sandbox (the `aws`
//! feature): for the Query APIs (IAM, STS: form-encoded bodies) and the
//! JSON APIs (Secrets Manager, SSM: `X-Amz-Target` and JSON bodies).

use crate::{Config, ProviderError, RateLimit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// An AWS error answer, as the host should treat it: `action` failed with
/// HTTP `status`, AWS's error `code` and `message`, and the server's
/// `Retry-After`, if any.
pub fn fault(action: &str, status: u16, code: &str, message: &str, retry_after: Option<u32>) -> ProviderError {
    let message = format!("{action}: {code} {message} ({status})");
    match code {
        "NoSuchEntity" | "ResourceNotFoundException" | "ParameterNotFound" => ProviderError::NotFound(message),
        "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "AccessDenied"
        | "AccessDeniedException"
        | "UnrecognizedClientException"
        | "IncompleteSignature" => ProviderError::Unauthorized(message),
        "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequestsException" => {
            ProviderError::RateLimited(RateLimit { retry_after_seconds: retry_after, message })
        }
        _ if status >= 500 => ProviderError::Unavailable(message),
        _ => ProviderError::Rejected(message),
    }
}

/// Access key id and secret of the signer.
pub struct Keys<'a> {
    /// `AKIA…`
    pub id: &'a str,
    /// The secret access key.
    pub secret: &'a str,
}

/// One request to sign: a POST to `/` of `host`.
pub struct Signed<'a> {
    /// The service's signing name (`iam`, `secretsmanager`, `ssm`).
    pub service: &'a str,
    /// The region (`us-east-1`).
    pub region: &'a str,
    /// The host the request goes to, with its port if not the default.
    pub host: &'a str,
    /// The `content-type` header.
    pub content_type: &'a str,
    /// Further headers to sign, lower case (e.g. `x-amz-target`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a str,
}

/// The headers that sign `request` at `now` (Unix seconds): the request's
/// own headers, `x-amz-date` and `authorization`.
pub fn sign(keys: &Keys<'_>, request: &Signed<'_>, now: u64) -> Vec<(String, String)> {
    let (date, time) = utc(now);
    let amz_date = format!("{date}T{time}Z");
    let mut headers: Vec<(&str, &str)> =
        vec![("content-type", request.content_type), ("host", request.host), ("x-amz-date", &amz_date)];
    headers.extend(request.headers.iter().copied());
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{}\n", value.trim())).collect();
    let signed_headers = headers.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(";");
    let canonical_request =
        format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}", hex::encode(Sha256::digest(request.body)));
    let scope = format!("{date}/{}/{}/aws4_request", request.region, request.service);
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request)));
    let mut key = hmac(format!("AWS4{}", keys.secret).as_bytes(), date.as_bytes());
    for part in [request.region, request.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        keys.id
    );
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(name, _)| *name != "host")
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    out.push(("authorization".into(), authorization));
    out
}

/// A service with a JSON API (Secrets Manager, SSM): where it is and who
/// signs the calls.
pub struct JsonApi<'a> {
    /// The endpoint URL (`https://ssm.eu-west-1.amazonaws.com`).
    pub endpoint: &'a str,
    /// The signing name (`secretsmanager`, `ssm`).
    pub service: &'a str,
    /// The prefix of `X-Amz-Target` (`secretsmanager`, `AmazonSSM`).
    pub target: &'a str,
    /// The region.
    pub region: &'a str,
    /// The signer.
    pub keys: Keys<'a>,
}

impl<'a> JsonApi<'a> {
    /// The API of `service` (`X-Amz-Target` prefix `target`) as a plugin's
    /// config names it: `endpoint`, `region` [default: us-east-1],
    /// `admin-access-key-id` and the admin secret `admin-secret-access-key`.
    pub fn configured(config: &Config<'a>, service: &'a str, target: &'a str) -> Result<Self, ProviderError> {
        Ok(Self {
            endpoint: config.required("endpoint")?,
            service,
            target,
            region: config.get("region").unwrap_or("us-east-1"),
            keys: Keys {
                id: config.required("admin-access-key-id")?,
                secret: config.secret("admin-secret-access-key")?,
            },
        })
    }

    /// Calls `action` with `body`; the JSON answer, or the AWS error as a
    /// provider error.
    pub fn call(&self, action: &str, body: &serde_json::Value) -> Result<serde_json::Value, ProviderError> {
        let url = self.endpoint.trim_end_matches('/');
        let body = body.to_string();
        let target = format!("{}.{action}", self.target);
        let signed = Signed {
            service: self.service,
            region: self.region,
            host: host_of(url),
            content_type: "application/x-amz-json-1.1",
            headers: &[("x-amz-target", &target)],
            body: &body,
        };
        let mut request = crate::http::Request::post(&format!("{url}/"));
        for (name, value) in sign(&self.keys, &signed, now()) {
            request = request.header(&name, &value);
        }
        let response = request.body(body).send_any_status()?;
        let answer: serde_json::Value = serde_json::from_slice(response.bytes()).unwrap_or_default();
        if (200..300).contains(&response.status()) {
            return Ok(answer);
        }
        let code = answer["__type"].as_str().unwrap_or_default();
        let code = code.rsplit('#').next().unwrap_or(code);
        let message = answer["message"].as_str().or(answer["Message"].as_str()).unwrap_or_default();
        let retry_after = response.header("retry-after").and_then(|v| v.parse().ok());
        Err(fault(action, response.status(), code, message, retry_after))
    }
}

/// The host (and port) of an endpoint URL, as it is signed.
pub fn host_of(url: &str) -> &str {
    url.split("://").nth(1).unwrap_or(url).split('/').next().unwrap_or_default()
}

/// The current time in Unix seconds, to sign with.
pub fn now() -> u64 {
    crate::time::now()
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// `YYYYMMDD` and `HHMMSS` in UTC.
fn utc(now: u64) -> (String, String) {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now);
    let text = humantime::format_rfc3339_seconds(at).to_string(); // 2015-08-30T12:36:00Z
    (text[..10].replace('-', ""), text[11..19].replace(':', ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_the_aws_documentation_example() {
        // AWS's published example: IAM ListUsers, 2015-08-30T12:36:00Z.
        let keys = Keys { id: "AKIDEXAMPLE", secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
        let request = Signed {
            service: "iam",
            region: "us-east-1",
            host: "iam.amazonaws.com",
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            headers: &[],
            body: "Action=ListUsers&Version=2010-05-08",
        };
        let headers = sign(&keys, &request, 1_440_938_160);
        let auth = &headers.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(
            auth.starts_with(
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature="
            ),
            "{auth}"
        );
        assert!(headers.contains(&("x-amz-date".into(), "20150830T123600Z".into())));
    }

    #[test]
    fn further_headers_are_signed_in_order() {
        let keys = Keys { id: "AKIDEXAMPLE", secret: "secret" };
        let request = Signed {
            service: "secretsmanager",
            region: "eu-west-1",
            host: "127.0.0.1:5000",
            content_type: "application/x-amz-json-1.1",
            headers: &[("x-amz-target", "secretsmanager.PutSecretValue")],
            body: "{}",
        };
        let headers = sign(&keys, &request, 1_440_938_160);
        let auth = &headers.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(auth.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target"), "{auth}");
        assert!(headers.iter().all(|(name, _)| name != "host"), "the HTTP client sets the host itself");
    }
}
