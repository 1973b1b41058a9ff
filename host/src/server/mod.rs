//! Access for a team: API tokens with a role and a credential scope, the
//! authenticated `/v1` API and the dashboard the daemon serves beside its
//! metrics, and where it listens (plain, or TLS).

pub mod access;
pub mod actions;
pub mod api;
pub mod dashboard;
pub mod identity;
pub mod listener;
pub mod reads;
pub mod requests;
pub mod token;
