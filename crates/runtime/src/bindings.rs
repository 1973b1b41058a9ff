//! Host-side bindings of the `rekey:provider` worlds, generated from `wit/`:
//! `plugin` (providers) here, `target` (deploy targets) in [`target`],
//! which shares these types.
//!
//! WASI interfaces are mapped to wasmtime-wasi's own bindings, so the only
//! host code generated here is the `log` import and the two exports.

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "plugin",
    imports: { "rekey:provider/log.log": trappable },
    exports: { default: async },
    additional_derives: [serde::Serialize, serde::Deserialize],
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:tls": wasmtime_wasi_tls::p2::bindings,
        "wasi": wasmtime_wasi::p2::bindings,
    },
});

/// The `target` world: its export, with the types and `log` of `plugin`.
pub mod target {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "target",
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "rekey:provider/types": crate::bindings::rekey::provider::types,
            "rekey:provider/log": crate::bindings::rekey::provider::log,
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:tls": wasmtime_wasi_tls::p2::bindings,
            "wasi": wasmtime_wasi::p2::bindings,
        },
    });

    pub use self::exports::rekey::provider::destination::{Placed, TargetInfo};
}

pub use self::rekey::provider::log::Level;
pub use self::rekey::provider::types::{
    CallContext, Capabilities, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    ProviderError, RateLimit, Verification,
};

/// The version of the contract this host speaks; plugins must export a
/// semver-compatible `rekey:provider/provider` interface, or (targets)
/// `rekey:provider/target`.
pub const CONTRACT: &str = "rekey:provider/provider";
/// The interface a deploy target exports (since 0.4).
pub const TARGET: &str = "rekey:provider/destination";
/// See [`CONTRACT`].
pub const CONTRACT_VERSION: &str = "0.4.0";
/// The older contract versions whose providers still load (see `compat`),
/// as `major.minor`. There are no older targets.
pub const OLDER_CONTRACTS: &[&str] = &["0.2", "0.3"];

impl ProviderError {
    /// A sentence for the operator: the kind of failure and the message.
    pub fn describe(&self) -> String {
        match self {
            Self::InvalidConfig(m) => format!("invalid config: {m}"),
            Self::Unauthorized(m) => format!("unauthorized: {m}"),
            Self::NotFound(m) => format!("not found: {m}"),
            Self::RateLimited(RateLimit { retry_after_seconds: Some(s), message }) => {
                format!("rate limited (retry after {s} s): {message}")
            }
            Self::RateLimited(RateLimit { message, .. }) => format!("rate limited: {message}"),
            Self::Unavailable(m) => format!("unavailable (transient): {m}"),
            Self::Rejected(m) => format!("rejected (permanent): {m}"),
        }
    }

    /// Whether the host may retry the call: only transient failures.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::RateLimited(_))
    }
}

impl FieldType {
    /// The name used in the WIT contract (`text`, `integer`, `boolean`, `url`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Url => "url",
        }
    }
}
