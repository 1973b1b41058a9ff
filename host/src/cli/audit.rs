//! `rekey audit log|verify`, read from the store here or from a daemon's
//! API (`--server`), printed the same way.

use super::context::{Context, time};
use super::show::{connection, exchange};
use crate::rotation::PLUGIN_CALL;
use crate::runtime::{Connection, Exchange};
use crate::store::audit::Entry;

/// `rekey audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the audit log, oldest first.
    Log {
        /// Only entries about this credential.
        #[arg(long, value_name = "NAME")]
        credential: Option<String>,
        /// Only the calls of this plugin, each with every request and TCP connection it made.
        #[arg(long, value_name = "NAME")]
        plugin: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check that no entry was edited, removed or reordered.
    Verify,
}

/// Runs an audit command.
pub fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let store = context.store()?;
    match command {
        Command::Log { credential, plugin, json } => print_log(store.audit_log(credential.as_deref())?, plugin, json),
        Command::Verify => print_verified(store.verify_audit()?.map_err(|broken| broken.to_string())),
    }
}

/// Prints `entries` as `rekey audit log` does: only `plugin`'s calls, each
/// with its requests, when given.
pub fn print_log(mut entries: Vec<Entry>, plugin: Option<String>, json: bool) -> anyhow::Result<()> {
    if let Some(plugin) = &plugin {
        entries.retain(|e| e.event == PLUGIN_CALL && e.detail["plugin"] == plugin.as_str());
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    for e in &entries {
        let subject =
            [e.credential.as_deref(), e.rotation.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if plugin.is_some() {
            print_call(e, &subject);
        } else {
            println!("{:>5}  {}  {:<22} {:<40} {}", e.seq, time(e.at), e.event, subject, e.detail);
        }
    }
    Ok(())
}

/// Says whether the chain held: how many entries, or where it broke.
pub fn print_verified(verified: Result<usize, String>) -> anyhow::Result<()> {
    match verified {
        Ok(count) => {
            println!("the audit log is intact: {count} entries verified");
            Ok(())
        }
        Err(broken) => anyhow::bail!("the audit log was tampered with: {broken}"),
    }
}

/// A plugin call: what was called, how it ended, and each request and
/// connection it made.
fn print_call(e: &Entry, subject: &str) {
    let d = &e.detail;
    let result = d["error"].as_str().unwrap_or("ok");
    println!(
        "{:>5}  {}  {} {}  {subject}  {result}  ({} ms)",
        e.seq,
        time(e.at),
        d["plugin"].as_str().unwrap_or("?"),
        d["call"].as_str().unwrap_or("?"),
        d["ms"]
    );
    let requests: Vec<Exchange> = serde_json::from_value(d["requests"].clone()).unwrap_or_default();
    for request in &requests {
        println!("         {}", exchange(request));
    }
    let connections: Vec<Connection> = serde_json::from_value(d["connections"].clone()).unwrap_or_default();
    for c in &connections {
        println!("         {}", connection(c));
    }
}
