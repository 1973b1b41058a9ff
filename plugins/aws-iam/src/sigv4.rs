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
    let (days, secs) = ((now / 86_400) as i64, now % 86_400);
    let (y, m, d) = civil(days);
    (format!("{y:04}{m:02}{d:02}"), format!("{:02}{:02}{:02}", secs / 3_600, secs % 3_600 / 60, secs % 60))
}

/// Year, month and day of a day number since 1970-01-01 (proleptic Gregorian).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Days since 1970-01-01 of a civil date (the inverse of [`civil`]).
pub fn days(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    #[test]
    fn dates_round_trip() {
        assert_eq!(civil(days(2024, 2, 29)), (2024, 2, 29));
        assert_eq!(days(1970, 1, 1), 0);
    }
}
