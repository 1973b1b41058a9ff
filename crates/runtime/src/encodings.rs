//! The forms a secret takes on its way through servers, logs and results:
//! as it is, percent- and form-encoded (how a server echoes a query
//! string), JSON-escaped, in base64 and hex (also in the middle of a longer
//! encoded text), and reversed. Masking and refusing look for every form,
//! so a plugin cannot get a secret past the host by encoding it, nor a
//! server hand it back decoded.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Shorter derived forms would match ordinary text by chance.
const MIN_DERIVED: usize = 8;

/// Characters left as they are in a URL (RFC 3986 unreserved).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Every form of `secret` worth looking for, the secret itself first.
pub(crate) fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let percent = utf8_percent_encode(secret, UNRESERVED).to_string();
    let json = serde_json::to_string(secret).expect("a string serializes");
    let json = &json[1..json.len() - 1];
    let derived = [
        percent.clone(),
        lower_hex_escapes(&percent),
        utf8_percent_encode(secret, UNRESERVED).to_string().replace("%20", "+"),
        json.to_string(),
        json.replace('/', "\\/"),
        hex::encode(secret),
        hex::encode_upper(secret),
        secret.chars().rev().collect(),
    ];
    forms.extend(derived);
    for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
        forms.push(engine.encode(secret));
        forms.extend((0..3).filter_map(|offset| base64_core(engine, secret.as_bytes(), offset)));
    }
    // A multi-line secret (a PEM key) may be printed one line at a time.
    if secret.contains('\n') {
        forms.extend(secret.lines().map(|line| line.trim().to_string()));
    }
    let mut forms: Vec<String> = forms
        .into_iter()
        .enumerate()
        .filter(|(i, form)| *i == 0 || form.len() >= MIN_DERIVED)
        .map(|(_, form)| form)
        .collect();
    forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
    forms.dedup();
    forms
}

/// A length no form of `secret` is shorter than, known without making
/// them: text shorter than this cannot hold the secret. Every encoding is
/// at least as long as the text it encodes (a base64 core of n bytes has at
/// least n characters from n = 3 on), and the derived forms kept are at
/// least [`MIN_DERIVED`] long; only a line of a multi-line secret is a
/// shorter part of it.
pub(crate) fn shortest(secret: &str) -> usize {
    if secret.contains('\n') { secret.len().min(MIN_DERIVED) } else { secret.len() }
}

/// `%2F` as `%2f`: servers and libraries use either case.
fn lower_hex_escapes(percent: &str) -> String {
    let mut out = String::with_capacity(percent.len());
    let mut escape = 0;
    for c in percent.chars() {
        if c == '%' {
            escape = 2;
            out.push(c);
        } else if escape > 0 {
            escape -= 1;
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The base64 characters that encode only `bytes` when they stand
/// `offset` bytes into a longer text: what every base64 text containing
/// them contains, wherever they fall.
fn base64_core(engine: &impl Engine, bytes: &[u8], offset: usize) -> Option<String> {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(bytes);
    let encoded = engine.encode(&padded);
    let first = (offset * 8).div_ceil(6);
    let last = ((offset + bytes.len()) * 8) / 6;
    encoded.get(first..last).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_found_in_every_common_encoding() {
        let secret = "s3cr3t/t0ken with space+plus";
        let forms = forms(secret);
        let found = |text: &str| forms.iter().any(|form| text.contains(form.as_str()));
        assert!(found(&format!("q={}", utf8_percent_encode(secret, UNRESERVED))));
        assert!(found("q=s3cr3t%2ft0ken%20with%20space%2bplus"));
        assert!(found("s3cr3t%2Ft0ken+with+space%2Bplus"));
        assert!(found(&serde_json::json!({ "echo": secret }).to_string()));
        assert!(found(&hex::encode(secret)));
        assert!(found(&format!("reversed: {}", secret.chars().rev().collect::<String>())));
        for prefix in ["", "x", "xy", "xyz"] {
            let wrapped = format!("{prefix}{secret} and more");
            assert!(found(&STANDARD.encode(&wrapped)), "base64 with {prefix:?} before it");
            assert!(found(&URL_SAFE_NO_PAD.encode(&wrapped)), "base64url with {prefix:?} before it");
        }
        assert!(!found("an ordinary line of text"));
    }

    #[test]
    fn no_form_is_shorter_than_the_bound() {
        let mut secrets: Vec<String> = (0..40).map(|n| "aZ9/+ %é\"".chars().cycle().take(n).collect()).collect();
        secrets.extend(["a\nbb", "-----BEGIN KEY-----\nMIIB\n-----END KEY-----", "x\ny"].map(String::from));
        for secret in &secrets {
            let bound = shortest(secret);
            assert!(forms(secret).iter().all(|form| form.len() >= bound), "{secret:?}: {:?}", forms(secret));
        }
    }

    #[test]
    fn each_line_of_a_pem_key_is_a_form() {
        let pem = "-----BEGIN KEY-----\nMIIBVwIBADANBgkqhkiG9w0BAQ\n-----END KEY-----\n";
        assert!(forms(pem).iter().any(|form| form == "MIIBVwIBADANBgkqhkiG9w0BAQ"));
    }
}
