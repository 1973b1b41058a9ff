//! The `rekey` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    // Like every Unix tool, end quietly when the reader of our output goes
    // away (`rekey plugin audit X | head`) instead of panicking on EPIPE.
    // SAFETY: called first, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    rekey::cli::main()
}
