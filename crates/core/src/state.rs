//! Opening the store `rekey.toml` names, with its master key: where the
//! operator's file (read by `config`, which does no I/O on the store) meets
//! the state.

use crate::config::Config;
use crate::store::{Store, StoreError};

/// Opens `config`'s store with the master key from its key source.
pub fn open(config: &Config) -> Result<Store, StoreError> {
    Store::open_with(config.store(), &config.key_source(&config.key_file()))
}
