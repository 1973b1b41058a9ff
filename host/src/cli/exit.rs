//! Exit codes, so scripts can tell a failure from a misuse from an invalid
//! key without parsing messages.

use crate::runtime::PluginError;
use std::process::ExitCode;

/// How `rekey` ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: something failed (a plugin, a provider, the host).
    Failure,
    /// 2: the command line or its input is wrong.
    Usage,
    /// 3: `verify` ran and the key is not valid. Nothing more to print: the
    /// result was already shown.
    Invalid,
}

/// The input the operator gave is wrong; exits with 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// An error the command already showed in its own output (a result line,
/// a JSON document): `main` prints nothing more, and exits as the error says.
#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct Reported(pub anyhow::Error);

/// `verify` found the key invalid; exits with 3.
#[derive(Debug, thiserror::Error)]
#[error("the key is not valid")]
pub struct InvalidKey;

impl Exit {
    /// The exit code for an error.
    pub fn of(error: &anyhow::Error) -> Self {
        if let Some(Reported(inner)) = error.downcast_ref::<Reported>() {
            return Self::of(inner);
        }
        if error.is::<InvalidKey>() {
            Self::Invalid
        } else if error.is::<UsageError>()
            || error.is::<crate::config::ConfigError>()
            || error.is::<crate::trust::TrustError>()
            || matches!(
                error.downcast_ref::<crate::rotation::RotationError>(),
                Some(
                    crate::rotation::RotationError::Setup { .. }
                        | crate::rotation::RotationError::Approvals(_)
                        | crate::rotation::RotationError::Signing { .. },
                )
            )
            || error.downcast_ref::<PluginError>().is_some_and(is_bad_input)
        {
            Self::Usage
        } else {
            Self::Failure
        }
    }
}

/// The operator's config or plugin file is wrong, as the host or the
/// provider found.
fn is_bad_input(error: &PluginError) -> bool {
    matches!(
        error,
        PluginError::Config { .. }
            | PluginError::Provider { error: crate::runtime::ProviderError::InvalidConfig(_), .. }
            | PluginError::NotAComponent { .. }
            | PluginError::ForbiddenImports { .. }
            | PluginError::WrongWorld { .. }
            | PluginError::TooComplex { .. }
            | PluginError::ContractVersion { .. }
    )
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(match exit {
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Invalid => 3,
        })
    }
}
