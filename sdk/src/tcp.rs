//! A blocking TCP client over `wasi:sockets/tcp`, for providers that speak a
//! wire protocol (Redis, PostgreSQL…).
//!
//! It talks to `wasi:sockets` directly instead of going through
//! `std::net::TcpStream`: the standard library's socket layer makes a
//! component import the filesystem, UDP and name lookups, which the host
//! refuses. Connections go only to addresses the plugin declared in
//! `permissions.tcp` and the operator granted; anything else fails with
//! `access-denied`.
//!
//! TLS is the host's: [`TcpStream::start_tls`] hands the connection to the
//! host, which verifies the server's certificate (public roots and the CAs
//! the operator names) as the name given, which must be the connection's
//! address or a name the operator granted, and carries the bytes from then
//! on. Call it at the start (LDAPS, `rediss`) or where the protocol
//! upgrades (PostgreSQL's `SSLRequest`, StartTLS). A failed handshake is an
//! [`std::io::ErrorKind::InvalidData`] error whose message says why, and
//! leaves the connection closed: nothing more goes over it, in clear or not.
//!
//! With the `test-host` feature, a native build (a plugin's `cargo test`)
//! connects with the standard library instead, to a server the test runs,
//! and does TLS with rustls, trusting the public roots and the PEM file
//! `SSL_CERT_FILE` names.

use std::io;
use std::net::SocketAddr;

#[cfg(test_host)]
mod native;
#[cfg(not(test_host))]
mod wasi;
#[cfg(test_host)]
pub use native::TcpStream;
#[cfg(not(test_host))]
pub use wasi::TcpStream;

/// A TLS handshake that failed, and why.
fn tls_error(address: &str, why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("TLS with {address}: {why}"))
}

/// An IP address and port: the sandbox does no name lookups.
fn parse_address(address: &str) -> io::Result<SocketAddr> {
    address
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("`{address}` is not an IP address and port")))
}
