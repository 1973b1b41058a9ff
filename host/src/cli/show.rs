//! Human-readable output shared by the commands: aligned fields and the
//! request transcript.

use crate::runtime::{Connection, Exchange};

/// Prints `name` padded to a column, then `value`; a name as wide as the
/// column still gets a space.
pub fn field(name: &str, value: impl std::fmt::Display) {
    println!("{:<13}{value}", format!("{name} "));
}

/// `key=value` pairs on one line, or `(none)`.
pub fn pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let shown: Vec<String> = pairs.into_iter().map(|(key, value)| format!("{key}={value}")).collect();
    if shown.is_empty() { "(none)".into() } else { shown.join(" ") }
}

/// A list on one line, or `(none)`.
pub fn list(items: &[String]) -> String {
    if items.is_empty() { "(none)".into() } else { items.join(", ") }
}

/// One line per request: what was asked, what came back, sizes and time.
pub fn transcript(exchanges: &[Exchange]) {
    if exchanges.is_empty() {
        field("requests", "(none)");
        return;
    }
    field("requests", exchanges.len());
    for e in exchanges {
        println!("  {}", exchange(e));
    }
}

/// One request on one line: what was asked, what came back, sizes and time.
pub fn exchange(e: &Exchange) -> String {
    let result = match (&e.error, e.status) {
        (Some(error), _) => error.clone(),
        (None, Some(status)) => format!("{status}"),
        (None, None) => "no response".into(),
    };
    format!(
        "{} {}://{}:{}{} -> {}  ({} B sent, {} B received, {} ms)",
        e.method, e.scheme, e.host, e.port, e.path, result, e.request_bytes, e.response_bytes, e.duration_ms
    )
}

/// One line per TCP connection, if there were any: its address, and
/// whether it was in clear or TLS the host verified (and as which name).
pub fn connections(connections: &[Connection]) {
    if connections.is_empty() {
        return;
    }
    field("connections", connections.len());
    for c in connections {
        println!("  {}", connection(c));
    }
}

/// One TCP connection on one line.
pub fn connection(c: &Connection) -> String {
    match (&c.tls, &c.error) {
        (_, Some(error)) => format!("tcp {}  {error}", c.address),
        (Some(name), None) => format!("tcp {}  TLS, verified as `{name}`", c.address),
        (None, None) => format!("tcp {}  in clear", c.address),
    }
}
