//! `rekey audit log|verify`.

use super::context::{Context, time};

/// `rekey audit …`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the audit log, oldest first.
    Log {
        /// Only entries about this credential.
        #[arg(long, value_name = "NAME")]
        credential: Option<String>,
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
        Command::Log { credential, json } => {
            let entries = store.audit_log(credential.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            }
            for e in entries.iter().filter(|_| !json) {
                let subject = [e.credential.as_deref(), e.rotation.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ");
                println!("{:>5}  {}  {:<22} {:<40} {}", e.seq, time(e.at), e.event, subject, e.detail);
            }
            Ok(())
        }
        Command::Verify => match store.verify_audit()? {
            Ok(count) => {
                println!("the audit log is intact: {count} entries verified");
                Ok(())
            }
            Err(broken) => anyhow::bail!("the audit log was tampered with: {broken}"),
        },
    }
}
