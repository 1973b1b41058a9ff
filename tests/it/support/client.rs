//! An application during a rotation: it logs in again and again with
//! whatever its env file holds, so a test can tell whether the rotation
//! ever left it without a working key.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// A running client.
pub struct Client {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(usize, usize)>,
}

impl Client {
    /// Logs in with `login(value)`, `value` being what `variable` of the
    /// env file `env` holds, until stopped. A failure counts only when the
    /// file still holds the value tried: one read just before a deploy is
    /// not downtime.
    pub fn start(env: PathBuf, variable: &'static str, login: impl Fn(&str) -> bool + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let (successes, failures) = (AtomicUsize::new(0), AtomicUsize::new(0));
            while !stopped.load(Ordering::Relaxed) {
                let value = super::env_value(&env, variable);
                if login(&value) {
                    successes.fetch_add(1, Ordering::Relaxed);
                } else if super::env_value(&env, variable) == value {
                    eprintln!("downtime: the key in {} was refused", env.display());
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
            (successes.into_inner(), failures.into_inner())
        });
        Self { stop, thread }
    }

    /// Stops it: how many logins succeeded, and how many failed with the
    /// key the target held.
    pub fn stop(self) -> (usize, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
