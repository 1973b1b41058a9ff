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
        self.start_tls_trusting(server_name, std::env::var_os("SSL_CERT_FILE"))
    }

    /// The same, trusting the CAs in the PEM file `ca_file` besides the public roots.
    fn start_tls_trusting(&mut self, server_name: &str, ca_file: Option<std::ffi::OsString>) -> io::Result<()> {
        let Transport::Plain(tcp) = std::mem::replace(&mut self.transport, Transport::Closed) else {
            return Err(io::Error::other("TLS is asked for on a connection that is not open in clear"));
        };
        let fail = |why: String| super::tls_error(&self.address, why);
        let name = ServerName::try_from(server_name.to_string())
            .map_err(|_| fail(format!("`{server_name}` is neither a DNS name nor an IP address")))?;
        let connection =
            rustls::ClientConnection::new(config(ca_file).map_err(fail)?, name).map_err(|e| fail(e.to_string()))?;
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

fn config(ca_file: Option<std::ffi::OsString>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    if let Some(file) = ca_file {
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

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    use rustls::pki_types::PrivateKeyDer;

    /// A TLS server on loopback with a certificate for 127.0.0.1 from a new
    /// CA, echoing one line back; its address and the CA's PEM file.
    fn echo_server(dir: &std::path::Path) -> (String, std::ffi::OsString) {
        let mut params = CertificateParams::new(vec![]).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".into()]).unwrap().signed_by(&key, &ca).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, ca.pem()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], PrivateKeyDer::try_from(key.serialize_der()).unwrap())
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let config = Arc::new(config);
        std::thread::spawn(move || {
            for tcp in listener.incoming().flatten() {
                let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config.clone()).unwrap(), tcp);
                let mut line = [0u8; 5];
                if tls.read_exact(&mut line).is_ok() {
                    let _ = tls.write_all(&line);
                }
            }
        });
        (address, ca_file.into_os_string())
    }

    #[test]
    fn start_tls_verifies_the_server_against_the_ca_it_is_given() {
        let dir = tempfile_dir();
        let (address, ca_file) = echo_server(&dir);
        let mut stream = TcpStream::connect(&address).unwrap();
        stream.start_tls_trusting("127.0.0.1", Some(ca_file.clone())).unwrap();
        stream.write_all(b"ping\n").unwrap();
        let mut echoed = [0u8; 5];
        stream.read_exact(&mut echoed).unwrap();
        assert_eq!(&echoed, b"ping\n");

        // Without the CA, or as another name, there is no connection.
        let mut untrusted = TcpStream::connect(&address).unwrap();
        let error = untrusted.start_tls_trusting("127.0.0.1", None).unwrap_err();
        assert!(error.to_string().contains("UnknownIssuer"), "{error}");
        assert!(untrusted.write_all(b"ping\n").is_err(), "nothing more goes over it, in clear or not");
        let mut misnamed = TcpStream::connect(&address).unwrap();
        let error = misnamed.start_tls_trusting("10.0.0.1", Some(ca_file)).unwrap_err();
        assert!(error.to_string().contains("not valid for name"), "{error}");
    }

    /// A folder of its own under the system's temporary one.
    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rekey-sdk-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
