//! Retries of provider calls: transient failures (`unavailable`,
//! `rate-limited`) are retried with exponential backoff and jitter, or
//! after the delay the provider asked for; permanent ones are not.

use crate::backoff;
use crate::runtime::{Outcome, PluginError, ProviderError, RateLimit};
use std::time::Duration;

/// Attempts in all, the first included.
pub const ATTEMPTS: u32 = 5;
/// The first backoff; it doubles each time.
const BASE: Duration = Duration::from_millis(200);

/// Runs `call` until it succeeds, fails for good, or runs out of attempts.
pub async fn retrying<T, F, Fut>(what: &str, mut call: F) -> Result<T, PluginError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Outcome<T>>,
{
    let mut attempt = 1;
    loop {
        let error = match call().await.result {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(wait) = wait(&error, attempt) else { return Err(error) };
        tracing::warn!("{what} failed ({error}); retrying in {wait:?} (attempt {} of {ATTEMPTS})", attempt + 1);
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// How long to wait before retrying after failed attempt `attempt`, or
/// `None` when the failure is permanent or the attempts are spent.
pub fn wait(error: &PluginError, attempt: u32) -> Option<Duration> {
    match error {
        PluginError::Provider { error: e, .. } if e.is_transient() && attempt < ATTEMPTS => Some(delay(e, attempt)),
        _ => None,
    }
}

fn delay(error: &ProviderError, attempt: u32) -> Duration {
    if let ProviderError::RateLimited(RateLimit { retry_after_seconds: Some(seconds), .. }) = error {
        return Duration::from_secs(u64::from(*seconds)).min(backoff::CAP);
    }
    backoff::delay(BASE, attempt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn outcome<T>(result: Result<T, ProviderError>) -> Outcome<T> {
        Outcome {
            result: result.map_err(|error| PluginError::Provider { plugin: "p".into(), error }),
            transcript: vec![],
            connections: vec![],
            elapsed: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = Cell::new(0);
        let result = retrying("test", || {
            calls.set(calls.get() + 1);
            let result = if calls.get() < 3 { Err(ProviderError::Unavailable("503".into())) } else { Ok(7) };
            std::future::ready(outcome(result))
        })
        .await;
        assert_eq!((result.unwrap(), calls.get()), (7, 3));
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = Cell::new(0);
        let result: Result<(), _> = retrying("test", || {
            calls.set(calls.get() + 1);
            std::future::ready(outcome(Err(ProviderError::Rejected("quota".into()))))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn a_provider_that_names_its_delay_is_waited_for() {
        let limited =
            ProviderError::RateLimited(RateLimit { retry_after_seconds: Some(3), message: "slow down".into() });
        assert_eq!(delay(&limited, 1), Duration::from_secs(3));
        let spent = PluginError::Provider { plugin: "p".into(), error: ProviderError::Unavailable("x".into()) };
        assert!(wait(&spent, ATTEMPTS - 1).is_some() && wait(&spent, ATTEMPTS).is_none());
    }
}
