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
//! With the `test-host` feature, a native build (a plugin's `cargo test`)
//! connects with the standard library instead, to a server the test runs.

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

/// An IP address and port: the sandbox does no name lookups.
fn parse_address(address: &str) -> io::Result<SocketAddr> {
    address
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("`{address}` is not an IP address and port")))
}
