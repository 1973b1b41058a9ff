//! The shape of `rekey.toml`, as serde reads it. Spanned fields remember
//! where they were written, so validation errors can name the line.

use super::duration;
use super::schedule::{Schedule, Zone, rfc3339};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The store: an SQLite file, relative to this file [default:
    /// `rekey.db`], or a PostgreSQL database shared by several daemons,
    /// `postgres://user@host/db` (`?sslmode=require` for TLS).
    #[serde(default = "default_store")]
    pub store: String,
    /// A PostgreSQL store's password: `env:VAR` or `file:PATH`, never in
    /// the URL.
    pub store_password: Option<String>,
    /// PEM certificates of a private CA a PostgreSQL server's certificate
    /// may chain to, besides the public roots.
    pub store_ca: Option<PathBuf>,
    /// How long a daemon's claim on a credential in a PostgreSQL store
    /// lasts unless renewed (it renews at a third of it): after a daemon
    /// dies, another resumes its rotations this long after [default: 30s].
    #[serde(default = "default_lease", with = "duration")]
    pub store_lease: Duration,
    /// The master key file [default: the store's path with `.key`].
    pub key_file: Option<PathBuf>,
    /// A master key held by AWS KMS instead, `aws-kms:arn:aws:kms:…`
    /// (envelope encryption: the store keeps the data key KMS wrapped).
    pub key: Option<String>,
    /// Where `rekey plugin install` puts plugins, and where plugins named
    /// without a path are looked up first (then in `$REKEY_PLUGIN_DIR`)
    /// [default: `plugins`].
    #[serde(default = "default_plugin_dir")]
    pub plugin_dir: PathBuf,
    /// How long one plugin call may take, its network requests included: a
    /// provider that hangs past it fails the call [default: 30s].
    #[serde(default = "default_timeout", with = "duration")]
    pub plugin_timeout: Duration,
    /// The largest plugin file that is read and compiled, e.g. "48 MiB": a
    /// larger one is refused before anything is done with it [default:
    /// 32 MiB; `REKEY_PLUGIN_MAX_MIB` overrides it].
    #[serde(default)]
    pub plugin_max_size: Option<bytesize::ByteSize>,
    /// Which plugin authors are trusted.
    #[serde(default)]
    pub trust: Trust,
    /// Where every credential's events go.
    #[serde(default)]
    pub notify: Vec<Spanned<Notifier>>,
    /// How `rekey daemon` runs.
    #[serde(default)]
    pub daemon: Daemon,
    /// The managed credentials, as written: [`super::Config`] takes them
    /// out and parses each into a [`super::Credential`].
    #[serde(default, rename = "credential")]
    pub(super) credentials: Vec<CredentialSpec>,
}

impl Manifest {
    /// `plugin_max_size` in bytes, when set.
    pub fn plugin_max_bytes(&self) -> Option<u64> {
        self.plugin_max_size.map(|size| size.as_u64())
    }
}

fn default_store() -> String {
    "rekey.db".into()
}

fn default_lease() -> Duration {
    Duration::from_secs(30)
}

fn default_plugin_dir() -> PathBuf {
    PathBuf::from("plugins")
}

/// The plugin authors whose signatures count.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    /// Their minisign public keys, base64 (the second line of a `.pub` file).
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    /// Refuse every plugin without a valid signature by one of `keys`
    /// [default: false; a signature present is still checked].
    #[serde(default)]
    pub require_signature: Option<Spanned<bool>>,
}

impl Trust {
    /// Whether every plugin must be signed by a trusted key.
    pub fn signatures_required(&self) -> bool {
        self.require_signature.as_ref().is_some_and(|r| *r.get_ref())
    }
}

/// One managed credential, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSpec {
    /// Its name: lower-case letters, digits, `-`, `_` and `.`.
    pub name: Spanned<String>,
    /// A bundled plugin's name or a path to a `.wasm` file.
    pub plugin: Spanned<String>,
    /// The plugin's config (not secret).
    #[serde(default)]
    pub config: BTreeMap<String, Spanned<toml::Value>>,
    /// Admin secrets, as references: `env:VAR`, `file:PATH` or `store:NAME`.
    #[serde(default)]
    pub admin_secrets: BTreeMap<String, Spanned<String>>,
    /// Network endpoints the plugin may reach (`host[:port]`).
    #[serde(default)]
    pub grants: Vec<Spanned<String>>,
    /// A PEM file (relative to rekey.toml) of the CAs that issued the
    /// provider's server certificates, trusted besides the public roots
    /// when the plugin asks the host for TLS.
    pub tls_ca: Option<Spanned<PathBuf>>,
    /// When to rotate and who to tell.
    #[serde(default)]
    pub policy: Policy,
    /// Where the key goes, stage by stage, in order.
    #[serde(default)]
    pub stages: Vec<StageSpec>,
}

/// Rotation policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A key older than this is due [default: 90d].
    #[serde(default = "default_max_age", with = "duration")]
    pub max_age: Duration,
    /// Rotate at these times instead (a cron expression, e.g. `0 3 * * MON`),
    /// read in `timezone`; `max_age` is then not used.
    pub schedule: Option<Schedule>,
    /// The time zone of `schedule` [default: UTC].
    #[serde(default)]
    pub timezone: Zone,
    /// How long after a scheduled time its rotation may still start; a
    /// missed window waits for the next time [default: 1h].
    #[serde(default = "default_window", with = "duration")]
    pub window: Duration,
    /// Each key's rotation starts up to this much after it is due, by an
    /// offset fixed per credential and version, so a fleet of keys due
    /// together does not rotate in the same second [default: 0s].
    #[serde(default, with = "duration")]
    pub jitter: Duration,
    /// How long the old key stays valid after the new one is promoted [default: 1h].
    #[serde(default = "default_grace", with = "duration")]
    pub grace_period: Duration,
    /// Owners and stakeholders, named in every event about this credential.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Before a key is due, `key.due_soon` is sent once at each of these
    /// (e.g. `["14d", "1d"]`) [default: none].
    #[serde(default, with = "duration::list")]
    pub remind_before: Vec<Duration>,
    /// The daemon asks the provider this often whether the current key
    /// works and when it was last used [default: never].
    #[serde(default, with = "duration::optional")]
    pub verify_every: Option<Duration>,
    /// A key the provider reports unused for longer than this is flagged
    /// by `rekey status` and the daemon's `key.unused` (a forgotten or
    /// leaked key) [default: never].
    #[serde(default, with = "duration::optional")]
    pub unused_after: Option<Duration>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_age: default_max_age(),
            schedule: None,
            timezone: Zone::default(),
            window: default_window(),
            jitter: Duration::ZERO,
            grace_period: default_grace(),
            owners: vec![],
            remind_before: vec![],
            verify_every: None,
            unused_after: None,
        }
    }
}

fn default_window() -> Duration {
    Duration::from_secs(3_600)
}

/// `[daemon]`: how `rekey daemon` runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Daemon {
    /// Rotations (and provider checks) at once, across credentials; one per
    /// credential always [default: 4].
    #[serde(default = "default_concurrency")]
    pub concurrency: Spanned<usize>,
    /// Where `/metrics`, `/healthz` and `/readyz` are served [default: 127.0.0.1:9464].
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
    /// How long SIGTERM waits for running rotations to reach a step
    /// boundary; what is still running then resumes at the next start
    /// [default: 30s].
    #[serde(default = "default_timeout", with = "duration")]
    pub shutdown_timeout: Duration,
    /// A rotation running longer than this makes `/readyz` fail [default: 15m].
    #[serde(default = "default_stuck_after", with = "duration")]
    pub stuck_after: Duration,
    /// When nothing rotates (a release weekend, say): reminders and checks
    /// still run, and an interrupted rotation still finishes.
    #[serde(default)]
    pub freeze: Vec<Spanned<Freeze>>,
    /// Serve the endpoints, the API and the dashboard over TLS.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// The names clients reach the daemon by (`rekey.example.com`), beside
    /// IP addresses and `localhost`: a request naming any other `Host` is
    /// refused, so a web page cannot reach the daemon by DNS rebinding.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// `[daemon.tls]`: the certificate the daemon presents.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// The certificate chain, PEM, leaf first (relative to rekey.toml).
    pub cert: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for Daemon {
    fn default() -> Self {
        Self {
            concurrency: default_concurrency(),
            listen: default_listen(),
            shutdown_timeout: default_timeout(),
            stuck_after: default_stuck_after(),
            freeze: vec![],
            tls: None,
            hosts: vec![],
        }
    }
}

fn default_concurrency() -> Spanned<usize> {
    Spanned::new(0..0, 4)
}

fn default_listen() -> std::net::SocketAddr {
    ([127, 0, 0, 1], 9464).into()
}

fn default_stuck_after() -> Duration {
    Duration::from_secs(15 * 60)
}

/// A time when nothing rotates: once (`from` and `to`), or again and
/// again (`schedule` and `duration`, e.g. every Friday 18:00 for 62h).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    /// The start of a one-off freeze, RFC 3339.
    #[serde(default, deserialize_with = "rfc3339::optional")]
    pub from: Option<i64>,
    /// Its end.
    #[serde(default, deserialize_with = "rfc3339::optional")]
    pub to: Option<i64>,
    /// When each recurring freeze starts.
    pub schedule: Option<Schedule>,
    /// How long each lasts.
    #[serde(default, with = "duration::optional")]
    pub duration: Option<Duration>,
    /// The time zone of `schedule` [default: UTC].
    #[serde(default)]
    pub timezone: Zone,
}

impl Freeze {
    /// When the freeze that holds `at` ends, if one does.
    pub fn ends(&self, at: i64) -> Option<i64> {
        match (self.from, self.to, &self.schedule, self.duration) {
            (Some(from), Some(to), None, None) => (from <= at && at < to).then_some(to),
            (None, None, Some(schedule), Some(length)) => {
                let end = schedule.last_at_or_before(at, self.timezone)? + length.as_secs() as i64;
                (at < end).then_some(end)
            }
            _ => None,
        }
    }

    /// Whether exactly one of the two forms is written.
    pub fn is_well_formed(&self) -> bool {
        matches!(
            (self.from, self.to, &self.schedule, self.duration),
            (Some(from), Some(to), None, None) if from < to
        ) || matches!((self.from, self.to, &self.schedule, self.duration), (None, None, Some(_), Some(_)))
    }
}

fn default_max_age() -> Duration {
    Duration::from_secs(90 * 86_400)
}

fn default_grace() -> Duration {
    Duration::from_secs(3_600)
}

/// One deployment stage, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSpec {
    /// `dev`, `staging`, `prod`…
    pub name: Spanned<String>,
    /// Where the key is written: each a built-in [`Target`] (with `type`)
    /// or a [`PluginTargetSpec`] (with `plugin`), told apart when the
    /// credential is parsed.
    #[serde(default)]
    pub targets: Vec<Spanned<toml::Value>>,
    /// What must pass before the next stage.
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// A deploy target plugin in a stage's `targets`, as written: `{ plugin =
/// "aws-secrets-manager", config = { … }, admin_secrets = { … }, grants =
/// [ … ] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginTargetSpec {
    /// A bundled or installed target plugin's name, or a path to its `.wasm`.
    pub plugin: String,
    /// Its config (not secret).
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
    /// Its admin secrets, as references: `env:VAR`, `file:PATH` or `store:NAME`.
    #[serde(default)]
    pub admin_secrets: BTreeMap<String, String>,
    /// Network endpoints it may reach (`host[:port]`).
    #[serde(default)]
    pub grants: Vec<String>,
    /// A PEM file of CAs its servers' certificates may chain to.
    pub tls_ca: Option<PathBuf>,
}

/// How a command receives the secret.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SecretVia {
    /// In the environment variable `REKEY_SECRET`.
    #[default]
    Env,
    /// On standard input.
    Stdin,
}

/// Where a key is deployed.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Target {
    /// One variable in a dotenv file.
    EnvFile {
        /// The file.
        path: PathBuf,
        /// The variable that receives the secret.
        variable: Option<String>,
        /// Several variables set in one atomic write, each a template of
        /// `{secret}` and `{key_id}`: e.g. `{ AWS_ACCESS_KEY_ID = "{key_id}",
        /// AWS_SECRET_ACCESS_KEY = "{secret}" }`, so readers never see half a pair.
        #[serde(default)]
        variables: BTreeMap<String, String>,
    },
    /// One value in a JSON file.
    JsonFile {
        /// The file.
        path: PathBuf,
        /// Where the value goes (RFC 6901), e.g. `/db/password`.
        pointer: String,
        /// What is written: `{secret}` (the default), `{key_id}`, or text around them.
        #[serde(default = "default_value")]
        value: String,
    },
    /// A command that installs the key.
    Exec {
        /// Program and arguments (never the secret).
        command: Vec<String>,
        /// How the secret is passed.
        #[serde(default)]
        secret_via: SecretVia,
        /// How long the command may run [default: 30s].
        #[serde(default = "default_timeout", with = "duration")]
        timeout: Duration,
    },
}

/// A test that deployed keys work.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Check {
    /// An HTTP request made with the new key.
    Http {
        /// The URL.
        url: String,
        /// The method [default: GET].
        #[serde(default = "default_method")]
        method: String,
        /// The header carrying the key; `{secret}` is replaced by it.
        #[serde(default = "default_header")]
        header: String,
        /// The status that means success [default: 200].
        #[serde(default = "default_status")]
        expect_status: u16,
        /// How long the request may take [default: 30s].
        #[serde(default = "default_timeout", with = "duration")]
        timeout: Duration,
        /// Retries of a transient failure (no answer, 408, 429, 5xx) [default: 3].
        #[serde(default = "default_retries")]
        retries: u32,
        /// The wait before the first retry; it doubles after each [default: 1s].
        #[serde(default = "default_retry_delay", with = "duration")]
        retry_delay: Duration,
    },
    /// A command that exits 0 when the key works (secret in `REKEY_SECRET`).
    Exec {
        /// Program and arguments.
        command: Vec<String>,
        /// How long it may run [default: 30s].
        #[serde(default = "default_timeout", with = "duration")]
        timeout: Duration,
        /// Retries of a failure (a non-zero exit, a timeout) [default: 3].
        #[serde(default = "default_retries")]
        retries: u32,
        /// The wait before the first retry; it doubles after each [default: 1s].
        #[serde(default = "default_retry_delay", with = "duration")]
        retry_delay: Duration,
    },
}

impl Check {
    /// Retries after the first attempt, and the first wait: a service that
    /// was just given a new key may answer 429 or 503, or a smoke test fail
    /// once, while it reloads.
    pub fn retry(&self) -> (u32, Duration) {
        match self {
            Self::Http { retries, retry_delay, .. } | Self::Exec { retries, retry_delay, .. } => {
                (*retries, *retry_delay)
            }
        }
    }
}

/// Where events go.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Notifier {
    /// A JSON POST signed with HMAC-SHA256 (`X-Rekey-Signature`).
    Webhook {
        /// The URL.
        url: String,
        /// A reference to the signing secret (`env:`, `file:`, `store:`).
        signing_secret: Option<String>,
        /// Attempts after the first [default: 3].
        #[serde(default = "default_retries")]
        retries: u32,
    },
    /// A command that receives the event as JSON on stdin.
    Exec {
        /// Program and arguments.
        command: Vec<String>,
        /// How long it may run [default: 30s].
        #[serde(default = "default_timeout", with = "duration")]
        timeout: Duration,
    },
}

fn default_value() -> String {
    "{secret}".into()
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_method() -> String {
    "GET".into()
}

fn default_header() -> String {
    "Authorization: Bearer {secret}".into()
}

fn default_status() -> u16 {
    200
}

fn default_retries() -> u32 {
    3
}

fn default_retry_delay() -> Duration {
    Duration::from_secs(1)
}
