//! Everything a plugin prints in one call: `log` lines, stdout and stderr.
//!
//! Nothing reaches the operator while the call runs. The text is held, within
//! a byte budget, until the call ends, so that secrets the host only learns
//! at the end (the key `generate` returns) are masked too; then each line is
//! cleaned by the [`Redactor`] and sent to `tracing`. A plugin that writes
//! past the budget is stopped: flooding the log is not a provider's job.
//! Every line costs at least [`LINE_COST`] bytes of the budget, so bare
//! newlines cannot turn it into hundreds of thousands of log lines.

use super::bindings::Level;
use super::redact::Redactor;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// The least a line costs of the output budget (256 KiB: 1,024 lines).
pub(crate) const LINE_COST: usize = 256;

/// Where a line came from.
#[derive(Clone, Copy, Debug)]
enum Source {
    Log(Level),
    Stdout,
    Stderr,
}

#[derive(Default)]
struct Captured {
    lines: Vec<(Source, String)>,
    /// Unfinished last lines of stdout and stderr.
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    spent: Spent,
}

/// How much of the budget is spent.
#[derive(Default)]
struct Spent {
    used: usize,
    exceeded: bool,
}

impl Spent {
    fn charge(&mut self, budget: usize, bytes: usize) -> Result<(), OutputExceeded> {
        self.used += bytes;
        if self.used > budget {
            self.exceeded = true;
            return Err(OutputExceeded);
        }
        Ok(())
    }
}

/// The shared output of one call.
#[derive(Clone)]
pub(crate) struct Output {
    captured: Arc<Mutex<Captured>>,
    budget: usize,
}

/// The budget was spent; the call is stopped.
#[derive(Debug, thiserror::Error)]
#[error("the plugin's output exceeded its budget")]
pub(crate) struct OutputExceeded;

impl Output {
    pub(crate) fn new(budget: usize) -> Self {
        Self { captured: Arc::default(), budget }
    }

    fn lock(&self) -> MutexGuard<'_, Captured> {
        // A poisoned lock only means another writer panicked mid-push; the
        // text is still usable.
        self.captured.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a `log` line, or refuses it when the budget is spent.
    pub(crate) fn log(&self, level: Level, message: String) -> Result<(), OutputExceeded> {
        let mut captured = self.lock();
        captured.spent.charge(self.budget, message.len().max(LINE_COST))?;
        captured.lines.push((Source::Log(level), message));
        Ok(())
    }

    fn write(&self, source: Source, bytes: &[u8]) -> Result<(), OutputExceeded> {
        let mut captured = self.lock();
        captured.spent.charge(self.budget, bytes.len())?;
        let captured = &mut *captured;
        let pending = match source {
            Source::Stderr => &mut captured.stderr,
            _ => &mut captured.stdout,
        };
        pending.extend_from_slice(bytes);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            // The line's bytes are charged already; short ones cost more.
            captured.spent.charge(self.budget, LINE_COST.saturating_sub(line.len()))?;
            captured.lines.push((source, String::from_utf8_lossy(&line).into_owned()));
        }
        Ok(())
    }

    /// Whether the plugin wrote past its budget.
    pub(crate) fn exceeded(&self) -> bool {
        self.lock().spent.exceeded
    }

    /// The message of a Rust panic the plugin printed to stderr, cleaned:
    /// the lines after `panicked at LOCATION:` up to Rust's `note:` hint,
    /// followed by the location.
    pub(crate) fn panic_message(&self, redactor: &Redactor) -> Option<String> {
        let captured = self.lock();
        let partial = String::from_utf8_lossy(&captured.stderr).into_owned();
        let lines: Vec<&str> = captured
            .lines
            .iter()
            .filter(|(source, _)| matches!(source, Source::Stderr))
            .map(|(_, line)| line.as_str())
            .chain(partial.lines())
            .collect();
        let start = lines.iter().rposition(|line| line.contains(" panicked at "))?;
        let location = lines[start].split(" panicked at ").nth(1).unwrap_or_default().trim().trim_end_matches(':');
        let message: Vec<&str> = lines[start + 1..]
            .iter()
            .map(|line| line.trim_end())
            .take_while(|line| !line.starts_with("note: "))
            .collect();
        Some(redactor.clean(&format!("{} (at {location})", message.join(" / "))))
    }

    /// Sends every line to `tracing`, cleaned, under the plugin's name.
    pub(crate) fn emit(&self, plugin: &str, redactor: &Redactor) {
        let mut captured = self.lock();
        let partial = [
            (Source::Stdout, std::mem::take(&mut captured.stdout)),
            (Source::Stderr, std::mem::take(&mut captured.stderr)),
        ];
        for (source, rest) in partial {
            if !rest.is_empty() {
                captured.lines.push((source, String::from_utf8_lossy(&rest).into_owned()));
            }
        }
        for (source, line) in captured.lines.drain(..) {
            let line = redactor.clean(&line);
            match source {
                Source::Log(Level::Trace) => tracing::trace!(target: "rekey::plugin", plugin, "{line}"),
                Source::Log(Level::Debug) => tracing::debug!(target: "rekey::plugin", plugin, "{line}"),
                Source::Log(Level::Info) => tracing::info!(target: "rekey::plugin", plugin, "{line}"),
                Source::Log(Level::Warn) => tracing::warn!(target: "rekey::plugin", plugin, "{line}"),
                Source::Log(Level::Error) => tracing::error!(target: "rekey::plugin", plugin, "{line}"),
                Source::Stdout => tracing::info!(target: "rekey::plugin", plugin, stream = "stdout", "{line}"),
                Source::Stderr => tracing::warn!(target: "rekey::plugin", plugin, stream = "stderr", "{line}"),
            }
        }
        if captured.spent.exceeded {
            tracing::warn!(target: "rekey::plugin", plugin, "output cut at {} bytes", self.budget);
        }
    }

    /// The plugin's stdout, as a WASI stream.
    pub(crate) fn stdout(&self) -> Stream {
        Stream { output: self.clone(), source: Source::Stdout }
    }

    /// The plugin's stderr, as a WASI stream.
    pub(crate) fn stderr(&self) -> Stream {
        Stream { output: self.clone(), source: Source::Stderr }
    }
}

/// stdout or stderr of a plugin, feeding its [`Output`].
#[derive(Clone)]
pub(crate) struct Stream {
    output: Output,
    source: Source,
}

impl IsTerminal for Stream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Stream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(self.output.write(self.source, buf).map(|()| buf.len()).map_err(io::Error::other))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
