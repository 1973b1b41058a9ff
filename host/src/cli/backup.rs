//! `rekey backup export|import`: an encrypted copy of the whole store. The
//! passphrase comes from `$REKEY_BACKUP_PASSPHRASE`, never the command line.

use super::context::Context;
use super::exit::UsageError;
use crate::store::Store;
use std::path::PathBuf;

/// The variable that holds the backup passphrase.
pub const PASSPHRASE_VAR: &str = "REKEY_BACKUP_PASSPHRASE";

/// `rekey backup …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write an encrypted export of the store.
    Export {
        /// The file to write (mode 0600).
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Restore an export into a fresh store (created with `rekey init`).
    Import {
        /// The export.
        file: PathBuf,
    },
}

fn passphrase() -> anyhow::Result<String> {
    match std::env::var(PASSPHRASE_VAR) {
        Ok(p) if p.len() >= 12 => Ok(p),
        Ok(_) => Err(UsageError(format!("${PASSPHRASE_VAR} is too short: use at least 12 characters")).into()),
        Err(_) => Err(UsageError(format!("set ${PASSPHRASE_VAR} to the passphrase of the backup")).into()),
    }
}

/// Runs a backup command.
pub fn run(command: Command, context: &Context) -> anyhow::Result<()> {
    let store: Store = context.store()?;
    match command {
        Command::Export { output } => {
            let bytes = store.export(&passphrase()?)?;
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&output)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e} (it must not exist yet)", output.display()))?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            store.audit("backup.exported", None, None, serde_json::json!({ "file": output }))?;
            println!("exported the store to {} ({} bytes, encrypted)", output.display(), bytes.len());
        }
        Command::Import { file } => {
            let bytes = std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let imported = store.import_backup(&bytes, &passphrase()?)?;
            println!(
                "imported {} versions, {} rotations, {} audit entries and {} suspected orphans",
                imported.versions, imported.rotations, imported.audit_entries, imported.suspects
            );
        }
    }
    Ok(())
}
