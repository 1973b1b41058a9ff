//! Where the daemon's HTTP endpoints listen: plain TCP, or TLS with the
//! certificate of `[daemon.tls]`. Each connection carries its client's
//! address, which connections are capped and failed authentications
//! throttled by (`server::connections`, `server::throttle`).
//!
//! TLS handshakes run in tasks of their own, at most [`HANDSHAKES`] at
//! once and each for at most [`HANDSHAKE_TIMEOUT`], so a client that
//! connects and says nothing holds up no one else.

use crate::config::Tls;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// TLS handshakes under way at once; more connections wait in the kernel's backlog.
const HANDSHAKES: usize = 256;
/// How long a client has to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Client(pub SocketAddr);

impl Client {
    /// Who the client is, for limits: its IPv4 address, or its IPv6 /64
    /// (one subscriber's network, in which it picks addresses at will).
    pub fn group(&self) -> IpAddr {
        match self.0.ip() {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
            },
            v4 => v4,
        }
    }
}

/// Connections over TLS, handed over once their handshake is done.
pub struct TlsListener {
    done: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Accepts TLS connections on `tcp` with `acceptor`.
    pub fn new(tcp: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (sender, done) = mpsc::channel(HANDSHAKES);
        let accepting = tokio::spawn(async move {
            let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
                let (stream, client) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        tracing::warn!("cannot accept a connection: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (acceptor, sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => drop(sender.send((tls, client)).await),
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {client} failed: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {client} took too long"),
                    }
                    drop(permit);
                });
            }
        });
        Ok(Self { done, local, accepting })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.done.recv().await {
            Some(connection) => connection,
            // The accepting task ended (it never does while the listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// A certificate or key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("[daemon.tls]: cannot use {}: {reason}", path.display())]
pub struct TlsError {
    path: std::path::PathBuf,
    reason: String,
}

/// The acceptor for `tls`'s certificate and key, files relative to `dir`.
pub fn acceptor(tls: &Tls, dir: &Path) -> Result<TlsAcceptor, TlsError> {
    let (cert_file, key_file) = (dir.join(&tls.cert), dir.join(&tls.key));
    let bad = |path: &Path, reason: String| TlsError { path: path.into(), reason };
    let chain = CertificateDer::pem_file_iter(&cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad(&cert_file, e.to_string()))?;
    if chain.is_empty() {
        return Err(bad(&cert_file, "it holds no `BEGIN CERTIFICATE` block".into()));
    }
    let key = PrivateKeyDer::from_pem_file(&key_file).map_err(|e| bad(&key_file, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&cert_file, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| bad(&key_file, format!("it does not go with {}: {e}", cert_file.display())))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
