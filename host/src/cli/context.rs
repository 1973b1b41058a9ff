//! What the store commands share: the checked `rekey.toml`, the store it
//! names, and a plugin runtime.

use super::exit::UsageError;
use crate::config::{Config, Credential};
pub use crate::human::{age, time};
use crate::runtime::{Limits, Runtime};
use crate::store::Store;
use std::path::PathBuf;

/// The loaded configuration and how to reach the store and plugins.
pub struct Context {
    /// The checked `rekey.toml`.
    pub config: Config,
    cache: Option<PathBuf>,
}

impl Context {
    /// Reads and checks `rekey.toml`.
    pub fn load(file: PathBuf, cache: Option<PathBuf>) -> anyhow::Result<Self> {
        Ok(Self { config: Config::load(&file)?, cache })
    }

    /// The checked `rekey.toml`, for a command that keeps it (the daemon reloads it).
    pub fn into_config(self) -> Config {
        self.config
    }

    /// The declaration of a credential, or the usage error that says where
    /// to declare it.
    pub fn declared(&self, name: &str) -> Result<&Credential, UsageError> {
        self.config.credential(name).ok_or_else(|| {
            UsageError(format!(
                "credential `{name}` is not declared in {}; declare it there first",
                self.config.file.display()
            ))
        })
    }

    /// The named credentials, each checked to be declared, or, when none
    /// is named, every declared one a provider can be asked about (a
    /// manual credential has none: `verify` and `reconcile` pass it over).
    pub fn named_or_checkable(&self, names: &[String]) -> Result<Vec<String>, UsageError> {
        if names.is_empty() {
            let specs = self.config.credentials().iter().filter(|c| !c.is_manual());
            return Ok(specs.map(|c| c.name.clone()).collect());
        }
        for name in names {
            self.declared(name)?;
        }
        Ok(names.to_vec())
    }

    /// Opens the store with the master key.
    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(crate::state::open(&self.config)?)
    }

    /// A plugin runtime with default limits.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        let limits = Limits { deadline: self.config.manifest.plugin_timeout, ..Limits::default() };
        super::runtime(limits, self.cache.clone(), self.config.manifest.plugin_max_bytes())
    }
}
