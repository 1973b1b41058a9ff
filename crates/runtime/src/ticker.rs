//! The epoch ticker behind call deadlines: it advances the engine's epoch
//! every [`EPOCH_TICK`] while a plugin call runs, and sleeps otherwise, so
//! that an idle process (the daemon between rotations) is not woken a
//! hundred times a second for nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Duration;
use wasmtime::Engine;

/// How often the epoch advances: the granularity of call deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The ticker thread of one engine; it stops when this is dropped.
pub(crate) struct Ticker {
    state: Arc<State>,
    thread: Thread,
}

struct State {
    /// Calls running now.
    calls: AtomicUsize,
    stop: AtomicBool,
}

/// Keeps the ticker running while a call runs.
pub(crate) struct Ticking<'a>(&'a Ticker);

impl Ticker {
    /// Starts the thread, asleep until the first call.
    pub(crate) fn spawn(engine: Engine) -> Self {
        let state = Arc::new(State { calls: AtomicUsize::new(0), stop: AtomicBool::new(false) });
        let shared = state.clone();
        let handle = std::thread::Builder::new()
            .name("rekey-epoch".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::Acquire) {
                    if shared.calls.load(Ordering::Acquire) == 0 {
                        // An unpark that came first makes this return at once.
                        std::thread::park();
                        continue;
                    }
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("the OS can start one thread");
        Self { state, thread: handle.thread().clone() }
    }

    /// A call starts: the epoch advances until the guard is dropped.
    pub(crate) fn running(&self) -> Ticking<'_> {
        if self.state.calls.fetch_add(1, Ordering::AcqRel) == 0 {
            self.thread.unpark();
        }
        Ticking(self)
    }
}

impl Drop for Ticking<'_> {
    fn drop(&mut self) {
        self.0.state.calls.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        self.thread.unpark();
    }
}
