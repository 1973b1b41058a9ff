//! Everything a plugin prints in one call: `log` lines, stdout and stderr.
//!
//! Nothing reaches the operator while the call runs. The text is held, within
//! a byte budget, until the call ends, so that secrets the host only learns
//! at the end (the key `generate` returns) are masked too, including one
//! printed in parts across lines; then each line is cleaned by the
//! [`Redactor`] and sent to `tracing`. A plugin that writes
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

    /// What the plugin wrote to stderr, finished lines and the unfinished last one.
    fn stderr_lines(&self) -> Vec<String> {
        let captured = self.lock();
        let partial = String::from_utf8_lossy(&captured.stderr).into_owned();
        captured
            .lines
            .iter()
            .filter(|(source, _)| matches!(source, Source::Stderr))
            .map(|(_, line)| line.trim_end().to_string())
            .chain(partial.lines().map(String::from))
            .collect()
    }

    /// Why the plugin crashed, cleaned, from what it printed to stderr: an
    /// uncaught JavaScript or Python exception (whose runtime then aborts
    /// or panics with a message that names no cause), else a Rust panic
    /// message with its location.
    pub(crate) fn crash_message(&self, redactor: &Redactor) -> Option<String> {
        let mut lines = self.stderr_lines();
        redactor.mask_across(&mut lines);
        let message = uncaught_exception(&lines).or_else(|| panic_message(&lines))?;
        Some(redactor.clean(&message))
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
        let (sources, mut lines): (Vec<Source>, Vec<String>) = captured.lines.drain(..).unzip();
        redactor.mask_across(&mut lines);
        for (source, line) in sources.into_iter().zip(lines) {
            let line = redactor.clean(&line);
            if line.trim().is_empty() {
                continue;
            }
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

/// An exception a JavaScript or Python provider did not catch:
/// componentize-js reports one thrown from a function that returns a
/// `result` as "invalid variant tag value `undefined` (received `Error:
/// …`)", and Python prints a traceback whose last unindented line is the
/// exception.
fn uncaught_exception(lines: &[String]) -> Option<String> {
    let javascript = lines.iter().rev().find_map(|line| {
        let (_, received) = line.split_once("(received `")?;
        Some(received.rsplit_once("`)").map_or(received, |(thrown, _)| thrown).to_string())
    });
    let python = || {
        let traceback = lines.iter().rposition(|line| line.starts_with("Traceback (most recent call last)"))?;
        lines[traceback + 1..].iter().find(|line| !line.is_empty() && !line.starts_with(' ')).cloned()
    };
    javascript.or_else(python).map(|thrown| format!("uncaught {thrown}"))
}

/// The message of a Rust panic: the lines after `panicked at LOCATION:` up
/// to Rust's `note:` hint, followed by the location.
fn panic_message(lines: &[String]) -> Option<String> {
    let start = lines.iter().rposition(|line| line.contains(" panicked at "))?;
    let location = lines[start].split(" panicked at ").nth(1).unwrap_or_default().trim().trim_end_matches(':');
    let message: Vec<&str> =
        lines[start + 1..].iter().map(|line| line.trim_end()).take_while(|line| !line.starts_with("note: ")).collect();
    Some(format!("{} (at {location})", message.join(" / ")))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    #[test]
    fn an_uncaught_javascript_error_is_named_not_the_abort_after_it() {
        let stderr = lines(concat!(
            "invalid variant tag value `undefined` (received `Error: prefix is 35 characters; at most 16`) specified for `ProviderError`\n",
            "Stack:\n  export_provider_0_3_0$generate@initializer.js:11333:17\n\n",
            "Redirecting call to abort() to mozalloc_abort\n",
        ));
        assert_eq!(uncaught_exception(&stderr).unwrap(), "uncaught Error: prefix is 35 characters; at most 16");
    }

    #[test]
    fn an_uncaught_python_exception_is_the_last_line_of_its_traceback() {
        let stderr = lines(concat!(
            "Traceback (most recent call last):\n  File \"/0/app.py\", line 27, in generate\n",
            "  File \"/0/app.py\", line 11, in prefix\nValueError: prefix is 35 characters; at most 16\n\n",
            "thread '<unnamed>' (1) panicked at runtime/src/lib.rs:1293:29:\n",
            "Python function threw an unexpected exception\n",
        ));
        assert_eq!(uncaught_exception(&stderr).unwrap(), "uncaught ValueError: prefix is 35 characters; at most 16");
    }

    #[test]
    fn a_rust_panic_is_its_message_and_location() {
        let stderr = lines(concat!(
            "thread '<unnamed>' panicked at src/lib.rs:4:5:\nboom\ntwo\n",
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        ));
        assert_eq!(uncaught_exception(&stderr), None);
        assert_eq!(panic_message(&stderr).unwrap(), "boom / two (at src/lib.rs:4:5)");
    }
}
