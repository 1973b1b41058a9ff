//! `rekey init`: a new store and, unless the master key comes from the
//! environment, a new key file (mode 0600).

use crate::config::Config;
use crate::store::crypto::{MASTER_KEY_VAR, PASSPHRASE_VAR};
use crate::store::{Location, Store};
use std::path::Path;

/// Creates the store named by `rekey.toml` (or `./rekey.db` without one).
pub fn run(file: &Path) -> anyhow::Result<()> {
    let (store, key_file) = if file.exists() {
        let config = Config::load(file)?;
        (config.store(), config.key_file())
    } else {
        (Location::File("rekey.db".into()), Path::new("rekey.key").to_path_buf())
    };
    Store::init(&store, &key_file)?;
    println!("created the store {}", store.describe());
    if std::env::var_os(MASTER_KEY_VAR).is_none() && std::env::var_os(PASSPHRASE_VAR).is_none() {
        println!("created the master key file {} (mode 0600): back it up apart from the store", key_file.display());
    }
    Ok(())
}
