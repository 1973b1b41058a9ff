//! Events the daemon sends once — a reminder at each threshold, a
//! reminder per day that an old key still waits to be revoked by hand —
//! remembered in the store so that a restart does not send them again.

use super::sql::args;
use super::{Store, StoreError, now};

impl Store {
    /// Whether `event` about `subject` (a version and threshold, say) was
    /// already sent for `credential`.
    pub fn noticed(&self, credential: &str, event: &str, subject: &str) -> Result<bool, StoreError> {
        let sql = "SELECT 1 FROM notices WHERE credential = ?1 AND event = ?2 AND subject = ?3";
        Ok(self.one(sql, args![credential, event, subject], |_| Ok(()))?.is_some())
    }

    /// Records that `event` about `subject` was sent, with its audit entry,
    /// in one transaction.
    pub fn record_notice(
        &self,
        credential: &str,
        event: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|| {
            self.execute(
                "INSERT INTO notices (credential, event, subject, at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                args![credential, event, subject, now()],
            )?;
            self.audit(event, Some(credential), None, detail)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::tests::scratch;

    #[test]
    fn a_notice_is_remembered_with_its_audit_entry() {
        let (_dir, store) = scratch();
        assert!(!store.noticed("api", "key.due_soon", "v1:86400").unwrap());
        store.record_notice("api", "key.due_soon", "v1:86400", serde_json::json!({ "in": "1d" })).unwrap();
        assert!(store.noticed("api", "key.due_soon", "v1:86400").unwrap());
        assert!(!store.noticed("api", "key.due_soon", "v1:1209600").unwrap());
        let log = store.audit_log(Some("api")).unwrap();
        assert_eq!(log.last().map(|e| e.event.as_str()), Some("key.due_soon"));
    }
}
