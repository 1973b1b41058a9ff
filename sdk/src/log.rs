//! Lines for the operator's log. The host strips control characters, bounds
//! the size and redacts secrets, but a plugin should still never log one.

pub use crate::bindings::rekey::provider::log::Level;
#[cfg(not(test_host))]
use crate::bindings::rekey::provider::log::log;
#[cfg(test_host)]
use crate::testing::log;

/// Logs a debug line.
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// Logs an informational line.
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs a warning.
pub fn warn(message: &str) {
    log(Level::Warn, message);
}

/// Logs an error.
pub fn error(message: &str) {
    log(Level::Error, message);
}
