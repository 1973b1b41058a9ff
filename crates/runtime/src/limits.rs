//! The resource limits every plugin call runs under, and the one memory
//! budget of a call: every linear memory and table of the plugin, and what
//! the host holds on its behalf, drawn from one account as it is allocated.
//! The account remembers when it said no, so a failed allocation is
//! reported as a memory limit, not as a random trap.
//!
//! What the host holds for a plugin is bounded in two ways. Resources
//! (header maps, request and response handles, body buffers, streams,
//! sockets) live in the call's resource table, which holds a quarter of the
//! budget's worth of entries of at most [`MAX_RESOURCE_BYTES`] each (the
//! header-map size limit, and two body chunks), at most [`MAX_RESOURCES`];
//! that much is reserved from the budget before the plugin starts. Response
//! bodies that the host reads whole (to mask admin secrets echoed in them)
//! are charged as they are read.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Entries of a call's resource table, at most: far more than a provider
/// holds at once (an HTTP request is about ten), few enough to bound.
pub(crate) const MAX_RESOURCES: usize = 128;
/// The fewest entries, whatever the budget.
const MIN_RESOURCES: usize = 16;
/// The most one resource can hold: a header map of up to this many bytes
/// (wasmtime's own default), or a request body's buffer (two chunks of half
/// of it).
pub(crate) const MAX_RESOURCE_BYTES: usize = 128 << 10;
/// The chunk size of a request body's buffer.
pub(crate) const BODY_CHUNK: usize = MAX_RESOURCE_BYTES / 2;
/// TCP connections one call may open (a provider needs one or two).
pub(crate) const MAX_TCP_CONNECTIONS: usize = 16;

/// Bounds on one plugin call. The defaults suit a provider that makes a few
/// API requests; operators can tighten or loosen each.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Limits {
    /// Bytes of memory the call may make the host hold: all linear
    /// memories and tables of the plugin together, and its resources.
    pub memory_bytes: usize,
    /// Wall-clock time for the whole call, host I/O included.
    pub deadline: Duration,
    /// WebAssembly stack, in bytes (deep recursion traps past it).
    pub stack_bytes: usize,
    /// Outbound HTTP requests in one call.
    pub max_requests: u32,
    /// Bytes of the headers of one request (names and values).
    pub max_request_headers: usize,
    /// Bytes of one request body the plugin may send.
    pub max_request_body: u64,
    /// Bytes of one response body the plugin may receive.
    pub max_response_body: u64,
    /// Bytes a call may send and receive over TCP, all connections together.
    pub max_tcp_bytes: u64,
    /// Bytes of stdout, stderr and `log` lines together.
    pub max_output: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(30),
            stack_bytes: 1 << 20,
            max_requests: 32,
            max_request_headers: 64 << 10,
            max_request_body: 1 << 20,
            max_response_body: 4 << 20,
            max_tcp_bytes: 16 << 20,
            max_output: 256 << 10,
        }
    }
}

/// The memory account of one call, shared by the store's limiter and the
/// host code that buffers data for the plugin.
#[derive(Debug)]
pub(crate) struct Budget {
    limit: usize,
    used: AtomicUsize,
    refused: AtomicBool,
}

impl Budget {
    /// A budget of `limit` bytes, from which the resource table's reserve
    /// is taken at once.
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        let reserve = (resource_slots(limit) * MAX_RESOURCE_BYTES).min(limit);
        Arc::new(Self { limit, used: AtomicUsize::new(reserve), refused: AtomicBool::new(false) })
    }

    /// How many entries the call's resource table may hold.
    pub(crate) fn resources(&self) -> usize {
        resource_slots(self.limit)
    }

    /// Takes `bytes` from the budget, or refuses (and remembers it).
    pub(crate) fn charge(&self, bytes: usize) -> bool {
        let taken = self.used.fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            used.checked_add(bytes).filter(|total| *total <= self.limit)
        });
        if taken.is_err() {
            self.refused.store(true, Ordering::Relaxed);
        }
        taken.is_ok()
    }

    /// Whether an allocation was refused.
    pub(crate) fn refused(&self) -> bool {
        self.refused.load(Ordering::Relaxed)
    }

    /// Bytes charged so far, the resource reserve included.
    #[cfg(test)]
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// The entries of a call's resource table under a budget of `limit` bytes.
pub(crate) fn resource_slots(limit: usize) -> usize {
    (limit / 4 / MAX_RESOURCE_BYTES).clamp(MIN_RESOURCES, MAX_RESOURCES)
}

/// Table elements a plugin may have; far above what compiled Rust needs.
const MAX_TABLE_ELEMENTS: usize = 100_000;
/// What one table element costs the host (a function reference and its
/// type, rounded up).
const TABLE_ELEMENT_BYTES: usize = 16;

/// The `ResourceLimiter` of one call's store: every memory and table of the
/// plugin grows from the call's one budget.
pub(crate) struct MemoryLimiter {
    budget: Arc<Budget>,
}

impl MemoryLimiter {
    pub(crate) fn new(budget: Arc<Budget>) -> Self {
        Self { budget }
    }
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(self.budget.charge(desired.saturating_sub(current)))
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let growth = desired.saturating_sub(current).saturating_mul(TABLE_ELEMENT_BYTES);
        Ok(desired <= MAX_TABLE_ELEMENTS && self.budget.charge(growth))
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// Core instances, memories and tables one plugin may create: a Rust
/// component has one memory; toolchains that link several modules (a
/// language runtime, libc, adapters) more: a componentize-py component
/// instantiates 80 core modules. Checked at load too.
pub(crate) const MAX_CORE_INSTANCES: usize = 128;
/// See [`MAX_CORE_INSTANCES`].
pub(crate) const MAX_MEMORIES: usize = 8;
/// See [`MAX_CORE_INSTANCES`].
pub(crate) const MAX_TABLES: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn every_memory_and_table_draws_from_one_budget() {
        let budget = Budget::new(40 << 20);
        let reserve = budget.resources() * MAX_RESOURCE_BYTES;
        assert_eq!(reserve, 10 << 20, "a quarter of the budget");
        let mut limiter = MemoryLimiter::new(budget.clone());
        // Two memories of 12 MiB each fit; a third does not: the limit is per call, not per memory.
        assert!(limiter.memory_growing(0, 12 << 20, None).unwrap());
        assert!(limiter.memory_growing(0, 12 << 20, None).unwrap());
        assert!(!budget.refused());
        assert!(!limiter.memory_growing(0, 12 << 20, None).unwrap());
        assert!(budget.refused());
        assert!(!limiter.table_growing(0, 1 << 20, None).unwrap(), "16 MiB of table elements");
        assert_eq!(budget.used(), reserve + (24 << 20));
    }
}
