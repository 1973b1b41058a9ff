//! rekey's engine, between the sandbox and the store below and the API and
//! the command line above: the operator's configuration, the trust placed
//! in plugins, who may do what, the deploy targets and checks, the rotation
//! engine, and where each credential stands.
//!
//! The layers below are re-exported under the names the engine reads them
//! by ([`runtime`], [`store`], [`clock`]).

/// This build's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod access;
pub mod backoff;
pub mod config;
pub mod deploy;
pub mod human;
pub mod rotation;
pub mod state;
pub mod status;
pub mod trust;

pub use rekey_runtime as runtime;
pub use rekey_store as store;
pub use rekey_store::clock;
