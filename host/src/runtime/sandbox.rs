//! The state of one call's store, and the linker that decides which imports
//! a plugin gets at all.
//!
//! The interfaces of the `plugin` world are linked: `log`, `wasi:io`,
//! clocks, secure random, stdout/stderr (captured), TCP sockets (filtered)
//! and outgoing HTTP (filtered). Rust's standard library on `wasm32-wasip2`
//! also imports the environment, exit, stdin and terminal interfaces into
//! every component, so those are linked *inert*: no variables, no arguments,
//! stdin at end-of-file, no terminal, and `exit` ends the call. Filesystem,
//! UDP and name lookups are not linked at all, so a component that imports
//! them is refused before it ever runs.

use super::bindings::{Level, rekey};
use super::http::Egress;
use super::limits::MemoryLimiter;
use super::output::Output;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime_wasi::cli::WasiCliView;
use wasmtime_wasi::clocks::WasiClocksView;
use wasmtime_wasi::p2::bindings::{cli, clocks, random, sockets};
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

/// Every interface a plugin may import, as `namespace:package/interface`
/// (any 0.2.x version of WASI, the 0.1.x contract).
pub(crate) const PROVIDED: &[&str] = &[
    "rekey:provider/log",
    "rekey:provider/types",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    // Rust's `HashMap` seeds itself from these; they carry no capability.
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    // Inert: imported by Rust's standard library whether used or not.
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// Links exactly [`PROVIDED`].
pub(crate) fn link(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    let options = wasmtime_wasi::p2::bindings::LinkOptions::default();
    rekey::provider::log::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)?;
    rekey::provider::types::add_to_linker::<_, HasSelf<Sandbox>>(linker, |s| s)?;
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
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
    Ok(())
}
