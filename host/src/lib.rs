//! rekey: rotates API keys and other credentials through sandboxed
//! WebAssembly provider plugins.
//!
//! The core knows no provider. A provider is a component that implements the
//! `rekey:provider` WIT contract (`wit/` in the repository); [`runtime`] loads
//! it and runs each call in a fresh sandbox that denies everything the plugin
//! did not declare and the operator did not grant.
//!
//! One crate per layer, each depending only on those below it:
//! `rekey-runtime` (the sandbox) and `rekey-store` (the state), then
//! `rekey-core` (configuration, trust, access, deploy, the rotation engine,
//! status), then `rekey-server` (the API and dashboard), and this crate,
//! the command line and the daemon. Their modules are re-exported here
//! under the names the rest of rekey reads them by.

pub use rekey_core::{
    VERSION, access, backoff, clock, config, deploy, human, rotation, runtime, state, status, store, trust,
};
pub use rekey_server as server;

pub mod cli;
pub mod daemon;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod process;
