//! Durations as operators write them: `90d`, `1h`, `30m`, `45s`, `0s`, and
//! `250ms` for the short waits of retries.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// The longest duration rekey takes: 100 years. Every time computed from
/// one (a due date, a deadline) then fits in the calendar and in the
/// clocks it is compared with.
pub const LONGEST: Duration = Duration::from_secs(36_500 * 86_400);

/// Parses `<number><unit>` with unit `ms`, `s`, `m`, `h` or `d`, at most
/// [`LONGEST`].
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90d, 1h, 30m or 45s"))?;
    let duration = match unit {
        "ms" => Some(Duration::from_millis(number)),
        "s" => Some(Duration::from_secs(number)),
        "m" => number.checked_mul(60).map(Duration::from_secs),
        "h" => number.checked_mul(3_600).map(Duration::from_secs),
        "d" => number.checked_mul(86_400).map(Duration::from_secs),
        _ => return Err(format!("`{text}` has no unit: write 90d, 1h, 30m or 45s")),
    };
    duration
        .filter(|d| *d <= LONGEST)
        .ok_or_else(|| format!("`{text}` is longer than 100 years (36500d), the longest duration rekey takes"))
}

/// Formats a duration in the largest unit that divides it.
pub fn format(duration: Duration) -> String {
    let s = duration.as_secs();
    match s {
        _ if duration.subsec_millis() > 0 => format!("{}ms", duration.as_millis()),
        0 => "0s".into(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// `#[serde(with = "duration")]`.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// `#[serde(with = "duration::optional")]`, for a field that may be absent.
pub mod optional {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    /// Reads an optional duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|t| super::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// `#[serde(with = "duration::list")]`, for a list like `["14d", "1d"]`.
pub mod list {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    /// Reads a list of durations.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|t| super::parse(t).map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_in_operator_units() {
        assert_eq!(parse("90d").unwrap(), Duration::from_secs(90 * 86_400));
        assert_eq!(parse("0s").unwrap(), Duration::ZERO);
        assert!(parse("90").unwrap_err().contains("no unit"));
        assert!(parse("soon").is_err());
        assert_eq!(parse("36500d").unwrap(), LONGEST);
        for huge in ["36501d", "213503982334602d", "18446744073709551615s", "9223372036854775808s"] {
            assert!(parse(huge).unwrap_err().contains("longer than 100 years"), "{huge}");
        }
        assert_eq!(format(Duration::from_secs(3_600)), "1h");
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(format(Duration::from_millis(1_500)), "1500ms");
    }
}
