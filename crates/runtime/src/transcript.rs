//! The record of what a plugin did on the network in one call: every HTTP
//! request (method, scheme, host, path, status, sizes and time, never
//! headers, bodies or query strings, which may carry secrets) and every TCP
//! connection (its address, and the name the host verified when the plugin
//! asked for TLS).

use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One request a plugin made, or tried to make.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Exchange {
    /// `GET`, `POST`, …
    pub method: String,
    /// `http` or `https`.
    pub scheme: String,
    /// The host the plugin asked for, as written in its URL.
    pub host: String,
    /// The port, explicit or implied by the scheme.
    pub port: u16,
    /// The path, without the query string; secrets in it are masked.
    pub path: String,
    /// The response status, when a response came.
    pub status: Option<u16>,
    /// Bytes of request body sent.
    pub request_bytes: u64,
    /// Bytes of response body the plugin read.
    pub response_bytes: u64,
    /// Milliseconds from the request to the end of the response head.
    pub duration_ms: u64,
    /// Why the request was refused or failed, if it was.
    pub error: Option<String>,
}

/// One TCP connection a plugin opened.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Connection {
    /// The address connected to, `ip:port`.
    pub address: String,
    /// The name the host verified the server's certificate for, once the
    /// plugin asked for TLS and the handshake succeeded; `None` in clear.
    pub tls: Option<String>,
    /// Why TLS was refused or its handshake failed.
    pub error: Option<String>,
}

/// The exchanges of one call, shared by the request hook and the bodies
/// that count bytes while the plugin streams them, and its TCP connections.
#[derive(Clone, Default)]
pub(crate) struct Transcript {
    entries: Arc<Mutex<Vec<Exchange>>>,
    connections: Arc<Mutex<Vec<Connection>>>,
}

/// A handle on one entry, to fill in as the exchange progresses.
#[derive(Clone)]
pub(crate) struct Entry {
    transcript: Transcript,
    index: usize,
    started: Instant,
}

impl Transcript {
    /// Records the start of an exchange.
    pub(crate) fn start(&self, exchange: Exchange) -> Entry {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push(exchange);
        Entry { transcript: self.clone(), index: entries.len() - 1, started: Instant::now() }
    }

    /// A copy of every exchange so far.
    pub(crate) fn snapshot(&self) -> Vec<Exchange> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records a new TCP connection; its index, to record TLS on it.
    pub(crate) fn connected(&self, address: std::net::SocketAddr) -> usize {
        let mut connections = self.connections.lock().unwrap_or_else(|e| e.into_inner());
        connections.push(Connection { address: address.to_string(), tls: None, error: None });
        connections.len() - 1
    }

    /// Changes the record of connection `index`.
    pub(crate) fn update_connection(&self, index: usize, change: impl FnOnce(&mut Connection)) {
        if let Some(connection) = self.connections.lock().unwrap_or_else(|e| e.into_inner()).get_mut(index) {
            change(connection);
        }
    }

    /// A copy of every connection so far.
    pub(crate) fn connections(&self) -> Vec<Connection> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Entry {
    /// Changes the entry.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Exchange)) {
        let mut entries = self.transcript.entries.lock().unwrap_or_else(|e| e.into_inner());
        change(&mut entries[self.index]);
    }

    /// Records the response head.
    pub(crate) fn responded(&self, status: u16) {
        let elapsed = self.started.elapsed().as_millis() as u64;
        self.update(|e| {
            e.status = Some(status);
            e.duration_ms = elapsed;
        });
    }

    /// Records a failure or refusal.
    pub(crate) fn failed(&self, reason: String) {
        let elapsed = self.started.elapsed().as_millis() as u64;
        self.update(|e| {
            e.error.get_or_insert(reason);
            if e.duration_ms == 0 {
                e.duration_ms = elapsed;
            }
        });
    }
}
