//! `rekey plugin keygen`, `sign` and `verify`: minisign signatures for
//! plugin authors and for the operators who check them.

use super::exit::UsageError;
use crate::config::Config;
use crate::trust::digest;
use crate::trust::signature::{self, Protection};
use std::io::IsTerminal;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where a signing key's password comes from, never the command line.
const PASSWORD_VAR: &str = "REKEY_SIGNING_PASSWORD";

/// The signing commands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a signing key pair: PREFIX.pub (share it) and PREFIX.key (keep it secret).
    #[command(after_help = "The secret key is encrypted with a password from $REKEY_SIGNING_PASSWORD, or asked \
for on the terminal, unless --unencrypted.")]
    Keygen {
        /// The files' path without extension.
        prefix: PathBuf,
        /// Leave the secret key unencrypted (for a CI secret store).
        #[arg(long)]
        unencrypted: bool,
    },
    /// Sign a plugin: writes FILE.minisig, which `minisign -Vm FILE -p KEY.pub` also verifies.
    Sign {
        /// The plugin file.
        file: PathBuf,
        /// The secret key file (its password from $REKEY_SIGNING_PASSWORD or the terminal).
        #[arg(long, short = 'k', value_name = "FILE")]
        key: PathBuf,
    },
    /// Check FILE.minisig against a public key, or the trusted keys of rekey.toml.
    Verify {
        /// The plugin file.
        file: PathBuf,
        /// A public key (base64) or .pub file [default: `trust.keys` from rekey.toml].
        #[arg(long, short = 'k', value_name = "KEY")]
        key: Option<String>,
    },
}

/// Runs a signing command; `config` loads rekey.toml when it is needed.
pub fn run(command: Command, config: impl FnOnce() -> anyhow::Result<Config>) -> anyhow::Result<()> {
    match command {
        Command::Keygen { prefix, unencrypted } => keygen(&prefix, unencrypted),
        Command::Sign { file, key } => sign(&file, &key),
        Command::Verify { file, key } => {
            let keys = match key {
                Some(key) => {
                    let text = std::fs::read_to_string(&key).unwrap_or(key);
                    vec![signature::public_key(&text).map_err(UsageError)?]
                }
                None => {
                    let config = config().map_err(|e| {
                        UsageError(format!(
                            "no key to check against: give the author's public key with --key KEY (base64, or a .pub file), or run this where rekey.toml lists trusted keys ({e})"
                        ))
                    })?;
                    let keys = config.trusted_keys().to_vec();
                    if keys.is_empty() {
                        return Err(UsageError(format!(
                            "{} lists no trusted keys (`trust.keys`); give one with --key",
                            config.file.display()
                        ))
                        .into());
                    }
                    keys
                }
            };
            let bytes = read(&file)?;
            let sig_file = signature::signature_path(&file);
            let text = std::fs::read_to_string(&sig_file)
                .map_err(|e| UsageError(format!("cannot read the signature {}: {e}", sig_file.display())))?;
            let key_id = signature::verify(&bytes, &text, &keys)
                .map_err(|e| anyhow::anyhow!("{}: the signature does not verify: {e}", file.display()))?;
            println!("{}: good signature by key {key_id} (sha256 {})", file.display(), digest(&bytes));
            Ok(())
        }
    }
}

fn keygen(prefix: &Path, unencrypted: bool) -> anyhow::Result<()> {
    let (public_file, secret_file) = (prefix.with_extension("pub"), prefix.with_extension("key"));
    for file in [&public_file, &secret_file] {
        if file.exists() {
            return Err(UsageError(format!("{} exists; choose another prefix", file.display())).into());
        }
    }
    let protection = match (unencrypted, password()) {
        (true, _) => Protection::None,
        (false, Protection::None) => {
            return Err(UsageError(format!(
                "no password for the secret key: set ${PASSWORD_VAR}, run this at a terminal, or pass --unencrypted"
            ))
            .into());
        }
        (false, protection) => protection,
    };
    let (public, secret) =
        signature::generate(protection).map_err(|e| anyhow::anyhow!("cannot generate a key: {e}"))?;
    write_new(&secret_file, &secret, 0o600)?;
    write_new(&public_file, &public, 0o644)?;
    let key = signature::public_key(&public).map_err(anyhow::Error::msg)?;
    println!(
        "key {} written: {} (public) and {} (secret)",
        signature::key_id(&key),
        public_file.display(),
        secret_file.display()
    );
    println!("operators trust it with, in rekey.toml:\n[trust]\nkeys = [\"{}\"]", key.to_base64());
    Ok(())
}

fn sign(file: &Path, key: &Path) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let secret = zeroize::Zeroizing::new(
        std::fs::read_to_string(key)
            .map_err(|e| UsageError(format!("cannot read the secret key {}: {e}", key.display())))?,
    );
    let name = file.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let comment = format!("file:{name} sha256:{}", digest(&bytes));
    let signature = signature::sign(&bytes, &secret, password(), &comment).map_err(anyhow::Error::msg)?;
    let sig_file = signature::signature_path(file);
    std::fs::write(&sig_file, signature).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", sig_file.display()))?;
    println!("signed {}: {}", file.display(), sig_file.display());
    Ok(())
}

/// The signing key's password: `$REKEY_SIGNING_PASSWORD`, else the
/// terminal, else none (enough for an unencrypted key).
fn password() -> Protection {
    match std::env::var(PASSWORD_VAR) {
        Ok(password) if !password.is_empty() => Protection::Password(password),
        _ if std::io::stdin().is_terminal() => Protection::Prompt,
        _ => Protection::None,
    }
}

fn read(file: &Path) -> Result<Vec<u8>, UsageError> {
    std::fs::read(file).map_err(|e| UsageError(format!("cannot read plugin file {}: {e}", file.display())))
}

fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(file.sync_all()?)
}
