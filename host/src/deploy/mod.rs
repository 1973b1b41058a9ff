//! Putting a key where applications read it (targets), testing that it works
//! there (checks), and telling people what happened (notifications). All of
//! them are built into the host for now; each is idempotent, so a resumed
//! rotation can run one again safely.

mod atomic;
pub mod check;
mod env_file;
mod exec;
mod http;
mod json_file;
pub mod notify;

use crate::config::Target;
use std::path::Path;

/// Why a target, check or notification failed. Never contains the secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeployError(pub String);

/// Writes `secret` to `target`; relative paths start at `dir`.
pub async fn deploy(target: &Target, secret: &str, dir: &Path, context: &exec::Context<'_>) -> Result<(), DeployError> {
    match target {
        Target::EnvFile { path, variable } => env_file::set(&dir.join(path), variable, secret),
        Target::JsonFile { path, pointer } => json_file::set(&dir.join(path), pointer, secret),
        Target::Exec { command, secret_via, timeout } => {
            exec::run(command, *secret_via, secret, *timeout, dir, context).await
        }
    }
}

/// Describes a target for plans and messages (no secret).
pub fn describe(target: &Target) -> String {
    match target {
        Target::EnvFile { path, variable } => format!("env-file {} ({variable})", path.display()),
        Target::JsonFile { path, pointer } => format!("json-file {} ({pointer})", path.display()),
        Target::Exec { command, .. } => format!("exec {}", command.join(" ")),
    }
}

pub use exec::Context;
