//! A loaded plugin and its calls. Every call runs in a fresh store and
//! instance (no state leaks between credentials) made from one
//! pre-instantiated component, under the runtime's limits.

use super::bindings::target::{Placed, Target as TargetBindings, TargetInfo, TargetPre};
use super::bindings::{
    CallContext, Credential, KeySummary, Pair, Plugin as Bindings, PluginInfo, PluginPre, ProviderError, Verification,
};
use super::compat;
use super::compile::CompileError;
use super::engine::Shared;
use super::error::{Denial, PluginError};
use super::grants::{Grants, Policy};
use super::http::{Denials, Egress};
use super::inspect::Surface;
use super::limits::{Budget, MAX_RESOURCE_BYTES, MAX_TCP_CONNECTIONS, MemoryLimiter, resource_slots};
use super::output::Output;
use super::placeholder::Placeholders;
use super::redact::Redactor;
use super::sandbox::Sandbox;
use super::tape::Tape;
use super::ticker::EPOCH_TICK;
use super::transcript::{Connection, Exchange, Transcript};
use super::validate;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtx;
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi_http::WasiHttpCtx;

/// A plugin ready to be called.
pub struct Plugin {
    shared: Arc<Shared>,
    pre: Pre,
    /// What it says of itself; a target's `target-info` as a provider's,
    /// with no capabilities (its own is in `kind`).
    info: PluginInfo,
    kind: Kind,
    component: wasmtime::component::Component,
    /// Listed on first use (`plugin inspect`, `plugin audit`), not at load.
    surface: std::sync::OnceLock<Surface>,
    path: PathBuf,
    digest: String,
    size: u64,
}

/// The inputs of a call besides the credential.
#[derive(Clone, Debug, Default)]
pub struct CallOptions {
    /// The operator's config for the credential.
    pub config: BTreeMap<String, String>,
    /// The admin secrets the provider needs.
    pub admin_secrets: BTreeMap<String, String>,
    /// What the operator lets the plugin reach.
    pub grants: Grants,
    /// The rotation this call belongs to; passed to the plugin so `generate`
    /// can be idempotent.
    pub rotation_id: String,
    /// Secrets the host knows besides those the call is given (the
    /// credential's current key): none may come back in what the plugin
    /// returns, prints or sends to the transcript.
    pub known_secrets: Vec<String>,
    /// Whether its HTTP exchanges are recorded, or answered from a tape
    /// (`rekey plugin test --record/--replay`).
    pub tape: Option<Tape>,
}

/// The result of a call, with what the plugin did on the network.
#[derive(Debug)]
pub struct Outcome<T> {
    /// What the call returned, or why it failed.
    pub result: Result<T, PluginError>,
    /// Every request the plugin made or tried.
    pub transcript: Vec<Exchange>,
    /// Every TCP connection the plugin opened, and the TLS it asked for.
    pub connections: Vec<Connection>,
    /// Wall-clock time of the call, instantiation included.
    pub elapsed: Duration,
}

/// What a plugin is, by the world it was built for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// A provider: it makes, checks and revokes keys.
    Provider,
    /// A deploy target: it puts keys where applications read them.
    Target {
        /// Its destination stages a key before `promote` makes it current.
        stages_keys: bool,
    },
}

/// The component, ready to instantiate, with the contract version it was
/// built for.
enum Pre {
    Current(PluginPre<Sandbox>),
    Older(compat::Pre),
    Target(TargetPre<Sandbox>),
}

/// A call on the `provider` or the `target` interface.
pub(super) enum Request<'a> {
    Info,
    Generate,
    Verify(&'a Credential),
    Revoke(&'a Credential),
    List,
    Write(&'a Credential, bool),
    Check(&'a Credential, bool),
    Promote(&'a Credential),
    Restore(Option<&'a Credential>),
}

impl Request<'_> {
    /// The keys the call hands the plugin, which nothing it returns may carry.
    fn keys(&self) -> Vec<&Credential> {
        match self {
            Self::Verify(key) | Self::Revoke(key) | Self::Write(key, _) | Self::Check(key, _) | Self::Promote(key) => {
                vec![key]
            }
            Self::Restore(previous) => previous.iter().copied().collect(),
            Self::Info | Self::Generate | Self::List => vec![],
        }
    }
}

/// What a call returned.
pub(super) enum Response {
    Info(PluginInfo),
    TargetInfo(TargetInfo),
    Generated(Credential),
    Verified(Verification),
    Done,
    Listed(Vec<KeySummary>),
    Placed(Placed),
}

impl Plugin {
    /// Compiles (or reads from the cache), checks and describes a plugin
    /// whose bytes have the sha256 `digest` (hex). Its structure is
    /// checked before it is compiled; a cache entry is proof it was.
    pub(crate) async fn load(
        shared: Arc<Shared>,
        path: &Path,
        bytes: &[u8],
        digest: String,
    ) -> Result<Self, PluginError> {
        shared.check_size(path, bytes.len() as u64)?;
        let (component, cached_info) = match shared.cached(&digest) {
            Some(cached) => cached,
            None => {
                super::structure::check(path, bytes, shared.limits.memory_bytes)?;
                let component = shared.compile(&digest, bytes).map_err(|error| match error {
                    CompileError::Refused(reason) => PluginError::NotAComponent { path: path.into(), reason },
                    bound => PluginError::TooComplex { plugin: path.display().to_string(), reason: bound.to_string() },
                })?;
                (component, None)
            }
        };
        let plugin = path.display().to_string();
        let incompatible =
            |e: wasmtime::Error| PluginError::Incompatible { plugin: plugin.clone(), reason: explain_link(&e) };
        let instance_pre = shared.linker.instantiate_pre(&component).map_err(incompatible)?;
        let exports = component.component_type();
        let export = super::inspect::contract_export(exports.exports(&shared.engine).map(|(name, _)| name))
            .unwrap_or_default()
            .to_string();
        let (base, version) = export.split_once('@').unwrap_or_default();
        let pre = match compat::Pre::new(version, instance_pre.clone()) {
            _ if base == super::bindings::TARGET => Pre::Target(TargetPre::new(instance_pre).map_err(incompatible)?),
            Some(older) => Pre::Older(older.map_err(incompatible)?),
            None => Pre::Current(PluginPre::new(instance_pre).map_err(incompatible)?),
        };
        let mut loaded = Self {
            shared,
            pre,
            info: placeholder_info(&plugin),
            kind: Kind::Provider,
            component,
            surface: Default::default(),
            path: path.into(),
            digest,
            size: bytes.len() as u64,
        };
        let (info, kind) = match cached_info {
            Some(cached) => cached,
            None => {
                let (info, kind) = loaded.ask_info().await?;
                validate::info(&info)
                    .map_err(|reason| PluginError::InvalidResult { plugin: plugin.clone(), reason })?;
                loaded.shared.keep_info(&loaded.digest, &info, kind);
                (info, kind)
            }
        };
        (loaded.info, loaded.kind) = (info, kind);
        Ok(loaded)
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// Whether it is a provider or a deploy target.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Asks `info` again, of a fresh instance (as every call gets), with
    /// the clocks frozen and randomness fixed as at load: whether the
    /// answer is deterministic, without compiling the plugin again. A
    /// target's `target-info` comes as a provider's `plugin-info` with no
    /// capabilities, and its kind.
    pub async fn ask_info(&self) -> Result<(PluginInfo, Kind), PluginError> {
        match self.run(&CallOptions::default(), Request::Info).await.result? {
            Response::Info(info) => Ok((info, Kind::Provider)),
            Response::TargetInfo(target) => {
                let kind = Kind::Target { stages_keys: target.stages_keys };
                let info = PluginInfo {
                    name: target.name,
                    version: target.version,
                    description: target.description,
                    config: target.config,
                    permissions: target.permissions,
                    ..placeholder_info("")
                };
                Ok((info, kind))
            }
            _ => unreachable!("info answers with info"),
        }
    }

    /// Its imports and exports.
    pub fn surface(&self) -> &Surface {
        self.surface.get_or_init(|| Surface::of(&self.component, &self.shared.engine))
    }

    /// The file it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The sha256 of its bytes, in hex.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// Its size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Creates a new key.
    pub async fn generate(&self, options: &CallOptions) -> Outcome<Credential> {
        self.run(options, Request::Generate).await.map(|response| match response {
            Response::Generated(credential) => credential,
            _ => unreachable!("generate answers with a credential"),
        })
    }

    /// Checks that a key works.
    pub async fn verify(&self, options: &CallOptions, credential: &Credential) -> Outcome<Verification> {
        self.run(options, Request::Verify(credential)).await.map(|response| match response {
            Response::Verified(verification) => verification,
            _ => unreachable!("verify answers with a verification"),
        })
    }

    /// Revokes a key.
    pub async fn revoke(&self, options: &CallOptions, credential: &Credential) -> Outcome<()> {
        self.run(options, Request::Revoke(credential)).await.map(done)
    }

    /// A target: writes `key` to the destination, `staged` as pending.
    pub async fn write(&self, options: &CallOptions, key: &Credential, staged: bool) -> Outcome<Placed> {
        self.run(options, Request::Write(key, staged)).await.map(|response| match response {
            Response::Placed(placed) => placed,
            _ => unreachable!("write answers with where the key went"),
        })
    }

    /// A target: whether the destination holds `key` as the rotation wrote
    /// it (pending, when `staged`).
    pub async fn check(&self, options: &CallOptions, key: &Credential, staged: bool) -> Outcome<Verification> {
        self.run(options, Request::Check(key, staged)).await.map(|response| match response {
            Response::Verified(verification) => verification,
            _ => unreachable!("check answers with a verification"),
        })
    }

    /// A target: makes the staged `key` current.
    pub async fn promote(&self, options: &CallOptions, key: &Credential) -> Outcome<()> {
        self.run(options, Request::Promote(key)).await.map(done)
    }

    /// A target: undoes the rotation's write, `previous` held again.
    pub async fn restore(&self, options: &CallOptions, previous: Option<&Credential>) -> Outcome<()> {
        self.run(options, Request::Restore(previous)).await.map(done)
    }

    /// Lists the keys the provider holds (when `capabilities.lists-keys`).
    pub async fn list_keys(&self, options: &CallOptions) -> Outcome<Vec<KeySummary>> {
        self.run(options, Request::List).await.map(|response| match response {
            Response::Listed(keys) => keys,
            _ => unreachable!("list answers with keys"),
        })
    }

    /// Runs one call in a fresh sandbox and turns whatever happened into an
    /// [`Outcome`]; the plugin's output is emitted, cleaned, at the end.
    async fn run(&self, options: &CallOptions, request: Request<'_>) -> Outcome<Response> {
        let started = Instant::now();
        let transcript = Transcript::default();
        let denials = Denials::default();
        let output = Output::new(self.shared.limits.max_output);
        let mut redactor = Redactor::default();
        options.admin_secrets.values().for_each(|s| redactor.add(s, "an admin secret"));
        options.known_secrets.iter().for_each(|s| redactor.add(s, "the credential's current key"));
        request.keys().iter().for_each(|key| redactor.add(&key.secret, "the key it was given"));
        let mut result = self.sandboxed(options, request, &transcript, &denials, &output).await;
        // Nothing a plugin returns for the host to store or show may carry a secret.
        let mut refused = result.as_ref().ok().and_then(|response| validate::secrets(response, &redactor).err());
        if let Ok(Response::Generated(credential)) = &result {
            redactor.add(&credential.secret, "the new key");
            refused = refused.or_else(|| validate::new_key_kept_out(credential, &redactor).err());
        }
        if let Some(reason) = refused {
            result = Err(Failure::Plugin(PluginError::InvalidResult { plugin: self.info.name.clone(), reason }));
        }
        let result = result.map_err(|error| self.explain(error, &denials, &output, &redactor));
        output.emit(&self.info.name, &redactor);
        let connections = transcript
            .connections()
            .into_iter()
            .map(|mut connection| {
                connection.tls = connection.tls.map(|name| redactor.clean(&name));
                connection.error = connection.error.map(|e| redactor.clean(&e));
                connection
            })
            .collect();
        let transcript = transcript
            .snapshot()
            .into_iter()
            .map(|mut exchange| {
                exchange.method = redactor.clean(&exchange.method);
                exchange.host = redactor.clean(&exchange.host);
                exchange.path = redactor.clean(&exchange.path);
                exchange.error = exchange.error.map(|e| redactor.clean(&e));
                exchange
            })
            .collect();
        Outcome { result, transcript, connections, elapsed: started.elapsed() }
    }

    async fn sandboxed(
        &self,
        options: &CallOptions,
        request: Request<'_>,
        transcript: &Transcript,
        denials: &Denials,
        output: &Output,
    ) -> Result<Response, Failure> {
        let plugin = &self.info.name;
        let config_error = |reason| Failure::Plugin(PluginError::Config { plugin: plugin.clone(), reason });
        // `info` runs with no config and may reach nothing, whatever the plugin declares.
        let no_network = super::bindings::Permissions { http_hosts: vec![], tcp: vec![] };
        let (config, permissions) = match request {
            Request::Info => (BTreeMap::new(), &no_network),
            _ => (
                validate::config(&self.info.config, &options.config, &options.admin_secrets).map_err(config_error)?,
                &self.info.permissions,
            ),
        };
        let policy = Policy::new(permissions, &config, options.grants.clone()).map_err(config_error)?;
        let tcp = policy
            .tcp_addresses()
            .await
            .map_err(|denial| Failure::Plugin(PluginError::Denied { plugin: plugin.clone(), denial }))?;
        let tls_config = super::tls::client_config(policy.ca())
            .map_err(|e| config_error(format!("a CA certificate in `tls_ca` is not usable: {e}")))?;
        let (tls, tls_pending) = super::tls::Verifier::context(tls_config, transcript.clone());
        let limits = &self.shared.limits;
        let (admin_secrets, placeholders) = Placeholders::seal(&self.info.config, &options.admin_secrets);
        let budget = Budget::new(limits.memory_bytes);
        let mut table = ResourceTable::new();
        table.set_max_capacity(budget.resources());
        let mut http = WasiHttpCtx::new();
        http.set_field_size_limit(MAX_RESOURCE_BYTES);
        let sandbox = Sandbox {
            wasi: wasi_context(output, tcp, denials.clone(), matches!(request, Request::Info)),
            table,
            http,
            egress: Egress {
                policy: Arc::new(policy),
                limits: limits.clone(),
                transcript: transcript.clone(),
                denials: denials.clone(),
                placeholders,
                budget: budget.clone(),
                sent: 0,
                tape: options.tape.clone(),
            },
            limiter: MemoryLimiter::new(budget.clone()),
            tcp_meter: super::tcp::Meter::new(limits.max_tcp_bytes, denials.clone()),
            tcp_streams: Default::default(),
            tls,
            tls_pending,
            output: output.clone(),
        };
        let mut store = Store::new(&self.shared.engine, sandbox);
        store.limiter(|sandbox| &mut sandbox.limiter);
        // The epoch advances only while some call holds the ticker.
        let _ticking = self.shared.ticker.running();
        store.set_epoch_deadline(limits.deadline.as_millis().div_ceil(EPOCH_TICK.as_millis()) as u64 + 1);
        store.epoch_deadline_trap();

        let context = CallContext {
            rotation_id: options.rotation_id.clone(),
            config: pairs(&config),
            admin_secrets: pairs(&admin_secrets),
        };
        let call = async {
            let pre = match &self.pre {
                Pre::Current(pre) => pre,
                Pre::Older(pre) => return pre.call(&mut store, &context, request).await,
                Pre::Target(pre) => return call_target(pre, &mut store, &context, request).await,
            };
            let bindings: Bindings = pre.instantiate_async(&mut store).await?;
            let provider = bindings.rekey_provider_provider();
            wasmtime::Result::Ok(match request {
                Request::Info => Ok(Response::Info(provider.call_info(&mut store).await?)),
                Request::Generate => provider.call_generate(&mut store, &context).await?.map(Response::Generated),
                Request::Verify(c) => provider.call_verify(&mut store, &context, c).await?.map(Response::Verified),
                Request::Revoke(c) => provider.call_revoke(&mut store, &context, c).await?.map(|()| Response::Done),
                Request::List => provider.call_list_keys(&mut store, &context).await?.map(Response::Listed),
                Request::Write(..) | Request::Check(..) | Request::Promote(_) | Request::Restore(_) => {
                    Err(compat::not_a_target())
                }
            })
        };
        let returned = match tokio::time::timeout(limits.deadline, call).await {
            Err(_elapsed) => return Err(Failure::Deadline),
            Ok(Err(trap)) => return Err(Failure::Trap { error: trap, memory_refused: budget.refused() }),
            Ok(Ok(returned)) => returned,
        };
        let response = returned.map_err(Failure::Provider)?;
        let invalid = match &response {
            Response::Generated(credential) => validate::credential(credential).err(),
            Response::Verified(verification) => validate::verification(verification).err(),
            Response::Listed(keys) => validate::keys(keys).err(),
            Response::Placed(placed) => validate::placed(placed).err(),
            Response::Info(_) | Response::TargetInfo(_) | Response::Done => None,
        };
        match invalid {
            Some(reason) => Err(Failure::Plugin(PluginError::InvalidResult { plugin: plugin.clone(), reason })),
            None => Ok(response),
        }
    }

    /// Names the cause of a failed call. The sandbox's own records (a
    /// refused allocation, a spent output budget, a denied request) say more
    /// than the trap or error they led to, so they are asked first.
    fn explain(&self, failure: Failure, denials: &Denials, output: &Output, redactor: &Redactor) -> PluginError {
        let plugin = self.info.name.clone();
        let limits = &self.shared.limits;
        let denial = denials
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .first()
            .cloned()
            .map(|d| d.redacted(|t| redactor.clean(t)));
        match failure {
            Failure::Plugin(error) => error,
            Failure::Deadline => PluginError::Deadline { plugin, deadline: limits.deadline },
            Failure::Trap { error, memory_refused } => match error.downcast_ref::<Trap>() {
                _ if memory_refused => PluginError::MemoryLimit { plugin, limit: limits.memory_bytes },
                _ if output.exceeded() => PluginError::OutputLimit { plugin, limit: limits.max_output },
                Some(Trap::Interrupt) => PluginError::Deadline { plugin, deadline: limits.deadline },
                Some(Trap::StackOverflow) => PluginError::StackOverflow { plugin, limit: limits.stack_bytes },
                // The contract's types are checked when the instance is made.
                _ if format!("{error:#}").contains("type mismatch") => {
                    PluginError::Incompatible { plugin, reason: explain_link(&error) }
                }
                _ if is_table_full(&error) => {
                    PluginError::ResourceLimit { plugin, limit: resource_slots(limits.memory_bytes) }
                }
                Some(Trap::UnreachableCodeReached) => match output.crash_message(redactor) {
                    Some(message) => PluginError::Panic { plugin, message },
                    None => PluginError::Trap { plugin, message: "reached `unreachable` (the plugin aborted)".into() },
                },
                _ => match denial {
                    Some(denial) => PluginError::Denied { plugin, denial },
                    None => PluginError::Trap { plugin, message: redactor.clean(&format!("{error:#}")) },
                },
            },
            Failure::Provider(error) => match denial {
                Some(denial) => PluginError::Denied { plugin, denial },
                None => PluginError::Provider { plugin, error: clean_provider_error(error, redactor) },
            },
        }
    }
}

/// Runs one call on a deploy target.
async fn call_target(
    pre: &TargetPre<Sandbox>,
    store: &mut Store<Sandbox>,
    context: &CallContext,
    request: Request<'_>,
) -> wasmtime::Result<Result<Response, ProviderError>> {
    let bindings: TargetBindings = pre.instantiate_async(&mut *store).await?;
    let destination = bindings.rekey_provider_destination();
    Ok(match request {
        Request::Info => Ok(Response::TargetInfo(destination.call_info(&mut *store).await?)),
        Request::Write(key, staged) => {
            destination.call_write(&mut *store, context, key, staged).await?.map(Response::Placed)
        }
        Request::Check(key, staged) => {
            destination.call_check(&mut *store, context, key, staged).await?.map(Response::Verified)
        }
        Request::Promote(key) => destination.call_promote(&mut *store, context, key).await?.map(|()| Response::Done),
        Request::Restore(previous) => {
            destination.call_restore(&mut *store, context, previous).await?.map(|()| Response::Done)
        }
        Request::Generate | Request::Verify(_) | Request::Revoke(_) | Request::List => Err(ProviderError::Rejected(
            "this plugin is a deploy target, not a provider (it exports no `provider` interface)".into(),
        )),
    })
}

/// The answer of a call that returns nothing.
fn done(response: Response) {
    match response {
        Response::Done => (),
        _ => unreachable!("the call answers with nothing"),
    }
}

/// Why a call failed, before [`Plugin::explain`] names the cause.
enum Failure {
    Plugin(PluginError),
    Deadline,
    Trap { error: wasmtime::Error, memory_refused: bool },
    Provider(ProviderError),
}

impl<T> Outcome<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        Outcome {
            result: self.result.map(f),
            transcript: self.transcript,
            connections: self.connections,
            elapsed: self.elapsed,
        }
    }
}

/// The WASI context of a call: captured stdout/stderr, and TCP only to the
/// vetted addresses. Nothing else is granted (and most is not even linked).
/// `frozen` (for `info`): the clocks stand still at the Unix epoch and
/// randomness is a fixed sequence, so `info` answers the same every time,
/// as the approval that pins its digest requires.
fn wasi_context(output: &Output, tcp: Vec<SocketAddr>, denials: Denials, frozen: bool) -> WasiCtx {
    let tcp = Arc::new(tcp);
    let connections = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut builder = WasiCtx::builder();
    if frozen {
        builder
            .wall_clock(Frozen)
            .monotonic_clock(Frozen)
            .secure_random(wasmtime_wasi::Deterministic::new(vec![0]))
            .insecure_random(wasmtime_wasi::Deterministic::new(vec![0]))
            .insecure_random_seed(0);
    }
    builder
        .stdout(output.stdout())
        .stderr(output.stderr())
        // Sockets may be created; the address check below decides (and
        // records) every connection, so a refused one has a typed cause.
        .allow_tcp(true)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(move |addr, usage| {
            // Err(None): refused without a denial of its own (the connect that follows says it).
            let verdict = match usage {
                // `connect` first binds the wildcard address implicitly.
                SocketAddrUse::TcpBind if addr.ip().is_unspecified() && addr.port() == 0 => Ok(()),
                SocketAddrUse::TcpBind => Err(None),
                SocketAddrUse::TcpConnect if !tcp.contains(&addr) => Err(Some(Denial::Tcp { addr })),
                SocketAddrUse::TcpConnect
                    if connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MAX_TCP_CONNECTIONS =>
                {
                    Err(Some(Denial::ConnectionLimit { limit: MAX_TCP_CONNECTIONS }))
                }
                SocketAddrUse::TcpConnect => Ok(()),
                _ => Err(Some(Denial::Tcp { addr })),
            };
            if let Err(Some(denial)) = &verdict {
                denials.lock().unwrap_or_else(|e| e.into_inner()).push(denial.clone());
            }
            Box::pin(std::future::ready(verdict.is_ok()))
        })
        .build()
}

/// Why a component that claims a contract version this host speaks cannot
/// be linked: mostly a type that differs from the contract's (a record built
/// from an edited copy of the WIT), which wasmtime reports as a mismatch.
fn explain_link(error: &wasmtime::Error) -> String {
    let detail = format!("{error:#}");
    if detail.contains("type mismatch") {
        format!(
            "its `rekey:provider` types differ from those of the contract version it names (was it built from an edited copy of the WIT?): {detail}"
        )
    } else {
        detail
    }
}

/// Whether a trap is the resource table refusing one entry too many.
fn is_table_full(error: &wasmtime::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<wasmtime::component::ResourceTableError>()
            .is_some_and(|e| matches!(e, wasmtime::component::ResourceTableError::Full))
    })
}

/// A clock that never moves from zero.
struct Frozen;

impl wasmtime_wasi::HostWallClock for Frozen {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for Frozen {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

fn pairs(map: &BTreeMap<String, String>) -> Vec<Pair> {
    map.iter().map(|(key, value)| Pair { key: key.clone(), value: value.clone() }).collect()
}

/// Provider messages are shown to operators: mask secrets in them too.
fn clean_provider_error(error: ProviderError, redactor: &Redactor) -> ProviderError {
    match error {
        ProviderError::InvalidConfig(m) => ProviderError::InvalidConfig(redactor.clean(&m)),
        ProviderError::Unauthorized(m) => ProviderError::Unauthorized(redactor.clean(&m)),
        ProviderError::NotFound(m) => ProviderError::NotFound(redactor.clean(&m)),
        ProviderError::Unavailable(m) => ProviderError::Unavailable(redactor.clean(&m)),
        ProviderError::Rejected(m) => ProviderError::Rejected(redactor.clean(&m)),
        ProviderError::RateLimited(mut limit) => {
            limit.message = redactor.clean(&limit.message);
            ProviderError::RateLimited(limit)
        }
    }
}

/// Stands in for `info` while `info` itself is being called.
fn placeholder_info(plugin: &str) -> PluginInfo {
    PluginInfo {
        name: plugin.to_string(),
        version: String::new(),
        description: String::new(),
        config: vec![],
        capabilities: super::bindings::Capabilities {
            concurrent_keys: false,
            reports_last_use: false,
            idempotent_generate: false,
            lists_keys: false,
        },
        permissions: super::bindings::Permissions { http_hosts: vec![], tcp: vec![] },
    }
}
