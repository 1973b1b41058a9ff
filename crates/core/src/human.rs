//! Times and durations as people read them, the same in the CLI's output
//! and on the dashboard's pages.

/// Formats Unix seconds as UTC `YYYY-MM-DD HH:MM:SS`; past the year 9999
/// (a due date that never comes), `never`.
pub fn time(unix: i64) -> String {
    if unix >= NEVER {
        return "never".into();
    }
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string().trim_end_matches('Z').replacen('T', " ", 1)
}

/// 10000-01-01: no date shown is this late.
const NEVER: i64 = 253_402_300_800;

/// A duration in seconds as `3d 4h`, `5m`, `12s`.
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3_600 => format!("{}m", s / 60),
        3_600..86_400 => format!("{}h {}m", s / 3_600, s % 3_600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3_600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_times_print_as_utc_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00");
        assert_eq!(time(1_795_000_000), "2026-11-18 11:06:40");
        assert_eq!(time(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(time(i64::MAX), "never");
        assert_eq!(age(90 * 86_400 + 3_600), "90d 1h");
    }

    #[test]
    fn an_age_shows_its_two_largest_units_at_most() {
        assert_eq!(age(0), "0s");
        assert_eq!(age(59), "59s");
        assert_eq!(age(3_725), "1h 2m");
        assert_eq!(age(90 * 86_400 + 3_600 + 5), "90d 1h");
        assert_eq!(age(-5), "0s");
    }
}
