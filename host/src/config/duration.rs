//! Durations as operators write them: `90d`, `1h`, `30m`, `45s`, `0s`, and
//! `250ms` for the short waits of retries.

use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// Parses `<number><unit>` with unit `ms`, `s`, `m`, `h` or `d`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90d, 1h, 30m or 45s"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` has no unit: write 90d, 1h, 30m or 45s")),
    };
    Ok(Duration::from_secs(number * seconds))
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
        assert_eq!(format(Duration::from_secs(3_600)), "1h");
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(format(Duration::from_millis(1_500)), "1500ms");
    }
}
