//! Plugin signatures in the minisign format (Ed25519), which plugin authors
//! already use: `rekey plugin sign` writes `PLUGIN.wasm.minisig` next to
//! the plugin, and `minisign -Vm PLUGIN.wasm -P KEY` verifies it too.

use minisign::{KeyPair, PublicKey, PublicKeyBox, SecretKeyBox, SignatureBox};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The signature file of a plugin: its path with `.minisig` appended.
pub fn signature_path(plugin: &Path) -> PathBuf {
    let mut name = plugin.as_os_str().to_owned();
    name.push(".minisig");
    PathBuf::from(name)
}

/// A public key from its base64 line, or from a whole `.pub` file.
pub fn public_key(text: &str) -> Result<PublicKey, String> {
    let text = text.trim();
    let parsed = if text.contains('\n') {
        PublicKeyBox::from_string(text).and_then(PublicKeyBox::into_public_key)
    } else {
        PublicKey::from_base64(text)
    };
    parsed.map_err(|e| {
        format!("`{text}` is not a minisign public key ({e}); give the second line of the author's .pub file")
    })
}

/// A key's id as minisign prints it (16 hex digits).
pub fn key_id(key: &PublicKey) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(&key.keynum()[..8]);
    format!("{:016X}", u64::from_le_bytes(id))
}

/// Checks `signature` (a `.minisig` file's text) over `bytes` with the key
/// it names among `keys`, and gives that key's id.
pub fn verify(bytes: &[u8], signature: &str, keys: &[PublicKey]) -> Result<String, String> {
    let signature = SignatureBox::from_string(signature).map_err(|e| format!("not a minisign signature: {e}"))?;
    let key = keys.iter().find(|k| k.keynum() == signature.keynum()).ok_or_else(|| {
        let mut id = [0u8; 8];
        id.copy_from_slice(&signature.keynum()[..8]);
        format!("it was made with key {:016X}, which is not in `trust.keys`", u64::from_le_bytes(id))
    })?;
    minisign::verify(key, &signature, Cursor::new(bytes), true, false, false)
        .map_err(|e| format!("{e} (the file was changed after signing, or the signature is forged)"))?;
    Ok(key_id(key))
}

/// How a secret key is protected.
pub enum Protection {
    /// Not encrypted (for CI signing keys kept in a secret store).
    None,
    /// Encrypted with this password.
    Password(String),
    /// Encrypted with a password asked for on the terminal.
    Prompt,
}

/// Signs `bytes` with a secret key file's content; `protection` gives the
/// password of an encrypted key (an unencrypted key needs none).
pub fn sign(bytes: &[u8], secret_key: &str, protection: Protection, comment: &str) -> Result<String, String> {
    let boxed = || SecretKeyBox::from_string(secret_key).map_err(|e| format!("not a minisign secret key: {e}"));
    let key = match boxed()?.into_unencrypted_secret_key() {
        Ok(key) => key,
        Err(_) => {
            let password = match protection {
                Protection::Password(password) => Some(password),
                Protection::Prompt => None,
                Protection::None => {
                    return Err("the secret key is encrypted: set $REKEY_SIGNING_PASSWORD or sign at a terminal".into());
                }
            };
            boxed()?.into_secret_key(password).map_err(|e| format!("cannot open the secret key: {e}"))?
        }
    };
    let public = PublicKey::from_secret_key(&key).map_err(|e| e.to_string())?;
    minisign::sign(Some(&public), &key, Cursor::new(bytes), Some(comment), None)
        .map(|s| s.into_string())
        .map_err(|e| e.to_string())
}

/// A new key pair: the `.pub` file's text and the secret key file's text.
pub fn generate(protection: Protection) -> Result<(String, String), String> {
    let pair = match protection {
        Protection::None => KeyPair::generate_unencrypted_keypair(),
        Protection::Password(password) => KeyPair::generate_encrypted_keypair(Some(password)),
        Protection::Prompt => KeyPair::generate_encrypted_keypair(None),
    }
    .map_err(|e| e.to_string())?;
    let public = pair.pk.to_box().map_err(|e| e.to_string())?.into_string();
    let secret = pair.sk.to_box(None).map_err(|e| e.to_string())?.into_string();
    Ok((public, secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_key_and_only_over_its_bytes() {
        let (public, secret) = generate(Protection::None).unwrap();
        let key = public_key(&public).unwrap();
        let (other, _) = generate(Protection::None).unwrap();
        let other = public_key(&other).unwrap();
        let signature = sign(b"plugin bytes", &secret, Protection::None, "file:p.wasm").unwrap();
        assert_eq!(verify(b"plugin bytes", &signature, &[other.clone(), key.clone()]).unwrap(), key_id(&key));
        let error = verify(b"plugin bytez", &signature, std::slice::from_ref(&key)).unwrap_err();
        assert!(error.contains("changed after signing"), "{error}");
        let error = verify(b"plugin bytes", &signature, &[other]).unwrap_err();
        assert!(error.contains("not in `trust.keys`"), "{error}");
    }

    #[test]
    fn an_encrypted_key_needs_its_password() {
        let (_, secret) = generate(Protection::Password("correct horse".into())).unwrap();
        assert!(sign(b"x", &secret, Protection::None, "c").unwrap_err().contains("is encrypted"));
        assert!(sign(b"x", &secret, Protection::Password("wrong".into()), "c").is_err());
        assert!(sign(b"x", &secret, Protection::Password("correct horse".into()), "c").is_ok());
    }

    #[test]
    fn public_keys_read_from_a_line_or_a_pub_file() {
        let (public, _) = generate(Protection::None).unwrap();
        let line = public.lines().nth(1).unwrap();
        assert_eq!(key_id(&public_key(line).unwrap()), key_id(&public_key(&public).unwrap()));
        assert!(public_key("not a key").unwrap_err().contains("second line of the author's .pub file"));
    }
}
