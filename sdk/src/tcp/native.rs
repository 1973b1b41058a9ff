//! The transport in a native test: the standard library's sockets, and
//! TLS with rustls (the public roots and the PEM file `SSL_CERT_FILE`
//! names, as the test's stand-in for the operator's CA).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// An open TCP connection, in clear or TLS; read and write it with
/// [`std::io::Read`] and [`std::io::Write`].
pub struct TcpStream {
    transport: Transport,
    address: String,
}

enum Transport {
    Plain(std::net::TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>>),
    Closed,
}

impl TcpStream {
    /// Connects to `address`, an IP address and port such as
    /// `127.0.0.1:6379` (as in the sandbox, no name lookups).
    pub fn connect(address: &str) -> io::Result<Self> {
        let stream = std::net::TcpStream::connect_timeout(&super::parse_address(address)?, Duration::from_secs(10))
            .map_err(|e| io::Error::new(e.kind(), format!("TCP connection to {address} failed: {e}")))?;
        Ok(Self { transport: Transport::Plain(stream), address: address.to_string() })
    }

    /// Turns this connection into TLS, verified as `server_name`.
    pub fn start_tls(&mut self, server_name: &str) -> io::Result<()> {
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Closed) else {
            return Err(io::Error::other("TLS is asked for on a connection that is not open in clear"));
        };
        let fail = |why: String| super::tls_error(&self.address, why);
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| fail(format!("`{server_name}` is neither a DNS name nor an IP address")))?;
        let connection =
            rustls::ClientConnection::new(config().map_err(fail)?, name).map_err(|e| fail(e.to_string()))?;
        let mut stream = rustls::StreamOwned::new(connection, tcp);
        while stream.conn.is_handshaking() {
            stream.conn.complete_io(&mut stream.sock).map_err(|e| fail(e.to_string()))?;
        }
        self.transport = Transport::Tls(Box::new(stream));
        Ok(())
    }

    fn io(&mut self) -> io::Result<&mut dyn ReadWrite> {
        match &mut self.transport {
            Transport::Plain(tcp) => Ok(tcp),
            Transport::Tls(tls) => Ok(tls.as_mut()),
            Transport::Closed => Err(io::Error::other("the connection is closed")),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        for certificate in CertificateDer::pem_file_iter(&file).map_err(|e| format!("SSL_CERT_FILE: {e}"))? {
            roots.add(certificate.map_err(|e| format!("SSL_CERT_FILE: {e}"))?).map_err(|e| e.to_string())?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io()?.read(buf)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io()?.flush()
    }
}
