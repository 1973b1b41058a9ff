//! Re-keying a store (`rekey store rewrap --to …`): every secret sealed,
//! the key check and the audit chain's MACs made anew under a new master
//! key — a fresh random key file, or a data key from a KMS key — in one
//! transaction. A crash leaves the store wholly under the old key or
//! wholly under the new one, never part of each.

use super::crypto::{KeySource, Sealer};
use super::sql::args;
use super::{Store, StoreError, schema};

/// What a re-keying did.
#[derive(Debug)]
pub struct Rewrapped {
    /// Secrets sealed anew.
    pub secrets: usize,
    /// Audit entries keyed anew (the `store.rewrapped` entry included).
    pub audit_entries: usize,
}

impl Store {
    /// Seals everything anew under a new master key from `to` (a KMS data
    /// key, or a new random key in a key file that must not exist yet), and
    /// from then on uses it. A key file made for a re-keying that failed is
    /// removed again.
    pub fn rewrap(&mut self, to: &KeySource) -> Result<Rewrapped, StoreError> {
        let salt = schema::salt(&self.db)?;
        let (master, wrapped) = to.new_master_key(&salt)?;
        let new = Sealer::new(&master);
        let secrets = self.write(|| {
            let rows = self.all("SELECT credential, version, secret FROM versions", &[], |r| {
                Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<Vec<u8>>(2)?))
            })?;
            for (credential, version, sealed) in &rows {
                let identity = format!("secret/{credential}/{version}");
                let plain = self.sealer.open(&identity, sealed)?;
                self.execute(
                    "UPDATE versions SET secret = ?3 WHERE credential = ?1 AND version = ?2",
                    args![credential, *version, new.seal(&identity, &plain)],
                )?;
            }
            schema::set_key_check(&self.db, &new)?;
            match &wrapped {
                Some(wrapped) => schema::set_wrapped_key(&self.db, wrapped)?,
                None => schema::clear_wrapped_key(&self.db)?,
            }
            self.rechain(&new, "store.rewrapped", serde_json::json!({ "key": to.describe(), "secrets": rows.len() }))?;
            Ok(rows.len())
        });
        if let (Err(_), KeySource::File(path)) = (&secrets, to) {
            let _ = std::fs::remove_file(path);
        }
        let secrets = secrets?;
        self.sealer = new;
        let audit_entries = self.verify_audit()?.map_err(|broken| StoreError::NotFound(broken.to_string()))?;
        Ok(Rewrapped { secrets, audit_entries })
    }
}
