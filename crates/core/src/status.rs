//! Where each declared credential stands — its current version, age, due
//! date, last use and check, last rotation, anything in progress, keys
//! suspected orphaned — and each rotation's history: what `rekey status`
//! and `rekey history` print, and what the API's `/v1/credentials` serves,
//! from one place.

use crate::config::Config;
use crate::config::Credential;
use crate::store::overview::Overview;
use crate::store::rotations::{JournalEntry, Rotation, State};
use crate::store::suspects::Suspect;
use crate::store::{Store, StoreError};

/// One credential's standing.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Standing {
    /// The credential's name.
    pub name: String,
    /// The current version.
    pub version: Option<i64>,
    /// The current key's id at the provider (not secret).
    pub key_id: Option<String>,
    /// Seconds since the current key was made.
    pub age_seconds: Option<i64>,
    /// When it is due (none: it has no key, so now).
    pub due_at: Option<i64>,
    /// Whether it is due now.
    pub due: bool,
    /// When the provider last saw the key used.
    pub last_used_at: Option<i64>,
    /// When the provider was last asked.
    pub checked_at: Option<i64>,
    /// What the provider last said of the key.
    pub valid: Option<bool>,
    /// Whether the key went unused past `unused_after`.
    pub unused: bool,
    /// The last rotation.
    pub last_rotation: Option<LastRotation>,
    /// A rotation not finished yet.
    pub in_progress: Option<InProgress>,
    /// Keys the provider may hold that nobody does.
    pub suspected_orphans: Vec<Suspect>,
}

/// The last rotation of a credential.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LastRotation {
    /// Its id.
    pub id: String,
    /// How it ended, or stands.
    pub state: State,
    /// Unix seconds.
    pub started_at: i64,
    /// Why it failed.
    pub error: Option<String>,
}

/// A rotation not finished yet.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct InProgress {
    /// Its id.
    pub id: String,
    /// Where it stands: `running`, `interrupted` (no process holds its
    /// credential), `grace`, or `awaiting-revocation` (a manual
    /// credential's old key waits for a person).
    pub state: String,
    /// What someone must do for it to go on, if anything.
    pub next: Option<String>,
    /// When the previous key is revoked.
    pub revoke_after: Option<i64>,
}

/// A rotation with its journal.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RotationRecord {
    /// The rotation.
    pub rotation: Rotation,
    /// Its steps, in order.
    pub journal: Vec<JournalEntry>,
    /// Where its key went, in order (a resumed deploy may repeat one).
    #[serde(default)]
    pub deployed: Vec<Deployed>,
}

/// One target that took a rotation's key, from its `key.deployed` audit
/// entry (never the secret).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Deployed {
    /// The stage.
    pub stage: String,
    /// The target plugin; none for a built-in target.
    pub plugin: Option<String>,
    /// Where the key went, as the target says: a secret and its region,
    /// an env file and its variables.
    pub location: String,
    /// The destination's revision, where it has one (a version id).
    pub revision: Option<String>,
    /// What the target's check found.
    pub checked: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

impl Deployed {
    /// Where the key went and through which plugin, for people.
    pub fn describe(&self) -> String {
        match &self.plugin {
            Some(plugin) => format!("{} by {plugin}", self.location),
            None => self.location.clone(),
        }
    }

    /// The deployment an audit entry records, if it is one.
    fn of(entry: &crate::store::audit::Entry) -> Option<Self> {
        let detail = &entry.detail;
        let text = |field: &str| detail[field].as_str().map(String::from);
        Some(Self {
            stage: text("stage")?,
            plugin: text("plugin"),
            location: text("location")?,
            revision: text("revision"),
            checked: text("checked"),
            at: entry.at,
        })
    }
}

/// The standing of each credential `config` declares for which `wanted`
/// holds, in declaration order, at `now`.
pub fn standings(
    config: &Config,
    store: &Store,
    now: i64,
    wanted: impl Fn(&str) -> bool,
) -> Result<Vec<Standing>, StoreError> {
    let specs: Vec<&Credential> = config.credentials().iter().filter(|spec| wanted(&spec.name)).collect();
    standings_of(config, store, now, &specs)
}

/// Hands the standing of each declared credential that `wanted` names to
/// `each`, in declaration order, as it is read: `rekey status` prints
/// 10,000 without holding them all.
pub fn for_each_standing<E: From<StoreError>>(
    config: &Config,
    store: &Store,
    now: i64,
    wanted: impl Fn(&str) -> bool,
    mut each: impl FnMut(Standing) -> Result<(), E>,
) -> Result<(), E> {
    let overview = store.overview()?;
    for spec in config.credentials().iter().filter(|spec| wanted(&spec.name)) {
        each(standing_in(&overview, spec, store, now)?)?;
    }
    Ok(())
}

/// The standings of `specs` (declared in `config`), read on one snapshot
/// of the store: a few of many (a page, a narrow scope) one credential at
/// a time, more with the overview's four queries over every credential.
pub fn standings_of(
    config: &Config,
    store: &Store,
    now: i64,
    specs: &[&Credential],
) -> Result<Vec<Standing>, StoreError> {
    const FEW: usize = 128;
    store.snapshot(|| {
        if specs.len() <= FEW || specs.len() * 8 <= config.credentials().len() {
            let each = |spec: &&Credential| standing_in(&store.overview_of(&spec.name)?, spec, store, now);
            specs.iter().map(each).collect()
        } else {
            let overview = store.overview()?;
            specs.iter().map(|spec| standing_in(&overview, spec, store, now)).collect()
        }
    })
}

/// The standing of the credential `name`, if declared, reading the store
/// about it alone.
pub fn standing(config: &Config, store: &Store, now: i64, name: &str) -> Result<Option<Standing>, StoreError> {
    match config.credential(name) {
        Some(spec) => Ok(Some(standing_in(&store.overview_of(name)?, spec, store, now)?)),
        None => Ok(None),
    }
}

/// The standing of `spec` in `overview`.
fn standing_in(overview: &Overview, spec: &Credential, store: &Store, now: i64) -> Result<Standing, StoreError> {
    let name = &spec.name;
    let current = overview.current(name);
    let due_at = crate::rotation::due::due_at(spec, current);
    let in_progress = match overview.open_rotation(name) {
        Some(r) => {
            let (state, next) = progress(r, spec, now, store)?;
            Some(InProgress { id: r.id.clone(), state, next, revoke_after: r.revoke_after })
        }
        None => None,
    };
    Ok(Standing {
        name: name.clone(),
        version: current.map(|v| v.version),
        key_id: current.map(|v| v.key_id.clone()),
        age_seconds: current.map(|v| now - v.created_at),
        due_at,
        due: due_at.is_none_or(|t| t <= now),
        last_used_at: current.and_then(|v| v.last_used_at),
        checked_at: current.and_then(|v| v.checked_at),
        valid: current.and_then(|v| v.valid),
        unused: current.is_some_and(|v| crate::rotation::due::is_unused(spec, v, now)),
        last_rotation: overview.last_rotation(name).map(|r| LastRotation {
            id: r.id.clone(),
            state: r.state,
            started_at: r.started_at,
            error: r.error.clone(),
        }),
        in_progress,
        suspected_orphans: overview.suspects(name).to_vec(),
    })
}

/// Every rotation of `credential`, newest first, with its journal and
/// where its key went.
pub fn history(store: &Store, credential: &str) -> Result<Vec<RotationRecord>, StoreError> {
    let mut deployed: std::collections::HashMap<String, Vec<Deployed>> = Default::default();
    for entry in store.audit_events(credential, crate::rotation::DEPLOYED)? {
        if let (Some(rotation), Some(deployment)) = (&entry.rotation, Deployed::of(&entry)) {
            deployed.entry(rotation.clone()).or_default().push(deployment);
        }
    }
    store
        .rotations(credential)?
        .into_iter()
        .map(|rotation| {
            let journal = store.journal(&rotation.id)?;
            Ok(RotationRecord { deployed: deployed.remove(&rotation.id).unwrap_or_default(), journal, rotation })
        })
        .collect()
}

/// Where an open rotation stands, and what someone must do for it to go
/// on: one no process holds is interrupted until resumed; a manual
/// credential past its grace period waits for a person.
fn progress(
    rotation: &Rotation,
    spec: &Credential,
    now: i64,
    store: &Store,
) -> Result<(String, Option<String>), StoreError> {
    let name = &rotation.credential;
    Ok(match rotation.state {
        State::Running if crate::rotation::allowed::interrupted(store, rotation)? => {
            ("interrupted".into(), Some(format!("rekey resume {name}")))
        }
        State::Grace if spec.is_manual() && rotation.revoke_after.is_none_or(|t| t <= now) => (
            "awaiting-revocation".into(),
            Some(format!("revoke the old key at the vendor, then rekey confirm-revoked {name}")),
        ),
        state => (state.as_str().into(), None),
    })
}

/// A rotation's change of version, as `v1 → v2`, `none → v1`.
pub fn versions(from: Option<i64>, to: Option<i64>) -> String {
    let version = |v: Option<i64>| v.map_or_else(|| "none".into(), |v| format!("v{v}"));
    format!("{} → {}", version(from), version(to))
}
