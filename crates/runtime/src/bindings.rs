//! Host-side bindings of the `rekey:provider` world, generated from `wit/`.
//!
//! WASI interfaces are mapped to wasmtime-wasi's own bindings, so the only
//! host code generated here is the `log` import and the `provider` export.

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

pub use self::rekey::provider::log::Level;
pub use self::rekey::provider::types::{
    CallContext, Capabilities, ConfigField, Credential, FieldType, KeySummary, Pair, Permissions, PluginInfo,
    ProviderError, RateLimit, Verification,
};

/// The version of the contract this host speaks; plugins must export a
/// semver-compatible `rekey:provider/provider` interface.
pub const CONTRACT: &str = "rekey:provider/provider";
/// See [`CONTRACT`].
pub const CONTRACT_VERSION: &str = "0.3.0";
/// The older contract versions whose plugins still load (see `compat`), as
/// `major.minor`.
pub const OLDER_CONTRACTS: &[&str] = &["0.2"];

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
