//! `rekey.toml`: what operators declare. The whole file is read and checked
//! before anything runs, and every error names the file, the line and the
//! field, so a typo never surfaces halfway through a rotation.

mod chunks;
mod credential;
pub mod duration;
mod model;
pub use crate::store::reference;
pub mod schedule;

pub use credential::{Credential, Destination, PluginRef, PluginTarget, Provider, Stage, TokenGrant};
pub use model::{Check, Daemon, Freeze, Manifest, Notifier, Policy, SecretVia, Target, Tls, Trust};

/// The built-in plugin of a key a person makes by hand at a vendor's
/// console: no sandbox, no provider calls.
pub const MANUAL: &str = "manual";

/// The built-in plugin of rekey's own API tokens, rotated like keys.
pub const TOKEN: &str = "rekey-token";

use crate::store::Location;
use crate::store::crypto::KeySource;
use credential::Invalid;
use model::CredentialSpec;
use reference::Reference;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// A mistake in `rekey.toml`.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", file.display(), line.map_or(String::new(), |l| format!(":{l}")))]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line, when the mistake is at one.
    pub line: Option<usize>,
    /// What is wrong, naming the field.
    pub message: String,
}

/// A checked `rekey.toml` and the folder its relative paths start from.
#[derive(Debug)]
pub struct Config {
    /// The file.
    pub file: PathBuf,
    /// Its folder.
    pub dir: PathBuf,
    /// Its settings besides the credentials.
    pub manifest: Manifest,
    /// The managed credentials, in the file's order.
    credentials: Vec<Credential>,
    /// Each credential's place in `credentials`, by name.
    index: HashMap<String, usize>,
    /// Where the store is.
    store: Location,
    /// The plugin authors' public keys (`trust.keys`).
    trusted_keys: Vec<minisign::PublicKey>,
}

impl Config {
    /// Reads and checks `file`.
    pub fn load(file: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError {
            file: file.into(),
            line: None,
            message: format!("cannot read it: {e} (create it, or name another file with -C/--config-file)"),
        })?;
        Self::parse(file, &text)
    }

    /// Checks `text` as the content of `file`. Each `[[credential]]` table
    /// is parsed on its own where the layout allows (see `config/chunks.rs`), so
    /// memory follows the result, not the parser's view of the whole file.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ConfigError> {
        let error = |at: Option<usize>, message: String| ConfigError {
            file: file.into(),
            line: at.map(|offset| line_of(text, offset)),
            message,
        };
        // A TOML error or an invalid field in the text starting at `base`.
        let parse_error =
            |base: usize, e: toml::de::Error| error(e.span().map(|s| base + s.start), e.message().trim().into());
        let invalid = |base: usize, (span, message): Invalid| error(Some(base + span.start), message);
        // Split, unless the rest turns out to declare credentials too (the
        // inline `credential = [...]` form): then the file is parsed whole.
        let split = chunks::split(text)
            .map(|split| Ok((toml::from_str::<Manifest>(&split.rest)?, split.credentials)))
            .transpose()
            .map_err(|e| parse_error(0, e))?
            .filter(|(rest, _)| rest.credentials.is_empty());
        let (mut manifest, tables) = match split {
            Some(split) => split,
            None => (toml::from_str(text).map_err(|e| parse_error(0, e))?, vec![]),
        };
        // Where each credential's spans start in the file.
        let mut bases = vec![0; manifest.credentials.len()];
        for range in tables {
            let table: Tables = toml::from_str(&text[range.clone()]).map_err(|e| parse_error(range.start, e))?;
            bases.extend(table.credential.iter().map(|_| range.start));
            manifest.credentials.extend(table.credential);
        }
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or_else(|| PathBuf::from("."));
        let specs = std::mem::take(&mut manifest.credentials);
        let mut credentials = Vec::with_capacity(specs.len());
        let mut index = HashMap::with_capacity(specs.len());
        for (spec, base) in specs.into_iter().zip(bases) {
            let span = spec.name.span();
            let credential = Credential::parse(spec, &dir).map_err(|e| invalid(base, e))?;
            if index.insert(credential.name.clone(), credentials.len()).is_some() {
                let message = format!("credential `{}` is declared twice", credential.name);
                return Err(invalid(base, (span, message)));
            }
            credentials.push(credential);
        }
        let trusted_keys = validate(&manifest).map_err(|e| invalid(0, e))?;
        let m = &manifest;
        let store = Location::parse(&m.store, m.store_password.as_deref(), m.store_ca.as_deref(), m.store_lease, &dir)
            .map_err(|message| error(text.find("store"), message))?;
        if let Some(key) = &m.key {
            crate::store::kms::Kms::parse(key).map_err(|message| error(text.find("key"), message))?;
        }
        let config = Self { file: file.into(), dir, manifest, credentials, index, store, trusted_keys };
        config.check_tls_files().map_err(|message| error(text.find("tls"), message))?;
        Ok(config)
    }

    /// The daemon's TLS files are never the master key file: writing a
    /// certificate's key there (`openssl req -keyout`) would destroy the
    /// key that opens the store.
    fn check_tls_files(&self) -> Result<(), String> {
        let Some(tls) = &self.manifest.daemon.tls else { return Ok(()) };
        let key_file = self.key_file();
        let same = |path: &Path| {
            let path = self.resolve(path);
            path == key_file
                || std::fs::canonicalize(&path).is_ok_and(|p| std::fs::canonicalize(&key_file).is_ok_and(|k| p == k))
        };
        for (field, path) in [("key", &tls.key), ("cert", &tls.cert)] {
            if same(path) {
                return Err(format!(
                    "[daemon.tls] `{field}` is {}, the store's master key file: a TLS file written there destroys the key that opens the store; name another file (e.g. tls.key and tls.crt)",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// A path from the file, made absolute against its folder.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        resolved(&self.dir, path)
    }

    /// Where the store is.
    pub fn store(&self) -> &Location {
        &self.store
    }

    /// The public keys of the plugin authors whose signatures count.
    pub fn trusted_keys(&self) -> &[minisign::PublicKey] {
        &self.trusted_keys
    }

    /// Where the master key comes from: `key` (a KMS key), the
    /// environment, or the key file.
    pub fn key_source<'a>(&self, key_file: &'a Path) -> KeySource<'a> {
        KeySource::configured(self.manifest.key.as_deref(), key_file).expect("validated when the file was read")
    }

    /// The master key file's path [default: beside an SQLite store, with
    /// `.key`; `rekey.key` beside this file for PostgreSQL].
    pub fn key_file(&self) -> PathBuf {
        match (&self.manifest.key_file, &self.store) {
            (Some(path), _) => self.resolve(path),
            (None, Location::File(path)) => path.with_extension("key"),
            (None, Location::Postgres(_)) => self.dir.join("rekey.key"),
        }
    }

    /// A credential by name.
    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.index.get(name).map(|&i| &self.credentials[i])
    }

    /// Every credential, in the file's order.
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// Where `rekey plugin install` puts plugins.
    pub fn plugin_dir(&self) -> PathBuf {
        self.resolve(&self.manifest.plugin_dir)
    }

    /// The approvals file, next to this one.
    pub fn lock_file(&self) -> PathBuf {
        self.dir.join("rekey.lock")
    }

    /// The plugin file of a credential's plugin provider: a path as written,
    /// or a plugin's name looked up in `plugin_dir`, then in
    /// `$REKEY_PLUGIN_DIR` (where the bundled plugins are).
    pub fn plugin_file(&self, plugin: &PluginRef) -> Result<PathBuf, String> {
        match &plugin.file {
            Some(path) if path.exists() => Ok(path.clone()),
            Some(path) => Err(format!("plugin file {} does not exist", path.display())),
            None => self.find_plugin(&plugin.name),
        }
    }

    /// A plugin's file by name, in `plugin_dir` then `$REKEY_PLUGIN_DIR`.
    pub fn find_plugin(&self, plugin: &str) -> Result<PathBuf, String> {
        let dirs: Vec<PathBuf> =
            std::iter::once(self.plugin_dir()).chain(std::env::var_os("REKEY_PLUGIN_DIR").map(PathBuf::from)).collect();
        // Cargo names a plugin's file after its library, with `_` for `-`.
        let files = [format!("{plugin}.wasm"), format!("{}.wasm", plugin.replace('-', "_"))];
        dirs.iter().flat_map(|d| files.iter().map(move |f| d.join(f))).find(|p| p.exists()).ok_or_else(|| {
            let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
            format!(
                "unknown plugin `{plugin}`: no {plugin}.wasm in {} (install it with `rekey plugin install FILE`, set $REKEY_PLUGIN_DIR, or give a path)",
                searched.join(", ")
            )
        })
    }
}

/// `path` made absolute against `dir`.
fn resolved(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.into() } else { dir.join(path) }
}

/// The name a plugin file goes by: its stem, with Cargo's `_` back to `-`
/// (`redis_acl.wasm` is `redis-acl`), as [`Config::find_plugin`] looks it up.
pub fn plugin_name_of(file: &Path) -> String {
    file.file_stem().map(|s| s.to_string_lossy().replace('_', "-")).unwrap_or_default()
}

/// One `[[credential]]` table, parsed on its own.
#[derive(serde::Deserialize)]
struct Tables {
    credential: Vec<CredentialSpec>,
}

/// What lies outside the credentials: trust, notifications and the daemon.
/// Returns the trusted keys, parsed.
fn validate(manifest: &Manifest) -> Result<Vec<minisign::PublicKey>, Invalid> {
    let concurrency = &manifest.daemon.concurrency;
    if !(1..=256).contains(concurrency.get_ref()) {
        return Err((concurrency.span(), "daemon.concurrency must be between 1 and 256".into()));
    }
    for freeze in &manifest.daemon.freeze {
        if !freeze.get_ref().is_well_formed() {
            return Err((
                freeze.span(),
                "daemon.freeze: give `from` and `to` (from before to), or `schedule` and `duration`".into(),
            ));
        }
    }
    if let Some(required) = &manifest.trust.require_signature
        && *required.get_ref()
        && manifest.trust.keys.is_empty()
    {
        return Err((
            required.span(),
            "trust.require_signature is set but trust.keys is empty, so no plugin could run; add the authors' public keys".into(),
        ));
    }
    let keys = manifest
        .trust
        .keys
        .iter()
        .map(|key| {
            crate::trust::signature::public_key(key.get_ref()).map_err(|e| (key.span(), format!("trust.keys: {e}")))
        })
        .collect::<Result<_, _>>()?;
    for notifier in &manifest.notify {
        if let Notifier::Webhook { signing_secret: Some(reference), .. } = notifier.get_ref() {
            Reference::parse(reference).map_err(|e| (notifier.span(), format!("notify.signing_secret: {e}")))?;
        }
    }
    Ok(keys)
}

/// The 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("rekey.toml"), text)
    }

    const GOOD: &str = r#"
[[credential]]
name = "api"
plugin = "random"
config = { length = 40, prefix = "sk_" }
admin_secrets = { token = "env:API_TOKEN" }
policy = { max_age = "60d", grace_period = "0s", owners = ["team@example.com"] }

[[credential.stages]]
name = "dev"
targets = [{ type = "env-file", path = "dev.env", variable = "API_KEY" }]
checks = [{ type = "exec", command = ["true"] }]
"#;

    #[test]
    fn a_complete_credential_reads_with_defaults() {
        let config = parse(GOOD).unwrap();
        let api = config.credential("api").unwrap();
        assert_eq!(api.policy.max_age.as_secs(), 60 * 86_400);
        assert_eq!(api.config.get("length").map(String::as_str), Some("40"));
        assert!(matches!(config.store(), Location::File(path) if path == Path::new("./rekey.db")));
        assert_eq!(config.key_file(), Path::new("./rekey.key"));
    }

    #[test]
    fn a_literal_secret_is_refused_with_its_line() {
        let text = GOOD.replace("env:API_TOKEN", "hunter2");
        let error = parse(&text).unwrap_err();
        assert_eq!(error.line, Some(6));
        assert!(error.to_string().starts_with("rekey.toml:6: credential `api`: admin_secrets.token:"), "{error}");
        assert!(!error.to_string().contains("hunter2"), "the error does not echo the secret");
    }

    #[test]
    fn a_tls_ca_that_holds_no_certificate_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("not-a-ca.pem"), "hello\n").unwrap();
        let text = GOOD.replace("admin_secrets =", "tls_ca = \"not-a-ca.pem\"\nadmin_secrets =");
        let error = Config::parse(&dir.path().join("rekey.toml"), &text).unwrap_err();
        assert_eq!(error.line, Some(6), "{error}");
        assert!(error.message.contains("credential `api`: tls_ca: ") && error.message.contains("holds no certificate"));
        let error = parse(&text.replace("not-a-ca.pem", "missing.pem")).unwrap_err();
        assert!(error.message.contains("cannot read the CA certificates in ./missing.pem"), "{error}");
    }

    #[test]
    fn unknown_fields_and_bad_values_name_their_line() {
        let error = parse(&GOOD.replace("variable =", "varible =")).unwrap_err();
        assert_eq!(error.line, Some(11), "{error}");
        assert!(error.message.contains("varible"), "{error}");
        let error = parse(&GOOD.replace("\"60d\"", "\"60\"")).unwrap_err();
        assert_eq!(error.line, Some(7), "{error}");
        assert!(error.message.contains("no unit"), "{error}");
    }

    #[test]
    fn an_env_file_target_takes_one_variable_or_a_table_of_them() {
        let both =
            GOOD.replace(r#"variable = "API_KEY" }"#, r#"variable = "API_KEY", variables = { ID = "{key_id}" } }"#);
        assert!(parse(&both).unwrap_err().message.contains("exactly one of them"));
        let table = GOOD.replace(r#"variable = "API_KEY" }"#, r#"variables = { ID = "{key_id}", KEY = "{secret}" } }"#);
        assert!(parse(&table).is_ok());
    }

    #[test]
    fn requiring_signatures_needs_a_trusted_key() {
        let error = parse(&format!("[trust]\nrequire_signature = true\n{GOOD}")).unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
        assert!(error.message.contains("trust.keys is empty"), "{error}");
        let error = parse(&format!("[trust]\nkeys = [\"not-a-key\"]\n{GOOD}")).unwrap_err();
        assert!(error.message.starts_with("trust.keys: `not-a-key` is not a minisign public key"), "{error}");
    }

    #[test]
    fn duplicate_credentials_are_refused() {
        let error = parse(&format!("{GOOD}\n[[credential]]\nname = \"api\"\nplugin = \"random\"\n")).unwrap_err();
        assert!(error.message.contains("declared twice"), "{error}");
        assert_eq!(error.line, Some(15), "{error}");
    }

    #[test]
    fn a_mistake_in_a_later_credential_names_its_line_in_the_file() {
        let second =
            "\n[trust]\nkeys = []\n[[credential]]\nname = \"b\"\nplugin = \"random\"\npolicy = { max_age = \"9\" }\n";
        let error = parse(&format!("{GOOD}{second}")).unwrap_err();
        assert_eq!(error.line, Some(19), "{error}");
        let error =
            parse(&format!("{GOOD}{}", second.replace("\"9\"", "\"9d\"").replace("name = \"b\"", "name = \"B\"")))
                .unwrap_err();
        assert_eq!((error.line, error.message.starts_with("credential name `B`")), (Some(17), true), "{error}");
        let config = parse(&format!("{GOOD}{}", second.replace("\"9\"", "\"9d\""))).unwrap();
        assert_eq!(config.credential("b").unwrap().policy.max_age.as_secs(), 9 * 86_400);
        assert!(config.credential("api").is_some() && config.credential("c").is_none());
    }

    #[test]
    fn schedules_and_daemon_settings_are_checked_when_the_file_is_read() {
        let with_policy = |policy: &str| parse(&GOOD.replace(r#"max_age = "60d""#, policy));
        let error = with_policy(r#"schedule = "every day""#).unwrap_err();
        assert_eq!(error.line, Some(7), "{error}");
        assert!(error.message.contains("five fields"), "{error}");
        assert!(with_policy(r#"timezone = "Mars/Olympus""#).unwrap_err().message.contains("IANA name"));
        assert!(with_policy(r#"remind_before = ["0s"]"#).unwrap_err().message.contains("no reminder"));
        let config = with_policy(r#"schedule = "0 3 * * MON", timezone = "Europe/Berlin", jitter = "10m""#).unwrap();
        assert_eq!(config.credential("api").unwrap().policy.schedule.as_ref().unwrap().as_str(), "0 3 * * MON");

        let daemon = |table: &str| parse(&format!("[daemon]\n{table}\n{GOOD}"));
        let error = daemon("concurrency = 0").unwrap_err();
        assert_eq!((error.line, error.message.as_str()), (Some(2), "daemon.concurrency must be between 1 and 256"));
        let error = daemon(r#"freeze = [{ from = "2026-12-24T00:00:00Z" }]"#).unwrap_err();
        assert!(error.message.contains("give `from` and `to`"), "{error}");
        let error = daemon(r#"freeze = [{ from = "Christmas", to = "2026-12-27T00:00:00Z" }]"#).unwrap_err();
        assert!(error.message.contains("is not a time like"), "{error}");
        let config =
            daemon("listen = \"0.0.0.0:9000\"\nfreeze = [{ schedule = \"0 18 * * FRI\", duration = \"62h\" }]")
                .unwrap();
        assert_eq!(config.manifest.daemon.listen.port(), 9000);
        // 2026-12-04 is a Friday: frozen from 18:00 UTC for 62 hours.
        let friday_evening = 1_796_256_000 + 86_400 + 20 * 3_600;
        assert_eq!(
            config.manifest.daemon.freeze[0].get_ref().ends(friday_evening),
            Some(friday_evening - 2 * 3_600 + 62 * 3_600)
        );
        assert_eq!(config.manifest.daemon.freeze[0].get_ref().ends(friday_evening - 4 * 3_600), None);
    }

    #[test]
    fn a_manual_credential_takes_no_provider_settings() {
        let manual = "[[credential]]\nname = \"console\"\nplugin = \"manual\"\n";
        assert!(parse(manual).unwrap().credential("console").unwrap().is_manual());
        let error = parse(&format!("{manual}grants = [\"api.example.com\"]\n")).unwrap_err();
        assert_eq!(error.line, Some(3), "{error}");
        assert!(
            error
                .message
                .contains("a manual credential has no provider to configure or ask, so `grants` does not apply"),
            "{error}"
        );
    }
}
