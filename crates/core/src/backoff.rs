//! Exponential backoff with jitter, shared by provider calls and checks:
//! the wait before attempt `n + 1` is drawn from [½, 1) of `base · 2ⁿ⁻¹`,
//! capped, so retries of many rotations do not hit a provider in step.

use std::time::Duration;

/// No single wait is longer.
pub const CAP: Duration = Duration::from_secs(30);

/// The wait after failed attempt `attempt` (1 for the first).
pub fn delay(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << (attempt.clamp(1, 16) - 1)).min(CAP);
    ceiling.mul_f64(jitter())
}

/// A uniform number in [0.5, 1): full jitter, but never a zero wait.
fn jitter() -> f64 {
    let [byte]: [u8; 1] = crate::store::rand_bytes();
    0.5 + f64::from(byte) / 512.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_up_to_the_cap() {
        let base = Duration::from_millis(200);
        for attempt in 1..5 {
            let ceiling = base * (1 << (attempt - 1));
            let wait = delay(base, attempt);
            assert!(wait >= ceiling / 2 && wait < ceiling, "attempt {attempt}: {wait:?}");
        }
        assert!(delay(base, 40) < CAP);
    }
}
