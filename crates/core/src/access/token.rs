//! API tokens. A token is `rkt_` and 43 characters of base64url: 256
//! random bits behind a prefix that secret scanners can match, so a leaked
//! one is found. It is shown once, when created. The store keeps its first
//! [`LOOKUP`] characters, by which a request's token is found, and the
//! SHA-256 of the whole token, which the request's is then compared with
//! in constant time: neither a lookup nor a comparison takes a time that
//! depends on the rest of the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What every token starts with.
pub const PREFIX: &str = "rkt_";
/// How many characters after the prefix find a token in the store.
pub const LOOKUP: usize = 8;

/// A new token.
pub fn generate() -> String {
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(crate::store::rand_bytes::<32>()))
}

/// The digest the store keeps of `token`.
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The part of a well-formed `token` that finds it in the store.
pub fn lookup(token: &str) -> &str {
    &token[PREFIX.len()..PREFIX.len() + LOOKUP]
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
        // The same lookup part is not enough.
        let forged = format!("{}{}", &a[..PREFIX.len() + LOOKUP], &b[PREFIX.len() + LOOKUP..]);
        assert_eq!(lookup(&forged), lookup(&a));
        assert!(!matches(&forged, &digest(&a)));
        assert!(!digest(&a).contains(&a[4..]));
    }

    #[test]
    fn anything_else_is_not_a_token() {
        for text in ["", "rkt_", "rkt_short", "Bearer rkt_x", &format!("xyz_{}", "a".repeat(43))] {
            assert!(!well_formed(text), "{text}");
        }
    }
}
