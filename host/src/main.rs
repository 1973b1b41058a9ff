//! The `rekey` binary; everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    rekey::cli::main()
}
