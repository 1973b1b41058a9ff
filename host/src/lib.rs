//! rekey: rotates API keys and other credentials through sandboxed
//! WebAssembly provider plugins.
//!
//! The core knows no provider. A provider is a component that implements the
//! `rekey:provider` WIT contract (`wit/` in the repository); [`runtime`] loads
//! it and runs each call in a fresh sandbox that denies everything the plugin
//! did not declare and the operator did not grant.

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod access;
mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod deploy;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod human;
pub mod process;
pub mod rotation;
pub mod runtime;
pub mod server;
pub mod status;
pub mod store;
pub mod trust;
