//! Compiled plugins on disk, so a plugin is compiled once, not on every run.
//!
//! Deserializing compiled code runs it as native code, so only files this
//! host wrote are ever read back: the folder is created private (0700), a
//! file or folder that another user owns or can write is ignored, and the
//! file name binds the wasm's sha256 to the engine's compatibility hash, so
//! a different wasmtime or different settings never load stale code.
//!
//! The name also binds this rekey's version and the call memory budget:
//! an entry exists only for a wasm whose structure this same build checked
//! under the same budget before compiling it, so a hit needs no second
//! check. Beside the code, the plugin's `info` answer is kept once it was
//! validated: `info` runs with frozen clocks and fixed randomness, so for
//! the same bytes it always answers the same, and a load from the cache
//! needs no call.

use super::bindings::PluginInfo;
use super::error::PluginError;
use super::plugin::Kind;
use sha2::{Digest, Sha256};
use std::fs;
use std::hash::Hash;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A plugin's `info` answer as kept: its fields, and its kind.
#[derive(serde::Serialize, serde::Deserialize)]
struct Kept {
    #[serde(flatten)]
    info: PluginInfo,
    kind: Kind,
}

/// A folder of `.cwasm` files and the `info` answers of their plugins.
pub(crate) struct CodeCache {
    dir: PathBuf,
    /// What the entries of this engine, build and budget are named after.
    key: String,
}

impl CodeCache {
    /// Opens (creating if needed) the cache folder for `engine` and calls
    /// with `memory_budget` bytes.
    pub(crate) fn open(dir: PathBuf, engine: &Engine, memory_budget: usize) -> Result<Self, PluginError> {
        let error = |source| PluginError::Cache { path: dir.clone(), source };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(error)?;
        Ok(Self { dir, key: entry_key(engine, memory_budget) })
    }

    /// The compiled component of the wasm whose sha256 is `digest`, if the
    /// cache holds a usable one.
    pub(crate) fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        if !trusted(&self.dir) {
            return None;
        }
        self.code(engine, digest)
    }

    /// The compiled component and the kept `info` answer of the wasm whose
    /// sha256 is `digest`, if the cache holds usable code for it.
    pub(crate) fn entry(&self, engine: &Engine, digest: &str) -> Option<(Component, Option<(PluginInfo, Kind)>)> {
        if !trusted(&self.dir) {
            return None;
        }
        Some((self.code(engine, digest)?, self.kept_info(digest)))
    }

    /// The compiled code, in a folder already found private.
    fn code(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(digest, "cwasm");
        if !trusted(&path) {
            return None;
        }
        // SAFETY: the file is in a private folder, owned by this user and
        // not writable by others, and named after the engine that wrote it:
        // it is a `.cwasm` this host produced. wasmtime still checks its
        // header and compatibility before using it.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!("recompiling: cached code at {} is unusable: {error}", path.display());
                None
            }
        }
    }

    /// Keeps `compiled` for the wasm whose sha256 is `digest`; a failure is
    /// only logged (the plugin is compiled again next time).
    pub(crate) fn put(&self, digest: &str, compiled: &[u8]) {
        self.keep(&self.path(digest, "cwasm"), compiled);
    }

    /// The validated `info` answer of the plugin whose sha256 is `digest`,
    /// with its kind, in a folder already found private (one kept by a host
    /// before targets, without the kind, is asked again).
    fn kept_info(&self, digest: &str) -> Option<(PluginInfo, Kind)> {
        let path = self.path(digest, "info.json");
        if !trusted(&path) {
            return None;
        }
        let kept: Kept = serde_json::from_slice(&fs::read(path).ok()?).ok()?;
        Some((kept.info, kept.kind))
    }

    /// Keeps a plugin's validated `info` answer.
    pub(crate) fn put_info(&self, digest: &str, info: &PluginInfo, kind: Kind) {
        let json = serde_json::to_vec(&Kept { info: info.clone(), kind }).expect("plugin info serializes");
        self.keep(&self.path(digest, "info.json"), &json);
    }

    fn keep(&self, path: &Path, bytes: &[u8]) {
        if let Err(error) = write_private(path, bytes) {
            tracing::warn!("cannot cache {}: {error}", path.display());
        }
    }

    fn path(&self, digest: &str, extension: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.{extension}", self.key))
    }
}

/// A short, stable digest of everything an entry depends on: the engine
/// (wasmtime version, target, settings), this rekey (whose structure
/// checks ran before the entry was compiled) and the memory budget those
/// checks measured against.
fn entry_key(engine: &Engine, memory_budget: usize) -> String {
    struct Sha(Sha256);
    impl std::hash::Hasher for Sha {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            unreachable!("only the digest is read")
        }
    }
    let mut hasher = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    super::structure::RULES.hash(&mut hasher);
    memory_budget.hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Owned by this user and not writable by group or others.
fn trusted(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| {
        m.uid() == rustix::process::geteuid().as_raw() && m.mode() & 0o022 == 0 && !m.file_type().is_symlink()
    })
}

/// Writes through a private temporary file and a rename, so a reader never
/// sees half a file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all()).and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
