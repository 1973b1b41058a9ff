//! Compiling untrusted code under a time and memory bound. Compilation
//! runs in a child process (`rekey __compile`, given the plugin on stdin,
//! an in-memory file: a pipe would let a dying child kill the parent with
//! SIGPIPE)
//! whose data segment is capped with `RLIMIT_DATA` and which is killed past
//! a deadline, so a component built to make the compiler take minutes or
//! gigabytes is refused with a clear error instead of hanging the host or
//! exhausting its memory. The child builds the engine with the same
//! settings and hands back the compiled artifact, which the parent
//! deserializes (and caches) as if it had compiled it itself.

use super::limits::Limits;
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use wasmtime::Engine;

/// Variables that tune the bound (a plugin built from a large language
/// runtime may need more).
pub const TIMEOUT_VAR: &str = "REKEY_COMPILE_TIMEOUT";
/// See [`TIMEOUT_VAR`].
pub const MEMORY_VAR: &str = "REKEY_COMPILE_MEMORY_MIB";
/// The largest plugin file, in MiB; it overrides rekey.toml's `plugin_max_size`.
pub const MAX_SIZE_VAR: &str = "REKEY_PLUGIN_MAX_MIB";

/// The largest plugin file by default: a language runtime compiled in
/// (Python, JavaScript) makes 14–19 MB.
pub const DEFAULT_MAX_SIZE: u64 = 32 << 20;
/// How much larger than the largest plugin its compiled code may be, which
/// bounds a cache entry (measured: 1.9× for Python, 2.7× for JavaScript).
const CODE_PER_PLUGIN_BYTE: u64 = 4;

/// How plugins are compiled.
#[derive(Clone, Debug)]
pub struct Compiler {
    /// The `rekey` binary that runs `__compile`.
    program: PathBuf,
    /// Wall-clock time a compilation may take.
    pub timeout: Duration,
    /// Bytes of data (heap) the compiling process may use.
    pub memory: u64,
    /// Bytes of the largest plugin file; larger ones are refused unread.
    pub max_size: u64,
}

/// Why a compilation in the child failed.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// It took longer than allowed.
    #[error("compiling it took longer than {0:?}, and was stopped")]
    Timeout(Duration),
    /// It needed more memory than allowed.
    #[error("compiling it needed more than {} MiB of memory, and was stopped", .0 >> 20)]
    Memory(u64),
    /// Its compiled code is larger than a cache entry may be.
    #[error("its compiled code is larger than {} MiB, and was dropped", .0 >> 20)]
    Code(u64),
    /// The compiler refused it (it is not valid WebAssembly, say).
    #[error("{0}")]
    Refused(String),
    /// The child could not be run.
    #[error("cannot run the compiler process {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Compiler {
    /// Compiles in child processes of `program` (a `rekey` binary), with
    /// the bounds from [`TIMEOUT_VAR`] (seconds, default 60),
    /// [`MEMORY_VAR`] (MiB, default 2048, at least 64: the compiler's
    /// threads need their stacks) and, for the plugin file,
    /// [`MAX_SIZE_VAR`], else `configured_max_size`, else
    /// [`DEFAULT_MAX_SIZE`].
    pub fn child(program: PathBuf, configured_max_size: Option<u64>) -> Self {
        let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        Self {
            program,
            timeout: Duration::from_secs(var(TIMEOUT_VAR).unwrap_or(60)),
            memory: var(MEMORY_VAR).unwrap_or(2048).max(64) << 20,
            max_size: var(MAX_SIZE_VAR).map(|mib| mib << 20).or(configured_max_size).unwrap_or(DEFAULT_MAX_SIZE),
        }
    }

    /// The compiled artifact of `wasm`, made by a child process under the
    /// bounds, for an engine built with `limits`.
    pub(crate) fn compile(&self, limits: &Limits, wasm: &[u8]) -> Result<Vec<u8>, CompileError> {
        let failed = |e: std::io::Error| CompileError::Spawn { program: self.program.clone(), source: e };
        let input =
            rustix::fs::memfd_create("rekey-plugin", rustix::fs::MemfdFlags::CLOEXEC).map_err(|e| failed(e.into()))?;
        let mut input = std::fs::File::from(input);
        input.write_all(wasm).and_then(|()| input.seek(std::io::SeekFrom::Start(0))).map_err(failed)?;
        let mut child = Command::new(&self.program)
            .arg("__compile")
            .args([
                "--memory-bytes",
                &limits.memory_bytes.to_string(),
                "--stack-bytes",
                &limits.stack_bytes.to_string(),
            ])
            .args(["--data-limit", &self.memory.to_string()])
            .stdin(Stdio::from(input))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(failed)?;
        let (mut stdout, mut stderr) = (child.stdout.take().expect("piped"), child.stderr.take().expect("piped"));
        let most = max_code(self.max_size);
        let output = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            // Read one byte past the bound, to tell "at the bound" from "past it".
            (&mut stdout).take(most + 1).read_to_end(&mut bytes)?;
            // Past it, the rest is drained unread so the child can finish.
            std::io::copy(&mut stdout, &mut std::io::sink())?;
            Ok::<_, std::io::Error>(bytes)
        });
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| CompileError::Refused(e.to_string()))? {
                break Some(status);
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let errors = errors.join().unwrap_or_default();
        // Out of memory, the compiler aborts, or a thread it needs cannot
        // start and it may wait for it until the deadline.
        let starved = ["memory allocation", "out of memory", "Resource temporarily unavailable"];
        match status {
            Some(status) if status.success() => match output.join().ok().and_then(Result::ok) {
                Some(code) if code.len() as u64 > most => Err(CompileError::Code(most)),
                Some(code) => Ok(code),
                None => Err(CompileError::Refused(errors)),
            },
            _ if starved.iter().any(|sign| errors.contains(sign)) => Err(CompileError::Memory(self.memory)),
            None => Err(CompileError::Timeout(self.timeout)),
            Some(_) => Err(CompileError::Refused(errors.trim().trim_start_matches("error: ").to_string())),
        }
    }
}

/// The most bytes of compiled code, and so of a cache entry, for plugins
/// of at most `max_size` bytes.
pub(crate) fn max_code(max_size: u64) -> u64 {
    max_size * CODE_PER_PLUGIN_BYTE
}

/// The child's side: caps its own data segment, compiles the component
/// read from stdin for an engine built with `limits`, and writes the
/// artifact to stdout.
pub fn serve(limits: &Limits, data_limit: u64) -> Result<(), CompileError> {
    let failed = |e: &dyn std::fmt::Display| CompileError::Refused(e.to_string());
    let limit = rustix::process::Rlimit { current: Some(data_limit), maximum: Some(data_limit) };
    rustix::process::setrlimit(rustix::process::Resource::Data, limit).map_err(|e| failed(&e))?;
    let mut wasm = Vec::new();
    std::io::stdin().read_to_end(&mut wasm).map_err(|e| failed(&e))?;
    // Only compiling here: no instance pool, whose tables would count against the limit.
    let engine = Engine::new(&super::engine::config(limits)).map_err(|e| failed(&e))?;
    let compiled = engine.precompile_component(&wasm).map_err(|e| failed(&e))?;
    std::io::stdout().write_all(&compiled).map_err(|e| failed(&e))
}
