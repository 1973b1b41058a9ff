//! AWS Signature Version 4 for the Query API (form-encoded POST bodies), as
//! IAM and STS take it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Access key id and secret of the signer.
pub struct Keys<'a> {
    /// `AKIA…`
    pub id: &'a str,
    /// The secret access key.
    pub secret: &'a str,
}

/// The headers that sign a POST of `body` to `host` for `service` in
/// `region`, at `now` (Unix seconds).
pub fn sign(keys: &Keys<'_>, service: &str, region: &str, host: &str, body: &str, now: u64) -> Vec<(String, String)> {
    let (date, time) = utc(now);
    let amz_date = format!("{date}T{time}Z");
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let canonical_headers = format!("content-type:{content_type}\nhost:{host}\nx-amz-date:{amz_date}\n");
    let signed_headers = "content-type;host;x-amz-date";
    let canonical_request =
        format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}", hex::encode(Sha256::digest(body)));
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request)));
    let mut key = hmac(format!("AWS4{}", keys.secret).as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    vec![
        ("content-type".into(), content_type.into()),
        ("x-amz-date".into(), amz_date),
        (
            "authorization".into(),
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
                keys.id
            ),
        ),
    ]
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
        let headers =
            sign(&keys, "iam", "us-east-1", "iam.amazonaws.com", "Action=ListUsers&Version=2010-05-08", 1_440_938_160);
        let auth = &headers.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request"),
            "{auth}"
        );
        assert_eq!(headers[1].1, "20150830T123600Z");
    }
}
