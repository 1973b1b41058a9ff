//! When a key is due: by age (`policy.max_age`) or at the times a cron
//! expression names (`policy.schedule`, in `policy.timezone`), and — for
//! the daemon — the window in which its rotation may start, shifted by the
//! credential's jitter.

use crate::config::Credential;
use crate::store::versions::Version;
use sha2::{Digest, Sha256};

/// When the current key falls due, without jitter: its age reaching
/// `max_age`, or the first scheduled time after it was made. `None`: there
/// is no key yet, so one is due now.
pub fn due_at(spec: &Credential, current: Option<&Version>) -> Option<i64> {
    let current = current?;
    let policy = &spec.policy;
    Some(match &policy.schedule {
        Some(schedule) => schedule.next_after(current.created_at, policy.timezone).unwrap_or(i64::MAX),
        None => current.created_at.saturating_add(policy.max_age.as_secs() as i64),
    })
}

/// Whether a credential is due: no current key, or its due time has passed.
pub fn is_due(current: Option<&Version>, spec: &Credential, now: i64) -> bool {
    due_at(spec, current).is_none_or(|at| at <= now)
}

/// Whether the provider's last report says the key is unused: its last
/// use (or, never used, its creation) is older than `policy.unused_after`.
/// Unknown until the key was checked once.
pub fn is_unused(spec: &Credential, key: &Version, now: i64) -> bool {
    match spec.policy.unused_after {
        Some(limit) if key.checked_at.is_some() => {
            now - key.last_used_at.unwrap_or(key.created_at) > limit.as_secs() as i64
        }
        _ => false,
    }
}

/// When the daemon may start the rotation of the current key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// There is no key yet: now.
    NoKey,
    /// From `from` (the due time plus the jitter) to `until` (the end of a
    /// scheduled time's window; none for `max_age`).
    Window {
        /// The earliest start.
        from: i64,
        /// The latest start, if any.
        until: Option<i64>,
    },
}

impl Slot {
    /// The rotation of `current` by `spec`, as seen at `now`: the window
    /// open now, or the next one. A scheduled time whose window was missed
    /// is skipped for the next.
    pub fn of(spec: &Credential, current: Option<&Version>, now: i64) -> Self {
        let Some(current) = current else { return Self::NoKey };
        let policy = &spec.policy;
        let offset = jitter(spec, current);
        let Some(schedule) = &policy.schedule else {
            let from = due_at(spec, Some(current)).unwrap_or(i64::MAX).saturating_add(offset);
            return Self::Window { from, until: None };
        };
        let zone = policy.timezone;
        let window = policy.window.as_secs() as i64;
        let open = |at: i64| Self::Window { from: at + offset, until: Some(at + offset + window) };
        let never = Self::Window { from: i64::MAX, until: None };
        let Some(first) = schedule.next_after(current.created_at, zone) else { return never };
        if first + offset > now {
            return open(first);
        }
        // The latest scheduled time whose start has passed: still open, or missed.
        match schedule.last_at_or_before(now - offset, zone) {
            Some(last) if last >= first && now <= last + offset + window => open(last),
            _ => schedule.next_after(now - offset, zone).map_or(never, open),
        }
    }

    /// Whether the rotation may start at `now`.
    pub fn is_open(&self, now: i64) -> bool {
        match *self {
            Self::NoKey => true,
            Self::Window { from, until } => from <= now && until.is_none_or(|until| now <= until),
        }
    }

    /// When it may start, if not now.
    pub fn opens(&self) -> Option<i64> {
        match *self {
            Self::NoKey => None,
            Self::Window { from, .. } => Some(from),
        }
    }
}

/// The credential's jitter for this key: a fixed fraction of
/// `policy.jitter`, from its name and version, so that a restart keeps it
/// and each new key gets another.
fn jitter(spec: &Credential, current: &Version) -> i64 {
    let range = spec.policy.jitter.as_secs();
    if range == 0 {
        return 0;
    }
    let digest = Sha256::new().chain_update(&spec.name).chain_update(current.version.to_le_bytes()).finalize();
    let draw = u64::from_le_bytes(digest[..8].try_into().expect("a digest has 8 bytes"));
    (draw % range) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn spec(policy: &str) -> Config {
        let text = format!("[[credential]]\nname = \"k\"\nplugin = \"random\"\npolicy = {{ {policy} }}\n");
        Config::parse(std::path::Path::new("rekey.toml"), &text).unwrap()
    }

    fn key(created_at: i64, version: i64) -> Version {
        Version {
            credential: "k".into(),
            version,
            label: None,
            key_id: "id".into(),
            attributes: vec![],
            expires_at: None,
            created_at,
            rotation: None,
            revoked_at: None,
            last_used_at: None,
            checked_at: None,
            valid: None,
        }
    }

    /// 2026-12-03 00:00:00 UTC, a Thursday.
    const DAY: i64 = 1_796_256_000;

    #[test]
    fn by_age_a_key_is_due_once_it_is_older_than_max_age() {
        let config = spec("max_age = \"1h\"");
        let spec = config.credential("k").unwrap();
        let current = key(DAY, 1);
        assert_eq!(due_at(spec, Some(&current)), Some(DAY + 3_600));
        assert!(!is_due(Some(&current), spec, DAY + 3_599) && is_due(Some(&current), spec, DAY + 3_600));
        assert!(is_due(None, spec, DAY), "a credential without a key is due");
        let slot = Slot::of(spec, Some(&current), DAY);
        assert_eq!(slot, Slot::Window { from: DAY + 3_600, until: None });
        assert!(slot.is_open(DAY + 100 * 86_400), "an overdue key stays due");
    }

    #[test]
    fn on_a_schedule_a_rotation_starts_within_its_window_or_waits_for_the_next_time() {
        let config = spec("schedule = \"0 3 * * *\", window = \"30m\"");
        let spec = config.credential("k").unwrap();
        let current = key(DAY - 86_400, 1);
        // Made yesterday at midnight: due yesterday 03:00; by today 02:00 that window is missed.
        assert_eq!(due_at(spec, Some(&current)), Some(DAY - 86_400 + 3 * 3_600));
        let slot = Slot::of(spec, Some(&current), DAY + 2 * 3_600);
        assert_eq!(slot, Slot::Window { from: DAY + 3 * 3_600, until: Some(DAY + 3 * 3_600 + 1_800) });
        assert!(!slot.is_open(DAY + 2 * 3_600));
        // Inside today's window it is open; after it, tomorrow's is next.
        assert!(Slot::of(spec, Some(&current), DAY + 3 * 3_600 + 600).is_open(DAY + 3 * 3_600 + 600));
        let later = Slot::of(spec, Some(&current), DAY + 4 * 3_600);
        assert_eq!(later.opens(), Some(DAY + 27 * 3_600));
        // A key made after today's time is not due before tomorrow's.
        let fresh = key(DAY + 3 * 3_600 + 60, 2);
        assert_eq!(Slot::of(spec, Some(&fresh), DAY + 3 * 3_600 + 120).opens(), Some(DAY + 27 * 3_600));
    }

    #[test]
    fn jitter_spreads_keys_within_its_range_and_keeps_each_keys_offset() {
        let config = spec("max_age = \"1h\", jitter = \"10m\"");
        let spec = config.credential("k").unwrap();
        let offsets: std::collections::HashSet<i64> = (1..=50)
            .map(|version| Slot::of(spec, Some(&key(DAY, version)), DAY).opens().unwrap() - (DAY + 3_600))
            .collect();
        assert!(offsets.iter().all(|o| (0..600).contains(o)), "{offsets:?}");
        assert!(offsets.len() > 40, "fifty keys get many different offsets: {offsets:?}");
        let again = Slot::of(spec, Some(&key(DAY, 7)), DAY + 10);
        assert_eq!(again, Slot::of(spec, Some(&key(DAY, 7)), DAY + 20), "the same key keeps its offset");
    }
}
