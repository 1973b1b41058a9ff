//! Random secrets from `wasi:random`, the host's cryptographically secure
//! source, in the encodings APIs usually expect.

use crate::ProviderError;

/// How the random bytes of a secret are written out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lower-case hexadecimal; `length` characters.
    Hex,
    /// URL-safe base64 without padding; `length` characters.
    Base64Url,
    /// Letters and digits; `length` characters.
    Alphanumeric,
}

impl Encoding {
    /// Parses an encoding name as operators write it in config.
    pub fn parse(name: &str) -> Result<Self, ProviderError> {
        match name {
            "hex" => Ok(Self::Hex),
            "base64url" => Ok(Self::Base64Url),
            "alphanumeric" => Ok(Self::Alphanumeric),
            other => Err(ProviderError::InvalidConfig(format!(
                "unknown encoding `{other}`: use `hex`, `base64url` or `alphanumeric`"
            ))),
        }
    }

    /// The characters a secret in this encoding is made of.
    pub fn alphabet(self) -> &'static [u8] {
        match self {
            Self::Hex => b"0123456789abcdef",
            Self::Base64Url => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            Self::Alphanumeric => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        }
    }
}

/// `length` characters drawn uniformly from `encoding`'s alphabet with the
/// host's secure random source (rejection sampling, so no character is more
/// likely than another).
pub fn random_secret(length: usize, encoding: Encoding) -> String {
    let alphabet = encoding.alphabet();
    // The largest multiple of the alphabet size that fits in a byte: bytes at
    // or above it are dropped so that `byte % len` stays uniform.
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(length);
    while out.len() < length {
        let needed = (length - out.len()) as u64 * 2;
        for byte in random_bytes(needed) {
            if (byte as usize) < limit && out.len() < length {
                out.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

/// `len` bytes from the host's secure source (in a native test with the
/// `test-host` feature, the test host's fixed sequence).
pub fn random_bytes(len: u64) -> Vec<u8> {
    #[cfg(not(test_host))]
    return wasip2::random::random::get_random_bytes(len);
    #[cfg(test_host)]
    return crate::testing::random_bytes(len);
}
