//! `rekey init`: a new store and, unless the master key comes from the
//! environment, a new key file (mode 0600).

use crate::config::Config;
use crate::store::crypto::{KeySource, MASTER_KEY_VAR, PASSPHRASE_VAR};
use crate::store::{Location, Store};
use std::path::Path;

/// Creates the store named by `rekey.toml` (or `./rekey.db` without one).
pub fn run(file: &Path) -> anyhow::Result<()> {
    let config = file.exists().then(|| Config::load(file)).transpose()?;
    let (store, key_file) = match &config {
        Some(config) => (config.store().clone(), config.key_file()),
        None => (Location::File("rekey.db".into()), Path::new("rekey.key").to_path_buf()),
    };
    let source = match &config {
        Some(config) => config.key_source(&key_file),
        None => KeySource::find(&key_file),
    };
    Store::init_with(&store, &source)?;
    println!("created the store {}", store.describe());
    if let KeySource::Kms(kms) = &source {
        println!("its master key is held by the AWS KMS key {}", kms.arn());
    } else if std::env::var_os(MASTER_KEY_VAR).is_none() && std::env::var_os(PASSPHRASE_VAR).is_none() {
        println!("created the master key file {} (mode 0600): back it up apart from the store", key_file.display());
    }
    Ok(())
}
