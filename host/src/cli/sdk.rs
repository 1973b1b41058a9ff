//! The Rust SDK this binary was built with (`rekey-sdk`, carried as it
//! carries the WIT), written out by `rekey plugin sdk --out DIR` and into
//! every new Rust project by `rekey plugin new`: a project builds on a
//! machine with only the `rekey` binary and a Rust toolchain, with the SDK
//! that matches the contract this rekey speaks.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/sdk_sources.rs"));

/// Its manifest, the workspace's values filled in (see `host/build.rs`).
const MANIFEST: &str = include_str!(concat!(env!("OUT_DIR"), "/sdk-Cargo.toml"));

/// The SDK's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Writes the SDK crate into `dir` (created if needed): its manifest, its
/// sources and the contract in `wit/`; the paths written.
pub fn write(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let fail = |path: &Path, e: std::io::Error| anyhow::anyhow!("cannot write {}: {e}", path.display());
    let mut written = Vec::new();
    for (name, text) in std::iter::once(&("Cargo.toml", MANIFEST)).chain(SOURCES) {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| fail(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| fail(&path, e))?;
        written.push(path);
    }
    let wit = dir.join("wit");
    written.extend(crate::runtime::contract::write(&wit).map_err(|e| fail(&wit, e))?);
    Ok(written)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_manifest_inherits_nothing_from_a_workspace() {
        let manifest: toml::Table = super::MANIFEST.parse().unwrap();
        assert!(!super::MANIFEST.contains("workspace"), "{}", super::MANIFEST);
        assert_eq!(manifest["package"]["name"].as_str(), Some("rekey-sdk"));
        assert_eq!(manifest["package"]["version"].as_str(), Some(super::VERSION));
        assert!(manifest["dependencies"]["serde"]["features"].as_array().is_some(), "{}", super::MANIFEST);
    }

    #[test]
    fn every_source_of_the_crate_is_carried() {
        let names: Vec<&str> = super::SOURCES.iter().map(|(name, _)| *name).collect();
        for name in ["build.rs", "src/lib.rs", "src/http.rs", "src/tcp/wasi.rs", "src/testing.rs"] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
    }
}
