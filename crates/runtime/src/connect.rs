//! Sends one HTTP/1.1 request to addresses the policy already checked.
//!
//! The host connects to the vetted IP itself rather than handing the name to
//! a client that would resolve it again: a second lookup is exactly what a
//! DNS-rebinding attack relies on. TLS still verifies the certificate against
//! the name the plugin asked for.

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

/// The future that drives a connection after the response head arrived,
/// until the plugin has read the body.
pub type Driver = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Connects to the first address that answers, speaks TLS when `tls_name` is
/// given (trusting the public roots and `ca`), and sends `request` (whose
/// URI may be absolute).
pub async fn send(
    addrs: &[SocketAddr],
    tls_name: Option<&str>,
    ca: &[CertificateDer<'static>],
    mut request: Request<WasiBody>,
) -> Result<(Response<Incoming>, Driver), Error> {
    let tcp = connect_any(addrs).await?;
    // The request line carries only the path; the name is in `Host`.
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    *request.uri_mut() = Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;
    match tls_name {
        Some(name) => {
            let name = ServerName::try_from(name.to_string()).map_err(|_| Error::TlsCertificateError)?;
            let config = crate::tls::client_config(ca).map_err(|_| Error::TlsCertificateError)?;
            let tls = TlsConnector::from(config).connect(name, tcp).await.map_err(Error::Tls)?;
            exchange(TokioIo::new(tls), request).await
        }
        None => exchange(TokioIo::new(tcp), request).await,
    }
}

async fn connect_any(addrs: &[SocketAddr]) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
        Some(e) => Error::Connect(e),
        None => Error::DestinationNotFound,
    })
}

async fn exchange<IO>(io: TokioIo<IO>, request: Request<WasiBody>) -> Result<(Response<Incoming>, Driver), Error>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, WasiBody>(io).await?;
    let mut connection = Box::pin(connection);
    let mut connection_done = false;
    let send = sender.send_request(request);
    tokio::pin!(send);
    // The connection must be polled for the response to arrive. A server
    // that closes right after answering ends it first; the response is then
    // already in hand, or its future reports why not.
    let response = tokio::select! {
        biased;
        response = &mut send => response?,
        ended = &mut connection => {
            connection_done = true;
            ended?;
            send.await?
        }
    };
    let driver: Driver = Box::new(async move {
        if !connection_done {
            connection.await?;
        }
        Ok(())
    });
    Ok((response, driver))
}
