//! The resource limits every plugin call runs under, and the store limiter
//! that enforces the memory part and remembers when it said no (so a failed
//! allocation is reported as a memory limit, not as a random trap).

use std::time::Duration;

/// Bounds on one plugin call. The defaults suit a provider that makes a few
/// API requests; operators can tighten or loosen each.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Limits {
    /// Bytes of each linear memory of the plugin.
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
            max_output: 256 << 10,
        }
    }
}

/// The `ResourceLimiter` of one call's store.
pub(crate) struct MemoryLimiter {
    max_bytes: usize,
    /// Set when a growth was refused; read after the call to name the cause.
    pub(crate) refused: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self { max_bytes, refused: false }
    }
}

/// Table elements a plugin may have; far above what compiled Rust needs.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max_bytes;
        self.refused |= !allowed;
        Ok(allowed)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
