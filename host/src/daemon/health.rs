//! What `/readyz` reports on: the scheduler's heartbeat, how long each
//! running rotation has run, and whether the store's pages are whole. The scheduler writes it; the HTTP server
//! reads it from another task.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The scheduler's health.
pub struct Health {
    started: Instant,
    /// Milliseconds since `started` of the scheduler's last pass.
    heartbeat: AtomicU64,
    /// Each credential being worked on, since when.
    running: Mutex<HashMap<String, Instant>>,
    /// What the last check of the store's pages found wrong, if anything.
    damage: Mutex<Option<String>>,
}

/// The longest the scheduler sleeps between passes; twice it without a
/// pass and the daemon is not ready.
pub const TICK: Duration = Duration::from_secs(5);

impl Default for Health {
    fn default() -> Self {
        Self {
            started: Instant::now(),
            heartbeat: AtomicU64::new(0),
            running: Default::default(),
            damage: Default::default(),
        }
    }
}

impl Health {
    /// The scheduler made a pass.
    pub fn beat(&self) {
        self.heartbeat.store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Work on `credential` started.
    pub fn started(&self, credential: &str) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).insert(credential.into(), Instant::now());
    }

    /// Work on `credential` ended.
    pub fn ended(&self, credential: &str) {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).remove(credential);
    }

    /// The store's pages were checked: `damage` is what was found wrong.
    /// Logged when it changes.
    pub fn store_checked(&self, damage: Option<String>) {
        let mut known = self.damage.lock().unwrap_or_else(|e| e.into_inner());
        match (&*known, &damage) {
            (None, Some(found)) => tracing::error!("{found}"),
            (Some(_), None) => tracing::info!("the store reads whole again"),
            _ => {}
        }
        *known = damage;
    }

    /// Why the daemon is not healthy, if it is not: the store's pages
    /// damaged, no pass for two ticks, or work running longer than
    /// `stuck_after`.
    pub fn problems(&self, stuck_after: Duration) -> Vec<String> {
        let mut problems: Vec<String> = self.damage.lock().unwrap_or_else(|e| e.into_inner()).iter().cloned().collect();
        let since =
            self.started.elapsed().saturating_sub(Duration::from_millis(self.heartbeat.load(Ordering::Relaxed)));
        if since > 2 * TICK {
            problems.push(format!("the scheduler has not run for {}s", since.as_secs()));
        }
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let mut stuck: Vec<&String> =
            running.iter().filter(|(_, at)| at.elapsed() > stuck_after).map(|(n, _)| n).collect();
        stuck.sort();
        for name in stuck {
            problems.push(format!("the rotation of `{name}` has run for more than {}s", stuck_after.as_secs()));
        }
        problems
    }
}
