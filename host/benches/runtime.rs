//! What the sandbox costs, side by side in one run with what it is compared
//! to: a bare wasmtime host (the minimum any host must do) on the very same
//! engine and compiled code, and the same work in native Rust. Results and
//! the machine go in BENCHMARKS.md as ratios of this one run.
//!
//! - load: both read the wasm and digest it (a cache of compiled code is
//!   keyed by content), deserialize the same `.cwasm` and pre-instantiate
//!   it; rekey also checks the cache entry's owner and mode, lists the
//!   imports and exports, and reads the plugin's cached `info`.
//! - call: a fresh store and instance and one `generate` of the `random`
//!   plugin. rekey adds its budget, limiter, egress policy, redaction and
//!   result checks; the bare host links plain WASI and sets the same epoch
//!   deadline.

use criterion::{Criterion, criterion_group, criterion_main};
use rekey::runtime::{CallOptions, Limits, Runtime};
use rekey_test_artifacts::plugins;
use std::hint::black_box;
use std::path::Path;

fn sandbox(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(Limits::default(), Some(cache.path().to_path_buf())).unwrap();
    let path = Path::new(plugins::RANDOM);
    // Compiles into the cache: every load below reads compiled code from disk.
    let plugin = rt.block_on(runtime.load(path)).unwrap();
    let bare = bare::Host::new(runtime.engine());
    let suffix = cwasm_suffix(cache.path());
    let pre = bare.load(path, cache.path(), &suffix);
    let options = CallOptions::default();
    let pooling = if runtime.pooling() { "pooling" } else { "on-demand" };

    let mut load = c.benchmark_group("load random.wasm from the compiled cache");
    load.bench_function("rekey", |b| b.iter(|| black_box(rt.block_on(runtime.load(path)).unwrap())));
    load.bench_function("bare wasmtime host", |b| b.iter(|| black_box(bare.load(path, cache.path(), &suffix))));
    load.finish();

    let mut call = c.benchmark_group(format!("fresh instance + generate, random plugin ({pooling})"));
    call.bench_function("rekey sandbox", |b| {
        b.iter(|| black_box(rt.block_on(plugin.generate(&options)).result.unwrap()))
    });
    call.bench_function("bare wasmtime host", |b| b.iter(|| black_box(rt.block_on(bare.generate(&pre)))));
    call.bench_function("native Rust equivalent", |b| b.iter(|| black_box(native::generate(32))));
    call.finish();
}

/// What follows the digest in the name of the compiled file rekey cached.
fn cwasm_suffix(cache: &Path) -> String {
    let file = std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .find(|name| name.ends_with(".cwasm"))
        .expect("the plugin was compiled into the cache");
    file[64..].to_string()
}

/// The least a wasmtime 48 host does to call a component: plain WASI, a
/// fresh store per call from one `InstancePre`, an epoch deadline.
mod bare {
    use std::path::Path;
    use wasmtime::component::{Component, Linker, ResourceTable};
    use wasmtime::{Engine, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    wasmtime::component::bindgen!({
        path: "../wit",
        world: "plugin",
        exports: { default: async },
        with: {
            "wasi:http": wasmtime_wasi_http::p2::bindings::http,
            "wasi:tls": wasmtime_wasi_tls::p2::bindings,
            "wasi": wasmtime_wasi::p2::bindings,
        },
    });

    pub struct State {
        wasi: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
        }
    }

    pub struct Host {
        engine: Engine,
        linker: Linker<State>,
    }

    impl Host {
        pub fn new(engine: &Engine) -> Self {
            let mut linker = Linker::new(engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).unwrap();
            Self { engine: engine.clone(), linker }
        }

        /// Reads and digests the wasm, deserializes the compiled code
        /// cached for that digest (named `{digest}{suffix}`), and
        /// pre-instantiates it.
        pub fn load(&self, wasm: &Path, cache: &Path, suffix: &str) -> PluginPre<State> {
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(std::fs::read(wasm).unwrap()));
            let cwasm = cache.join(format!("{digest}{suffix}"));
            // SAFETY: the file was written by rekey's cache for this engine.
            let component = unsafe { Component::deserialize_file(&self.engine, &cwasm) }.unwrap();
            PluginPre::new(self.linker.instantiate_pre(&component).unwrap()).unwrap()
        }

        /// A fresh store and instance, and one `generate`.
        pub async fn generate(&self, pre: &PluginPre<State>) -> rekey::provider::types::Credential {
            let state = State { wasi: WasiCtx::builder().build(), table: ResourceTable::new() };
            let mut store = Store::new(&self.engine, state);
            store.set_epoch_deadline(3_001);
            store.epoch_deadline_trap();
            let plugin = pre.instantiate_async(&mut store).await.unwrap();
            let context = rekey::provider::types::CallContext {
                rotation_id: String::new(),
                config: vec![],
                admin_secrets: vec![],
            };
            plugin.rekey_provider_provider().call_generate(&mut store, &context).await.unwrap().unwrap()
        }
    }
}

/// The `random` plugin's `generate`, written natively: the same alphabet,
/// the same rejection sampling, the OS's secure random source.
mod native {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn generate(length: usize) -> (String, String) {
        (format!("rnd-{}", secret(12, b"0123456789abcdef")), secret(length, ALPHABET))
    }

    fn secret(length: usize, alphabet: &[u8]) -> String {
        let limit = 256 - (256 % alphabet.len());
        let mut out = String::with_capacity(length);
        while out.len() < length {
            let mut bytes = vec![0u8; (length - out.len()) * 2];
            getrandom::fill(&mut bytes).expect("the OS has a random source");
            for byte in bytes {
                if (byte as usize) < limit && out.len() < length {
                    out.push(alphabet[byte as usize % alphabet.len()] as char);
                }
            }
        }
        out
    }
}

criterion_group!(benches, sandbox);
criterion_main!(benches);
