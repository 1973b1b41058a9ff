//! Every TCP connection a plugin opens, seen as it is made
//! (`tcp-socket.finish-connect`, shadowed in the linker): recorded in the
//! transcript, its streams remembered so TLS can be asked for over them
//! (`tls`), and wrapped so their bytes count against the call's cap, as
//! HTTP bodies do: a plugin cannot move unbounded data to or from the
//! address it was granted within its deadline.

use super::error::Denial;
use super::http::Denials;
use super::sandbox::Sandbox;
use super::tls::Opened;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::TcpSocket;
use wasmtime_wasi::p2::bindings::sockets::tcp::HostTcpSocket;
use wasmtime_wasi::sockets::WasiSocketsView;
use wasmtime_wasi_io::poll::Pollable;
use wasmtime_wasi_io::streams::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, StreamError, StreamResult,
};

/// The TCP bytes of one call, both ways, and their cap.
#[derive(Clone)]
pub(crate) struct Meter {
    used: Arc<AtomicU64>,
    limit: u64,
    denials: Denials,
}

impl Meter {
    pub(crate) fn new(limit: u64, denials: Denials) -> Self {
        Self { used: Arc::default(), limit, denials }
    }

    fn charge(&self, bytes: usize) -> StreamResult<()> {
        let used = self.used.fetch_add(bytes as u64, Ordering::Relaxed) + bytes as u64;
        if used <= self.limit {
            return Ok(());
        }
        let denial = Denial::TcpBytes { limit: self.limit };
        self.denials.lock().unwrap_or_else(|e| e.into_inner()).push(denial.clone());
        Err(StreamError::LastOperationFailed(wasmtime::Error::msg(denial.to_string())))
    }
}

/// Replaces `finish-connect` with one that meters the new connection's streams.
pub(crate) fn link(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut tcp = linker.instance("wasi:sockets/tcp@0.2.12")?;
    tcp.func_wrap("[method]tcp-socket.finish-connect", |mut store, (this,): (Resource<TcpSocket>,)| {
        let sandbox: &mut Sandbox = store.data_mut();
        let socket = this.rep();
        let connected = HostTcpSocket::finish_connect(&mut sandbox.sockets(), this);
        let (input, output) = match connected {
            Ok(streams) => streams,
            Err(error) => return Ok((Err(error.downcast()?),)),
        };
        let local = HostTcpSocket::local_address(&mut sandbox.sockets(), Resource::new_borrow(socket));
        if let Ok(address) = HostTcpSocket::remote_address(&mut sandbox.sockets(), Resource::new_borrow(socket)) {
            let address = SocketAddr::from(address);
            if let Ok(local) = local {
                send_at_once(SocketAddr::from(local), address);
            }
            let index = sandbox.egress.transcript.connected(address);
            sandbox.tcp_streams.insert(input.rep(), Opened { output: output.rep(), address, index });
        }
        let meter = sandbox.tcp_meter.clone();
        let table = &mut sandbox.table;
        let stream: &mut DynInputStream = table.get_mut(&input)?;
        let inner = std::mem::replace(stream, Box::new(Closed));
        *stream = Box::new(Metered { inner, meter: meter.clone() });
        let stream: &mut DynOutputStream = table.get_mut(&output)?;
        let inner = std::mem::replace(stream, Box::new(Closed));
        *stream = Box::new(Metered { inner, meter });
        Ok((Ok((input, output)),))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Sends small writes at once (`TCP_NODELAY`) on the host's socket of a
/// plugin's connection. Request-response protocols, TLS above all (its last
/// handshake flight and the first request are separate writes), otherwise
/// wait for the peer's delayed ACK: about 40 ms per exchange on Linux.
/// wasmtime-wasi gives no handle on the socket, so it is found among the
/// process's descriptors by its two addresses, a pair no other socket has.
fn send_at_once(local: SocketAddr, remote: SocketAddr) {
    let Ok(descriptors) = std::fs::read_dir("/proc/self/fd") else { return };
    for entry in descriptors.flatten() {
        let Some(raw) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else { continue };
        // SAFETY: borrowed for these calls only; a descriptor closed meanwhile
        // fails them, and one reused since is not a socket with these addresses.
        let fd = unsafe { rustix::fd::BorrowedFd::borrow_raw(raw) };
        let address = |found: Option<rustix::net::SocketAddrAny>| found.and_then(|a| SocketAddr::try_from(a).ok());
        if address(rustix::net::getsockname(fd).ok()) == Some(local)
            && address(rustix::net::getpeername(fd).ok().flatten()) == Some(remote)
        {
            let _ = rustix::net::sockopt::set_tcp_nodelay(fd, true);
            return;
        }
    }
}

/// A stream that counts its bytes.
struct Metered<S> {
    inner: S,
    meter: Meter,
}

#[wasmtime_wasi::async_trait]
impl<S: Pollable> Pollable for Metered<S> {
    async fn ready(&mut self) {
        self.inner.ready().await
    }
}

#[wasmtime_wasi::async_trait]
impl InputStream for Metered<DynInputStream> {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        let bytes = self.inner.read(size)?;
        self.meter.charge(bytes.len())?;
        Ok(bytes)
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Metered<DynOutputStream> {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.meter.charge(bytes.len())?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> StreamResult<()> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await
    }
}

/// Stands in for a stream for the instant it is being wrapped.
struct Closed;

#[wasmtime_wasi::async_trait]
impl Pollable for Closed {
    async fn ready(&mut self) {}
}

impl InputStream for Closed {
    fn read(&mut self, _: usize) -> StreamResult<Bytes> {
        Err(StreamError::Closed)
    }
}

impl OutputStream for Closed {
    fn write(&mut self, _: Bytes) -> StreamResult<()> {
        Err(StreamError::Closed)
    }

    fn flush(&mut self) -> StreamResult<()> {
        Err(StreamError::Closed)
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Err(StreamError::Closed)
    }
}
