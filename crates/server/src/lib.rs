//! Serving a team: the authenticated `/v1` API and the dashboard the
//! daemon serves beside its metrics (for the tokens and roles of
//! [`crate::access`]), and where it listens (plain, or TLS).

// The engine's modules, under the names the server reads them by.
use rekey_core::{VERSION, access, config, deploy, human, rotation, status, store, trust};

pub mod actions;
pub mod api;
pub mod connections;
pub mod dashboard;
pub mod hosts;
pub mod identity;
pub mod listener;
pub mod reads;
pub mod requests;
pub mod throttle;
pub mod tokens;
