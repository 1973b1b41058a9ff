//! Compiled plugins on disk, so a plugin is compiled once, not on every run.
//!
//! Deserializing compiled code runs it as native code, so only files this
//! host wrote are ever read back: the folder is created private (0700), a
//! file or folder that another user owns or can write is ignored, and the
//! file name binds the wasm's sha256 to the engine's compatibility hash, so
//! a different wasmtime or different settings never load stale code.

use super::error::PluginError;
use sha2::{Digest, Sha256};
use std::fs;
use std::hash::Hash;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// A folder of `.cwasm` files.
pub(crate) struct CodeCache {
    dir: PathBuf,
}

impl CodeCache {
    /// Opens (creating if needed) the cache folder.
    pub(crate) fn open(dir: PathBuf) -> Result<Self, PluginError> {
        let error = |source| PluginError::Cache { path: dir.clone(), source };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(error)?;
        Ok(Self { dir })
    }

    /// The compiled component of the wasm whose sha256 is `digest`, if the
    /// cache holds a usable one.
    pub(crate) fn get(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let path = self.path(engine, digest);
        if !(trusted(&self.dir) && trusted(&path)) {
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
    pub(crate) fn put(&self, engine: &Engine, digest: &str, compiled: &[u8]) {
        let path = self.path(engine, digest);
        if let Err(error) = write_private(&path, compiled) {
            tracing::warn!("cannot cache compiled plugin at {}: {error}", path.display());
        }
    }

    fn path(&self, engine: &Engine, digest: &str) -> PathBuf {
        self.dir.join(format!("{digest}-{}.cwasm", engine_key(engine)))
    }
}

/// A short, stable digest of everything that makes compiled code compatible
/// with this engine (wasmtime version, target, settings).
fn engine_key(engine: &Engine) -> String {
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
