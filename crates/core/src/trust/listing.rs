//! The plugins as an operator or a reviewer sees them: every approved one
//! with its pinned digest, permissions and signer, and whether the file on
//! disk is still the one approved; then the files in the plugin directory
//! nobody approved. `rekey plugin list`, the API and the dashboard show it.

use super::{Gate, TrustError, digest};
use crate::config::{Config, plugin_name_of};
use std::path::PathBuf;

/// How a plugin's file stands against its approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    /// Approved, and the file is the one approved.
    Approved,
    /// Approved, but the file's bytes changed since: it will not run.
    Changed,
    /// Approved, but no file is found under its name.
    Missing,
    /// A file in the plugin directory with no approval.
    NotApproved,
}

impl Approval {
    /// As `rekey plugin list` prints it.
    pub fn text(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Changed => "CHANGED since approval",
            Self::Missing => "approved, file missing",
            Self::NotApproved => "NOT APPROVED",
        }
    }
}

/// One plugin.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Listed {
    /// The name it is approved (or would be approved) under.
    pub name: String,
    /// The version it declared when approved.
    pub version: Option<String>,
    /// The approved sha256 of its bytes, hex.
    pub sha256: Option<String>,
    /// The permissions approved, as `http HOST` and `tcp ADDR`.
    pub permissions: Vec<String>,
    /// When it was approved (RFC 3339).
    pub approved_at: Option<String>,
    /// Its file, if found.
    #[schema(value_type = Option<String>)]
    pub file: Option<PathBuf>,
    /// The file against the approval.
    pub approval: Approval,
    /// Its signature: who signed it, or why it is not checked.
    pub signature: String,
}

/// Every approved plugin, then the unapproved files in `plugin_dir`.
pub fn plugins(config: &Config) -> Result<Vec<Listed>, TrustError> {
    let gate = Gate::new(config)?;
    let mut listed = vec![];
    for (name, approved) in gate.lock().iter() {
        let file = config.find_plugin(name).ok();
        let bytes = file.as_ref().and_then(|f| std::fs::read(f).ok());
        let (approval, signature) = match (&file, &bytes) {
            (Some(file), Some(bytes)) => (
                if digest(bytes) == approved.sha256 { Approval::Approved } else { Approval::Changed },
                gate.signer(name, file, bytes).map_or_else(|e| format!("BAD: {e}"), |s| s.to_string()),
            ),
            _ => (Approval::Missing, "-".into()),
        };
        listed.push(Listed {
            name: name.clone(),
            version: Some(approved.version.clone()),
            sha256: Some(approved.sha256.clone()),
            permissions: approved.permissions.clone(),
            approved_at: Some(approved.approved_at.clone()),
            file,
            approval,
            signature,
        });
    }
    let installed = std::fs::read_dir(config.plugin_dir()).into_iter().flatten().flatten().map(|e| e.path());
    for file in installed.filter(|p| p.extension().is_some_and(|e| e == "wasm")) {
        let name = plugin_name_of(&file);
        if gate.lock().get(&name).is_none() {
            listed.push(Listed {
                name,
                version: None,
                sha256: None,
                permissions: vec![],
                approved_at: None,
                file: Some(file),
                approval: Approval::NotApproved,
                signature: "-".into(),
            });
        }
    }
    Ok(listed)
}
