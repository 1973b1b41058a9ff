//! Every credential's standing at once — its current version, its last and
//! its open rotation, its suspected orphans — for `rekey status` and for
//! choosing the credentials that are due. Four queries, however many
//! credentials there are, instead of four per credential; or, for one
//! credential (a page or an API request about it), four about it alone.

use super::rotations::Rotation;
use super::suspects::Suspect;
use super::versions::{self, Version};
use super::{Store, StoreError};
use std::collections::HashMap;

/// The standing of every credential the store knows, by name.
#[derive(Default)]
pub struct Overview {
    current: HashMap<String, Version>,
    last: HashMap<String, Rotation>,
    open: HashMap<String, Rotation>,
    suspects: HashMap<String, Vec<Suspect>>,
}

impl Overview {
    /// The current version of a credential.
    pub fn current(&self, credential: &str) -> Option<&Version> {
        self.current.get(credential)
    }

    /// Its most recent rotation.
    pub fn last_rotation(&self, credential: &str) -> Option<&Rotation> {
        self.last.get(credential)
    }

    /// Its unfinished rotation (running or in its grace period).
    pub fn open_rotation(&self, credential: &str) -> Option<&Rotation> {
        self.open.get(credential)
    }

    /// Its unresolved suspected orphans.
    pub fn suspects(&self, credential: &str) -> &[Suspect] {
        self.suspects.get(credential).map_or(&[], Vec::as_slice)
    }
}

impl Store {
    /// Reads the standing of every credential.
    pub fn overview(&self) -> Result<Overview, StoreError> {
        let by_name = |rotations: Vec<Rotation>| rotations.into_iter().map(|r| (r.credential.clone(), r)).collect();
        let mut suspects: HashMap<String, Vec<Suspect>> = HashMap::new();
        for suspect in self.suspects(None)? {
            suspects.entry(suspect.credential.clone()).or_default().push(suspect);
        }
        Ok(Overview {
            current: self
                .all_labeled(versions::Label::Current)?
                .into_iter()
                .map(|v| (v.credential.clone(), v))
                .collect(),
            last: by_name(self.latest_rotations()?),
            open: by_name(self.open_rotations()?),
            suspects,
        })
    }

    /// Reads the standing of `credential` alone.
    pub fn overview_of(&self, credential: &str) -> Result<Overview, StoreError> {
        let suspects = self.suspects(Some(credential))?;
        Ok(Overview {
            current: one(credential, self.labeled(credential, versions::Label::Current)?),
            last: one(credential, self.last_rotation(credential)?),
            open: one(credential, self.open_rotation(credential)?),
            suspects: one(credential, Some(suspects).filter(|s| !s.is_empty())),
        })
    }
}

/// `found`, if any, under `credential`'s name.
fn one<T>(credential: &str, found: Option<T>) -> HashMap<String, T> {
    found.map(|v| (credential.to_string(), v)).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use crate::rotations::State;
    use crate::versions::Key;

    #[test]
    fn the_overview_agrees_with_the_per_credential_queries() {
        let (_dir, store) = crate::tests::scratch();
        let key_of = |id: &str| Key { key_id: id.into(), secret: "s".into(), attributes: vec![], expires_at: None };
        store.import("a", &key_of("a1")).unwrap();
        store.import("b", &key_of("b1")).unwrap();
        let first = store.start_rotation("a", false).unwrap();
        store.finish(&first, State::Succeeded, None).unwrap();
        let second = store.start_rotation("a", false).unwrap();
        store.suspect("b", None, Some("b0"), "a test").unwrap();

        let overview = store.overview().unwrap();
        assert_eq!(overview.current("a").map(|v| v.key_id.as_str()), Some("a1"));
        assert_eq!(overview.last_rotation("a").map(|r| r.id.as_str()), Some(second.id.as_str()));
        assert_eq!(overview.open_rotation("a").map(|r| r.id.as_str()), Some(second.id.as_str()));
        assert!(overview.open_rotation("b").is_none() && overview.last_rotation("b").is_none());
        assert_eq!(overview.suspects("b").len(), 1);
        assert!(overview.suspects("a").is_empty() && overview.current("c").is_none());

        for name in ["a", "b", "c"] {
            let one = store.overview_of(name).unwrap();
            let id = |v: Option<&crate::rotations::Rotation>| v.map(|r| r.id.clone());
            assert_eq!(one.current(name).map(|v| v.version), overview.current(name).map(|v| v.version), "{name}");
            assert_eq!(id(one.last_rotation(name)), id(overview.last_rotation(name)), "{name}");
            assert_eq!(id(one.open_rotation(name)), id(overview.open_rotation(name)), "{name}");
            assert_eq!(one.suspects(name).len(), overview.suspects(name).len(), "{name}");
        }
        assert!(store.overview_of("a").unwrap().current("b").is_none(), "one credential's, nothing else");
    }
}
