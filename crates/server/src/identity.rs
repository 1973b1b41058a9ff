//! Who a request comes from: the caller a bearer token (the API) or a
//! dashboard session stands for. Either way the token is read from the
//! store on every request, so one revoked or expired stops working at once,
//! sessions signed in with it included.

use crate::access::token;
use crate::access::{Caller, Role, Scope};
use crate::store::tokens::TokenRecord;
use crate::store::{Store, StoreError};

/// A token as a session remembers it: enough to find it again and know it
/// is the same one, never the token itself.
#[derive(Clone, Debug)]
pub struct Remembered {
    lookup: String,
    digest: String,
}

/// The caller `given` stands for, if it is known, unexpired and not
/// revoked; and how a session remembers it.
pub fn by_token(store: &Store, given: &str) -> Result<Option<(Caller, Remembered)>, StoreError> {
    if !token::well_formed(given) {
        return Ok(None);
    }
    let Some((record, kept)) = store.token_by_lookup(token::lookup(given))? else { return Ok(None) };
    if !token::matches(given, &kept) {
        return Ok(None);
    }
    let remembered = Remembered { lookup: token::lookup(given).into(), digest: kept };
    Ok(caller(store, record)?.map(|caller| (caller, remembered)))
}

/// The caller a session's token stands for, while it is usable.
pub fn by_session(store: &Store, remembered: &Remembered) -> Result<Option<Caller>, StoreError> {
    match store.token_by_lookup(&remembered.lookup)? {
        Some((record, kept)) if kept == remembered.digest => caller(store, record),
        _ => Ok(None),
    }
}

/// The caller of a usable token, noting its use.
fn caller(store: &Store, record: TokenRecord) -> Result<Option<Caller>, StoreError> {
    let now = crate::store::now();
    if !record.usable(now) {
        return Ok(None);
    }
    store.token_used(&record, now)?;
    let (Some(role), Ok(scope)) = (Role::parse(&record.role), Scope::new(record.scope)) else { return Ok(None) };
    Ok(Some(Caller { name: record.name, role, scope }))
}

#[cfg(test)]
impl Remembered {
    /// One that finds no token.
    pub fn for_tests() -> Self {
        Self { lookup: "nothing!".into(), digest: String::new() }
    }
}
