//! `rekey store migrate --to …`: the store moved to another backend
//! (SQLite to PostgreSQL, or back), copied whole and checked.

use super::context::Context;
use crate::store::Location;
use std::path::PathBuf;

/// `rekey store …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copy the whole store into an empty database or a new SQLite file,
    /// and check the copy (counts, audit chain). The store itself is left
    /// as it is; point `store` in rekey.toml at the copy to use it.
    Migrate {
        /// Where to: `postgres://user@host/db` or a new SQLite file's path
        /// (relative to rekey.toml).
        #[arg(long)]
        to: String,
        /// The PostgreSQL password: `env:VAR` or `file:PATH`.
        #[arg(long)]
        password: Option<String>,
        /// PEM certificates of a private CA for the PostgreSQL server.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
}

/// Runs a store command.
pub fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let Command::Migrate { to, password, ca } = command;
    let config = &context.config;
    let target = Location::parse(&to, password.as_deref(), ca.as_deref(), config.manifest.store_lease, &config.dir)
        .map_err(|e| super::exit::UsageError(e.replace("store_password", "--password").replace("store_ca", "--ca")))?;
    let store = context.store()?;
    let key_file = config.key_file();
    let copied = store.migrate_to(&target, &config.key_source(&key_file))?;
    let rows: Vec<String> = copied.rows.iter().filter(|(t, _)| *t != "meta").map(|(t, n)| format!("{n} {t}")).collect();
    println!("copied the store to {}: {}", target.describe(), rows.join(", "));
    println!("the copy's audit chain verifies ({} entries)", copied.audit_verified);
    let mut settings = vec![format!("store = \"{to}\"")];
    if matches!(target, Location::Postgres(_)) {
        settings.push("store_password".into());
    }
    // The copy opens with the same master key: keep pointing at its file.
    if config.manifest.key.is_none() && config.manifest.key_file.is_none() {
        settings.push(format!("key_file = \"{}\"", key_file.display()));
    }
    println!("to use it, set {} in {}", settings.join(", "), config.file.display());
    Ok(())
}
