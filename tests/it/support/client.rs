//! An application during a rotation: it logs in again and again with
//! whatever its env file holds, so a test can tell whether the rotation
//! ever left it without a working key.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running client.
pub struct Client {
    stop: Arc<AtomicBool>,
    successes: Arc<AtomicUsize>,
    thread: JoinHandle<usize>,
}

impl Client {
    /// Logs in with `login(value)`, `value` being what `variable` of the
    /// env file `env` holds, until stopped; returns once a first login
    /// worked. A failure counts only when the file still holds the value
    /// tried: one read just before a deploy is not downtime.
    pub fn start(env: PathBuf, variable: &'static str, login: impl Fn(&str) -> bool + Send + 'static) -> Self {
        let (stop, successes) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
        let thread = {
            let (stop, successes) = (stop.clone(), successes.clone());
            std::thread::spawn(move || {
                let mut failures = 0;
                while !stop.load(Ordering::Relaxed) {
                    let value = super::env_value(&env, variable);
                    if login(&value) {
                        successes.fetch_add(1, Ordering::Relaxed);
                    } else if super::env_value(&env, variable) == value {
                        eprintln!("downtime: the key in {} was refused", env.display());
                        failures += 1;
                    }
                }
                failures
            })
        };
        let client = Self { stop, successes, thread };
        client.wait_for_more_than(0);
        client
    }

    /// Waits (up to 60 s) until more than `count` logins worked.
    fn wait_for_more_than(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.successes.load(Ordering::Relaxed) <= count {
            assert!(Instant::now() < deadline, "the client never logged in");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops it once one more login worked (with the key the targets hold
    /// now): how many logins succeeded, and how many failed with the key
    /// the target held.
    pub fn stop(self) -> (usize, usize) {
        self.wait_for_more_than(self.successes.load(Ordering::Relaxed));
        self.stop.store(true, Ordering::Relaxed);
        let failures = self.thread.join().unwrap();
        (self.successes.load(Ordering::Relaxed), failures)
    }
}
