//! What the rotations of one run share — the declarations, the store, the
//! plugin runtime, the approvals, and each plugin checked and loaded once —
//! and running many of them at once.
//!
//! A run of 10,000 credentials on one plugin reads, digests, checks and
//! compiles (or deserializes) that plugin once, not 10,000 times. The
//! rotations run concurrently in one task: most of a rotation's time is
//! spent waiting (for a provider's answer, for the disk), so a bounded
//! number of them interleave at each wait, and their journal records share
//! the store's flushes (see [`Store::durable`]).

use super::{Observer, RotationError, Rotator};
use crate::config::Config;
use crate::runtime::{Plugin, Runtime};
use crate::store::Store;
use crate::trust::Gate;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::Instrument;

/// The shared context of the rotations of one run.
pub struct Session<'a> {
    pub(super) config: &'a Config,
    pub(super) store: &'a Store,
    runtime: &'a Runtime,
    gate: Gate,
    /// Each plugin file loaded so far, or why it could not be and when, by name and path.
    plugins: tokio::sync::Mutex<HashMap<(String, PathBuf), (Loaded, std::time::Instant)>>,
    /// Set by [`Session::stop`]: rotations stop at their next step boundary.
    pub(super) stopping: AtomicBool,
    pub(super) observer: Option<&'a dyn Observer>,
}

/// A plugin checked and loaded, or why it could not be.
type Loaded = Result<Arc<Plugin>, String>;

/// How long a plugin that failed to load fails again without being read:
/// long enough that a bulk run reads a broken plugin once, short enough
/// that a daemon sees the file mended at its next try.
const LOAD_FAILURE_KEPT: Duration = Duration::from_secs(2);

impl<'a> Session<'a> {
    /// Reads the approvals, checks that every notifier's signing secret
    /// can be resolved, and switches the store to group commits.
    pub fn new(config: &'a Config, store: &'a Store, runtime: &'a Runtime) -> Result<Self, RotationError> {
        let gate = Gate::new(config)?;
        for notifier in &config.manifest.notify {
            let notifier = notifier.get_ref();
            crate::deploy::notify::signing_secret(notifier, &config.dir, store).map_err(|cause| {
                RotationError::Signing { notifier: crate::deploy::notify::describe(notifier), cause }
            })?;
        }
        store.group_commits()?;
        Ok(Self {
            config,
            store,
            runtime,
            gate,
            plugins: Default::default(),
            stopping: AtomicBool::new(false),
            observer: None,
        })
    }

    /// The declarations this session runs by.
    pub fn config(&self) -> &'a Config {
        self.config
    }

    /// The store.
    pub fn store(&self) -> &'a Store {
        self.store
    }

    /// Reports every plugin call and step of this session's rotations to `observer`.
    pub fn observed_by(mut self, observer: &'a dyn Observer) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Stops every rotation of this session at its next step boundary
    /// (a rollback under way still finishes): each returns
    /// [`RotationError::Stopped`], and resumes from its journal later.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// The plugin approved as `name` at `path`, checked and loaded on first
    /// use. A plugin that cannot be loaded fails every credential that uses
    /// it with the same error, without being read again, for
    /// [`LOAD_FAILURE_KEPT`].
    pub(super) async fn plugin(&self, name: &str, path: PathBuf) -> Loaded {
        let mut plugins = self.plugins.lock().await;
        let key = (name.to_string(), path);
        match plugins.get(&key) {
            Some((Ok(plugin), _)) => return Ok(plugin.clone()),
            Some((Err(e), at)) if at.elapsed() < LOAD_FAILURE_KEPT => return Err(e.clone()),
            _ => {}
        }
        let loaded = self.gate.load(self.runtime, name, &key.1).await.map(Arc::new).map_err(|e| e.to_string());
        plugins.insert(key, (loaded.clone(), std::time::Instant::now()));
        loaded
    }

    /// What would keep each declared credential from rotating, found now
    /// rather than at its first try: a plugin that is not installed,
    /// approved or loadable, an admin secret that cannot be resolved, a
    /// grant that does not parse. One line per credential that has one.
    pub async fn check(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for spec in self.config.credentials() {
            let prepared = match Rotator::prepare(self, spec).await {
                Ok(_) => super::targets::Targets::load(self, spec).await.map(drop),
                Err(e) => Err(e),
            };
            if let Err(e) = prepared {
                problems.push(format!("credential `{}`: {e}", spec.name));
            }
        }
        problems
    }

    /// The rotator of one credential: locks it and loads its plugin.
    pub async fn rotator<'s>(&'s self, name: &str) -> Result<Rotator<'s>, RotationError> {
        Rotator::new(self, name).await
    }

    /// Runs `work` on the rotator of each credential, at most `jobs` at a
    /// time, and hands each result to `done` as it comes. Each credential
    /// is named once; a failure ends only its own rotation. Log lines carry
    /// the credential's name.
    pub async fn each<'s, T, W, F>(
        &'s self,
        names: &[String],
        jobs: usize,
        work: W,
        mut done: impl FnMut(&str, Result<T, RotationError>, Duration),
    ) where
        W: Fn(Rotator<'s>) -> F,
        F: Future<Output = Result<T, RotationError>>,
    {
        let work = &work;
        let runs = futures_util::stream::iter(names.iter().map(|name| {
            let span = tracing::info_span!("rotation", credential = %name);
            async move {
                let started = std::time::Instant::now();
                let result = match self.rotator(name).await {
                    Ok(rotator) => work(rotator).await,
                    Err(e) => Err(e),
                };
                (name.as_str(), result, started.elapsed())
            }
            .instrument(span)
        }))
        .buffer_unordered(jobs.max(1));
        futures_util::pin_mut!(runs);
        // Not yet under `Store::batching`: a full disk lost a key with it
        // (disk::a_full_disk_under_the_store…, issue 29's closing note).
        while let Some((name, result, elapsed)) = runs.next().await {
            done(name, result, elapsed);
        }
    }
}
