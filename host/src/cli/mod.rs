//! The command line: argument parsing (clap), logging set-up, and the exit
//! codes scripts can rely on. Errors are `anyhow` from here up.

mod call;
mod exit;
mod inspect;
mod secrets;
mod show;

use crate::runtime::{Limits, Runtime};
use clap::{Parser, Subcommand};
use clap_complete::Shell;
use exit::Exit;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

/// Rotates API keys and other credentials through sandboxed WebAssembly
/// provider plugins.
#[derive(Debug, Parser)]
#[command(name = "rekey", version, propagate_version = true, max_term_width = 100)]
#[command(
    after_help = "Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to see more. NO_COLOR disables colour.\n\
Exit codes: 0 success, 1 failure, 2 bad usage or input, 3 the verified key is not valid."
)]
struct Cli {
    /// Folder for compiled plugins [default: $REKEY_CACHE_DIR, $XDG_CACHE_HOME/rekey/code or ~/.cache/rekey/code]
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile plugins on every run instead of caching compiled code.
    #[arg(long, global = true)]
    no_cache: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and call provider plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print a shell completion script (e.g. `rekey completions bash > /etc/bash_completion.d/rekey`).
    Completions {
        /// The shell.
        shell: Shell,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Show what a plugin is, what it imports and exports, the network access it asks for and its config schema.
    Inspect(inspect::Args),
    /// Run one call of a plugin in the sandbox, for a plugin author's edit-run loop.
    Call(call::Args),
}

/// Parses the arguments, runs the command and maps the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut <Cli as clap::CommandFactory>::command(),
                "rekey",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Plugin(command) => runtime_block_on(async {
            let cache = if cli.no_cache { None } else { cli.cache_dir.or_else(Runtime::default_cache_dir) };
            match command {
                PluginCommand::Inspect(args) => inspect::run(args, &Runtime::new(Limits::default(), cache)?).await,
                PluginCommand::Call(args) => {
                    let runtime = Runtime::new(args.limits(), cache)?;
                    call::run(args, &runtime).await
                }
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = Exit::of(&error);
            if code != Exit::Invalid {
                eprintln!("error: {error:#}");
            }
            code.into()
        }
    }
}

fn runtime_block_on(future: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(future)
}

/// Logs to stderr, filtered by `RUST_LOG` (plugin lines at `info` by default).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rekey::plugin=info"));
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .without_time()
        .init();
}
