//! Checks run after a stage is deployed: does the new key work there?

use super::{DeployError, exec, http};
use crate::config::{Check, SecretVia};
use std::path::Path;

/// Runs one check with the new `secret`.
pub async fn run(check: &Check, secret: &str, dir: &Path, context: &exec::Context<'_>) -> Result<(), DeployError> {
    match check {
        Check::Http { url, method, header, expect_status, timeout } => {
            let header = header.replace("{secret}", secret);
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| DeployError("the check's header must look like `Name: value`".into()))?;
            let headers = [(name.trim().to_string(), value.trim().to_string())];
            let status = http::request(method, url, &headers, vec![], *timeout).await?;
            if status == *expect_status {
                Ok(())
            } else {
                Err(DeployError(format!("{method} {url} answered {status}, expected {expect_status}")))
            }
        }
        Check::Exec { command, timeout } => exec::run(command, SecretVia::Env, secret, *timeout, dir, context).await,
    }
}

/// Describes a check for plans and messages (no secret).
pub fn describe(check: &Check) -> String {
    match check {
        Check::Http { url, method, expect_status, .. } => format!("http {method} {url} expects {expect_status}"),
        Check::Exec { command, .. } => format!("exec {}", command.join(" ")),
    }
}
