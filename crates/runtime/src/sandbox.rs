//! The state of one call's store, and the linker that decides which imports
//! a plugin gets at all.
//!
//! [`PROVIDED`] is the one list of what a plugin may import and what the
//! host does with each interface: granted as is (clocks, secure random,
//! `wasi:io`), filtered (`log`, stdout/stderr captured; TCP and outgoing
//! HTTP only to granted addresses), or linked *inert* because language
//! runtimes import it into every component (environment and arguments
//! empty, stdin at end of file, no terminal, `exit` ends the call; the
//! filesystem with no directory open, UDP refusing every socket, name
//! lookups resolving nothing). Anything else is refused at load. [`link`]
//! links exactly that list, `rekey plugin audit` shows it per import, and
//! `docs/sandbox.md` is rendered from it by a test that fails when they
//! differ.

use super::bindings::{Level, rekey};
use super::http::Egress;
use super::limits::MemoryLimiter;
use super::output::Output;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::cli::WasiCliView;
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets};
use wasmtime_wasi::sockets::WasiSocketsView;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// What one call's store holds.
pub(crate) struct Sandbox {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) egress: Egress,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) output: Output,
    pub(crate) tcp_meter: super::tcp::Meter,
    /// The streams of each TCP connection, until handed to TLS.
    pub(crate) tcp_streams: super::tls::Streams,
    pub(crate) tls: wasmtime_wasi_tls::WasiTlsCtx,
    pub(crate) tls_pending: super::tls::Pending,
}

impl WasiView for Sandbox {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wasmtime_wasi_io::IoView for Sandbox {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiHttpView for Sandbox {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.egress }
    }
}

impl rekey::provider::log::Host for Sandbox {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.output.log(level, message).map_err(wasmtime::Error::new)
    }
}

impl rekey::provider::types::Host for Sandbox {}

/// How this host treats an interface a plugin imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Treatment {
    /// Provided as is: it carries no capability beyond the call itself.
    Granted,
    /// Provided, but every use is checked, captured or made inert by the host.
    Filtered,
    /// Not provided: a component that imports it is refused at load.
    Refused,
}

use Treatment::{Filtered, Granted};

const OUTPUT: &str = "held until the call ends, secrets masked, control characters removed, bounded";
const INERT: &str =
    "inert: language runtimes (Rust's standard library, Python's, JavaScript's) import it into every component";
const TCP: &str = "connections only to the addresses the plugin declares and the operator grants";
const NO_FILES: &str = "inert: no directory is opened to plugins, so there is no file to reach \
    (language runtimes such as Python's and JavaScript's import it)";
const NO_UDP: &str = "inert: every UDP socket is refused (access denied)";

/// Every interface a plugin may import, as `namespace:package/interface`
/// (any 0.2.x version of WASI, the 0.3.x contract or an older one the host
/// still loads), with what the host does
/// with it.
const PROVIDED: &[(&str, Treatment, &str)] = &[
    ("rekey:provider/log", Filtered, OUTPUT),
    ("rekey:provider/types", Granted, "type definitions only"),
    ("wasi:io/error", Granted, "errors of streams"),
    ("wasi:io/poll", Granted, "waiting on the host's own streams and timers"),
    ("wasi:io/streams", Granted, "the streams the other interfaces hand out"),
    ("wasi:clocks/wall-clock", Granted, "the time of day"),
    ("wasi:clocks/monotonic-clock", Granted, "timers, within the call's deadline"),
    ("wasi:random/random", Granted, "secure random bytes, for keys"),
    ("wasi:random/insecure", Granted, "seeds for hash maps; no capability"),
    ("wasi:random/insecure-seed", Granted, "seeds for hash maps; no capability"),
    ("wasi:cli/stdout", Filtered, OUTPUT),
    ("wasi:cli/stderr", Filtered, OUTPUT),
    ("wasi:cli/environment", Filtered, "empty: no variables, no arguments, no working directory"),
    ("wasi:cli/exit", Filtered, "ends the call, which then returns nothing and fails"),
    ("wasi:cli/stdin", Filtered, "at end of file"),
    ("wasi:cli/terminal-input", Filtered, INERT),
    ("wasi:cli/terminal-output", Filtered, INERT),
    ("wasi:cli/terminal-stdin", Filtered, "no terminal"),
    ("wasi:cli/terminal-stdout", Filtered, "no terminal"),
    ("wasi:cli/terminal-stderr", Filtered, "no terminal"),
    ("wasi:sockets/network", Filtered, TCP),
    ("wasi:sockets/instance-network", Filtered, TCP),
    ("wasi:sockets/tcp", Filtered, TCP),
    ("wasi:sockets/tcp-create-socket", Filtered, TCP),
    ("wasi:sockets/udp", Filtered, NO_UDP),
    ("wasi:sockets/udp-create-socket", Filtered, NO_UDP),
    ("wasi:sockets/ip-name-lookup", Filtered, "inert: resolves nothing (the host resolves granted names itself)"),
    ("wasi:filesystem/types", Filtered, NO_FILES),
    ("wasi:filesystem/preopens", Filtered, "inert: the list of open directories is empty"),
    (
        "wasi:tls/types",
        Filtered,
        "TLS over the plugin's own TCP connection, done by the host: the server's certificate verified against the \
         public roots and the CAs the operator names, as the connection's address or a granted name; no option \
         to skip verification, no plaintext on the streams handed over, the verified name in the transcript",
    ),
    ("wasi:http/types", Granted, "requests and responses as values; sending is outgoing-handler's"),
    (
        "wasi:http/outgoing-handler",
        Filtered,
        "only to hosts declared and granted, resolved and checked by the host (no private or metadata addresses, \
         no DNS rebinding), redirects not followed, requests, headers and bodies bounded, admin-secret placeholders \
         filled in on the way out, every request in the transcript",
    ),
];

/// What the host does with an import, as `namespace:package/interface@version`.
pub fn treatment(import: &str) -> (Treatment, &'static str) {
    let (base, version) = import.split_once('@').unwrap_or((import, ""));
    let version_ok =
        if base.starts_with("wasi:") { version.starts_with("0.2.") } else { super::inspect::compatible(version) };
    match PROVIDED.iter().find(|(name, ..)| *name == base) {
        Some((_, treatment, why)) if version_ok => (*treatment, why),
        Some(_) => (Treatment::Refused, "a version this host does not provide"),
        None => (Treatment::Refused, "not provided by this host"),
    }
}

/// Links exactly [`PROVIDED`].
pub(crate) fn link(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    let options = wasmtime_wasi::p2::bindings::LinkOptions::default();
    rekey::provider::log::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)?;
    rekey::provider::types::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)?;
    super::compat::link(linker)?;
    wasmtime_wasi_io::add_to_linker_async(linker)?;
    clocks::wall_clock::add_to_linker::<_, wasmtime_wasi::clocks::WasiClocks>(linker, Sandbox::clocks)?;
    clocks::monotonic_clock::add_to_linker::<_, wasmtime_wasi::clocks::WasiClocks>(linker, Sandbox::clocks)?;
    random::random::add_to_linker::<_, wasmtime_wasi::random::WasiRandom>(linker, |s| s.wasi.random())?;
    random::insecure::add_to_linker::<_, wasmtime_wasi::random::WasiRandom>(linker, |s| s.wasi.random())?;
    random::insecure_seed::add_to_linker::<_, wasmtime_wasi::random::WasiRandom>(linker, |s| s.wasi.random())?;
    cli::stdout::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::stderr::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::environment::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::exit::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::stdin::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::terminal_input::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::terminal_output::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::terminal_stdin::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::terminal_stdout::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    cli::terminal_stderr::add_to_linker::<_, wasmtime_wasi::cli::WasiCli>(linker, Sandbox::cli)?;
    sockets::network::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(
        linker,
        &(&options).into(),
        Sandbox::sockets,
    )?;
    sockets::instance_network::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(linker, Sandbox::sockets)?;
    sockets::tcp_create_socket::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(linker, Sandbox::sockets)?;
    sockets::tcp::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(linker, Sandbox::sockets)?;
    // Inert (see `wasi_context`: UDP and name lookups refused, no preopened directory).
    sockets::udp::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(linker, Sandbox::sockets)?;
    sockets::udp_create_socket::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(linker, Sandbox::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<_, wasmtime_wasi::sockets::WasiSockets>(linker, Sandbox::sockets)?;
    filesystem::types::add_to_linker::<_, wasmtime_wasi::filesystem::WasiFilesystem>(linker, Sandbox::filesystem)?;
    filesystem::preopens::add_to_linker::<_, wasmtime_wasi::filesystem::WasiFilesystem>(linker, Sandbox::filesystem)?;
    super::tcp::link(linker)?;
    super::tls::link(linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{PROVIDED, Treatment};

    /// [`PROVIDED`] as the Markdown table of `docs/sandbox.md`, for reviewers.
    pub fn document() -> String {
        let mut text = String::from(
            "# What a plugin may import\n\n\
             Rendered from `PROVIDED` in `crates/runtime/src/sandbox.rs`, the list the host links and \
             `rekey plugin audit` reads; a test fails when the two differ. Any other import is refused \
             when the plugin is installed or loaded.\n\n\
             | Interface | Treatment | What the host does |\n|---|---|---|\n",
        );
        for (name, treatment, why) in PROVIDED {
            let treatment = match treatment {
                Treatment::Granted => "granted",
                Treatment::Filtered => "filtered",
                Treatment::Refused => "refused",
            };
            text.push_str(&format!("| `{name}` | {treatment} | {why} |\n"));
        }
        text
    }

    /// `docs/sandbox.md` is what a reviewer reads; it must be the table.
    #[test]
    fn the_documented_list_of_imports_is_the_one_the_host_links() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/sandbox.md");
        if std::env::var_os("REKEY_UPDATE_DOCS").is_some() {
            std::fs::write(&file, document()).unwrap();
        }
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            checked_in == document(),
            "docs/sandbox.md differs from PROVIDED; run `REKEY_UPDATE_DOCS=1 cargo test --release --lib sandbox` and review the diff"
        );
    }
}
