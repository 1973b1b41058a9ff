//! Rotations asked for through the API, waiting for the daemon's scheduler
//! to run them: the API checks and audits each request, the scheduler takes
//! them at its next turn (woken at once) and runs each as its own rotation,
//! one per credential as always.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// One request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    /// Revoke the old key at once instead of after the grace period.
    pub emergency: bool,
    /// The token that asked.
    pub by: String,
}

/// The requests not yet taken.
#[derive(Default)]
pub struct Requests {
    waiting: Mutex<HashMap<String, Requested>>,
    notify: Notify,
}

impl Requests {
    /// Asks for a rotation of `credential`; a second request before the
    /// first is taken makes one rotation, an emergency if either was.
    pub fn ask(&self, credential: &str, requested: Requested) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        waiting.entry(credential.into()).and_modify(|r| r.emergency |= requested.emergency).or_insert(requested);
        self.notify.notify_one();
    }

    /// Every request waiting, taken.
    pub fn take(&self) -> Vec<(String, Requested)> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).drain().collect()
    }

    /// Waits until a request is made.
    pub async fn asked(&self) {
        self.notify.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_requests_make_one_rotation_an_emergency_if_either_was() {
        let requests = Requests::default();
        requests.ask("api", Requested { emergency: false, by: "a".into() });
        requests.ask("api", Requested { emergency: true, by: "b".into() });
        let taken = requests.take();
        assert_eq!(taken.len(), 1);
        assert!(taken[0].1.emergency);
        assert!(requests.take().is_empty());
    }
}
