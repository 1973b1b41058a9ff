//! `rekey.lock`: the plugins the operator approved, each pinned by the
//! sha256 of its bytes with the permissions it was approved for. It is
//! meant to be committed next to `rekey.toml`, so an approval is reviewed
//! like any other change.

use super::TrustError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const HEADER: &str = "# Plugins approved to run, pinned by sha256. Written by `rekey plugin install`;\n\
# commit it and review every change to it like a change to code.\n\n";

/// One approved plugin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The version the plugin declared.
    pub version: String,
    /// The sha256 of its bytes, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// The permissions approved, as `http HOST` and `tcp ADDR` (templates as declared).
    pub permissions: Vec<String>,
    /// The sha256 of everything the plugin's `info` said when it was
    /// approved (config schema, which secrets are placeholders,
    /// capabilities, permissions): a plugin that later describes itself
    /// otherwise, same bytes or not, is refused until approved again.
    /// Missing in approvals written before rekey pinned it.
    #[serde(default)]
    pub info_sha256: String,
    /// The sha256 of each part of that `info` (`config`, `capabilities`,
    /// `permissions`…), so that a change can be named by its part.
    /// Missing in approvals written before rekey recorded them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub info_parts: std::collections::BTreeMap<String, String>,
    /// The minisign key id of the trusted author who signed it, if signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// When it was approved (RFC 3339, UTC).
    pub approved_at: String,
    /// The registry it was installed from, for `plugin update`; none for a
    /// file installed from disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Where in an OCI registry an approved plugin came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// `oci://REGISTRY/REPOSITORY`.
    pub repository: String,
    /// The tag it was installed by, if any; `plugin update` looks there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The digest of the manifest it came in (`sha256:…`).
    pub digest: String,
}

#[derive(Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    plugin: BTreeMap<String, Approval>,
}

impl std::fmt::Display for Origin {
    /// `oci://REGISTRY/REPOSITORY:TAG (sha256:…)`, as install and update show it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        write!(f, " ({})", self.digest)
    }
}

/// The approvals in a lock file.
pub struct Lock {
    path: PathBuf,
    file: File,
}

impl Lock {
    /// Reads `path`; a missing file approves nothing.
    pub fn read(path: &Path) -> Result<Self, TrustError> {
        let fail = |reason: String| TrustError::Lock { path: path.into(), reason };
        let file = match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| fail(format!("malformed: {}", e.message().trim())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => File::default(),
            Err(e) => return Err(fail(format!("cannot read it: {e}"))),
        };
        Ok(Self { path: path.into(), file })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The approval of `name`.
    pub fn get(&self, name: &str) -> Option<&Approval> {
        self.file.plugin.get(name)
    }

    /// Every approval, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Approval)> {
        self.file.plugin.iter()
    }

    /// Records `approval` for `name` and writes the file atomically.
    pub fn approve(&mut self, name: &str, approval: Approval) -> Result<(), TrustError> {
        self.file.plugin.insert(name.into(), approval);
        let text = toml::to_string_pretty(&self.file).expect("approvals serialize");
        crate::deploy::atomic::write(&self.path, format!("{HEADER}{text}").as_bytes())
            .map_err(|e| TrustError::Lock { path: self.path.clone(), reason: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(sha256: &str) -> Approval {
        Approval {
            version: "1.0.0".into(),
            sha256: sha256.into(),
            size: 10,
            permissions: vec!["http {base-url}".into()],
            info_sha256: "ab".repeat(32),
            info_parts: Default::default(),
            signer: None,
            approved_at: "2026-11-28T06:00:00Z".into(),
            origin: None,
        }
    }

    #[test]
    fn approvals_survive_a_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rekey.lock");
        assert!(Lock::read(&path).unwrap().get("webhook").is_none(), "no file approves nothing");
        let mut lock = Lock::read(&path).unwrap();
        lock.approve("webhook", approval("ab")).unwrap();
        lock.approve("random", approval("cd")).unwrap();
        let again = Lock::read(&path).unwrap();
        assert_eq!(again.get("webhook"), Some(&approval("ab")));
        assert_eq!(again.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["random", "webhook"]);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("# Plugins approved"));
    }

    #[test]
    fn a_malformed_lock_is_an_error_not_an_empty_approval_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rekey.lock");
        std::fs::write(&path, "[plugin.webhook]\nsha256 = 3\n").unwrap();
        let error = Lock::read(&path).err().unwrap().to_string();
        assert!(error.contains("rekey.lock: malformed"), "{error}");
    }
}
