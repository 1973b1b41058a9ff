//! Rotations and rollbacks asked for through the API, waiting for the
//! daemon's scheduler to run them: the API checks and audits each request,
//! the scheduler takes them at its next turn (woken at once) and runs each
//! as its own job, one per credential as always.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;

/// What was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asked {
    /// A rotation; an emergency revokes the old key at once instead of
    /// after the grace period.
    Rotate {
        /// Whether it is an emergency.
        emergency: bool,
    },
    /// Undo the last rotation while its previous key is not revoked.
    Rollback,
    /// Continue an interrupted rotation now.
    Resume,
}

impl Asked {
    /// What it is called in an answer.
    pub fn verb(self) -> &'static str {
        match self {
            Self::Rotate { .. } => "rotate",
            Self::Rollback => "roll back",
            Self::Resume => "resume",
        }
    }

    /// Its audit entry's event.
    pub fn event(self) -> &'static str {
        match self {
            Self::Rotate { .. } => "api.rotate",
            Self::Rollback => "api.rollback",
            Self::Resume => "api.resume",
        }
    }
}

/// One request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requested {
    /// What.
    pub asked: Asked,
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
    /// Asks for `requested` on `credential`. A second rotation asked
    /// before the first is taken makes one, an emergency if either was, and
    /// a second resume is the first; anything else while a request waits is
    /// refused with the waiting one.
    pub fn ask(&self, credential: &str, requested: Requested) -> Result<(), Requested> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        match (waiting.get_mut(credential), requested.asked) {
            (None, _) => {
                waiting.insert(credential.into(), requested);
            }
            (Some(Requested { asked: Asked::Rotate { emergency }, .. }), Asked::Rotate { emergency: more }) => {
                *emergency |= more;
            }
            (Some(Requested { asked: Asked::Resume, .. }), Asked::Resume) => {}
            (Some(other), _) => return Err(other.clone()),
        }
        self.notify.notify_one();
        Ok(())
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

    fn rotate(emergency: bool) -> Requested {
        Requested { asked: Asked::Rotate { emergency }, by: "t".into() }
    }

    #[test]
    fn two_rotations_asked_make_one_an_emergency_if_either_was() {
        let requests = Requests::default();
        requests.ask("api", rotate(false)).unwrap();
        requests.ask("api", rotate(true)).unwrap();
        let taken = requests.take();
        assert_eq!(taken, [("api".to_string(), rotate(true))]);
        assert!(requests.take().is_empty());
    }

    #[test]
    fn a_rollback_is_not_merged_with_a_waiting_rotation() {
        let requests = Requests::default();
        requests.ask("api", rotate(false)).unwrap();
        let rollback = Requested { asked: Asked::Rollback, by: "t".into() };
        assert_eq!(requests.ask("api", rollback), Err(rotate(false)));
        assert!(requests.ask("other", Requested { asked: Asked::Rollback, by: "t".into() }).is_ok());
    }
}
