//! A credential as the rest of rekey reads it: parsed once, when
//! `rekey.toml` is, from the spanned form serde reads (`model.rs`). Its
//! provider kind, plugin config, secret references, grants and CAs are
//! typed here, so no later layer re-reads TOML or repeats a check.

use super::model::{CredentialSpec, PluginTargetSpec, Policy, StageSpec};
use super::{Check, MANUAL, TOKEN, Target};
use crate::access::{Role, Scope};
use crate::runtime::Endpoint;
use crate::store::reference::Reference;
use rustls::pki_types::CertificateDer;
use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One managed credential.
#[derive(Debug)]
pub struct Credential {
    /// Its name: lower-case letters, digits, `-`, `_` and `.`.
    pub name: String,
    /// The plugin as written in `rekey.toml`: a name, a path, `manual` or
    /// `rekey-token`.
    pub plugin: String,
    /// What makes and revokes its keys.
    pub provider: Provider,
    /// The plugin's config (not secret), each value as text.
    pub config: BTreeMap<String, String>,
    /// Where the admin secrets come from, by the name the plugin asks for.
    pub admin_secrets: BTreeMap<String, Reference>,
    /// Network endpoints the plugin may reach.
    pub grants: Vec<Endpoint>,
    /// The certificates of its `tls_ca`, trusted besides the public roots.
    pub tls_ca: Vec<CertificateDer<'static>>,
    /// When to rotate and who to tell.
    pub policy: Policy,
    /// Where the key goes, stage by stage, in order.
    pub stages: Vec<Stage>,
}

/// What makes a credential's keys.
#[derive(Debug)]
pub enum Provider {
    /// A WebAssembly plugin.
    Plugin(PluginRef),
    /// A person, at the vendor's console (`plugin = "manual"`).
    Manual,
    /// rekey itself: its own API tokens (`plugin = "rekey-token"`).
    Token(TokenGrant),
}

/// The role and scope a `rekey-token` credential's tokens get.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    /// Their role.
    pub role: Role,
    /// The globs of credential names they cover (empty: all).
    pub scope: Vec<String>,
}

/// A plugin as a credential or a target names it.
#[derive(Clone, Debug)]
pub struct PluginRef {
    /// The name it is approved under: as written, or the file stem of a
    /// path (`./x/my_plugin.wasm` is `my-plugin`).
    pub name: String,
    /// Its file when written as a path (absolute); otherwise it is looked
    /// up by name ([`super::Config::find_plugin`]).
    pub file: Option<PathBuf>,
}

/// One deployment stage.
#[derive(Debug)]
pub struct Stage {
    /// `dev`, `staging`, `prod`…
    pub name: String,
    /// Where the key is written.
    pub targets: Vec<Destination>,
    /// What must pass before the next stage.
    pub checks: Vec<Check>,
}

/// Where a stage writes the key.
#[derive(Clone, Debug)]
pub enum Destination {
    /// A target built into the host (a file, a command).
    Builtin(Target),
    /// A deploy target plugin, run in the sandbox.
    Plugin(PluginTarget),
}

/// A deploy target plugin and the settings of its calls.
#[derive(Clone, Debug)]
pub struct PluginTarget {
    /// The plugin.
    pub plugin: PluginRef,
    /// Its config (not secret), each value as text.
    pub config: BTreeMap<String, String>,
    /// Where its admin secrets come from.
    pub admin_secrets: BTreeMap<String, Reference>,
    /// Network endpoints it may reach.
    pub grants: Vec<Endpoint>,
    /// The certificates of its `tls_ca`.
    pub tls_ca: Vec<CertificateDer<'static>>,
}

/// A mistake at a place in the text: its byte range and what is wrong.
pub(super) type Invalid = (Range<usize>, String);

impl Credential {
    /// Whether its key is made by hand.
    pub fn is_manual(&self) -> bool {
        matches!(self.provider, Provider::Manual)
    }

    /// Whether its keys are rekey's own API tokens.
    pub fn is_token(&self) -> bool {
        matches!(self.provider, Provider::Token(_))
    }

    /// The name its plugin goes by in approvals, metrics and the audit log.
    pub fn plugin_name(&self) -> &str {
        match &self.provider {
            Provider::Plugin(plugin) => &plugin.name,
            Provider::Manual => MANUAL,
            Provider::Token(_) => TOKEN,
        }
    }

    /// Parses and checks `spec`; relative paths start at `dir`.
    pub(super) fn parse(spec: CredentialSpec, dir: &Path) -> Result<Self, Invalid> {
        let name = spec.name.get_ref().clone();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || matches!(ch, '-' | '_' | '.'))
            && !name.starts_with('.');
        if !valid {
            return Err((spec.name.span(), format!("credential name `{name}`: use 1-64 of a-z, 0-9, `-`, `_`, `.`")));
        }
        let wrong = |span: Range<usize>, what: String| (span, format!("credential `{name}`: {what}"));
        let mut config = BTreeMap::new();
        for (field, value) in spec.config {
            let text = config_text(&field, value.get_ref()).map_err(|e| wrong(value.span(), e))?;
            config.insert(field, text);
        }
        let mut admin_secrets = BTreeMap::new();
        for (field, reference) in spec.admin_secrets {
            let parsed = Reference::parse(reference.get_ref())
                .map_err(|e| wrong(reference.span(), format!("admin_secrets.{field}: {e}")))?;
            admin_secrets.insert(field, parsed);
        }
        let grants = spec
            .grants
            .iter()
            .map(|grant| Endpoint::parse(grant.get_ref()).map_err(|e| wrong(grant.span(), format!("grants: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let tls_ca = match &spec.tls_ca {
            Some(ca) => read_ca(dir, ca.get_ref()).map_err(|e| wrong(ca.span(), e))?,
            None => vec![],
        };
        let plugin = spec.plugin.get_ref().clone();
        let set = |fields: &[(&'static str, bool)]| fields.iter().find_map(|(field, set)| set.then_some(*field));
        let provider = match plugin.as_str() {
            MANUAL => {
                let provider_fields = [
                    ("config", !config.is_empty()),
                    ("admin_secrets", !admin_secrets.is_empty()),
                    ("grants", !grants.is_empty()),
                    ("policy.verify_every", spec.policy.verify_every.is_some()),
                ];
                if let Some(field) = set(&provider_fields) {
                    return Err(wrong(
                        spec.plugin.span(),
                        format!(
                            "a manual credential has no provider to configure or ask, so `{field}` does not apply; remove it"
                        ),
                    ));
                }
                Provider::Manual
            }
            TOKEN => {
                if let Some(field) =
                    set(&[("admin_secrets", !admin_secrets.is_empty()), ("grants", !grants.is_empty())])
                {
                    return Err(wrong(spec.plugin.span(), format!("{TOKEN} needs no `{field}`; remove it")));
                }
                let grant = TokenGrant::parse(&config)
                    .map_err(|e| (spec.plugin.span(), format!("credential `{name}` ({TOKEN}): {e}")))?;
                Provider::Token(grant)
            }
            written => Provider::Plugin(PluginRef::parse(written, dir)),
        };
        if spec.policy.remind_before.iter().any(std::time::Duration::is_zero) {
            return Err(wrong(
                spec.name.span(),
                "policy.remind_before: a reminder 0s before is no reminder; use e.g. \"1d\"".into(),
            ));
        }
        let mut seen = HashSet::new();
        let mut stages = Vec::with_capacity(spec.stages.len());
        for stage in spec.stages {
            let stage = Stage::parse(stage, dir, &mut seen).map_err(|(span, e)| wrong(span, e))?;
            stages.push(stage);
        }
        Ok(Self { name, plugin, provider, config, admin_secrets, grants, tls_ca, policy: spec.policy, stages })
    }
}

impl Stage {
    /// Checks one stage; `seen` holds the names of the stages before it.
    fn parse(spec: StageSpec, dir: &Path, seen: &mut HashSet<String>) -> Result<Self, Invalid> {
        let name = spec.name.get_ref().clone();
        let wrong = |what: &str| (spec.name.span(), format!("stage `{name}`{what}"));
        if !seen.insert(name.clone()) {
            return Err(wrong(" is declared twice"));
        }
        let targets = spec
            .targets
            .into_iter()
            .map(|target| {
                let span = target.span();
                Destination::parse(target.into_inner(), dir).map_err(|e| (span, format!("stage `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let commands = targets
            .iter()
            .filter_map(|t| match t {
                Destination::Builtin(Target::Exec { command, .. }) => Some(command),
                _ => None,
            })
            .chain(spec.checks.iter().filter_map(|c| match c {
                Check::Exec { command, .. } => Some(command),
                Check::Http { .. } => None,
            }));
        if commands.into_iter().any(Vec::is_empty) {
            return Err(wrong(": an exec command is empty"));
        }
        Ok(Self { name, targets, checks: spec.checks })
    }
}

impl Destination {
    /// A target as written: a plugin's (it names a `plugin`) or a built-in
    /// one (it names a `type`).
    fn parse(value: toml::Value, dir: &Path) -> Result<Self, String> {
        let is_plugin = value.as_table().is_some_and(|table| table.contains_key("plugin"));
        if !is_plugin {
            let target: Target = value.try_into().map_err(|e: toml::de::Error| e.message().trim().to_string())?;
            if let Target::EnvFile { variable, variables, .. } = &target
                && variable.is_some() != variables.is_empty()
            {
                return Err("an env-file target takes `variable` or `variables`, exactly one of them".into());
            }
            return Ok(Self::Builtin(target));
        }
        let spec: PluginTargetSpec =
            value.try_into().map_err(|e: toml::de::Error| format!("target plugin: {}", e.message().trim()))?;
        let plugin = &spec.plugin;
        let wrong = |e: String| format!("target `{plugin}`: {e}");
        let mut config = BTreeMap::new();
        for (field, value) in &spec.config {
            config.insert(field.clone(), config_text(field, value).map_err(wrong)?);
        }
        let mut admin_secrets = BTreeMap::new();
        for (field, reference) in &spec.admin_secrets {
            let parsed = Reference::parse(reference).map_err(|e| wrong(format!("admin_secrets.{field}: {e}")))?;
            admin_secrets.insert(field.clone(), parsed);
        }
        let grants = spec
            .grants
            .iter()
            .map(|grant| Endpoint::parse(grant).map_err(|e| wrong(format!("grants: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let tls_ca = match &spec.tls_ca {
            Some(ca) => read_ca(dir, ca).map_err(wrong)?,
            None => vec![],
        };
        if [MANUAL, TOKEN].contains(&plugin.as_str()) {
            return Err(format!("`{plugin}` is not a deploy target plugin; name one, such as aws-secrets-manager"));
        }
        Ok(Self::Plugin(PluginTarget { plugin: PluginRef::parse(plugin, dir), config, admin_secrets, grants, tls_ca }))
    }
}

impl PluginRef {
    /// A plugin as written: a name, or a path to its `.wasm` (relative to `dir`).
    fn parse(written: &str, dir: &Path) -> Self {
        if written.ends_with(".wasm") || written.contains('/') {
            let path = Path::new(written);
            Self { name: super::plugin_name_of(path), file: Some(super::resolved(dir, path)) }
        } else {
            Self { name: written.into(), file: None }
        }
    }
}

/// A plugin config value as the plugin receives it: text.
fn config_text(field: &str, value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Table(_) | toml::Value::Array(_) => {
            Err(format!("config.{field} must be a string, number or boolean"))
        }
        other => Ok(other.to_string()),
    }
}

/// The certificates of a `tls_ca` file, relative to `dir`.
fn read_ca(dir: &Path, ca: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    crate::runtime::read_ca(&super::resolved(dir, ca)).map_err(|e| format!("tls_ca: {e}"))
}

impl TokenGrant {
    /// Reads a `rekey-token` credential's `config`: `role`, and
    /// `credentials` as comma-separated globs.
    pub fn parse(config: &BTreeMap<String, String>) -> Result<Self, String> {
        let role = config.get("role").ok_or("config.role is required: viewer, auditor, rotator or admin")?;
        let role =
            Role::parse(role).ok_or_else(|| format!("config.role `{role}`: use viewer, auditor, rotator or admin"))?;
        let scope: Vec<String> = config
            .get("credentials")
            .map(|globs| globs.split(',').map(str::trim).filter(|g| !g.is_empty()).map(String::from).collect())
            .unwrap_or_default();
        Scope::new(scope.clone()).map_err(|e| format!("config.credentials: {e}"))?;
        if let Some(field) = config.keys().find(|k| !matches!(k.as_str(), "role" | "credentials")) {
            return Err(format!(
                "config.{field} is not a setting of {TOKEN}: only role and credentials (comma-separated globs)"
            ));
        }
        Ok(Self { role, scope })
    }
}
