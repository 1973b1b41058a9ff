//! Cron expressions and time zones as operators write them in `rekey.toml`:
//! `schedule = "0 3 * * MON"` (five fields, or six with seconds first),
//! `timezone = "Europe/Berlin"` (an IANA name). Both are checked when the
//! file is read, so a typo never waits for the day it would have fired.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};
use std::str::FromStr;

/// A parsed cron expression, with its text.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    text: String,
}

impl Schedule {
    /// Parses a cron expression that names a time to come (not, say,
    /// February 30th).
    pub fn parse(text: &str) -> Result<Self, String> {
        let cron = croner::Cron::from_str(text).map_err(|e| {
            format!("`{text}` is not a cron expression ({e}); write five fields like \"0 3 * * MON\", or six with seconds first")
        })?;
        if cron.find_next_occurrence(&Utc::now(), false).is_err() {
            return Err(format!("`{text}` never comes: no date matches it (is the day in the month?)"));
        }
        Ok(Self { cron, text: text.into() })
    }

    /// The first time strictly after `after` (Unix seconds) that the
    /// expression names, read in `zone`.
    pub fn next_after(&self, after: i64, zone: Zone) -> Option<i64> {
        let at = zone.0.from_utc_datetime(&unix(after)?.naive_utc());
        self.cron.find_next_occurrence(&at, false).ok().map(|t| t.timestamp())
    }

    /// The last time at or before `at` that the expression names.
    pub fn last_at_or_before(&self, at: i64, zone: Zone) -> Option<i64> {
        let at = zone.0.from_utc_datetime(&unix(at)?.naive_utc());
        self.cron.find_previous_occurrence(&at, true).ok().map(|t| t.timestamp())
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn unix(seconds: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(seconds, 0)
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone [default: UTC].
#[derive(Debug, Clone, Copy, Default)]
pub struct Zone(pub chrono_tz::Tz);

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map(Zone).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{name}` is not a time zone; use an IANA name like \"UTC\" or \"Europe/Berlin\""
            ))
        })
    }
}

/// Points in time written as RFC 3339 (`2026-12-24T00:00:00Z`), as Unix seconds.
pub mod rfc3339 {
    use serde::{Deserialize, Deserializer};

    /// `#[serde(deserialize_with = "rfc3339::optional")]`.
    pub fn optional<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
        let Some(text) = Option::<String>::deserialize(deserializer)? else { return Ok(None) };
        chrono::DateTime::parse_from_rfc3339(&text).map(|t| Some(t.timestamp())).map_err(|_| {
            serde::de::Error::custom(format!(
                "`{text}` is not a time like \"2026-12-24T00:00:00Z\" or \"2026-12-24T00:00:00+01:00\""
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_and_last_times_follow_the_zone() {
        let daily = Schedule::parse("0 3 * * *").unwrap();
        let berlin = Zone("Europe/Berlin".parse().unwrap());
        // 2026-12-03 00:00:00 UTC; 03:00 in Berlin (UTC+1 in winter) is 02:00 UTC.
        let midnight = 1_796_256_000;
        assert_eq!(daily.next_after(midnight, berlin), Some(midnight + 2 * 3_600));
        assert_eq!(daily.next_after(midnight, Zone::default()), Some(midnight + 3 * 3_600));
        assert_eq!(daily.last_at_or_before(midnight + 3 * 3_600, Zone::default()), Some(midnight + 3 * 3_600));
        assert_eq!(daily.next_after(midnight + 3 * 3_600, Zone::default()), Some(midnight + 27 * 3_600));
    }

    #[test]
    fn mistakes_are_refused_with_the_form_to_use() {
        assert!(Schedule::parse("every day").unwrap_err().contains("five fields"));
        assert!(Schedule::parse("0 0 30 2 *").unwrap_err().contains("never comes"), "February 30th");
        assert!(Schedule::parse("0 0 29 2 *").is_ok(), "February 29th comes every four years");
        let every_five_seconds = Schedule::parse("*/5 * * * * *").unwrap();
        assert_eq!(every_five_seconds.next_after(1_796_256_001, Zone::default()), Some(1_796_256_005));
    }
}
