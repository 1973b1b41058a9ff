//! `rekey plugin call`: one call of a plugin in the sandbox, with its result
//! and request transcript, for a plugin author's edit-run loop.

use super::exit::{InvalidKey, UsageError};
use super::secrets::{self, CREDENTIAL_SECRET_VAR, Secrets};
use super::show::{connections, field, pairs, transcript};
use crate::runtime::{
    CallOptions, Connection, Endpoint, Exchange, Grants, Limits, Outcome, Plugin, PluginError, Runtime,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `rekey plugin call`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Secrets never go on the command line. Admin secrets come from --stdin JSON or from \
REKEY_ADMIN_<FIELD> (e.g. REKEY_ADMIN_ADMIN_TOKEN for `admin-token`); the credential to verify or revoke \
comes from --stdin JSON (the output of `generate --json` works as is) or from --key-id with $REKEY_CREDENTIAL_SECRET.")]
pub struct Args {
    #[command(flatten)]
    pub plugin: PluginArgs,
    /// The function to call.
    call: Call,
    /// The key id of the credential to verify or revoke; its secret comes from $REKEY_CREDENTIAL_SECRET.
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// The rotation id passed to the plugin [default: a fresh one].
    #[arg(long, value_name = "ID")]
    rotation_id: Option<String>,
    /// For a target's write and check: the key as pending, not yet current.
    #[arg(long)]
    staged: bool,
    /// Print the result as JSON, the new secret included.
    #[arg(long)]
    json: bool,
    /// Show the new secret in the text output too.
    #[arg(long)]
    reveal: bool,
}

/// What `plugin call` and `plugin test` share: the plugin, its config and
/// grants, where its secrets come from, and its limits.
#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    /// The plugin file (a WebAssembly component).
    file: PathBuf,
    /// A config value (repeat for more); secret fields are refused here.
    #[arg(long = "config", short = 'c', value_name = "KEY=VALUE", value_parser = parse_pair)]
    config: Vec<(String, String)>,
    /// Let the plugin reach HOST[:PORT], if it also declares it (repeat for more).
    #[arg(long = "grant", value_name = "HOST[:PORT]", value_parser = Endpoint::parse)]
    grants: Vec<Endpoint>,
    /// Use ADDRESS for HOST instead of looking it up, like curl's --resolve (the address is still checked).
    #[arg(long, value_name = "HOST=ADDRESS", value_parser = parse_resolve)]
    resolve: Vec<(String, IpAddr)>,
    /// Trust the CAs in this PEM file, besides the public roots, for the TLS the plugin asks the host for.
    #[arg(long, value_name = "FILE", value_parser = parse_ca)]
    tls_ca: Option<Ca>,
    /// Read secret inputs from stdin as JSON: {"admin_secrets": {..}, "credential": {..}}.
    #[arg(long)]
    stdin: bool,
    /// Deadline of each call, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    timeout: u64,
    /// Memory limit of each call, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    memory: usize,
}

/// The functions that can be called: a provider's, then a deploy target's.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Call {
    /// Create a new key.
    Generate,
    /// Check that a key works.
    Verify,
    /// Revoke a key.
    Revoke,
    /// List the keys the provider holds (with the rotation id each is tagged with).
    ListKeys,
    /// A target: write the credential to the destination (--staged: as pending).
    Write,
    /// A target: whether the destination holds the credential as written.
    Check,
    /// A target: make the staged credential current.
    Promote,
    /// A target: undo the rotation's write; the credential, if given, is the previous key.
    Restore,
}

impl PluginArgs {
    /// The limits the runtime should enforce for these calls.
    pub fn limits(&self) -> Limits {
        Limits { deadline: Duration::from_secs(self.timeout), memory_bytes: self.memory << 20, ..Limits::default() }
    }

    /// Loads the plugin and reads the secret inputs (the credential's by
    /// `key_id`, if given).
    pub async fn load(&self, runtime: &Runtime, key_id: Option<String>) -> anyhow::Result<(Plugin, Secrets)> {
        let plugin = runtime.load(&self.file).await?;
        let secrets = secrets::read(self.stdin, plugin.info(), key_id)?;
        Ok((plugin, secrets))
    }

    /// The options of one call with `rotation_id`.
    pub fn options(&self, admin_secrets: &BTreeMap<String, String>, rotation_id: String) -> CallOptions {
        CallOptions {
            config: self.config.iter().cloned().collect(),
            admin_secrets: admin_secrets.clone(),
            grants: Grants {
                endpoints: self.grants.clone(),
                resolve: self.resolve.iter().cloned().collect(),
                ca: self.tls_ca.clone().map(|ca| ca.0).unwrap_or_default(),
            },
            rotation_id,
            known_secrets: vec![],
            tape: None,
        }
    }
}

/// The certificates of `--tls-ca`.
#[derive(Clone, Debug)]
struct Ca(Vec<rustls::pki_types::CertificateDer<'static>>);

fn parse_ca(path: &str) -> Result<Ca, String> {
    crate::runtime::read_ca(std::path::Path::new(path)).map(Ca)
}

/// Loads the plugin, runs the call and prints what happened.
pub async fn run(args: Args, runtime: &Runtime) -> anyhow::Result<()> {
    let (plugin, secrets) = args.plugin.load(runtime, args.key_id.clone()).await?;
    let options =
        args.plugin.options(&secrets.admin_secrets, args.rotation_id.clone().unwrap_or_else(fresh_rotation_id));
    let credential = || {
        secrets.credential.clone().ok_or_else(|| {
            UsageError(format!(
                "this call needs the credential: pipe it as JSON with --stdin, or give --key-id with ${CREDENTIAL_SECRET_VAR}"
            ))
        })
    };
    let report = match args.call {
        Call::Generate => Report::from(
            &plugin,
            "generate",
            plugin.generate(&options).await,
            |c| serde_json::json!({ "credential": c }),
        ),
        Call::Verify => {
            let credential = credential()?;
            Report::from(
                &plugin,
                "verify",
                plugin.verify(&options, &credential).await,
                |v| serde_json::json!({ "verification": v }),
            )
        }
        Call::Revoke => {
            let credential = credential()?;
            Report::from(&plugin, "revoke", plugin.revoke(&options, &credential).await, |()| serde_json::json!({}))
        }
        Call::ListKeys => Report::from(
            &plugin,
            "list-keys",
            plugin.list_keys(&options).await,
            |keys| serde_json::json!({ "keys": keys }),
        ),
        Call::Write => {
            let credential = credential()?;
            Report::from(
                &plugin,
                "write",
                plugin.write(&options, &credential, args.staged).await,
                |placed| serde_json::json!({ "placed": placed }),
            )
        }
        Call::Check => {
            let credential = credential()?;
            Report::from(
                &plugin,
                "check",
                plugin.check(&options, &credential, args.staged).await,
                |v| serde_json::json!({ "verification": v }),
            )
        }
        Call::Promote => {
            let credential = credential()?;
            Report::from(&plugin, "promote", plugin.promote(&options, &credential).await, |()| serde_json::json!({}))
        }
        Call::Restore => {
            Report::from(&plugin, "restore", plugin.restore(&options, secrets.credential.as_ref()).await, |()| {
                serde_json::json!({})
            })
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.json)?);
    } else {
        report.print(args.reveal);
    }
    match report.error {
        Some(error) => Err(error.into()),
        None if report.json["verification"]["valid"] == false => Err(InvalidKey.into()),
        None => Ok(()),
    }
}

/// A call's outcome, ready to print.
struct Report {
    json: serde_json::Value,
    transcript: Vec<Exchange>,
    connections: Vec<Connection>,
    error: Option<PluginError>,
}

impl Report {
    fn from<T>(plugin: &Plugin, call: &str, outcome: Outcome<T>, result: impl FnOnce(T) -> serde_json::Value) -> Self {
        let mut json = serde_json::json!({
            "plugin": { "name": plugin.info().name, "version": plugin.info().version, "sha256": plugin.digest() },
            "call": call,
            "elapsed_ms": outcome.elapsed.as_secs_f64() * 1000.0,
            "transcript": outcome.transcript,
            "connections": outcome.connections,
        });
        let error = match outcome.result {
            Ok(value) => {
                json["ok"] = true.into();
                if let serde_json::Value::Object(fields) = result(value) {
                    json.as_object_mut().expect("built as an object").extend(fields);
                }
                None
            }
            Err(error) => {
                json["ok"] = false.into();
                json["error"] = serde_json::json!({ "kind": error.kind(), "message": error.to_string() });
                Some(error)
            }
        };
        Self { json, transcript: outcome.transcript, connections: outcome.connections, error }
    }

    fn print(&self, reveal: bool) {
        let j = &self.json;
        field("plugin", format!("{} {}", str(&j["plugin"]["name"]), str(&j["plugin"]["version"])));
        let status = if self.error.is_some() { "failed" } else { "ok" };
        field(
            "call",
            format!("{} {status} in {:.1} ms", str(&j["call"]), j["elapsed_ms"].as_f64().unwrap_or_default()),
        );
        if let Some(error) = &self.error {
            field("error", format!("[{}] {error}", error.kind()));
        }
        if let Ok(credential) = serde_json::from_value::<crate::runtime::Credential>(j["credential"].clone()) {
            field("key id", &credential.key_id);
            if reveal {
                field("secret", &credential.secret);
            } else {
                field(
                    "secret",
                    format!(
                        "{} characters (hidden; --reveal or --json to print it)",
                        credential.secret.chars().count()
                    ),
                );
            }
            field("attributes", pairs(credential.attributes.iter().map(|p| (p.key.as_str(), p.value.as_str()))));
            if let Some(expires) = credential.expires_at {
                field("expires at", format!("{expires} (unix seconds)"));
            }
        }
        if let Ok(v) = serde_json::from_value::<crate::runtime::Verification>(j["verification"].clone()) {
            field("valid", if v.valid { "yes" } else { "no" });
            if let Some(detail) = &v.detail {
                field("detail", detail);
            }
            if let Some(last_used) = v.last_used {
                field("last used", format!("{last_used} (unix seconds)"));
            }
        }
        if let Ok(placed) = serde_json::from_value::<crate::runtime::Placed>(j["placed"].clone()) {
            field("location", &placed.location);
            field("revision", placed.revision.as_deref().unwrap_or("none"));
        }
        if let Some(keys) = j["keys"].as_array() {
            field("keys", format!("{} listed", keys.len()));
            for key in keys {
                let tag = key["tag"].as_str().map_or("no tag".into(), |tag| format!("tag {tag:?}"));
                println!("  {}  {tag}", str(&key["key_id"]));
            }
        }
        transcript(&self.transcript);
        connections(&self.connections);
    }
}

fn str(value: &serde_json::Value) -> &str {
    value.as_str().unwrap_or_default()
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text.split_once('=').ok_or_else(|| format!("`{text}` is not KEY=VALUE"))?;
    Ok((key.trim().to_string(), value.to_string()))
}

fn parse_resolve(text: &str) -> Result<(String, IpAddr), String> {
    let (host, address) = parse_pair(text)?;
    let address = address.parse().map_err(|_| format!("`{address}` is not an IP address"))?;
    Ok((host.to_ascii_lowercase(), address))
}

/// A rotation id unique enough for one-off calls: time and process.
pub fn fresh_rotation_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("call-{nanos:x}-{:x}", std::process::id())
}
