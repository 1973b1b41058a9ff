//! The `rekey` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    // Like every Unix tool, end quietly when the reader of our output goes
    // away (`rekey plugin audit X | head`) instead of panicking on EPIPE.
    // SAFETY: called first, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // Memory holds secrets: it is never written out as a core dump.
    if let Err(e) = rekey::process::forbid_core_dumps() {
        eprintln!("rekey: cannot turn core dumps off: {e}");
        return std::process::ExitCode::FAILURE;
    }
    rekey::cli::main()
}
