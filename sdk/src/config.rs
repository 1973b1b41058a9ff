//! Typed access to the operator's configuration and admin secrets, with
//! errors that tell the operator which field to fix.

use crate::{CallContext, Pair, ProviderError};

/// A read-only view of a call's configuration and admin secrets.
pub struct Config<'a> {
    ctx: &'a CallContext,
}

impl<'a> Config<'a> {
    /// Wraps the context of a call.
    pub fn new(ctx: &'a CallContext) -> Self {
        Self { ctx }
    }

    /// The value of a config field, if the operator set it (the host fills in
    /// declared defaults before the call).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        lookup(&self.ctx.config, name)
    }

    /// The value of a config field that must be present.
    pub fn required(&self, name: &str) -> Result<&'a str, ProviderError> {
        self.get(name)
            .filter(|value| !value.is_empty())
            .ok_or_else(|| ProviderError::InvalidConfig(format!("config field `{name}` is required")))
    }

    /// A config field parsed as a whole number, or `default` when absent.
    pub fn integer(&self, name: &str, default: u64) -> Result<u64, ProviderError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| {
                ProviderError::InvalidConfig(format!("config field `{name}` must be a whole number, got `{text}`"))
            }),
        }
    }

    /// The `length` field of a provider that makes random passwords: 40 by
    /// default, between 20 (weaker is no rotation worth making) and 256.
    pub fn password_length(&self) -> Result<usize, ProviderError> {
        match self.integer("length", 40)? {
            length @ 20..=256 => Ok(length as usize),
            length => Err(ProviderError::InvalidConfig(format!("`length` must be between 20 and 256, got {length}"))),
        }
    }

    /// A field that names two different things, comma-separated (the two
    /// accounts of an alternating strategy: `app_blue,app_green`).
    pub fn pair(&self, name: &str) -> Result<(&'a str, &'a str), ProviderError> {
        let text = self.required(name)?;
        match text.split(',').map(str::trim).collect::<Vec<_>>()[..] {
            [a, b] if !a.is_empty() && !b.is_empty() && a != b => Ok((a, b)),
            _ => Err(ProviderError::InvalidConfig(format!(
                "`{name}` must name two different things, comma-separated, got `{text}`"
            ))),
        }
    }

    /// A config field parsed as `true`/`false`, or `default` when absent.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, ProviderError> {
        match self.get(name) {
            None | Some("") => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(text) => Err(ProviderError::InvalidConfig(format!(
                "config field `{name}` must be `true` or `false`, got `{text}`"
            ))),
        }
    }

    /// An admin secret that must be present. The message of the error names
    /// the field, never a value.
    pub fn secret(&self, name: &str) -> Result<&'a str, ProviderError> {
        lookup(&self.ctx.admin_secrets, name)
            .ok_or_else(|| ProviderError::InvalidConfig(format!("admin secret `{name}` is required")))
    }
}

fn lookup<'a>(pairs: &'a [Pair], name: &str) -> Option<&'a str> {
    pairs.iter().find(|pair| pair.key == name).map(|pair| pair.value.as_str())
}
