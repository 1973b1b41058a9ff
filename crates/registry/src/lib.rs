//! Plugins shared through OCI registries.
//!
//! A plugin travels as the WebAssembly component artifact that
//! wasm-pkg-tools (`wkg oci push`/`pull`) and Spin use: an OCI image
//! manifest whose config is `application/vnd.wasm.config.v0+json` and whose
//! one layer is the component (`application/wasm`). So `wkg oci pull` gets
//! the bytes rekey published, and rekey installs what `wkg oci push`
//! published.
//!
//! Its minisign signature (the `.minisig` of the component's bytes, as
//! `rekey plugin sign` makes it) is published beside it under the tag
//! `sha256-<manifest digest>.sig`, the tag cosign uses for signatures: any
//! OCI registry stores it (the referrers API is newer than many registries),
//! it is found from the digest alone, and a tag moved to another manifest
//! finds that manifest's signature or none.
//!
//! Every digest is checked here: the manifest's against the one pinned
//! (`@sha256:…`), the component's against the manifest.

mod artifact;
mod auth;
mod reference;

pub use artifact::{Client, Component, Pulled};
pub use reference::Source;

/// What went wrong with a registry, a reference or an artifact.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The reference is not `oci://REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST]`.
    #[error(
        "`{reference}` is not a plugin reference: {reason} (write oci://REGISTRY/REPOSITORY:TAG or …@sha256:DIGEST)"
    )]
    Reference { reference: String, reason: String },
    /// The registry refused or failed a request.
    #[error("{what} at {source_ref}: {cause}")]
    Registry { what: &'static str, source_ref: String, cause: String },
    /// The registry holds no such manifest (tag or digest).
    #[error("{source_ref}: the registry has no such tag or digest")]
    NotFound { source_ref: String },
    /// What the registry holds is not a Wasm component artifact.
    #[error("{source_ref} is not a WebAssembly component artifact: {reason}")]
    Format { source_ref: String, reason: String },
    /// Bytes that do not match the digest that names them.
    #[error("{source_ref}: the {what} has digest {got}, not the {expected} that names it; refusing it")]
    Digest { source_ref: String, what: &'static str, expected: String, got: String },
    /// The credentials could not be read.
    #[error("registry credentials for {registry}: {reason}")]
    Credentials { registry: String, reason: String },
}

/// `sha256:` and the hex SHA-256 of `bytes`, as OCI names content.
pub fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}
