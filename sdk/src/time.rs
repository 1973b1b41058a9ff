//! Times as the contract carries them: Unix seconds.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in seconds since the Unix epoch (the sandbox's wall clock).
pub fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// An RFC 3339 time as vendors write them (`2026-12-07T21:45:04Z`, with
/// up to nine digits of fraction), in seconds since the Unix epoch.
pub fn unix_seconds(rfc3339: &str) -> Option<u64> {
    let time = humantime::parse_rfc3339_weak(rfc3339.trim_end_matches('Z')).ok()?;
    time.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn vendors_times_read_as_unix_seconds() {
        assert_eq!(super::unix_seconds("2021-09-09T19:50:29.3086381Z"), Some(1_631_217_029));
        assert_eq!(super::unix_seconds("2021-09-09T19:50:29Z"), Some(1_631_217_029));
        assert_eq!(super::unix_seconds("yesterday"), None);
    }
}
