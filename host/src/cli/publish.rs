//! `rekey plugin publish FILE oci://…`: a plugin and its signature into an
//! OCI registry, as the Wasm component artifact `wkg oci pull` reads.

use super::exit::UsageError;
use super::show::field;
use crate::trust::review::anatomy;
use crate::trust::signature;
use rekey_registry::{Client, Component};
use std::path::PathBuf;

/// Arguments of `rekey plugin publish`.
#[derive(Debug, clap::Args)]
#[command(after_help = "The signature is FILE.minisig (`rekey plugin sign`), published under the tag \
sha256-<manifest digest>.sig; operators whose rekey.toml sets trust.require_signature install only signed \
plugins. Registry credentials come from REKEY_REGISTRY_USERNAME and REKEY_REGISTRY_PASSWORD, else the Docker \
config file (docker login).")]
pub struct Args {
    /// The plugin (a WebAssembly component).
    file: PathBuf,
    /// Where: oci://REGISTRY/REPOSITORY:TAG.
    reference: String,
}

/// Pushes the plugin and its signature, and prints the pinned reference.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let source = super::fetch::source(&args.reference)?;
    if source.tag().is_none() || source.digest().is_some() {
        return Err(
            UsageError(format!("{source}: publish to a tag (oci://REGISTRY/REPOSITORY:TAG), not a digest")).into()
        );
    }
    let bytes = std::fs::read(&args.file).map_err(|e| UsageError(format!("{}: {e}", args.file.display())))?;
    let parts = anatomy(&bytes).map_err(|e| UsageError(format!("{}: {e}", args.file.display())))?;
    let sig_file = signature::signature_path(&args.file);
    let signature = match std::fs::read_to_string(&sig_file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(UsageError(format!("{}: {e}", sig_file.display())).into()),
    };
    let component = Component { exports: parts.exports, imports: parts.imports, target: None };
    let pinned = Client::new(&source)?.push(&source, &bytes, signature.as_deref(), component).await?;
    field("published", &pinned);
    field("component", rekey_registry::digest(&bytes));
    match signature {
        Some(_) => field("signature", format!("{} (tag sha256-….sig)", sig_file.display())),
        None => field("signature", "none: operators who require signatures will refuse it (`rekey plugin sign`)"),
    }
    Ok(())
}
