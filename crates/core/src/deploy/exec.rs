//! Commands run by targets, checks and notifications. The secret travels in
//! the environment or on stdin, never in the arguments where any local user
//! could read it; every command has a deadline.

use super::DeployError;
use crate::config::SecretVia;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The environment variable holding the secret.
pub const SECRET_VAR: &str = "REKEY_SECRET";

/// What a command is told about the work it is part of.
#[derive(Clone, Copy, Default)]
pub struct Context<'a> {
    /// The credential.
    pub credential: &'a str,
    /// The stage, for targets and checks.
    pub stage: &'a str,
    /// The key id (not secret).
    pub key_id: &'a str,
}

/// Why `command` cannot start, if its program is missing or not
/// executable: a program with a `/` is a path (from `dir`), any other is
/// looked up in `PATH`.
pub fn missing_program(command: &[String], dir: &Path) -> Option<DeployError> {
    let Some(program) = command.first() else { return Some(DeployError("the command is empty".into())) };
    let executable = |path: &Path| rustix::fs::access(path, rustix::fs::Access::EXEC_OK).is_ok() && path.is_file();
    let found = if program.contains('/') {
        executable(&dir.join(program))
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| executable(&d.join(program))))
    };
    (!found).then(|| DeployError(format!("`{program}` is not an executable file here or in PATH")))
}

/// Runs `command` with `secret` passed as `via` says; fails on a non-zero
/// exit or after `timeout`.
pub async fn run(
    command: &[String],
    via: SecretVia,
    secret: &str,
    timeout: Duration,
    dir: &Path,
    context: &Context<'_>,
) -> Result<(), DeployError> {
    let (program, args) = command.split_first().ok_or_else(|| DeployError("the command is empty".into()))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .env("REKEY_CREDENTIAL", context.credential)
        .env("REKEY_STAGE", context.stage)
        .env("REKEY_KEY_ID", context.key_id)
        .stdin(if via == SecretVia::Stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if via == SecretVia::Env {
        cmd.env(SECRET_VAR, secret);
    }
    let shown = command.join(" ");
    let mut child = cmd.spawn().map_err(|e| DeployError(format!("cannot start `{shown}`: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(secret.as_bytes()).await;
    }
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| DeployError(format!("`{shown}` did not finish within {timeout:?} and was killed")))?
        .map_err(|e| DeployError(format!("`{shown}` failed: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).replace(secret, "***");
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect::<String>();
    Err(DeployError(format!(
        "`{shown}` exited with {}{}",
        output.status,
        if last.is_empty() { String::new() } else { format!(": {last}") }
    )))
}
