//! Where a secret comes from. `rekey.toml` holds references, never values:
//! `env:VAR`, `file:PATH` (relative to the file) or `store:NAME` (the current
//! key of another credential rekey manages).

use crate::Store;
use crate::versions::Label;
use std::path::Path;
use zeroize::Zeroizing;

/// A parsed reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// An environment variable.
    Env(String),
    /// A file's content, trailing newline removed.
    File(String),
    /// The current key of a managed credential.
    Store(String),
}

impl Reference {
    /// Parses `env:VAR`, `file:PATH` or `store:NAME`. The error never
    /// repeats the text, which may be a secret pasted by mistake.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (kind, rest) = text.split_once(':').unwrap_or(("", ""));
        match (kind, rest) {
            (_, "") => Err("must be a reference (env:VAR, file:PATH or store:NAME), never a literal secret".into()),
            ("env", var) => Ok(Self::Env(var.into())),
            ("file", path) => Ok(Self::File(path.into())),
            ("store", name) => Ok(Self::Store(name.into())),
            _ => Err("must start with env:, file: or store: (a literal secret is not allowed here)".into()),
        }
    }

    /// The secret it points to.
    pub fn resolve(&self, dir: &Path, store: &Store) -> Result<Zeroizing<String>, String> {
        match self {
            Self::Store(name) => {
                let current = store
                    .labeled(name, Label::Current)
                    .map_err(|e| e.to_string())?
                    .ok_or_else(|| format!("the store has no current key for `{name}`"))?;
                store.secret(&current).map_err(|e| e.to_string())
            }
            _ => self.resolve_plain(dir),
        }
    }

    /// The secret an `env:` or `file:` reference points to, without a
    /// store (the store's own password is one).
    pub fn resolve_plain(&self, dir: &Path) -> Result<Zeroizing<String>, String> {
        match self {
            Self::Env(var) => {
                std::env::var(var).map(Zeroizing::new).map_err(|_| format!("environment variable ${var} is not set"))
            }
            Self::File(path) => {
                let path = dir.join(path);
                let text =
                    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Ok(Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string()))
            }
            Self::Store(_) => Err("a store: reference cannot be used here; use env:VAR or file:PATH".into()),
        }
    }
}
