//! API tokens. A token is `rkt_` and 43 characters of base64url: 256
//! random bits behind a prefix that secret scanners can match, so a leaked
//! one is found. It is shown once, when created; the store keeps only its
//! SHA-256, which is what a request's token is looked up by (a digest of
//! 256 random bits: how long the lookup takes says nothing of the token).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every token starts with.
pub const PREFIX: &str = "rkt_";

/// A new token.
pub fn generate() -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(crate::store::rand_bytes::<32>()))
}

/// The digest the store keeps of `token`.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` is the one whose digest is `kept`, compared in constant time.
pub fn matches(token: &str, kept: &str) -> bool {
    digest(token).as_bytes().ct_eq(kept.as_bytes()).into()
}

/// Whether `text` has the shape of a token (a request with anything else is
/// refused before the store is asked).
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix(PREFIX).is_some_and(|rest| {
        rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_prefixed_random_and_known_only_by_its_digest() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert!(well_formed(&a), "{a}");
        assert!(matches(&a, &digest(&a)));
        assert!(!matches(&b, &digest(&a)));
        assert!(!digest(&a).contains(&a[4..]));
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for text in ["", "rkt_", "rkt_short", "Bearer rkt_x", &format!("xyz_{}", "a".repeat(43))] {
            assert!(!well_formed(text), "{text}");
        }
    }
}
