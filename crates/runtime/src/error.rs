//! Everything that can go wrong with a plugin, typed so that callers can
//! branch on the cause (retry a transient provider error, stop on a sandbox
//! violation) and operators read which plugin did what.

use super::addr::Reserved;
use super::bindings::ProviderError;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// A plugin failed to load or a call failed. Every variant names the plugin
/// (its file at load time, its declared name after).
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file could not be read.
    #[error("cannot read plugin `{path}`: {source}{}", build_hint(.path, .source))]
    Read {
        /// The plugin file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a WebAssembly component this host can compile.
    #[error(
        "`{path}` is not a WebAssembly component: {reason}. Build plugins with `cargo build --target wasm32-wasip2 --release`"
    )]
    NotAComponent {
        /// The plugin file.
        path: PathBuf,
        /// What the compiler said.
        reason: String,
    },
    /// The component is larger or more complex than a plugin may be.
    #[error("plugin `{plugin}` is too large or complex to run here: {reason}")]
    TooComplex {
        /// The plugin file.
        plugin: String,
        /// What exceeds which limit.
        reason: String,
    },
    /// The component was built for a contract version this host does not speak.
    #[error(
        "plugin `{plugin}` was built for contract rekey:provider@{found}; this host speaks {speaks}: rebuild it with a rekey-sdk for this host, or upgrade rekey"
    )]
    ContractVersion {
        /// The plugin file.
        plugin: String,
        /// The version it was built for.
        found: String,
        /// The versions this host speaks.
        speaks: String,
    },
    /// The component exports neither a compatible `provider` interface nor
    /// a `destination` (deploy target) one.
    #[error(
        "plugin `{plugin}` does not export {wanted}; it exports: {exports}. Build it against the `plugin` or the `target` world of that contract (rekey-sdk does this)"
    )]
    WrongWorld {
        /// The plugin file.
        plugin: String,
        /// The interface the host needs.
        wanted: String,
        /// What the component exports instead.
        exports: String,
    },
    /// The component imports something the sandbox does not provide.
    #[error(
        "plugin `{plugin}` imports {imports}, which rekey does not provide to plugins (`rekey plugin audit` lists what is provided). Remove the code that uses them"
    )]
    ForbiddenImports {
        /// The plugin file.
        plugin: String,
        /// The offending imports, comma-separated.
        imports: String,
    },
    /// The component's imports do not match what the host provides (a
    /// different signature for a WASI function, say).
    #[error("plugin `{plugin}` cannot be linked to the host: {reason}")]
    Incompatible {
        /// The plugin file.
        plugin: String,
        /// What wasmtime reported.
        reason: String,
    },
    /// The compiled-code cache could not be used.
    #[error("cannot use the compiled-code cache at `{path}`: {source}")]
    Cache {
        /// The cache file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The operator's configuration does not fit the plugin's schema, or a
    /// permission template could not be filled in from it.
    #[error("plugin `{plugin}`: {reason}")]
    Config {
        /// The plugin's name.
        plugin: String,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// The call ran past its deadline and was stopped.
    #[error("plugin `{plugin}` ran past its deadline of {deadline:?} and was stopped")]
    Deadline {
        /// The plugin's name.
        plugin: String,
        /// The deadline.
        deadline: Duration,
    },
    /// The plugin asked for more memory than allowed and was stopped.
    #[error(
        "plugin `{plugin}` tried to use more than {limit} bytes of memory (its memories, tables and host resources together) and was stopped"
    )]
    MemoryLimit {
        /// The plugin's name.
        plugin: String,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The plugin held more host resources (header maps, requests, bodies,
    /// streams, sockets) at once than allowed.
    #[error(
        "plugin `{plugin}` held more than {limit} host resources (header maps, requests, bodies, streams) at once and was stopped"
    )]
    ResourceLimit {
        /// The plugin's name.
        plugin: String,
        /// The limit.
        limit: usize,
    },
    /// The plugin overflowed its stack (usually runaway recursion).
    #[error("plugin `{plugin}` overflowed its {limit}-byte stack (runaway recursion?) and was stopped")]
    StackOverflow {
        /// The plugin's name.
        plugin: String,
        /// The stack size, in bytes.
        limit: usize,
    },
    /// The plugin wrote more log output than allowed and was stopped.
    #[error(
        "plugin `{plugin}` wrote more than {limit} bytes of log output in one call (a line counts at least 256) and was stopped"
    )]
    OutputLimit {
        /// The plugin's name.
        plugin: String,
        /// The budget, in bytes.
        limit: usize,
    },
    /// The plugin panicked, or threw an exception it did not catch.
    #[error("plugin `{plugin}` panicked: {message}")]
    Panic {
        /// The plugin's name.
        plugin: String,
        /// The panic message or exception the plugin printed, cleaned.
        message: String,
    },
    /// The sandbox refused a network access and the call failed.
    #[error("plugin `{plugin}` was denied network access: {denial}")]
    Denied {
        /// The plugin's name.
        plugin: String,
        /// What was refused and why.
        denial: Denial,
    },
    /// Any other trap (an `unreachable`, an out-of-bounds access…).
    #[error("plugin `{plugin}` crashed: {message}")]
    Trap {
        /// The plugin's name.
        plugin: String,
        /// What wasmtime reported.
        message: String,
    },
    /// The plugin returned something the host will not accept (an empty key
    /// id, an oversized secret…).
    #[error("plugin `{plugin}` returned an invalid result: {reason}")]
    InvalidResult {
        /// The plugin's name.
        plugin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The plugin ran and reported a provider error.
    #[error("plugin `{plugin}` failed: {}", error.describe())]
    Provider {
        /// The plugin's name.
        plugin: String,
        /// The provider's error, which says whether to retry.
        error: ProviderError,
    },
}

/// A network access the sandbox refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Denial {
    /// The plugin did not declare the host in its permissions.
    #[error("{target} is not among the hosts the plugin declares ({declared})")]
    Undeclared {
        /// `host:port` asked for.
        target: String,
        /// What the plugin declares, comma-separated.
        declared: String,
    },
    /// The plugin declared the host but the operator did not grant it.
    #[error(
        "{target} is declared by the plugin but not granted; grant it with `--grant {host}` once you trust the plugin to reach it"
    )]
    NotGranted {
        /// `host:port` asked for.
        target: String,
        /// The host to grant.
        host: String,
    },
    /// The name resolved to an address a name may not reach.
    #[error("{target} resolved to {ip}, {class}; {advice}")]
    Reserved {
        /// `host:port` asked for.
        target: String,
        /// The address.
        ip: IpAddr,
        /// Why it is refused.
        #[serde(skip)]
        class: Reserved,
        /// What the operator can do.
        advice: String,
    },
    /// The name could not be resolved.
    #[error("{target} could not be resolved: {reason}")]
    Unresolved {
        /// `host:port` asked for.
        target: String,
        /// The resolver's error.
        reason: String,
    },
    /// A TCP connection to an address that is not granted.
    #[error("TCP connection to {addr} is not granted")]
    Tcp {
        /// The address.
        addr: SocketAddr,
    },
    /// Too many requests in one call.
    #[error("more than {limit} requests in one call")]
    RequestLimit {
        /// The cap.
        limit: u32,
    },
    /// Request headers larger than allowed.
    #[error("the request headers exceeded {limit} bytes")]
    HeaderLimit {
        /// The cap.
        limit: usize,
    },
    /// An admin secret would cross the network in clear.
    #[error(
        "an admin secret would be sent to {target} over plain http; use https (plain http carries one only to loopback)"
    )]
    PlaintextSecret {
        /// `host:port` asked for.
        target: String,
    },
    /// A URL with a user name or password before the host.
    #[error("the URL has a user name or password before its host (`user@host`); send credentials in a header")]
    Userinfo,
    /// An admin-secret placeholder in a URL, where it is never filled in.
    #[error("an admin-secret placeholder is in the URL; put it in a header or the body (URLs are logged and echoed)")]
    PlaceholderInUrl,
    /// A body larger than allowed.
    #[error("a {direction} body exceeded {limit} bytes")]
    BodyLimit {
        /// `request` or `response`.
        direction: &'static str,
        /// The cap.
        limit: u64,
    },
    /// A response the host reads whole did not fit in the call's memory budget.
    #[error("a response did not fit in what is left of the call's memory budget")]
    MemoryBudget,
    /// More TCP bytes in one call than allowed.
    #[error("more than {limit} bytes over TCP in one call")]
    TcpBytes {
        /// The cap.
        limit: u64,
    },
    /// Too many TCP connections in one call.
    #[error("more than {limit} TCP connections in one call")]
    ConnectionLimit {
        /// The cap.
        limit: usize,
    },
    /// TLS asked for a name that neither is the connection's address nor
    /// was granted.
    #[error(
        "TLS to {address} as `{name}` is refused: a plugin may verify a server only as its address or as a name the operator granted; if that server's certificate names `{name}`, grant it with `--grant {name}:{port}` (`grants` in rekey.toml)"
    )]
    TlsName {
        /// The server name the plugin asked for.
        name: String,
        /// The connection's address.
        address: SocketAddr,
        /// Its port, for the advice.
        port: u16,
    },
    /// TLS asked for over streams that are not those of one TCP connection
    /// the plugin opened (already handed to TLS, or from elsewhere).
    #[error("TLS was asked for over streams that are not a TCP connection's own, as opened")]
    TlsStreams,
}

impl Denial {
    /// The denial with every secret in its text masked by `clean`: a plugin
    /// can put one in the host name it asks for.
    pub(crate) fn redacted(self, clean: impl Fn(&str) -> String) -> Self {
        match self {
            Self::Undeclared { target, declared } => Self::Undeclared { target: clean(&target), declared },
            Self::NotGranted { target, host } => Self::NotGranted { target: clean(&target), host: clean(&host) },
            Self::Reserved { target, ip, class, advice } => {
                Self::Reserved { target: clean(&target), ip, class, advice: clean(&advice) }
            }
            Self::Unresolved { target, reason } => Self::Unresolved { target: clean(&target), reason: clean(&reason) },
            Self::PlaintextSecret { target } => Self::PlaintextSecret { target: clean(&target) },
            Self::TlsName { name, address, port } => Self::TlsName { name: clean(&name), address, port },
            other => other,
        }
    }
}

impl PluginError {
    /// A short, stable name for the cause, for scripts (`--json`) and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Read { .. } => "read",
            Self::NotAComponent { .. } => "not-a-component",
            Self::WrongWorld { .. } => "wrong-world",
            Self::TooComplex { .. } => "too-complex",
            Self::ContractVersion { .. } => "contract-version",
            Self::ForbiddenImports { .. } => "forbidden-imports",
            Self::Incompatible { .. } => "incompatible",
            Self::Cache { .. } => "cache",
            Self::Config { .. } => "config",
            Self::Deadline { .. } => "deadline",
            Self::MemoryLimit { .. } => "memory-limit",
            Self::ResourceLimit { .. } => "resource-limit",
            Self::StackOverflow { .. } => "stack-overflow",
            Self::OutputLimit { .. } => "output-limit",
            Self::Panic { .. } => "panic",
            Self::Denied { .. } => "denied",
            Self::Trap { .. } => "trap",
            Self::InvalidResult { .. } => "invalid-result",
            Self::Provider { error, .. } => match error {
                ProviderError::InvalidConfig(_) => "provider:invalid-config",
                ProviderError::Unauthorized(_) => "provider:unauthorized",
                ProviderError::NotFound(_) => "provider:not-found",
                ProviderError::RateLimited(_) => "provider:rate-limited",
                ProviderError::Unavailable(_) => "provider:unavailable",
                ProviderError::Rejected(_) => "provider:rejected",
            },
        }
    }
}

/// What to do about a plugin file that is missing where cargo would have
/// put it: a library built without `crate-type = ["cdylib"]` makes no
/// `.wasm` at all, and the build says nothing about it.
fn build_hint(path: &std::path::Path, error: &std::io::Error) -> &'static str {
    let from_cargo = path.components().any(|c| c.as_os_str() == "wasm32-wasip2");
    if error.kind() == std::io::ErrorKind::NotFound && from_cargo {
        ". If cargo built it: a library makes a .wasm only with `[lib] crate-type = [\"cdylib\"]` in its Cargo.toml"
    } else {
        ""
    }
}
