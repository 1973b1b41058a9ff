//! Encryption at rest. Secrets are sealed with XChaCha20-Poly1305 under a key
//! derived from the master key, with the row's identity as associated data,
//! so a ciphertext copied to another row does not open. The audit chain is
//! keyed with a second derived key, so it cannot be rewritten without the
//! master key.

use super::error::StoreError;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;
use zeroize::Zeroizing;

/// Bytes of the master key.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;

/// The environment variable that may hold the master key (base64).
pub const MASTER_KEY_VAR: &str = "REKEY_MASTER_KEY";
/// The environment variable that may hold a passphrase (Argon2id-derived).
pub const PASSPHRASE_VAR: &str = "REKEY_PASSPHRASE";

/// Where the master key comes from, in the order rekey tries them.
pub enum KeySource<'a> {
    /// `REKEY_MASTER_KEY`, base64 of 32 bytes.
    Env(Zeroizing<String>),
    /// `REKEY_PASSPHRASE`, stretched with Argon2id and the store's salt.
    Passphrase(Zeroizing<String>),
    /// A key file (base64 of 32 bytes) only its owner can read.
    File(&'a Path),
    /// A data key wrapped by AWS KMS, kept in the store (`key = "aws-kms:…"`).
    Kms(super::kms::Kms),
}

impl<'a> KeySource<'a> {
    /// The first source that is set: the environment, then the key file.
    pub fn find(key_file: &'a Path) -> Self {
        match (std::env::var(MASTER_KEY_VAR), std::env::var(PASSPHRASE_VAR)) {
            (Ok(key), _) if !key.is_empty() => Self::Env(Zeroizing::new(key)),
            (_, Ok(phrase)) if !phrase.is_empty() => Self::Passphrase(Zeroizing::new(phrase)),
            _ => Self::File(key_file),
        }
    }

    /// The sources of a store whose `rekey.toml` says `key` (a KMS key),
    /// or else [`KeySource::find`].
    pub fn configured(key: Option<&str>, key_file: &'a Path) -> Result<Self, StoreError> {
        match key {
            Some(key) => super::kms::Kms::parse(key).map(Self::Kms).map_err(StoreError::MasterKey),
            None => Ok(Self::find(key_file)),
        }
    }

    /// The master key; `salt` is the store's Argon2id salt, `wrapped` the
    /// data key KMS wrapped, if the store has one.
    pub fn master_key(&self, salt: &[u8], wrapped: Option<&[u8]>) -> Result<MasterKey, StoreError> {
        let bad = |what: String| StoreError::MasterKey(what);
        match self {
            Self::Kms(kms) => match wrapped {
                Some(wrapped) => kms.unwrap(wrapped),
                None => Err(bad(format!(
                    "rekey.toml names the KMS key {}, but this store's master key is not held by KMS; remove `key`, or move the store under it with `rekey store rewrap --to aws-kms:…`",
                    kms.arn()
                ))),
            },
            Self::Env(text) => MasterKey::decode(text).map_err(|e| bad(format!("${MASTER_KEY_VAR} {e}"))),
            Self::Passphrase(phrase) => {
                let mut key = Zeroizing::new([0u8; KEY_BYTES]);
                argon2::Argon2::default()
                    .hash_password_into(phrase.as_bytes(), salt, key.as_mut())
                    .map_err(|e| bad(format!("cannot derive a key from ${PASSPHRASE_VAR}: {e}")))?;
                Ok(MasterKey(key))
            }
            Self::File(path) => {
                use std::os::unix::fs::PermissionsExt;
                let meta = std::fs::metadata(path).map_err(|e| {
                    bad(format!(
                        "no master key: ${MASTER_KEY_VAR} and ${PASSPHRASE_VAR} are unset and the key file {} cannot be read ({e}); run `rekey init` first",
                        path.display()
                    ))
                })?;
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    return Err(bad(format!(
                        "the key file {} can be read by others (mode {mode:o}); run `chmod 600 {}`",
                        path.display(),
                        path.display()
                    )));
                }
                let text =
                    Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(format!("{}: {e}", path.display())))?);
                MasterKey::decode(text.trim()).map_err(|e| bad(format!("the key file {} {e}", path.display())))
            }
        }
    }

    /// A new master key, for a store being made or re-keyed: a data key
    /// from KMS with its wrapped form for the store to keep, a fresh random
    /// key written to the key file first (which must not exist yet), or the
    /// key the environment gives.
    pub fn new_master_key(&self, salt: &[u8]) -> Result<(MasterKey, Option<Wrapped>), StoreError> {
        match self {
            Self::Kms(kms) => {
                kms.generate().map(|(key, wrapped)| (key, Some(Wrapped { arn: kms.arn().into(), key: wrapped })))
            }
            Self::File(path) => {
                let key = MasterKey::generate();
                write_key_file(path, &key).map_err(|source| match source.kind() {
                    std::io::ErrorKind::AlreadyExists => StoreError::MasterKey(format!(
                        "the key file {} exists already: a new master key goes in a new file",
                        path.display()
                    )),
                    _ => StoreError::Io { path: path.to_path_buf(), source },
                })?;
                Ok((key, None))
            }
            Self::Env(_) | Self::Passphrase(_) => Ok((self.master_key(salt, None)?, None)),
        }
    }

    /// Says where the key came from, for messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Env(_) => format!("${MASTER_KEY_VAR}"),
            Self::Passphrase(_) => format!("${PASSPHRASE_VAR}"),
            Self::File(path) => format!("the key file {}", path.display()),
            Self::Kms(kms) => format!("the AWS KMS key {}", kms.arn()),
        }
    }
}

/// The master key; wiped from memory when dropped.
pub struct MasterKey(Zeroizing<[u8; KEY_BYTES]>);

/// A store's master key as a KMS key wrapped it, kept in the store.
pub struct Wrapped {
    /// The KMS key that wraps it.
    pub arn: String,
    /// The wrapped bytes, which only that key opens.
    pub key: Vec<u8>,
}

/// Writes `key` to a new file only its owner can read (its folder made if
/// needed), on disk before anything is sealed under it; a file it could not
/// finish is removed.
fn write_key_file(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    let written = file.write_all(key.encode().as_bytes()).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        key.copy_from_slice(&XChaCha20Poly1305::generate_key(&mut OsRng));
        Self(key)
    }

    /// The key as base64, for a key file.
    pub fn encode(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.0.as_ref()))
    }

    fn decode(text: &str) -> Result<Self, String> {
        if let Some(kind) = text.trim_start().strip_prefix("-----BEGIN ").and_then(|t| t.split_once("-----")) {
            return Err(format!(
                "holds a PEM {}, not a rekey master key (one line of base64): was it overwritten, by `openssl … -keyout` for instance? Put the master key back from your backup",
                kind.0.to_lowercase()
            ));
        }
        let bytes = Zeroizing::new(BASE64.decode(text.trim()).map_err(|_| "is not base64".to_string())?);
        Self::from_bytes(&bytes).map_err(|e| format!("{e} of base64"))
    }

    /// The key made of `bytes` (a KMS data key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() != KEY_BYTES {
            return Err(format!("holds {} bytes; a master key is {KEY_BYTES} bytes", bytes.len()));
        }
        let mut key = Zeroizing::new([0u8; KEY_BYTES]);
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    /// A key for one purpose, derived with HKDF-SHA256.
    fn derive(&self, purpose: &str) -> Zeroizing<[u8; KEY_BYTES]> {
        let mut out = Zeroizing::new([0u8; KEY_BYTES]);
        hkdf::Hkdf::<Sha256>::new(None, self.0.as_ref())
            .expand(purpose.as_bytes(), out.as_mut())
            .expect("32 bytes is a valid HKDF output length");
        out
    }
}

/// Seals and opens secrets, and keys the audit chain.
#[derive(Clone)]
pub struct Sealer {
    aead: XChaCha20Poly1305,
    audit_key: Zeroizing<[u8; KEY_BYTES]>,
}

impl Sealer {
    /// The sealer of a store opened with `key`.
    pub fn new(key: &MasterKey) -> Self {
        let aead = XChaCha20Poly1305::new(key.derive("rekey/v1/secrets").as_ref().into());
        Self { aead, audit_key: key.derive("rekey/v1/audit") }
    }

    /// `nonce || ciphertext` of `plain`, bound to `identity`.
    pub fn seal(&self, identity: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            self.aead
                .encrypt(&nonce, Payload { msg: plain, aad: identity.as_bytes() })
                .expect("encryption to memory cannot fail"),
        );
        out
    }

    /// Opens what [`Sealer::seal`] made for the same identity.
    pub fn open(&self, identity: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        if sealed.len() < NONCE_BYTES {
            return Err(StoreError::Tampered(identity.to_string()));
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.aead
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: identity.as_bytes() })
            .map(Zeroizing::new)
            .map_err(|_| StoreError::Tampered(identity.to_string()))
    }

    /// The keyed digest that links an audit entry to the one before.
    pub fn chain(&self, previous: &str, entry: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(self.audit_key.as_ref()).expect("HMAC takes any key length");
        mac.update(previous.as_bytes());
        mac.update(b"\n");
        mac.update(entry.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ciphertext_opens_only_for_its_own_row() {
        let sealer = Sealer::new(&MasterKey::generate());
        let sealed = sealer.seal("secret/api/1", b"s3cret");
        assert_eq!(sealer.open("secret/api/1", &sealed).unwrap().as_slice(), b"s3cret");
        assert!(matches!(sealer.open("secret/api/2", &sealed), Err(StoreError::Tampered(_))));
        assert!(Sealer::new(&MasterKey::generate()).open("secret/api/1", &sealed).is_err());
    }

    #[test]
    fn keys_round_trip_through_base64() {
        let key = MasterKey::generate();
        let again = MasterKey::decode(&key.encode()).unwrap();
        assert_eq!(key.0.as_ref(), again.0.as_ref());
        assert!(MasterKey::decode("c2hvcnQ=").err().unwrap().contains("holds 5 bytes"));
    }
}
