//! How a rotation ends, and why one could not run or did not succeed.

use crate::store::StoreError;

/// Why a rotation could not run or did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    /// The store failed, or refused (busy, wrong key…).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The approvals (`rekey.lock`) or the trusted keys cannot be read.
    #[error(transparent)]
    Approvals(#[from] crate::trust::TrustError),
    /// The credential is not declared, or its declaration cannot be used.
    #[error("credential `{credential}`: {reason}")]
    Setup {
        /// The credential.
        credential: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A notifier's signing secret cannot be resolved, so its events could
    /// not be signed.
    #[error("notify {notifier}: signing_secret: {cause}; set it, or remove signing_secret from the notifier")]
    Signing {
        /// The notifier.
        notifier: String,
        /// Why the secret cannot be had.
        cause: String,
    },
    /// The previous key is still in its grace period.
    #[error(
        "credential `{credential}`: rotation {rotation} is in its grace period until {} UTC; end it now with `rekey revoke-previous {credential}` or undo it with `rekey rollback {credential}`",
        crate::human::time(*until)
    )]
    InGrace {
        /// The credential.
        credential: String,
        /// The rotation.
        rotation: String,
        /// When the grace period ends.
        until: i64,
    },
    /// Checking the current key with the provider failed.
    #[error("credential `{credential}`: the check with the provider failed: {cause}")]
    Check {
        /// The credential.
        credential: String,
        /// Why.
        cause: String,
    },
    /// The rotation stopped at a step boundary because the process is
    /// shutting down; it resumes where it stopped.
    #[error(
        "credential `{credential}`: rotation {rotation} stopped before {step} for shutdown; it resumes at the next start (or `rekey resume`)"
    )]
    Stopped {
        /// The credential.
        credential: String,
        /// The rotation.
        rotation: String,
        /// The next step.
        step: String,
    },
    /// A step failed; `rolled_back` says whether the old key is current again.
    #[error("credential `{credential}`: rotation {rotation} failed at {step}: {cause}{}", if *rolled_back { "; rolled back: the old key is current again in every target" } else { "" })]
    Failed {
        /// The credential.
        credential: String,
        /// The rotation.
        rotation: String,
        /// The step that failed.
        step: String,
        /// Why.
        cause: String,
        /// Whether it was rolled back.
        rolled_back: bool,
    },
}

/// How a rotation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// Every step is done; the old key is revoked.
    Succeeded,
    /// Every step is done, and there was no earlier key to revoke: the
    /// credential's first key.
    FirstKey,
    /// Promoted; the old key is revoked once the grace period ends.
    InGrace {
        /// When (Unix seconds).
        until: i64,
    },
    /// Undone at the operator's request.
    RolledBack,
    /// Promoted; the old key of a manual credential waits for a person to
    /// revoke it at the vendor and run `rekey confirm-revoked`.
    AwaitingRevocation {
        /// Until when apps may still use it (Unix seconds), if its grace
        /// period is not over.
        after: Option<i64>,
    },
}

/// A short name for how a rotation ended, for events and metrics.
pub fn result_name(outcome: &Result<Ended, RotationError>) -> &'static str {
    match outcome {
        Ok(Ended::Succeeded | Ended::FirstKey) => "rotated",
        Ok(Ended::InGrace { .. }) => "in-grace",
        Ok(Ended::RolledBack) => "rolled-back",
        Ok(Ended::AwaitingRevocation { .. }) => "awaiting-revocation",
        Err(RotationError::Failed { rolled_back: true, .. }) => "failed-rolled-back",
        Err(RotationError::Stopped { .. }) => "stopped",
        Err(_) => "failed",
    }
}
