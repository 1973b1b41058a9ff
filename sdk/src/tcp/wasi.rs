//! The transport: `wasi:sockets/tcp` through the host's sandbox, and TLS
//! done by the host (`wasi:tls`).

use crate::bindings::wasi::tls::types::{ClientConnection, ClientHandshake};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use wasip2::io::streams::{InputStream, OutputStream};
use wasip2::sockets::instance_network::instance_network;
use wasip2::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
use wasip2::sockets::tcp::{ShutdownType, TcpSocket};
use wasip2::sockets::tcp_create_socket::create_tcp_socket;

/// An open TCP connection, in clear or TLS; read and write it with
/// [`std::io::Read`] and [`std::io::Write`].
pub struct TcpStream {
    // Streams are children of the TLS connection, which (like the raw
    // streams it took over) is a child of the socket: dropped in this order.
    streams: Option<(InputStream, OutputStream)>,
    tls: Option<ClientConnection>,
    socket: TcpSocket,
    address: String,
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
        let streams = loop {
            match socket.finish_connect() {
                Err(ErrorCode::WouldBlock) => pollable.block(),
                other => break other.map_err(|e| error(address, e))?,
            }
        };
        drop(pollable);
        Ok(Self { streams: Some(streams), tls: None, socket, address: address.to_string() })
    }

    /// Turns this connection into TLS, verified by the host as
    /// `server_name` (see [`super`]).
    pub fn start_tls(&mut self, server_name: &str) -> io::Result<()> {
        let (input, output) = self.streams.take().ok_or_else(|| io::Error::other("the connection is closed"))?;
        let future = ClientHandshake::finish(ClientHandshake::new(server_name, input, output));
        let pollable = future.subscribe();
        let outcome = loop {
            match future.get() {
                Some(outcome) => break outcome,
                None => pollable.block(),
            }
        };
        drop(pollable);
        match outcome {
            Ok(Ok((connection, input, output))) => {
                self.tls = Some(connection);
                self.streams = Some((input, output));
                Ok(())
            }
            Ok(Err(e)) => Err(super::tls_error(&self.address, e.to_debug_string())),
            Err(()) => Err(super::tls_error(&self.address, "the handshake's outcome was already taken".into())),
        }
    }

    fn streams(&mut self) -> io::Result<&mut (InputStream, OutputStream)> {
        self.streams.as_mut().ok_or_else(|| io::Error::other("the connection is closed"))
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Read::read(&mut self.streams()?.0, buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Write::write(&mut self.streams()?.1, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Write::flush(&mut self.streams()?.1)
    }
}

impl Drop for TcpStream {
    fn drop(&mut self) {
        if let Some(tls) = &self.tls {
            tls.close_output();
        }
        self.streams = None;
        self.tls = None;
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
