//! Which plugins may run: the operator's approvals, pinned by digest in
//! `rekey.lock`, and the plugin authors' signatures.
//!
//! A plugin is checked twice before it touches a credential: its bytes
//! against the approval (and the signature, when there is one or one is
//! required) before anything is compiled, and what it declares against
//! what was approved once its `info` has run in the sandbox: the
//! permissions, and the digest of the whole description (a plugin whose
//! `info` changes later, same bytes, would otherwise start seeing an admin
//! secret it was approved never to see).

pub mod listing;
pub mod lock;
pub mod review;
pub mod signature;

use crate::config::Config;
use crate::runtime::{Kind, Plugin, PluginError, PluginInfo, Runtime};
use lock::{Approval, Lock};

use std::path::{Path, PathBuf};

/// Why a plugin may not run.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// No approval for this name.
    #[error(
        "plugin `{name}` is not approved in {lock}; review it with `rekey plugin audit {file}`, then approve it with `rekey plugin install {file}`"
    )]
    NotApproved {
        /// The plugin's name.
        name: String,
        /// The lock file.
        lock: PathBuf,
        /// Its file.
        file: PathBuf,
    },
    /// The bytes are not the ones approved.
    #[error(
        "plugin `{name}` changed since it was approved: sha256 {approved} → {found} ({file}); review it with `rekey plugin audit {file}`, then re-approve it with `rekey plugin install {file}`"
    )]
    Changed {
        /// The plugin's name.
        name: String,
        /// The approved digest.
        approved: String,
        /// The digest of the file now.
        found: String,
        /// Its file.
        file: PathBuf,
    },
    /// It describes itself otherwise than when it was approved.
    #[error(
        "plugin `{name}` describes itself differently from when it was approved ({changed}: info sha256 {approved} → {found}); review it with `rekey plugin audit {file}`, then re-approve it with `rekey plugin install {file}`"
    )]
    Redescribed {
        /// The plugin's name.
        name: String,
        /// What changed, in words.
        changed: String,
        /// The digest of the approved `info`, or `(none)` for an approval
        /// from before descriptions were pinned.
        approved: String,
        /// The digest of what `info` says now.
        found: String,
        /// Its file.
        file: PathBuf,
    },
    /// It declares permissions beyond the approved ones.
    #[error(
        "plugin `{name}` now declares permissions that were not approved: {}; re-approve it with `rekey plugin install {file}`",
        added.join(", ")
    )]
    MorePermissions {
        /// The plugin's name.
        name: String,
        /// The new permissions, e.g. `http evil.example`.
        added: Vec<String>,
        /// Its file.
        file: PathBuf,
    },
    /// A signature is missing where one is required, or does not verify.
    #[error("plugin `{name}`: {reason}")]
    Signature {
        /// The plugin's name.
        name: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The lock file cannot be read or written.
    #[error("{path}: {reason}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The plugin itself failed to load.
    #[error(transparent)]
    Plugin(#[from] PluginError),
}

/// How a plugin file stands against the trusted keys.
#[derive(Debug)]
pub enum Signer {
    /// Signed by a key listed in `trust.keys`.
    Trusted {
        /// The minisign key id, hex.
        key_id: String,
    },
    /// A `.minisig` file is there, but `trust.keys` lists no key to check it with.
    Unchecked,
    /// No `.minisig` file next to it.
    Unsigned,
}

impl std::fmt::Display for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Trusted { key_id } => write!(f, "yes, by trusted key {key_id}"),
            Self::Unchecked => f.write_str("signed, but not checked: rekey.toml lists no `trust.keys`"),
            Self::Unsigned => f.write_str("no"),
        }
    }
}

/// The operator's trust decisions, read from `rekey.toml` and `rekey.lock`.
pub struct Gate {
    lock: Lock,
    keys: Vec<minisign::PublicKey>,
    require_signature: bool,
}

impl Gate {
    /// Reads the trusted keys from `config` and the approvals from its lock file.
    pub fn new(config: &Config) -> Result<Self, TrustError> {
        Ok(Self {
            lock: Lock::read(&config.lock_file())?,
            keys: config.trusted_keys().to_vec(),
            require_signature: config.manifest.trust.signatures_required(),
        })
    }

    /// The approvals.
    pub fn lock(&self) -> &Lock {
        &self.lock
    }

    /// The approvals, to record a new one.
    pub fn lock_mut(&mut self) -> &mut Lock {
        &mut self.lock
    }

    /// Checks a plugin file's signature: a signature present must verify
    /// with a trusted key (when any are listed); a missing one is refused
    /// when signatures are required.
    pub fn signer(&self, name: &str, file: &Path, bytes: &[u8]) -> Result<Signer, TrustError> {
        let refuse = |reason: String| TrustError::Signature { name: name.into(), reason };
        let sig_file = signature::signature_path(file);
        match std::fs::read_to_string(&sig_file) {
            Ok(text) => {
                if self.keys.is_empty() && !self.require_signature {
                    return Ok(Signer::Unchecked);
                }
                let key_id = signature::verify(bytes, &text, &self.keys)
                    .map_err(|e| refuse(format!("the signature {} does not verify: {e}", sig_file.display())))?;
                Ok(Signer::Trusted { key_id })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if self.require_signature {
                    Err(refuse(format!(
                        "no signature {}, and rekey.toml sets `trust.require_signature`; ask the author for it (`rekey plugin sign`)",
                        sig_file.display()
                    )))
                } else {
                    Ok(Signer::Unsigned)
                }
            }
            Err(e) => Err(refuse(format!("cannot read {}: {e}", sig_file.display()))),
        }
    }

    /// Loads the plugin approved as `name` from `file`: the bytes are read
    /// once, checked against the approval and the signature policy, then
    /// compiled, and what the plugin declares is checked against what was
    /// approved.
    pub async fn load(&self, runtime: &Runtime, name: &str, file: &Path) -> Result<Plugin, TrustError> {
        let bytes = runtime.read(file)?;
        let approval = self.lock.get(name).ok_or_else(|| TrustError::NotApproved {
            name: name.into(),
            lock: self.lock.path().into(),
            file: file.into(),
        })?;
        let found = digest(&bytes);
        if found != approval.sha256 {
            return Err(TrustError::Changed {
                name: name.into(),
                approved: approval.sha256.clone(),
                found,
                file: file.into(),
            });
        }
        self.signer(name, file, &bytes)?;
        let plugin = runtime.load_digested(file, &bytes, found).await?;
        let added = approval.added(plugin.info());
        if !added.is_empty() {
            return Err(TrustError::MorePermissions { name: name.into(), added, file: file.into() });
        }
        let found = info_digest(plugin.info(), plugin.kind());
        if found != approval.info_sha256 {
            let approved = if approval.info_sha256.is_empty() { "(none)".into() } else { approval.info_sha256.clone() };
            let changed = match approval.redescribed(plugin.info(), plugin.kind()) {
                Some(parts) if !parts.is_empty() => format!("changed: {}", parts.join(", ")),
                Some(_) => {
                    "its pin in rekey.lock matches none of the parts recorded beside it: was the lock edited?".into()
                }
                None => "its config schema, secrets, capabilities or permissions changed".into(),
            };
            return Err(TrustError::Redescribed { name: name.into(), changed, approved, found, file: file.into() });
        }
        Ok(plugin)
    }
}

pub use crate::runtime::digest;

/// The sha256 of everything a plugin's `info` says, in a canonical form
/// (its JSON, fields in declaration order), hex. A deploy target's answer
/// (`target-info`) is pinned whole too: its `stages-keys` is added after
/// the fields it shares with a provider's (whose pins are unchanged by it).
pub fn info_digest(info: &PluginInfo, kind: Kind) -> String {
    let mut text = serde_json::to_string(info).expect("plugin info serializes");
    if let Kind::Target { stages_keys } = kind {
        text.push_str(&format!("\nstages_keys={stages_keys}"));
    }
    digest(text.as_bytes())
}

/// The sha256 of each part of a plugin's `info` (its JSON's top-level
/// fields: `name`, `version`, `description`, `config`, `capabilities`,
/// `permissions`; and a target's `stages_keys`), hex.
pub fn info_parts(info: &PluginInfo, kind: Kind) -> std::collections::BTreeMap<String, String> {
    let serde_json::Value::Object(parts) = serde_json::to_value(info).expect("plugin info serializes") else {
        unreachable!("plugin info is a record")
    };
    let mut parts: std::collections::BTreeMap<String, String> =
        parts.into_iter().map(|(name, value)| (name, digest(value.to_string().as_bytes()))).collect();
    if let Kind::Target { stages_keys } = kind {
        parts.insert("stages_keys".into(), digest(stages_keys.to_string().as_bytes()));
    }
    parts
}

impl Approval {
    /// The parts of `info` that differ from the approved ones; `None` when
    /// the approval predates the parts' digests.
    pub fn redescribed(&self, info: &PluginInfo, kind: Kind) -> Option<Vec<String>> {
        if self.info_parts.is_empty() {
            return None;
        }
        let now = info_parts(info, kind);
        let parts = now.keys().chain(self.info_parts.keys()).collect::<std::collections::BTreeSet<_>>();
        Some(parts.into_iter().filter(|part| now.get(*part) != self.info_parts.get(*part)).cloned().collect())
    }
}

/// The permissions a plugin declares, one line each (`http HOST`, `tcp ADDR`).
pub fn permissions(info: &PluginInfo) -> Vec<String> {
    let http = info.permissions.http_hosts.iter().map(|h| format!("http {h}"));
    http.chain(info.permissions.tcp.iter().map(|t| format!("tcp {t}"))).collect()
}

impl Approval {
    /// The permissions `info` declares that this approval does not cover.
    pub fn added(&self, info: &PluginInfo) -> Vec<String> {
        permissions(info).into_iter().filter(|p| !self.permissions.contains(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Capabilities, Permissions};

    fn info(version: &str, hosts: &[&str]) -> PluginInfo {
        PluginInfo {
            name: "keys".into(),
            version: version.into(),
            description: "keys of an API".into(),
            config: vec![],
            capabilities: Capabilities {
                concurrent_keys: true,
                reports_last_use: false,
                idempotent_generate: false,
                lists_keys: true,
            },
            permissions: Permissions { http_hosts: hosts.iter().map(|h| h.to_string()).collect(), tcp: vec![] },
        }
    }

    #[test]
    fn a_changed_description_is_named_by_its_parts() {
        let approved = info("1.0.0", &["api.example.com"]);
        let approval = Approval {
            version: approved.version.clone(),
            sha256: String::new(),
            size: 0,
            permissions: permissions(&approved),
            info_sha256: info_digest(&approved, Kind::Provider),
            info_parts: info_parts(&approved, Kind::Provider),
            signer: None,
            approved_at: String::new(),
            origin: None,
        };
        assert_eq!(approval.redescribed(&approved, Kind::Provider), Some(vec![]));
        assert_eq!(
            approval.redescribed(&info("1.0.1", &["api.example.com"]), Kind::Provider),
            Some(vec!["version".into()])
        );
        let more = info("1.1.0", &["api.example.com", "evil.example"]);
        assert_eq!(approval.redescribed(&more, Kind::Provider), Some(vec!["permissions".into(), "version".into()]));
        let old = Approval { info_parts: Default::default(), ..approval };
        assert_eq!(old.redescribed(&more, Kind::Provider), None, "an approval from before the parts were recorded");
    }

    #[test]
    fn a_targets_staging_is_pinned_and_a_providers_pin_does_not_move() {
        let described = info("1.0.0", &["api.example.com"]);
        let staging = Kind::Target { stages_keys: true };
        let provider = info_digest(&described, Kind::Provider);
        assert_eq!(
            provider,
            digest(serde_json::to_string(&described).unwrap().as_bytes()),
            "the pins of providers approved before targets existed still match"
        );
        assert_ne!(info_digest(&described, staging), provider);
        let approval = Approval {
            version: described.version.clone(),
            sha256: String::new(),
            size: 0,
            permissions: permissions(&described),
            info_sha256: info_digest(&described, staging),
            info_parts: info_parts(&described, staging),
            signer: None,
            approved_at: String::new(),
            origin: None,
        };
        let unstaged = Kind::Target { stages_keys: false };
        assert_ne!(info_digest(&described, unstaged), approval.info_sha256);
        assert_eq!(approval.redescribed(&described, unstaged), Some(vec!["stages_keys".into()]));
    }
}
