//! TLS for plugins, done by the host: over a TCP connection a plugin opened
//! (`wasi:tls`), and for its HTTPS requests.
//!
//! A plugin hands both streams of its connection to `client-handshake`,
//! at the start or in the middle of its protocol (PostgreSQL's
//! `SSLRequest`, StartTLS), with the name to verify. The host checks the
//! name (the connection's own address, or a name the operator granted),
//! runs the handshake with rustls against the public roots and the CAs the
//! operator named, and hands back plaintext streams. The plugin holds no
//! trust store, no key and no setting that turns verification off; the
//! streams it handed over leave its resource table, so it cannot go on in
//! clear on them. The transcript records the name verified, or why not.

use super::error::Denial;
use super::sandbox::Sandbox;
use super::transcript::Transcript;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{CertificateError, ClientConfig, RootCertStore};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream};
use wasmtime_wasi_tls::p2::HostClientHandshake;
use wasmtime_wasi_tls::p2::bindings::types::HostClientHandshake as _;
use wasmtime_wasi_tls::{TlsProvider, TlsStream, TlsTransport, WasiTlsCtx, WasiTlsView};

/// How long a handshake may take: a server that does not speak TLS on the
/// port may wait for more bytes forever (Redis reads a ClientHello as the
/// start of a command line).
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What a [`TlsProvider`] returns.
type Handshake = std::pin::Pin<Box<dyn Future<Output = Result<Box<dyn TlsStream>, wasmtime_wasi_tls::Error>> + Send>>;

/// The certificates in the PEM file `path`: the CAs an operator trusts
/// for a credential's servers. An unreadable file, or one with no
/// certificate, is an error that says which.
pub fn read_ca(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certificates = CertificateDer::pem_file_iter(path)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read the CA certificates in {}: {e}", path.display()))?;
    if certificates.is_empty() {
        return Err(format!(
            "{} holds no certificate (a PEM file with `-----BEGIN CERTIFICATE-----` blocks)",
            path.display()
        ));
    }
    Ok(certificates)
}

/// The client config for servers whose certificates chain to Mozilla's
/// roots or to one of `ca`.
pub(crate) fn client_config(ca: &[CertificateDer<'static>]) -> Result<Arc<ClientConfig>, rustls::Error> {
    static PUBLIC: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let build = |ca: &[CertificateDer<'static>]| -> Result<Arc<ClientConfig>, rustls::Error> {
        let mut roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
        for certificate in ca {
            roots.add(certificate.clone())?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Ok(Arc::new(
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()?
                .with_root_certificates(roots)
                .with_no_client_auth(),
        ))
    };
    if ca.is_empty() {
        if let Some(config) = PUBLIC.get() {
            return Ok(config.clone());
        }
        let config = build(ca)?;
        return Ok(PUBLIC.get_or_init(|| config).clone());
    }
    build(ca)
}

/// One TCP connection's streams, as `finish-connect` handed them out.
pub(crate) struct Opened {
    /// The output stream's handle (the input stream's is the key).
    pub(crate) output: u32,
    /// The peer.
    pub(crate) address: SocketAddr,
    /// Its entry in the transcript.
    pub(crate) index: usize,
}

/// The handshakes of one call: verified with the call's client config and
/// recorded in its transcript.
pub(crate) struct Verifier {
    config: Arc<ClientConfig>,
    transcript: Transcript,
    /// Handshakes allowed but not yet run, by server name: the transcript
    /// entries they belong to.
    pending: Arc<Mutex<Vec<(String, usize)>>>,
}

impl Verifier {
    /// The `wasi:tls` context of a call, and the handle its linker shim uses
    /// to tie each handshake to its connection.
    pub(crate) fn context(config: Arc<ClientConfig>, transcript: Transcript) -> (WasiTlsCtx, Pending) {
        let pending = Arc::new(Mutex::new(Vec::new()));
        let verifier = Self { config, transcript, pending: pending.clone() };
        (wasmtime_wasi_tls::WasiTlsCtxBuilder::new().provider(Box::new(verifier)).build(), Pending(pending))
    }
}

/// See [`Verifier::context`].
pub(crate) struct Pending(Arc<Mutex<Vec<(String, usize)>>>);

impl TlsProvider for Verifier {
    fn connect(&self, server_name: String, transport: Box<dyn TlsTransport>) -> Handshake {
        let index = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.iter().rposition(|(name, _)| *name == server_name).map(|at| pending.remove(at).1)
        };
        let (config, transcript) = (self.config.clone(), self.transcript.clone());
        Box::pin(async move {
            let record = |change: &dyn Fn(&mut super::transcript::Connection)| {
                if let Some(index) = index {
                    transcript.update_connection(index, change);
                }
            };
            let result = match ServerName::try_from(server_name.clone()) {
                Ok(name) => {
                    let handshake = tokio_rustls::TlsConnector::from(config).connect(name, transport);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                        Ok(done) => {
                            done.map_err(|e| format!("the TLS handshake as `{server_name}` failed: {}", explain(&e)))
                        }
                        Err(_) => Err(format!(
                            "the server did not complete a TLS handshake within {} s (does it serve TLS on this port?)",
                            HANDSHAKE_TIMEOUT.as_secs()
                        )),
                    }
                }
                Err(_) => {
                    Err(format!("`{server_name}` is neither a DNS name nor an IP address, so TLS cannot verify it"))
                }
            };
            match result {
                Ok(stream) => {
                    record(&|c| c.tls = Some(server_name.clone()));
                    Ok(Box::new(stream) as Box<dyn TlsStream>)
                }
                Err(message) => {
                    record(&|c| c.error = Some(message.clone()));
                    Err(wasmtime_wasi_tls::Error::msg(message))
                }
            }
        })
    }
}

/// Why a handshake failed, in terms of what the operator can change.
fn explain(error: &std::io::Error) -> String {
    let Some(rustls) = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) else {
        return match error.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                "the server closed the connection (does it serve TLS on this port?)".into()
            }
            _ => error.to_string(),
        };
    };
    match rustls {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => {
            "the server's certificate is not issued by a trusted CA; if a private CA issued it, name that CA's \
             certificate in the credential's `tls_ca` in rekey.toml"
                .into()
        }
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
        | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
            "the server's certificate is not valid for that name; set the name the certificate carries \
             (and grant it)"
                .into()
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            "the server did not answer in TLS (does it serve TLS on this port?)".into()
        }
        other => other.to_string(),
    }
}

/// Links `wasi:tls/types`, its constructor checked: a handshake only over
/// a TCP connection's own streams, only as a name the plugin may verify.
pub(crate) fn link(linker: &mut Linker<Sandbox>) -> wasmtime::Result<()> {
    let mut options = wasmtime_wasi_tls::p2::LinkOptions::default();
    options.tls(true);
    wasmtime_wasi_tls::p2::add_to_linker(linker, &options)?;
    linker.allow_shadowing(true);
    let mut types = linker.instance("wasi:tls/types@0.2.0-draft")?;
    types.func_wrap(
        "[constructor]client-handshake",
        |mut store,
         (name, input, output): (String, Resource<DynInputStream>, Resource<DynOutputStream>)|
         -> wasmtime::Result<(Resource<HostClientHandshake>,)> {
            let sandbox: &mut Sandbox = store.data_mut();
            let index = sandbox.allow_tls(&name, &input, &output).map_err(|denial| {
                sandbox.egress.denials.lock().unwrap_or_else(|e| e.into_inner()).push(denial.clone());
                wasmtime::Error::msg(denial.to_string())
            })?;
            sandbox.tls_pending.0.lock().unwrap_or_else(|e| e.into_inner()).push((name.clone(), index));
            Ok((sandbox.tls().new(name, input, output)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

impl Sandbox {
    /// The transcript entry of the connection whose streams these are, if
    /// the plugin may verify it as `name`.
    fn allow_tls(
        &mut self,
        name: &str,
        input: &Resource<DynInputStream>,
        output: &Resource<DynOutputStream>,
    ) -> Result<usize, Denial> {
        let opened = self.tcp_streams.remove(&input.rep()).ok_or(Denial::TlsStreams)?;
        if opened.output != output.rep() {
            return Err(Denial::TlsStreams);
        }
        let refused = self.egress.policy.tls_name(name, opened.address);
        if let Err(denial) = &refused {
            self.egress.transcript.update_connection(opened.index, |c| c.error = Some(denial.to_string()));
        }
        refused.map(|()| opened.index)
    }
}

impl WasiTlsView for Sandbox {
    fn tls(&mut self) -> wasmtime_wasi_tls::WasiTlsCtxView<'_> {
        wasmtime_wasi_tls::WasiTlsCtxView { ctx: &mut self.tls, table: &mut self.table }
    }
}

/// The streams of the TCP connections open in a call, by input stream.
pub(crate) type Streams = HashMap<u32, Opened>;
