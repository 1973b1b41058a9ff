//! The transport: `wasi:sockets/tcp`, through the host's sandbox.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

/// An open TCP connection; read and write it with [`std::io::Read`] and
/// [`std::io::Write`].
pub struct TcpStream {
    // Streams are children of the socket: they are dropped before it.
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
}

impl TcpStream {
    /// Connects to `address`, an IP address and port such as
    /// `127.0.0.1:6379` or `[::1]:5432` (the sandbox does no name lookups).
    pub fn connect(address: &str) -> io::Result<Self> {
        let (family, remote) = match super::parse_address(address)? {
            SocketAddr::V4(v4) => {
                let [a, b, c, d] = v4.ip().octets();
                (
                    IpAddressFamily::Ipv4,
                    IpSocketAddress::Ipv4(Ipv4SocketAddress { port: v4.port(), address: (a, b, c, d) }),
                )
            }
            SocketAddr::V6(v6) => {
                let s = v6.ip().segments();
                let address = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
                let remote =
                    Ipv6SocketAddress { port: v6.port(), flow_info: v6.flowinfo(), address, scope_id: v6.scope_id() };
                (IpAddressFamily::Ipv6, IpSocketAddress::Ipv6(remote))
            }
        };
        let socket = create_tcp_socket(family).map_err(|e| error(address, e))?;
        socket.start_connect(&instance_network(), remote).map_err(|e| error(address, e))?;
        let pollable = socket.subscribe();
        let (input, output) = loop {
            match socket.finish_connect() {
                Err(ErrorCode::WouldBlock) => pollable.block(),
                other => break other.map_err(|e| error(address, e))?,
            }
        };
        drop(pollable);
        Ok(Self { input, output, socket })
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut self.input, buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut self.output, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.output)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        let _ = self.socket.shutdown(ShutdownType::Both);
    }
}

fn error(address: &str, code: ErrorCode) -> io::Error {
    let kind = match code {
        ErrorCode::AccessDenied => io::ErrorKind::PermissionDenied,
        ErrorCode::ConnectionRefused => io::ErrorKind::ConnectionRefused,
        ErrorCode::Timeout => io::ErrorKind::TimedOut,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("TCP connection to {address} failed: {}", code.name()))
}
