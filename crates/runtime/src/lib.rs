//! The plugin runtime: loading provider and deploy target components and
//! running their calls in a sandbox.
//!
//! Deny by default, grant by declaration, enforce in the host, record
//! everything: a call gets no filesystem, environment, arguments or stdin;
//! network access only to what the plugin declared *and* the operator
//! granted; bounded memory, stack, time, requests and output; and a
//! transcript of every request it made.

mod addr;
mod bindings;
mod cache;
mod compat;
pub mod compile;
pub mod connect;
pub mod contract;
mod digest;
mod encodings;
mod engine;
mod error;
mod grants;
mod http;
mod inspect;
mod limits;
mod output;
mod placeholder;
mod plugin;
mod redact;
mod sandbox;
mod structure;
pub mod tape;
mod tcp;
mod ticker;
mod tls;
mod transcript;
pub mod validate;

pub use bindings::target::{Placed, TargetInfo};
pub use bindings::{
    CallContext, Capabilities, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    ProviderError, RateLimit, Verification,
};
pub use compile::Compiler;
pub use digest::digest;
pub use engine::Runtime;
pub use error::{Denial, PluginError};
pub use grants::{Endpoint, Grants};
pub use inspect::{Interface, Surface};
pub use limits::Limits;
pub use plugin::{CallOptions, Kind, Outcome, Plugin};
pub use sandbox::{Treatment, treatment};
pub use tls::read_ca;
pub use transcript::{Connection, Exchange};
