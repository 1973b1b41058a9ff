//! `rekey daemon`: rotations that run by themselves. At start it finishes
//! interrupted rotations; then it works through each credential's agenda
//! (reminders, provider checks, rotations when due, grace periods ended),
//! `[daemon] concurrency` at a time and one per credential, sleeping until
//! the next thing falls due. SIGTERM or SIGINT: nothing new starts, and
//! running rotations stop at their next step boundary (or are cut at
//! `shutdown_timeout`), to resume at the next start. SIGHUP: `rekey.toml`
//! is read again and checked as a start checks it; an invalid one is
//! logged and audited, and the running configuration kept. What other
//! processes change in the store is seen within a tick.
//!
//! Everything runs in one task, like a `rekey rotate` session: the store's
//! single connection groups the commits of concurrent rotations. Only the
//! HTTP endpoints (`/metrics`, `/healthz`, `/readyz`) run beside it.

mod agenda;
mod health;
mod metrics;
mod server;
mod signals;
mod tend;

use crate::config::{Config, Credential};
use crate::rotation::{RotationError, Session};
use crate::runtime::Runtime;
use crate::server::requests::{Requested, Requests};
use crate::server::{connections, listener};
use crate::store::{Store, StoreError, now};
use agenda::{Task, agenda, frozen_until};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use health::{Health, TICK};
use metrics::Metrics;
use signals::{Signal, Signals};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tend::Tended;

/// Why the daemon could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The approvals cannot be read.
    #[error(transparent)]
    Rotation(#[from] RotationError),
    /// The endpoints' address cannot be used.
    #[error("cannot listen on {addr}: {source}; set `listen` under [daemon] in rekey.toml to a free address")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// A non-loopback address without TLS, not explicitly allowed.
    #[error(
        "[daemon] listen = \"{0}\" is not a loopback address, and the API's tokens would travel in clear text; \
         listen on 127.0.0.1 behind a TLS proxy, or pass --insecure-http to accept that"
    )]
    PlainHttp(std::net::SocketAddr),
    /// The TLS certificate or key cannot be used.
    #[error(transparent)]
    Tls(#[from] crate::server::listener::TlsError),
    /// Signal handlers cannot be installed.
    #[error("cannot watch for signals: {0}")]
    Signals(std::io::Error),
}

/// How long a credential that another process holds waits before the next try.
const BUSY_RETRY: i64 = 5;
/// How often every credential's agenda and metrics are read again from the
/// store (ages and due dates move with time).
const REFRESH: Duration = Duration::from_secs(60);
/// How often the store's pages are checked whole (see
/// `store::check_integrity`).
const STORE_CHECK: Duration = Duration::from_secs(10);

/// Runs the daemon on `config` until SIGTERM or SIGINT; with `once`, for
/// one scheduling pass.
pub async fn run(
    config: Config,
    store: &Store,
    runtime: &Runtime,
    once: bool,
    insecure_http: bool,
) -> Result<(), DaemonError> {
    // At start there is no running configuration to keep: the credentials
    // that cannot rotate are named now, and the others go on.
    for problem in Session::new(&config, store, runtime)?.check().await {
        tracing::error!("{problem}; it fails at every try until this is fixed");
    }
    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health::default());
    let mut signals = Signals::new().map_err(DaemonError::Signals)?;
    let config = Arc::new(config);
    let requests = Arc::new(Requests::default());
    let (server, api) = if once {
        (None, None)
    } else {
        let addr = config.manifest.daemon.listen;
        let tls = config.manifest.daemon.tls.as_ref();
        if tls.is_none() && !addr.ip().is_loopback() && !insecure_http {
            return Err(DaemonError::PlainHttp(addr));
        }
        let acceptor = tls.map(|tls| listener::acceptor(tls, &config.dir)).transpose()?;
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| DaemonError::Listen { addr, source })?;
        let bound = listener.local_addr().unwrap_or(addr);
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        tracing::info!("serving /metrics, /healthz, /readyz, the /v1 API and the dashboard on {scheme}://{bound}");
        if acceptor.is_none() && !addr.ip().is_loopback() {
            tracing::warn!(
                "--insecure-http: tokens travel in clear text to http://{bound}; anyone on the path can take them"
            );
        }
        let api =
            Arc::new(crate::server::api::Api::new(config.clone(), crate::state::open(&config)?, requests.clone())?);
        let shared = server::Shared {
            metrics: metrics.clone(),
            health: health.clone(),
            store: store.location().clone(),
            stuck_after: config.manifest.daemon.stuck_after,
            api: api.clone(),
            tls: acceptor.is_some(),
            loopback: addr.ip().is_loopback(),
        };
        let app = server::app(Arc::new(shared));
        let limits = connections::Limits::for_file_limit(crate::process::raise_file_limit());
        let serving = match acceptor {
            Some(acceptor) => {
                let listener = listener::TlsListener::new(listener, acceptor)
                    .map_err(|source| DaemonError::Listen { addr, source })?;
                tokio::spawn(connections::serve(listener, app, limits))
            }
            None => tokio::spawn(connections::serve(listener, app, limits)),
        };
        let checking = tokio::spawn(watch_store(store.location().clone(), health.clone()));
        (Some((serving, checking)), Some(api))
    };
    store.audit("daemon.started", None, None, serde_json::json!({ "pid": std::process::id(), "once": once }))?;
    let daemon = Daemon { store, runtime, metrics: &metrics, health: &health, once, requests: &requests };
    let mut config = config;
    let result = loop {
        match daemon.generation(&config, &mut signals).await {
            Ok(Next::Reload(new)) => {
                config = Arc::from(new);
                if let Some(api) = &api {
                    api.set_config(config.clone());
                }
                tracing::info!("reloaded {}: {} credential(s)", config.file.display(), config.credentials().len());
            }
            Ok(Next::Stop) => break Ok(()),
            Err(e) => break Err(e),
        }
    };
    if let Some((serving, checking)) = server {
        serving.abort();
        checking.abort();
    }
    store.audit("daemon.stopped", None, None, serde_json::json!({ "pid": std::process::id() }))?;
    store.durable().await?;
    tracing::info!("stopped");
    result
}

/// Checks the store's pages every [`STORE_CHECK`]: damage fails `/readyz`
/// and is logged.
async fn watch_store(location: crate::store::Location, health: Arc<Health>) {
    let mut every = tokio::time::interval(STORE_CHECK);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let location = location.clone();
        let damage = match tokio::task::spawn_blocking(move || crate::store::check_integrity(&location)).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("the store cannot be read consistently: {e}")),
            Err(e) => Some(format!("the store check did not finish: {e}")),
        };
        health.store_checked(damage);
    }
}

/// What ends a generation (a run on one configuration).
enum Next {
    /// SIGHUP brought a valid new configuration.
    Reload(Box<Config>),
    /// A stop signal, or the end of the `--once` pass.
    Stop,
}

struct Daemon<'a> {
    store: &'a Store,
    runtime: &'a Runtime,
    metrics: &'a Metrics,
    health: &'a Health,
    once: bool,
    /// Rotations asked for through the API.
    requests: &'a Requests,
}

/// When each credential next needs work, in time order.
#[derive(Default)]
struct Queue {
    order: BTreeSet<(i64, String)>,
    at: HashMap<String, i64>,
}

impl Queue {
    fn set(&mut self, name: &str, at: i64) {
        if let Some(old) = self.at.insert(name.into(), at) {
            self.order.remove(&(old, name.into()));
        }
        self.order.insert((at, name.into()));
    }

    fn remove(&mut self, name: &str) {
        if let Some(old) = self.at.remove(name) {
            self.order.remove(&(old, name.into()));
        }
    }

    /// The first credential due by `now`.
    fn pop_due(&mut self, now: i64) -> Option<(i64, String)> {
        let (at, _) = self.order.first()?;
        if *at > now {
            return None;
        }
        let (at, name) = self.order.pop_first()?;
        self.at.remove(&name);
        Some((at, name))
    }

    fn first(&self) -> Option<i64> {
        self.order.first().map(|(at, _)| *at)
    }
}

impl Daemon<'_> {
    /// Runs on `config` until a stop signal, a valid reload, or the end of
    /// the `--once` pass.
    async fn generation(&self, config: &Config, signals: &mut Signals) -> Result<Next, DaemonError> {
        let store = self.store;
        let session = Session::new(config, store, self.runtime)?.observed_by(self.metrics);
        let settings = &config.manifest.daemon;
        let concurrency = *settings.concurrency.get_ref();
        let started = now();
        let mut queue = Queue::default();
        for spec in config.credentials() {
            queue.set(&spec.name, i64::MIN);
        }
        let mut running = HashSet::new();
        // Credentials whose work ended here since the last look at the
        // audit log: their entries are this daemon's own, and their next
        // time is known already.
        let mut ended_here = HashSet::new();
        let mut failures: HashMap<String, u32> = HashMap::new();
        let mut jobs = FuturesUnordered::new();
        let mut reload: Option<Config> = None;
        let mut asked: HashMap<String, Requested> = HashMap::new();
        let mut stop_by: Option<tokio::time::Instant> = None;
        self.metrics.forget_credentials();
        for spec in config.credentials() {
            self.refresh_one(spec, started);
        }
        let mut refresh = tokio::time::interval_at(tokio::time::Instant::now() + REFRESH, REFRESH);
        refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // What other processes change (a `rekey rotate` at a shell opening
        // a grace period) is seen within a tick, by the audit entries after
        // the last one seen.
        let (mut seen, _) = store.changed_since(i64::MAX)?;
        let mut changes = tokio::time::interval_at(tokio::time::Instant::now() + TICK, TICK);
        changes.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            self.health.beat();
            let now = now();
            self.metrics.tick(now);
            if stop_by.is_none() && reload.is_none() {
                for (name, requested) in self.requests.take() {
                    if config.credential(&name).is_some() {
                        queue.set(&name, i64::MIN);
                        asked.insert(name, requested);
                    }
                }
                let frozen = frozen_until(config, now);
                while running.len() < concurrency {
                    let Some((_, name)) = queue.pop_due(now) else { break };
                    if running.contains(&name) {
                        continue;
                    }
                    let spec = config.credential(&name).expect("the queue holds declared credentials");
                    let mut agenda = match agenda(spec, store, now, frozen) {
                        Ok(agenda) => agenda,
                        Err(e) => {
                            tracing::error!("cannot read the standing of `{name}`: {e}");
                            queue.set(&name, now + BUSY_RETRY);
                            continue;
                        }
                    };
                    if let Some(requested) = asked.remove(&name) {
                        agenda.ask(&name, requested);
                    }
                    if agenda.now.is_empty() {
                        // `--once` is one pass: each credential's agenda is read once.
                        if let Some(at) = agenda.next.filter(|_| !self.once) {
                            queue.set(&name, at);
                        }
                        continue;
                    }
                    for task in &agenda.now {
                        if let Task::Rotate { since: Some(since), .. } | Task::Resume { since: Some(since) } = task {
                            self.metrics.lag(crate::clock::now_precise() - *since as f64);
                        }
                    }
                    running.insert(name.clone());
                    self.health.started(&name);
                    self.metrics.running(1);
                    let session = &session;
                    jobs.push(async move {
                        let tended = tend::tend(session, self.metrics, spec, agenda).await;
                        (name, tended)
                    });
                }
            }
            if jobs.is_empty() {
                if stop_by.is_some() {
                    return Ok(Next::Stop);
                }
                if let Some(config) = reload.take() {
                    return Ok(Next::Reload(Box::new(config)));
                }
                if self.once && queue.first().is_none_or(|at| at > started) {
                    return Ok(Next::Stop);
                }
            }
            let wait = match queue.first() {
                _ if running.len() >= concurrency || stop_by.is_some() || reload.is_some() => TICK,
                Some(at) => {
                    Duration::from_secs_f64((at as f64 - crate::clock::now_precise()).clamp(0.0, TICK.as_secs_f64()))
                }
                None => TICK,
            };
            tokio::select! {
                Some((name, tended)) = jobs.next(), if !jobs.is_empty() => {
                    running.remove(&name);
                    ended_here.insert(name.clone());
                    self.health.ended(&name);
                    self.metrics.running(-1);
                    let spec = config.credential(&name).expect("declared");
                    let now = crate::store::now();
                    match self.next_time(config, spec, &tended, failures.entry(name.clone()).or_default(), now) {
                        Some(at) if !self.once => queue.set(&name, at),
                        _ => queue.remove(&name),
                    }
                    self.refresh_one(spec, now);
                }
                _ = tokio::time::sleep(wait) => {}
                _ = self.requests.asked() => {}
                signal = signals.next() => match signal {
                    Signal::Stop(name) => {
                        tracing::info!("{name}: starting nothing new; {} running rotation(s) stop at their next step", jobs.len());
                        session.stop();
                        stop_by = Some(tokio::time::Instant::now() + settings.shutdown_timeout);
                    }
                    Signal::Reload => {
                        if let Some(new) = self.reread(config).await {
                            tracing::info!("reloading {} once {} running rotation(s) finish", config.file.display(), jobs.len());
                            reload = Some(new);
                        }
                    }
                },
                _ = tokio::time::sleep_until(stop_by.unwrap_or_else(tokio::time::Instant::now)), if stop_by.is_some() => {
                    tracing::warn!(
                        "{} rotation(s) did not reach a step boundary within shutdown_timeout; they resume at the next start",
                        jobs.len()
                    );
                    return Ok(Next::Stop);
                }
                _ = changes.tick(), if !self.once => match store.changed_since(seen) {
                    Ok((last, changed)) => {
                        seen = last;
                        for name in changed {
                            let failing = failures.get(&name).is_some_and(|n| *n > 0);
                            let ours = running.contains(&name) || ended_here.contains(&name);
                            if config.credential(&name).is_some() && !ours && !failing {
                                queue.set(&name, i64::MIN);
                            }
                        }
                        ended_here.clear();
                    }
                    Err(e) => tracing::warn!("cannot read what other processes changed in the store: {e}"),
                },
                _ = refresh.tick() => {
                    let now = crate::store::now();
                    for spec in config.credentials() {
                        let name = &spec.name;
                        if !running.contains(name) && failures.get(name).is_none_or(|n| *n == 0) {
                            queue.set(name, i64::MIN);
                        }
                        self.refresh_one(spec, now);
                    }
                }
            }
        }
    }

    /// When a credential whose work just ended needs work again: after
    /// [`BUSY_RETRY`] when another process held it; while its work keeps
    /// failing, after a backoff (1, 2, 4… up to 64 minutes, counted in
    /// `failures`); otherwise when its agenda says.
    fn next_time(
        &self,
        config: &Config,
        spec: &Credential,
        tended: &Tended,
        failures: &mut u32,
        now: i64,
    ) -> Option<i64> {
        if tended.busy {
            return Some(now + BUSY_RETRY);
        }
        *failures = if tended.failed { *failures + 1 } else { 0 };
        let backoff = if tended.failed { 60 << (*failures - 1).min(6) } else { 0 };
        match agenda(spec, self.store, now, frozen_until(config, now)) {
            Ok(agenda) if !agenda.now.is_empty() => Some(now + backoff),
            Ok(agenda) => agenda.next,
            Err(_) => Some(now + BUSY_RETRY),
        }
    }

    /// Reads `rekey.toml` again and checks it as fully as a start does:
    /// the new configuration, or `None` (logged and audited) when it is
    /// invalid, changes what needs a restart, or would leave every
    /// credential with live keys unmanaged (an emptied or truncated file).
    /// A reload that drops some credentials with live keys is applied, and
    /// names them in a warning and the audit log.
    async fn reread(&self, config: &Config) -> Option<Config> {
        let refused = |why: String| {
            tracing::error!("not reloading {}: {why}; the running configuration stays", config.file.display());
            if let Err(e) = self.store.audit("daemon.reload_failed", None, None, serde_json::json!({ "error": why })) {
                tracing::error!("the failed reload could not be audited: {e}");
            }
            None
        };
        let new = match Config::load(&config.file) {
            Ok(new) => new,
            Err(e) => return refused(e.to_string()),
        };
        if new.store().describe() != config.store().describe() || new.key_file() != config.key_file() {
            return refused("the store or its key changed, which needs a restart".into());
        }
        let problems = match Session::new(&new, self.store, self.runtime) {
            Ok(session) => session.check().await,
            Err(e) => vec![e.to_string()],
        };
        if !problems.is_empty() {
            return refused(problems.join("; "));
        }
        let dropped = match self.dropped_with_live_keys(config, &new) {
            Ok(dropped) => dropped,
            Err(e) => return refused(format!("cannot read which credentials hold live keys: {e}")),
        };
        if !dropped.is_empty() && new.credentials().is_empty() {
            return refused(format!(
                "it declares no credentials, and {} with live keys would no longer be managed ({}); an emptied file? Remove them one by one if that is meant",
                dropped.len(),
                dropped.join(", ")
            ));
        }
        if new.manifest.daemon.listen != config.manifest.daemon.listen {
            tracing::warn!("daemon.listen changed: the endpoints move at the next restart");
        }
        if !dropped.is_empty() {
            tracing::warn!(
                "the reload drops {} credential(s) whose keys are live and will no longer be rotated or revoked: {}",
                dropped.len(),
                dropped.join(", ")
            );
        }
        let credentials = new.credentials().len();
        let detail = serde_json::json!({ "credentials": credentials, "dropped_with_live_keys": dropped });
        if let Err(e) = self.store.audit("daemon.reloaded", None, None, detail) {
            return refused(format!("the reload could not be audited: {e}"));
        }
        self.metrics.forget_credentials();
        Some(new)
    }

    /// The credentials of `old` that `new` no longer declares and whose
    /// keys are live (a version not revoked).
    fn dropped_with_live_keys(&self, old: &Config, new: &Config) -> Result<Vec<String>, StoreError> {
        let mut dropped = Vec::new();
        for spec in old.credentials() {
            let name = &spec.name;
            if new.credential(name).is_none() && self.store.versions(name)?.iter().any(|v| v.revoked_at.is_none()) {
                dropped.push(name.clone());
            }
        }
        Ok(dropped)
    }

    /// Sets one credential's metrics from the store.
    fn refresh_one(&self, spec: &crate::config::Credential, now: i64) {
        let name = &spec.name;
        let current = self.store.labeled(name, crate::store::versions::Label::Current);
        let last = self.store.last_rotation(name);
        match (current, last) {
            (Ok(current), Ok(last)) => {
                let due = crate::rotation::due::due_at(spec, current.as_ref());
                self.metrics.credential(name, current.as_ref(), due, last.as_ref(), now);
            }
            (Err(e), _) | (_, Err(e)) => tracing::warn!("cannot read the standing of `{name}` for the metrics: {e}"),
        }
    }
}
