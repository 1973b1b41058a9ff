//! The wall clock rekey schedules by, which the tests can set.
//!
//! With `REKEY_TEST_CLOCK=<Unix seconds>` and the test switch
//! `REKEY_TEST_HOOKS=1`, the process starts its clock at that instant and
//! lets it run at real speed from there: a schedule test starts a daemon a
//! second before a cron time or a reminder threshold, instead of waiting
//! days for it. Without the switch, a set `REKEY_TEST_CLOCK` is refused,
//! so a stray variable can never make a production daemon believe it is
//! another day. Documented in the README ("Running rekey as a service").

use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// The variable that sets the clock.
pub const VAR: &str = "REKEY_TEST_CLOCK";
/// The switch without which [`VAR`] is refused.
pub const SWITCH: &str = "REKEY_TEST_HOOKS";

/// The clock's start, when a test set it: (Unix seconds, when).
static SET: OnceLock<Option<(i64, Instant)>> = OnceLock::new();

/// A test clock that may not be used.
#[derive(Debug, thiserror::Error)]
pub enum ClockError {
    /// Set without the test switch.
    #[error("${VAR} is set, but it only works in tests (with ${SWITCH}=1); unset it")]
    NotATest,
    /// Not a number of seconds.
    #[error("${VAR}=`{0}` is not Unix seconds (like 1795000000)")]
    Invalid(String),
}

/// Reads the test clock from the environment, once, before anything asks
/// the time: an error when it is set but may not be used.
pub fn init() -> Result<(), ClockError> {
    let set = match std::env::var(VAR) {
        Err(_) => None,
        Ok(_) if std::env::var(SWITCH).as_deref() != Ok("1") => return Err(ClockError::NotATest),
        Ok(text) => Some((text.trim().parse().map_err(|_| ClockError::Invalid(text))?, Instant::now())),
    };
    let _ = SET.set(set);
    Ok(())
}

/// Unix seconds now.
pub fn now() -> i64 {
    now_precise().floor() as i64
}

/// Unix seconds now, with the fraction.
pub fn now_precise() -> f64 {
    match SET.get() {
        Some(Some((start, at))) => *start as f64 + at.elapsed().as_secs_f64(),
        _ => SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64(),
    }
}
