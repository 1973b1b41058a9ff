//! Who may do what: API tokens (`token`), a token's role, and the
//! credentials its scope covers. The server checks requests against it;
//! the CLI makes tokens; the rotation engine issues them for
//! `plugin = "rekey-token"` credentials.
//!
//! - **viewer**: status, credentials and their history (never a secret);
//! - **auditor**: a viewer who also reads the audit log and verifies it;
//! - **rotator**: a viewer who also rotates, rolls back and resumes;
//! - **admin**: everything, tokens included.
//!
//! A scope is a list of globs over credential names (`payments-*`); an
//! empty one covers every credential. An admin's covers every credential
//! whatever it says.

mod local_user;
mod role;
pub mod token;

pub use local_user::local_user;
pub use role::{Action, Caller, Role, Scope, ScopeError};
