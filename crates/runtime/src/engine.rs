//! The wasmtime engine shared by every plugin: compiler and allocator
//! settings, the epoch ticker behind call deadlines, and the linker.

use super::bindings::PluginInfo;
use super::cache::CodeCache;
use super::compile::{CompileError, Compiler, DEFAULT_MAX_SIZE, MAX_SIZE_VAR};
use super::error::PluginError;
use super::limits::Limits;
use super::plugin::{Kind, Plugin};
use super::sandbox::{self, Sandbox};
use super::ticker::Ticker;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Calls that can run at once with the pooling allocator; more wait for a
/// free slot rather than fail.
const POOL_INSTANCES: u32 = 64;

/// Loads plugins and runs their calls. Create one per process and share it:
/// compiled code, the pooling allocator and the linker are reused by every
/// plugin and call.
pub struct Runtime {
    pub(crate) shared: Arc<Shared>,
}

/// What plugins share with the runtime that loaded them.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Sandbox>,
    pub(crate) limits: Limits,
    cache: Option<CodeCache>,
    compiler: Option<Compiler>,
    pooling: bool,
    pub(crate) ticker: Ticker,
}

impl Runtime {
    /// A runtime with these limits. `cache_dir` holds compiled plugins
    /// (`None` compiles on every load).
    pub fn new(limits: Limits, cache_dir: Option<PathBuf>) -> Result<Self, PluginError> {
        let (engine, pooling) = build_engine(&limits).map_err(|e| PluginError::Config {
            plugin: "(runtime)".into(),
            reason: format!("cannot set up the WebAssembly engine: {e}"),
        })?;
        let mut linker = Linker::new(&engine);
        sandbox::link(&mut linker).expect("the sandbox's interfaces link once each");
        let cache = cache_dir.map(|dir| CodeCache::open(dir, &engine, limits.memory_bytes)).transpose()?;
        let ticker = Ticker::spawn(engine.clone());
        let shared = Shared { engine, linker, limits, cache, compiler: None, pooling, ticker };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// Compiles plugins with `compiler` (a child process under a time and
    /// memory bound) instead of in this process.
    pub fn compiling_with(mut self, compiler: Compiler) -> Self {
        Arc::get_mut(&mut self.shared).expect("set before any plugin is loaded").compiler = Some(compiler);
        self
    }

    /// The default place for compiled plugins: `$REKEY_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/rekey/code`, else `~/.cache/rekey/code`.
    pub fn default_cache_dir() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        env("REKEY_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("rekey/code")))
            .or_else(|| env("HOME").map(|d| d.join(".cache/rekey/code")))
    }

    /// Loads a plugin file: compiles it (or takes it from the cache), checks
    /// its imports and exports, and reads its `info`.
    pub async fn load(&self, path: &Path) -> Result<Plugin, PluginError> {
        let bytes = self.read(path)?;
        self.load_bytes(path, &bytes).await
    }

    /// The bytes of a plugin file, refused unread when it is larger than a
    /// plugin may be.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, PluginError> {
        let failed = |source| PluginError::Read { path: path.into(), source };
        let file = std::fs::File::open(path).map_err(failed)?;
        let size = file.metadata().map_err(failed)?.len();
        self.shared.check_size(path, size)?;
        let mut bytes = Vec::with_capacity(size as usize);
        // A file that grows while it is read still stops at the bound.
        std::io::Read::read_to_end(&mut std::io::Read::take(file, self.shared.max_size() + 1), &mut bytes)
            .map_err(failed)?;
        self.shared.check_size(path, bytes.len() as u64)?;
        Ok(bytes)
    }

    /// Loads a plugin from bytes already read (and checked) from `path`.
    pub async fn load_bytes(&self, path: &Path, bytes: &[u8]) -> Result<Plugin, PluginError> {
        self.load_digested(path, bytes, crate::digest(bytes)).await
    }

    /// The same, for bytes whose sha256 (hex) the caller has computed.
    pub async fn load_digested(&self, path: &Path, bytes: &[u8], digest: String) -> Result<Plugin, PluginError> {
        Plugin::load(self.shared.clone(), path, bytes, digest).await
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The wasmtime engine every plugin runs on. Exposed so another host
    /// can run side by side on the very same engine: the benchmarks compare
    /// rekey's sandbox with a bare wasmtime host this way.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// Whether the pooling allocator is in use (it falls back to on-demand
    /// allocation where the machine cannot reserve the pool).
    pub fn pooling(&self) -> bool {
        self.shared.pooling
    }
}

impl Shared {
    /// The largest plugin file this runtime loads.
    pub(crate) fn max_size(&self) -> u64 {
        self.compiler.as_ref().map_or(DEFAULT_MAX_SIZE, |compiler| compiler.max_size)
    }

    /// Refuses a plugin of `size` bytes when it is larger than a plugin may
    /// be: checked before its bytes are read, parsed or looked up.
    pub(crate) fn check_size(&self, path: &Path, size: u64) -> Result<(), PluginError> {
        let most = self.max_size();
        if size <= most {
            return Ok(());
        }
        let (size, most) = (bytesize::ByteSize(size), bytesize::ByteSize(most));
        Err(PluginError::TooComplex {
            plugin: path.display().to_string(),
            reason: format!("it is {size}; at most {most} (raise `plugin_max_size` in rekey.toml, or {MAX_SIZE_VAR})"),
        })
    }

    /// The compiled component of the wasm whose sha256 is `digest`, and
    /// its cached `info`, when the cache holds them.
    pub(crate) fn cached(&self, digest: &str) -> Option<(Component, Option<(PluginInfo, Kind)>)> {
        self.cache.as_ref()?.entry(&self.engine, digest)
    }

    /// Compiles `wasm` (whose sha256 is `digest`, and whose structure was
    /// checked) and keeps the result in the cache.
    pub(crate) fn compile(&self, digest: &str, wasm: &[u8]) -> Result<Component, CompileError> {
        let compiled = match &self.compiler {
            Some(compiler) => compiler.compile(&self.limits, wasm)?,
            None => self.engine.precompile_component(wasm).map_err(|e| CompileError::Refused(format!("{e}")))?,
        };
        let most = super::compile::max_code(self.max_size());
        if compiled.len() as u64 > most {
            return Err(CompileError::Code(most));
        }
        if let Some(cache) = &self.cache {
            cache.put(digest, &compiled);
            // Mapped from the file, the code and memory images are shared
            // with the page cache: every call's fresh instance faults in
            // fewer pages than from a private copy (measured: 2 µs a call).
            if let Some(component) = cache.get(&self.engine, digest) {
                return Ok(component);
            }
        }
        // SAFETY: `compiled` was produced just now for an engine built with
        // these settings, by this process or its own compiler child.
        unsafe { Component::deserialize(&self.engine, &compiled) }.map_err(|e| CompileError::Refused(format!("{e}")))
    }

    /// Keeps a plugin's validated `info` beside its compiled code.
    pub(crate) fn keep_info(&self, digest: &str, info: &PluginInfo, kind: Kind) {
        if let Some(cache) = &self.cache {
            cache.put_info(digest, info, kind);
        }
    }
}

/// The engine every plugin runs on, and whether it pools instances. The
/// compiler process builds the same one, so its artifacts load here.
pub(crate) fn build_engine(limits: &Limits) -> wasmtime::Result<(Engine, bool)> {
    let mut config = config(limits);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        // Counted, not reserved: room for every call to be a language runtime's.
        .total_core_instances(POOL_INSTANCES * super::limits::MAX_CORE_INSTANCES as u32)
        .total_memories(POOL_INSTANCES * 2)
        .total_tables(POOL_INSTANCES * 4)
        .total_stacks(POOL_INSTANCES)
        .max_memory_size(limits.memory_bytes);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, true)),
        Err(error) => {
            tracing::warn!("pooling allocator unavailable ({error}); allocating instances on demand");
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            Ok((Engine::new(&config)?, false))
        }
    }
}

/// The settings compiled code depends on: an engine built from them
/// compiles code that any engine built by [`build_engine`] with the same
/// limits runs (the instance allocator is not among them).
pub(crate) fn config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.max_wasm_stack(limits.stack_bytes);
    // Host functions run on the same fiber stack as the guest: leave room.
    config.async_stack_size(limits.stack_bytes + (1 << 20));
    config
}
