//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`): the
//! checks on untrusted input that are not otherwise public. Not an API.

use crate::runtime::{Credential, PluginInfo, Verification, validate};
use crate::store::{Store, StoreError, backup::Imported};

/// The check on what `generate` returned.
pub fn check_credential(credential: &Credential) -> Result<(), String> {
    validate::credential(credential)
}

/// The check on what `verify` returned.
pub fn check_verification(verification: &Verification) -> Result<(), String> {
    validate::verification(verification)
}

/// The check on what `info` returned.
pub fn check_info(info: &PluginInfo) -> Result<(), String> {
    validate::info(info)
}

/// Restores a decrypted backup (the passphrase stretching is skipped: it
/// would make each run take 50 ms and it guards nothing the fuzzer reaches).
pub fn restore(store: &Store, plain: &[u8]) -> Result<Imported, StoreError> {
    store.restore(plain)
}
