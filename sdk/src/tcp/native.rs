//! The transport in a native test: the standard library's sockets.

use std::io::{self, Read, Write};
use std::time::Duration;

/// An open TCP connection; read and write it with [`std::io::Read`] and
/// [`std::io::Write`].
pub struct TcpStream(std::net::TcpStream);

impl TcpStream {
    /// Connects to `address`, an IP address and port such as
    /// `127.0.0.1:6379` (as in the sandbox, no name lookups).
    pub fn connect(address: &str) -> io::Result<Self> {
        let stream = std::net::TcpStream::connect_timeout(&super::parse_address(address)?, Duration::from_secs(10))
            .map_err(|e| io::Error::new(e.kind(), format!("TCP connection to {address} failed: {e}")))?;
        Ok(Self(stream))
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
