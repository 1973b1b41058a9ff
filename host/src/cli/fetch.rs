//! A plugin pulled from an OCI registry into a private folder, with the
//! signature published beside it, to be reviewed and approved like a file
//! (`plugin install oci://…`, `plugin update`).

use super::exit::UsageError;
use super::install::Candidate;
use crate::trust::lock::Origin;
use crate::trust::signature;
use rekey_registry::{Client, Source};
use std::path::PathBuf;

/// A pulled plugin; its folder is removed when this is dropped.
pub struct Fetched {
    _dir: tempfile::TempDir,
    file: PathBuf,
    origin: Origin,
}

impl Fetched {
    /// Pulls `source` (the manifest and component digests checked) and the
    /// signature beside it, into a private folder.
    pub async fn pull(source: &Source) -> anyhow::Result<Self> {
        let pulled = Client::new(source)?.pull(source).await?;
        let dir = tempfile::Builder::new().prefix("rekey-pull-").tempdir()?;
        let file = dir.path().join("plugin.wasm");
        std::fs::write(&file, &pulled.component)?;
        if let Some(text) = &pulled.signature {
            std::fs::write(signature::signature_path(&file), text)?;
        }
        let origin = Origin {
            repository: source.repository(),
            tag: source.tag().map(String::from),
            digest: pulled.source.digest().unwrap_or_default().to_string(),
        };
        Ok(Self { _dir: dir, file, origin })
    }

    /// What `plugin install` reviews and approves.
    pub fn candidate(&self) -> Candidate {
        Candidate { file: self.file.clone(), origin: Some(self.origin.clone()) }
    }
}

/// Parses an `oci://` reference for the command line: a bad one is the
/// operator's to fix.
pub fn source(text: &str) -> Result<Source, UsageError> {
    Source::parse(text).map_err(|e| UsageError(e.to_string()))
}

/// The source an approval's origin names: its tag (or its digest alone).
pub fn origin_source(origin: &Origin) -> Result<Source, UsageError> {
    match &origin.tag {
        Some(tag) => source(&format!("{}:{tag}", origin.repository)),
        None => source(&format!("{}@{}", origin.repository, origin.digest)),
    }
}
