//! The identity of a plugin's bytes: what the code cache is keyed by and
//! what an operator approves.

use sha2::{Digest, Sha256};

/// The sha256 of a plugin's bytes, hex.
pub fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
