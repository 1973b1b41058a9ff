//! The command line: argument parsing (clap), logging set-up, and the exit
//! codes scripts can rely on. Errors are `anyhow` from here up.

mod audit;
mod backup;
mod call;
mod conformance;
mod context;
mod credential;
mod daemon;
mod exit;
mod fetch;
mod init;
mod inspect;
mod install;
mod list;
mod manual;
mod progress;
mod publish;
mod reconcile;
mod remote;
mod review;
mod rotate;
mod scaffold;
mod sdk;
mod secrets;
mod show;
mod signing;
mod status;
mod store;
mod token;
mod update;
mod verify;

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
    /// The declaration of credentials, targets and notifications.
    #[arg(long, short = 'C', global = true, env = "REKEY_CONFIG", default_value = "rekey.toml", value_name = "FILE")]
    config_file: PathBuf,

    /// Folder for compiled plugins [default: $REKEY_CACHE_DIR, $XDG_CACHE_HOME/rekey/code or ~/.cache/rekey/code]
    #[arg(long, global = true, value_name = "DIR")]
    cache_dir: Option<PathBuf>,

    /// Compile plugins on every run instead of caching compiled code.
    #[arg(long, global = true)]
    no_cache: bool,

    /// Run status, history, rotate, rollback and audit against the rekey daemon at URL (its /v1 API), with the token in $REKEY_TOKEN.
    #[arg(long, global = true, env = "REKEY_SERVER", value_name = "URL")]
    server: Option<String>,

    /// With --server: trust only this CA certificate (PEM) for its TLS, e.g. the daemon's own self-signed one.
    #[arg(long, global = true, value_name = "FILE", requires = "server")]
    server_ca: Option<PathBuf>,

    /// How log lines look: `human`, or `json` (one object per line, for a log collector).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the store (and the master key file) that rekey.toml names.
    Init,
    /// List, show and import credentials.
    #[command(subcommand)]
    Credential(credential::Command),
    /// Rotate credentials: backup, generate, verify, deploy stage by stage, promote, revoke.
    Rotate(rotate::Args),
    /// Continue interrupted rotations, and revoke previous keys whose grace period is over.
    Resume {
        /// How many credentials resume at once.
        #[arg(long, short = 'j', default_value_t = rotate::DEFAULT_JOBS, value_parser = clap::value_parser!(u16).range(1..=256))]
        jobs: u16,
        /// Print one JSON event per credential, then a summary.
        #[arg(long)]
        json: bool,
    },
    /// Undo the last rotation of a credential while its previous key is not yet revoked.
    Rollback {
        /// The credential.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// A person revoked the previous key of a manual credential at the vendor: record it and finish the rotation.
    ConfirmRevoked {
        /// The credential.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Run as a service: rotate on schedule, remind, check keys, serve /metrics, /healthz and /readyz.
    Daemon(daemon::Args),
    /// End a credential's grace period now: revoke its previous key.
    RevokePrevious {
        /// The credential.
        name: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Compare the keys each provider holds with the store, and revoke the ones nobody holds.
    Reconcile(reconcile::Args),
    /// Ask the providers whether the current keys work and when they were last used, and report drift.
    Verify {
        /// The credentials [default: all].
        names: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Each credential: version, age, due date, last use, last rotation, anything in progress.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every rotation of a credential, with its journal.
    History {
        /// The credential.
        name: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read and verify the hash-chained audit log.
    #[command(subcommand)]
    Audit(audit::Command),
    /// API tokens for people and systems, each with a role and a credential scope.
    #[command(subcommand)]
    Token(token::Command),
    /// Move the store to another backend (SQLite, PostgreSQL).
    #[command(subcommand)]
    Store(store::Command),
    /// Export the store to an encrypted file, or import one into a fresh store.
    #[command(subcommand)]
    Backup(backup::Command),
    /// Inspect and call provider plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Print a shell completion script (e.g. `rekey completions bash > /etc/bash_completion.d/rekey`).
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Compile the plugin on stdin for an engine with these limits, within a data-segment limit (rekey runs this itself).
    #[command(name = "__compile", hide = true)]
    Compile {
        #[arg(long)]
        memory_bytes: usize,
        #[arg(long)]
        stack_bytes: usize,
        #[arg(long)]
        data_limit: u64,
    },
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    /// Show what a plugin is, what it imports and exports, the network access it asks for and its config schema.
    Inspect(inspect::Args),
    /// Run one call of a plugin in the sandbox, for a plugin author's edit-run loop.
    Call(call::Args),
    /// Check a plugin against the contract's rules with its real API: generate, verify, revoke, hosts, errors, timings.
    Test(conformance::Args),
    /// Start a plugin project outside this repository that builds and passes `plugin test` as made.
    New(scaffold::Args),
    /// Review a plugin (a file or oci://…), approve it in rekey.lock (pinned by sha256) and copy it into the plugin directory.
    Install(install::Args),
    /// Push a plugin and its signature to an OCI registry (oci://REGISTRY/REPOSITORY:TAG), as wkg reads them.
    Publish(publish::Args),
    /// Look for newer versions of plugins installed from a registry; show what each would change, install on consent.
    Update(update::Args),
    /// Each approved plugin: digest, whether the file is still the approved one, signature.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Everything a security reviewer needs on one page: identity, producers, WIT, permissions, limits, secrets.
    Audit(review::Args),
    /// Write the WIT contract this rekey speaks (rekey:provider and its WASI deps), for a plugin in any language.
    Wit {
        /// The folder to write it into.
        #[arg(long, default_value = "wit", value_name = "DIR")]
        out: PathBuf,
    },
    /// Write the Rust SDK (rekey-sdk) this rekey was built with, as a crate a plugin can depend on by path.
    Sdk {
        /// The folder to write it into.
        #[arg(long, default_value = "rekey-sdk", value_name = "DIR")]
        out: PathBuf,
    },
    #[command(flatten)]
    Signing(signing::Command),
}

/// Parses the arguments, runs the command and maps the result to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format, matches!(cli.command, Command::Daemon(_)));
    if let Err(e) = crate::clock::init() {
        eprintln!("error: {e}");
        return Exit::Usage.into();
    }
    let cache = if cli.no_cache { None } else { cli.cache_dir.clone().or_else(Runtime::default_cache_dir) };
    let load = || context::Context::load(cli.config_file.clone(), cache.clone());
    let result = match cli.command {
        command if cli.server.is_some() => {
            remote::run(cli.server.as_deref().unwrap_or_default(), cli.server_ca.as_deref(), command)
        }
        Command::Init => init::run(&cli.config_file),
        Command::Credential(command) => load().and_then(|c| credential::run(command, &c)),
        Command::Rotate(args) => runtime_block_on(async { rotate::run(args, &load()?).await }),
        Command::Resume { jobs, json } => runtime_block_on(async { rotate::resume(jobs, json, &load()?).await }),
        Command::Rollback { name, yes } => {
            runtime_block_on(async { rotate::finish(&name, rotate::Finish::Rollback, yes, &load()?).await })
        }
        Command::RevokePrevious { name, yes } => {
            runtime_block_on(async { rotate::finish(&name, rotate::Finish::RevokePrevious, yes, &load()?).await })
        }
        Command::ConfirmRevoked { name, yes } => {
            runtime_block_on(async { rotate::finish(&name, rotate::Finish::ConfirmRevoked, yes, &load()?).await })
        }
        Command::Daemon(args) => runtime_block_on(async { daemon::run(args, load()?).await }),
        Command::Reconcile(args) => runtime_block_on(async { reconcile::run(args, &load()?).await }),
        Command::Verify { names, json } => runtime_block_on(async { verify::run(names, json, &load()?).await }),
        Command::Status { json } => load().and_then(|c| status::status(json, &c)),
        Command::History { name, json } => load().and_then(|c| status::history(&name, json, &c)),
        Command::Audit(command) => load().and_then(|c| audit::run(command, &c)),
        Command::Backup(command) => load().and_then(|c| backup::run(command, &c)),
        Command::Token(command) => load().and_then(|c| token::run(command, &c)),
        Command::Store(command) => load().and_then(|c| store::run(command, &c)),
        Command::Compile { memory_bytes, stack_bytes, data_limit } => {
            let limits = Limits { memory_bytes, stack_bytes, ..Limits::default() };
            crate::runtime::compile::serve(&limits, data_limit).map_err(Into::into)
        }
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
            match command {
                PluginCommand::Inspect(args) => {
                    inspect::run(args, &runtime(Limits::default(), cache.clone(), None)?).await
                }
                PluginCommand::Call(args) => {
                    let runtime = runtime(args.plugin.limits(), cache.clone(), None)?;
                    call::run(args, &runtime).await
                }
                PluginCommand::New(args) => scaffold::run(args),
                PluginCommand::Test(args) => {
                    let runtime = runtime(args.plugin.limits(), cache.clone(), None)?;
                    conformance::run(args, &runtime).await
                }
                PluginCommand::Install(args) => {
                    let config = load()?.config;
                    let max_size = config.manifest.plugin_max_bytes();
                    install::run(args, &config, &runtime(Limits::default(), cache.clone(), max_size)?).await
                }
                PluginCommand::Publish(args) => publish::run(args).await,
                PluginCommand::Update(args) => {
                    let config = load()?.config;
                    let max_size = config.manifest.plugin_max_bytes();
                    update::run(args, &config, &runtime(Limits::default(), cache.clone(), max_size)?).await
                }
                PluginCommand::List { json } => list::run(json, &load()?.config),
                PluginCommand::Audit(args) => {
                    let context = if cli.config_file.exists() { Some(load()?) } else { None };
                    let config = context.as_ref().map(|c| &c.config);
                    let max_size = config.and_then(|c| c.manifest.plugin_max_bytes());
                    review::run(args, config, &runtime(Limits::default(), cache.clone(), max_size)?).await
                }
                PluginCommand::Signing(command) => signing::run(command, || Ok(load()?.config)),
                PluginCommand::Wit { out } => {
                    let written = crate::runtime::contract::write(&out)
                        .map_err(|e| anyhow::anyhow!("cannot write the contract into {}: {e}", out.display()))?;
                    let version = crate::runtime::contract::VERSION;
                    println!("wrote {} files of rekey:provider@{version} to {}", written.len(), out.display());
                    Ok(())
                }
                PluginCommand::Sdk { out } => {
                    let written = sdk::write(&out)?;
                    println!("wrote rekey-sdk {} ({} files) to {}", sdk::VERSION, written.len(), out.display());
                    println!("depend on it with: rekey-sdk = {{ path = \"{}\" }}", out.display());
                    Ok(())
                }
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let code = Exit::of(&error);
            if code != Exit::Invalid && !error.is::<exit::Reported>() {
                eprintln!("error: {}", describe(&error));
            }
            code.into()
        }
    }
}

/// An error with its causes, each said once: a message that already ends
/// with its cause's text (as `path: No such file or directory` does) does
/// not get it again.
fn describe(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text = format!("{text}: {cause}");
        }
    }
    text
}

/// A runtime that compiles plugins in a child process of this binary,
/// under a time and memory bound, and loads plugins of at most
/// `configured_max_size` bytes (rekey.toml's, when there is one).
pub(crate) fn runtime(
    limits: Limits,
    cache: Option<PathBuf>,
    configured_max_size: Option<u64>,
) -> anyhow::Result<Runtime> {
    let compiler = crate::runtime::Compiler::child(std::env::current_exe()?, configured_max_size);
    Ok(Runtime::new(limits, cache)?.compiling_with(compiler))
}

fn runtime_block_on(future: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(future)
}

/// How log lines look.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// Text for people.
    Human,
    /// One JSON object per line.
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG`: plugin lines at `info` by
/// default, and for the daemon everything rekey does at `info`, with the
/// time (a command at a shell needs no time stamps).
fn init_logging(format: LogFormat, daemon: bool) {
    let default = if daemon { "warn,rekey=info" } else { "warn,rekey::plugin=info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Human if daemon => logs.with_ansi(color()).init(),
        LogFormat::Human => logs.with_ansi(color()).without_time().init(),
    }
}

/// Colour on a terminal, unless NO_COLOR is set.
fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        // Duplicate flags, bad defaults and the like, for every subcommand.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
