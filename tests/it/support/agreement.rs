//! Whether the provider, the store and the targets agree, after a crash
//! or a campaign of them: every live key at the provider is a live version
//! in the store (no orphan), every live version is live at the provider
//! (nothing lost), each target holds its current key (nothing stale), no
//! rotation is left open, no key is suspected, and the audit chain verifies.

use super::{KeyServer, Project};
use std::collections::BTreeSet;

/// What disagrees between the provider, the store and the targets.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Disagreement {
    /// Live at the provider, not live in the store.
    pub orphans: Vec<String>,
    /// Live in the store, gone at the provider.
    pub lost: Vec<String>,
    /// Targets that do not hold their current key.
    pub stale: Vec<String>,
    /// Rotations still open.
    pub open: Vec<String>,
    /// Keys suspected of being orphans and not settled.
    pub suspects: Vec<String>,
    /// Where the audit chain breaks.
    pub audit: Option<String>,
}

/// Compares the provider, the store (opened in this process) and the targets.
pub fn disagreement(project: &Project, server: &KeyServer, names: &[String]) -> Disagreement {
    let dir = project.dir.path();
    let store = rekey::state::open(&rekey::config::Config::load(&dir.join("rekey.toml")).unwrap()).unwrap();
    let live: BTreeSet<String> = server.keys.lock().unwrap().keys().cloned().collect();
    let mut stored = BTreeSet::new();
    let mut found = Disagreement::default();
    for name in names {
        for version in store.versions(name).unwrap().into_iter().filter(|v| v.revoked_at.is_none()) {
            if !live.contains(&version.key_id) {
                found.lost.push(format!("{name} v{} {}", version.version, version.key_id));
            }
            stored.insert(version.key_id);
        }
        let current = store.labeled(name, rekey::store::versions::Label::Current).unwrap();
        let deployed = super::env_value(&dir.join(format!("{name}.env")), "KEY");
        if current.is_some_and(|c| store.secret(&c).unwrap().as_str() != deployed) {
            found.stale.push(name.clone());
        }
    }
    found.orphans = live.difference(&stored).cloned().collect();
    found.open = store.open_rotations().unwrap().into_iter().map(|r| r.id).collect();
    found.suspects = store.suspects(None).unwrap().into_iter().map(|s| s.reason).collect();
    found.audit = store.verify_audit().unwrap().err().map(|e| e.to_string());
    found
}
