//! Fault injection for the crash-safety tests: with `REKEY_CRASH_AT` set to
//! `STEP:begun`, the process kills itself with SIGKILL right after
//! journaling that record, as a power cut or an OOM kill would; with
//! `STEP:done`, right after the step's work (its `done` record may still be
//! waiting to share a transaction with the next step's `begun`). Unset, it
//! does nothing. Documented in the README so nobody trips over it.

/// The variable that arms a crash point.
pub const VAR: &str = "REKEY_CRASH_AT";

/// Dies here if `REKEY_CRASH_AT` names this step and phase.
pub fn point(step: &str, phase: &str) {
    if std::env::var(VAR).is_ok_and(|at| at == format!("{step}:{phase}")) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
}
