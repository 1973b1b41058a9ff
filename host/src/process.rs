//! What the `rekey` process sets about itself when it starts. It holds
//! secrets in memory (admin secrets from its environment, keys it
//! generates, the master key), so it never writes a core dump, whatever
//! the shell's `ulimit -c` or the system's `core_pattern` say; and the
//! daemon, which serves connections beside its rotations, takes all the
//! open files it may have, so clients cannot crowd the store and the
//! targets out of file descriptors (see `server::connections`).

use rustix::process::{DumpableBehavior, Resource, Rlimit, getrlimit, set_dumpable_behavior, setrlimit};

/// No core dumps: a core size limit of 0 (soft and hard, so no child of
/// ours raises it again) and the process marked not dumpable, which also
/// stops a `core_pattern` pipe handler and other processes of the same user
/// from reading its memory through `ptrace` or `/proc`.
pub fn forbid_core_dumps() -> std::io::Result<()> {
    setrlimit(Resource::Core, Rlimit { current: Some(0), maximum: Some(0) })?;
    set_dumpable_behavior(DumpableBehavior::NotDumpable)?;
    Ok(())
}

/// Raises the soft limit on open files to the hard one, and returns it
/// (`None`: unlimited).
pub fn raise_file_limit() -> Option<u64> {
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit { current: limit.maximum, ..limit };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => raised.current,
        Err(e) => {
            tracing::warn!("cannot raise the open-file limit to its maximum: {e}");
            limit.current
        }
    }
}
