//! `rekey store migrate --to …`: the store moved to another backend
//! (SQLite to PostgreSQL, or back), copied whole and checked; `rekey store
//! rewrap --to …`: the store re-keyed under a new master key.

use super::context::Context;
use super::exit::UsageError;
use crate::store::Location;
use crate::store::crypto::KeySource;
use crate::store::kms::Kms;
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
    /// Seal every secret and the audit chain anew under a new master key,
    /// in one transaction: a data key from a KMS key, or a new random key
    /// file. Then point rekey.toml at the new key.
    Rewrap {
        /// `aws-kms:arn:aws:kms:…` or `file:PATH` (a new key file, mode 0600;
        /// relative to rekey.toml).
        #[arg(long)]
        to: String,
    },
}

/// Runs a store command.
pub fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    match command {
        Command::Migrate { to, password, ca } => migrate(context, &to, password, ca),
        Command::Rewrap { to } => rewrap(context, &to),
    }
}

fn rewrap(context: &Context, to: &str) -> anyhow::Result<()> {
    let config = &context.config;
    let mut store = context.store()?;
    let new_file = to.strip_prefix("file:").map(|path| config.dir.join(path));
    let source = match &new_file {
        Some(path) => KeySource::File(path),
        None if to.starts_with(crate::store::kms::PREFIX) => KeySource::Kms(Kms::parse(to).map_err(UsageError)?),
        None => return Err(UsageError(format!("--to `{to}`: give aws-kms:arn:aws:kms:… or file:PATH")).into()),
    };
    let rewrapped = store.rewrap(&source)?;
    println!(
        "re-keyed the store under {}: {} secrets sealed anew, the audit chain keyed anew ({} entries, verified)",
        source.describe(),
        rewrapped.secrets,
        rewrapped.audit_entries
    );
    let setting = match &new_file {
        Some(path) => format!("key_file = \"{}\" (and no `key`)", path.display()),
        None => format!("key = \"{to}\""),
    };
    println!("the old master key no longer opens it: set {setting} in {} now", config.file.display());
    Ok(())
}

fn migrate(context: &Context, to: &str, password: Option<String>, ca: Option<PathBuf>) -> anyhow::Result<()> {
    let config = &context.config;
    let target = Location::parse(to, password.as_deref(), ca.as_deref(), config.manifest.store_lease, &config.dir)
        .map_err(|e| UsageError(e.replace("store_password", "--password").replace("store_ca", "--ca")))?;
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
