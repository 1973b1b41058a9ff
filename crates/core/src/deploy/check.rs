//! Checks run after a stage is deployed: does the new key work there?
//! A failure that may pass on a second try (no answer, 408, 429, 5xx, a
//! smoke test that fails) is retried with backoff, as the check's
//! `retries` and `retry_delay` say; one that cannot (a command that does
//! not exist, an unexpected status) fails at once.

use super::{DeployError, exec, http};
use crate::config::{Check, SecretVia};
use std::path::Path;

/// How one attempt of a check ended.
enum Attempt {
    Passed,
    /// Worth another try.
    Transient(DeployError),
    /// Another try would fail the same way.
    Failed(DeployError),
}

/// Runs one check with the new `secret`, with its retries.
pub async fn run(check: &Check, secret: &str, dir: &Path, context: &exec::Context<'_>) -> Result<(), DeployError> {
    let (retries, base) = check.retry();
    let mut attempt = 1;
    loop {
        let error = match once(check, secret, dir, context).await {
            Attempt::Passed => return Ok(()),
            Attempt::Failed(error) => return Err(error),
            Attempt::Transient(error) if attempt > retries => {
                return Err(if retries == 0 { error } else { DeployError(format!("{error} ({attempt} attempts)")) });
            }
            Attempt::Transient(error) => error,
        };
        let wait = crate::backoff::delay(base, attempt);
        tracing::warn!("check {} failed ({error}); retrying in {wait:?}", describe(check));
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

async fn once(check: &Check, secret: &str, dir: &Path, context: &exec::Context<'_>) -> Attempt {
    match check {
        Check::Http { url, method, header, expect_status, timeout, .. } => {
            let header = header.replace("{secret}", secret);
            let Some((name, value)) = header.split_once(':') else {
                return Attempt::Failed(DeployError("the check's header must look like `Name: value`".into()));
            };
            let headers = [(name.trim().to_string(), value.trim().to_string())];
            match http::request(method, url, &headers, vec![], *timeout).await {
                Ok(status) if status == *expect_status => Attempt::Passed,
                Ok(status) => {
                    let error = DeployError(format!("{method} {url} answered {status}, expected {expect_status}"));
                    if matches!(status, 408 | 429 | 500..) { Attempt::Transient(error) } else { Attempt::Failed(error) }
                }
                Err(error) => Attempt::Transient(error),
            }
        }
        Check::Exec { command, timeout, .. } => {
            if let Some(missing) = exec::missing_program(command, dir) {
                return Attempt::Failed(missing);
            }
            match exec::run(command, SecretVia::Env, secret, *timeout, dir, context).await {
                Ok(()) => Attempt::Passed,
                Err(error) => Attempt::Transient(error),
            }
        }
    }
}

/// Describes a check for plans and messages (no secret).
pub fn describe(check: &Check) -> String {
    match check {
        Check::Http { url, method, expect_status, .. } => format!("http {method} {url} expects {expect_status}"),
        Check::Exec { command, .. } => format!("exec {}", command.join(" ")),
    }
}

/// What `rekey rotate --dry-run` can tell without running the check: the
/// command exists.
pub fn preflight(check: &Check, dir: &Path) -> Result<(), DeployError> {
    match check {
        Check::Exec { command, .. } => exec::missing_program(command, dir).map_or(Ok(()), Err),
        Check::Http { .. } => Ok(()),
    }
}
