//! Every credential's standing at once — its current version, its last and
//! its open rotation, its suspected orphans — for `rekey status` and for
//! choosing the credentials that are due. Four queries, however many
//! credentials there are, instead of four per credential.

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
}

#[cfg(test)]
mod tests {
    use crate::runtime::Credential;
    use crate::store::rotations::State;

    #[test]
    fn the_overview_agrees_with_the_per_credential_queries() {
        let (_dir, store) = crate::store::tests::scratch();
        let key_of =
            |id: &str| Credential { key_id: id.into(), secret: "s".into(), attributes: vec![], expires_at: None };
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
    }
}
