//! API tokens as the store keeps them: the start of the token, by which a
//! request's is found, and its digest, never the token itself, with
//! the role, the scope, who made it, when it expires and was last used,
//! and whether it was revoked. Making and revoking one are audit entries.

use super::sql::{Row, args};
use super::{Store, StoreError, now};

/// A token's record.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct TokenRecord {
    /// Its name, unique.
    pub name: String,
    /// `viewer`, `auditor`, `rotator` or `admin`.
    pub role: String,
    /// Credential globs; empty: every credential.
    pub scope: Vec<String>,
    /// Who made it.
    pub created_by: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When it stops working, if it does.
    pub expires_at: Option<i64>,
    /// When a request last used it.
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
}

impl TokenRecord {
    /// Whether it still lets requests in at `now`.
    pub fn usable(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// How often a token's last use is written: a busy client is not a write per request.
const LAST_USED_EVERY: i64 = 60;

const COLUMNS: &str = "name, role, scope, created_by, created_at, expires_at, last_used_at, revoked_at";

fn record(row: &Row) -> Result<TokenRecord, StoreError> {
    let scope: String = row.get(2)?;
    Ok(TokenRecord {
        name: row.get(0)?,
        role: row.get(1)?,
        scope: serde_json::from_str(&scope).unwrap_or_default(),
        created_by: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        last_used_at: row.get(6)?,
        revoked_at: row.get(7)?,
    })
}

impl Store {
    /// Keeps a new token by its `lookup` part and its `digest`, with its
    /// audit entry. A name in use (even by a revoked token) is refused.
    pub fn create_token(&self, token: &TokenRecord, lookup: &str, digest: &str) -> Result<(), StoreError> {
        self.insert_token(token, lookup, digest, false)
    }

    /// The same, replacing the token of that name if there is one (the
    /// old one then stops working): a rotation that issues a token again
    /// after a crash replaces the one whose secret was lost.
    pub fn replace_token(&self, token: &TokenRecord, lookup: &str, digest: &str) -> Result<(), StoreError> {
        self.insert_token(token, lookup, digest, true)
    }

    fn insert_token(&self, token: &TokenRecord, lookup: &str, digest: &str, replace: bool) -> Result<(), StoreError> {
        self.write(|| {
            let taken = self.one("SELECT 1 FROM tokens WHERE name = ?1", args![&token.name], |_| Ok(()))?;
            if taken.is_some() && !replace {
                return Err(StoreError::Taken(format!(
                    "a token named `{}` exists (revoked ones keep their name); choose another name",
                    token.name
                )));
            }
            self.execute("DELETE FROM tokens WHERE name = ?1", args![&token.name])?;
            self.execute(
                &format!(
                    "INSERT INTO tokens ({COLUMNS}, lookup, digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7, ?8)"
                ),
                args![
                    &token.name,
                    &token.role,
                    serde_json::to_string(&token.scope).expect("globs serialize"),
                    &token.created_by,
                    token.created_at,
                    token.expires_at,
                    lookup,
                    digest
                ],
            )?;
            let detail = serde_json::json!({
                "token": token.name, "role": token.role, "scope": token.scope,
                "expires_at": token.expires_at, "by": token.created_by, "replaced": taken.is_some(),
            });
            self.audit("token.created", None, None, detail)
        })
    }

    /// Every token, newest first.
    pub fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.all(&format!("SELECT {COLUMNS} FROM tokens ORDER BY created_at DESC, name"), &[], record)
    }

    /// The token whose lookup part is `lookup`, if any, and its digest.
    pub fn token_by_lookup(&self, lookup: &str) -> Result<Option<(TokenRecord, String)>, StoreError> {
        let sql = format!("SELECT {COLUMNS}, digest FROM tokens WHERE lookup = ?1");
        self.one(&sql, args![lookup], |row| Ok((record(row)?, row.get(8)?)))
    }

    /// Revokes the token `name` at once, with its audit entry naming `by`;
    /// false when there is no such token or it was already revoked.
    pub fn revoke_token(&self, name: &str, by: &str) -> Result<bool, StoreError> {
        self.write(|| {
            let changed = self.execute(
                "UPDATE tokens SET revoked_at = ?2 WHERE name = ?1 AND revoked_at IS NULL",
                args![name, now()],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            self.audit("token.revoked", None, None, serde_json::json!({ "token": name, "by": by }))?;
            Ok(true)
        })
    }

    /// Notes that `token` was used at `at`, at most once a minute.
    pub fn token_used(&self, token: &TokenRecord, at: i64) -> Result<(), StoreError> {
        if token.last_used_at.is_some_and(|last| at - last < LAST_USED_EVERY) {
            return Ok(());
        }
        self.write(|| {
            self.execute("UPDATE tokens SET last_used_at = ?2 WHERE name = ?1", args![&token.name, at])?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::scratch;

    fn viewer(name: &str) -> TokenRecord {
        TokenRecord {
            name: name.into(),
            role: "viewer".into(),
            scope: vec!["api-*".into()],
            created_by: "test".into(),
            created_at: now(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn a_token_is_found_by_its_lookup_part_with_its_digest_and_revoked_at_once() {
        let (_dir, store) = scratch();
        store.create_token(&viewer("ci"), "l1", "d1").unwrap();
        let (found, digest) = store.token_by_lookup("l1").unwrap().unwrap();
        assert_eq!(digest, "d1");
        assert_eq!((found.name.as_str(), found.scope.as_slice()), ("ci", &["api-*".to_string()][..]));
        assert!(found.usable(now()));
        assert!(store.revoke_token("ci", "admin").unwrap());
        assert!(!store.token_by_lookup("l1").unwrap().unwrap().0.usable(now()));
        assert!(!store.revoke_token("ci", "admin").unwrap(), "revoked once");
        let events: Vec<String> =
            store.audit_log(None).unwrap().into_iter().map(|e| e.event).filter(|e| e.starts_with("token.")).collect();
        assert_eq!(events, ["token.created", "token.revoked"]);
    }

    #[test]
    fn a_name_is_never_reused_and_an_expired_token_is_unusable() {
        let (_dir, store) = scratch();
        store.create_token(&viewer("ci"), "l1", "d1").unwrap();
        assert!(matches!(store.create_token(&viewer("ci"), "l2", "d2"), Err(StoreError::Taken(_))));
        let expired = TokenRecord { expires_at: Some(now() - 1), ..viewer("old") };
        assert!(!expired.usable(now()));
    }
}
