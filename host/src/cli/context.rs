//! What the store commands share: the checked `rekey.toml`, the store it
//! names, and a plugin runtime.

use super::exit::UsageError;
use crate::config::{Config, CredentialSpec};
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
    pub fn declared(&self, name: &str) -> Result<&CredentialSpec, UsageError> {
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
            let specs = self.config.manifest.credentials.iter().filter(|c| !Config::is_manual(c));
            return Ok(specs.map(|c| c.name.get_ref().clone()).collect());
        }
        for name in names {
            self.declared(name)?;
        }
        Ok(names.to_vec())
    }

    /// Opens the store with the master key.
    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.config.store_path(), &self.config.key_file())?)
    }

    /// A plugin runtime with default limits.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        let limits = Limits { deadline: self.config.manifest.plugin_timeout, ..Limits::default() };
        super::runtime(limits, self.cache.clone(), self.config.manifest.plugin_max_bytes())
    }
}

/// Formats Unix seconds as UTC `YYYY-MM-DD HH:MM:SS`.
pub fn time(unix: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string().trim_end_matches('Z').replacen('T', " ", 1)
}

/// A duration in seconds as `3d 4h`, `5m`, `12s`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unix_times_print_as_utc_dates() {
        assert_eq!(super::time(0), "1970-01-01 00:00:00");
        assert_eq!(super::time(1_795_000_000), "2026-11-18 11:06:40");
        assert_eq!(super::time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(super::age(90 * 86_400 + 3_600), "90d 1h");
    }
}
