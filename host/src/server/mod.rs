//! Access for a team: API tokens with a role and a credential scope, and
//! the authenticated `/v1` API the daemon serves beside its metrics.

pub mod access;
pub mod api;
pub mod requests;
pub mod token;
