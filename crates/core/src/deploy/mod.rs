//! Putting a key where applications read it (targets), testing that it works
//! there (checks), and telling people what happened (notifications). All of
//! them are built into the host for now; each is idempotent, so a resumed
//! rotation can run one again safely.

pub mod atomic;
pub mod check;
mod env_file;
mod exec;
mod http;
mod json_file;
pub mod notify;

use crate::config::{Destination, Target};
use crate::runtime::Credential;
use std::path::Path;

/// Why a target, check or notification failed. Never contains the secret.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DeployError(pub String);

/// Writes the key to `target`: its secret, or what the target's `value`
/// template makes of it (`{secret}`, `{key_id}`); relative paths start at
/// `dir`.
pub async fn deploy(
    target: &Target,
    key: &Credential,
    dir: &Path,
    context: &exec::Context<'_>,
) -> Result<(), DeployError> {
    let render = |value: &str| value.replace("{key_id}", &key.key_id).replace("{secret}", &key.secret);
    match target {
        Target::EnvFile { path, variable, variables } => {
            let values: Vec<(String, String)> = variable
                .iter()
                .map(|v| (v.clone(), key.secret.clone()))
                .chain(variables.iter().map(|(name, template)| (name.clone(), render(template))))
                .collect();
            let path = dir.join(path);
            blocking(move || env_file::set(&path, &values)).await
        }
        Target::JsonFile { path, pointer, value } => {
            let (path, pointer, value) = (dir.join(path), pointer.clone(), render(value));
            blocking(move || json_file::set(&path, &pointer, &value)).await
        }
        Target::Exec { command, secret_via, timeout } => {
            exec::run(command, *secret_via, &key.secret, *timeout, dir, context).await
        }
    }
}

/// Runs a file write (and its fsyncs) on a blocking thread, so the other
/// rotations of a run go on meanwhile.
async fn blocking(write: impl FnOnce() -> Result<(), DeployError> + Send + 'static) -> Result<(), DeployError> {
    tokio::task::spawn_blocking(write).await.unwrap_or_else(|e| Err(DeployError(format!("the file write failed: {e}"))))
}

/// What `rekey rotate --dry-run` can tell without writing: a file target's
/// folder exists and the file (or, for a new file, the folder) is
/// writable; a command target's program exists.
pub fn preflight(target: &Target, dir: &Path) -> Result<(), DeployError> {
    let writable = |path: &Path| rustix::fs::access(path, rustix::fs::Access::WRITE_OK).is_ok();
    match target {
        Target::EnvFile { path, .. } | Target::JsonFile { path, .. } => {
            let file = dir.join(path);
            let folder = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !folder.is_dir() {
                return Err(DeployError(format!("the folder {} does not exist; create it first", folder.display())));
            }
            let (what, ok) =
                if file.exists() { (&file, writable(&file)) } else { (&folder.to_path_buf(), writable(folder)) };
            if ok { Ok(()) } else { Err(DeployError(format!("{} is not writable by this user", what.display()))) }
        }
        Target::Exec { command, .. } => exec::missing_program(command, dir).map_or(Ok(()), Err),
    }
}

/// Describes a target for plans and messages (no secret).
pub fn describe(destination: &Destination) -> String {
    let target = match destination {
        Destination::Builtin(target) => target,
        Destination::Plugin(target) => {
            let config: Vec<String> = target.config.iter().map(|(k, v)| format!("{k}={v}")).collect();
            return format!("plugin {} ({})", target.plugin.name, config.join(", "));
        }
    };
    match target {
        Target::EnvFile { path, variable, variables } => {
            let names: Vec<&str> =
                variable.iter().map(String::as_str).chain(variables.keys().map(String::as_str)).collect();
            format!("env-file {} ({})", path.display(), names.join(", "))
        }
        Target::JsonFile { path, pointer, .. } => format!("json-file {} ({pointer})", path.display()),
        Target::Exec { command, .. } => format!("exec {}", command.join(" ")),
    }
}

pub use exec::Context;
