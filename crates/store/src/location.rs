//! Where the store is: an SQLite file (the embedded default) or a
//! PostgreSQL database (`store = "postgres://rekey@db.internal/rekey"`),
//! whose password comes from a reference (`store_password = "env:VAR"` or
//! `"file:PATH"`), never from the URL, and whose TLS is verified against the
//! public roots and, when given, a private CA (`store_ca`).

use super::StoreError;
use crate::reference::Reference;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// A store's location.
#[derive(Clone, Debug)]
pub enum Location {
    /// An SQLite file.
    File(PathBuf),
    /// A PostgreSQL database (boxed: its parsed URL is large).
    Postgres(Box<Postgres>),
}

/// How to reach a PostgreSQL store.
#[derive(Clone, Debug)]
pub struct Postgres {
    /// The parsed URL, without a password.
    config: postgres::Config,
    /// The URL as written (it holds no password), for messages.
    url: String,
    /// `env:VAR` or `file:PATH`.
    password: Option<String>,
    /// The folder `file:` references and `ca` are relative to.
    dir: PathBuf,
    /// PEM certificates of a private CA the server's certificate may chain to.
    ca: Option<PathBuf>,
    /// How long a claim on a credential lasts unless renewed.
    pub lease: Duration,
}

impl Location {
    /// Reads `store` (a path, or a `postgres://` URL) and, for PostgreSQL,
    /// the password reference, CA file and lease; paths are relative to `dir`.
    pub fn parse(
        store: &str,
        password: Option<&str>,
        ca: Option<&Path>,
        lease: Duration,
        dir: &Path,
    ) -> Result<Self, String> {
        if !(store.starts_with("postgres://") || store.starts_with("postgresql://")) {
            if password.is_some() || ca.is_some() {
                return Err("store_password and store_ca apply to a PostgreSQL store (store = \"postgres://…\")".into());
            }
            let path = Path::new(store);
            return Ok(Self::File(if path.is_absolute() { path.into() } else { dir.join(path) }));
        }
        let config = postgres::Config::from_str(store).map_err(|e| format!("store: not a PostgreSQL URL: {e}"))?;
        if config.get_password().is_some() {
            return Err("store: the URL holds a password; remove it, and give it as store_password = \"env:VAR\" or \"file:PATH\"".into());
        }
        if let Some(reference) = password {
            match Reference::parse(reference) {
                Ok(Reference::Env(_) | Reference::File(_)) => {}
                Ok(Reference::Store(_)) => {
                    return Err(
                        "store_password: the store cannot hold its own password; use env:VAR or file:PATH".into()
                    );
                }
                Err(e) => return Err(format!("store_password {e}")),
            }
        }
        if lease < Duration::from_secs(1) {
            return Err("store_lease must be at least 1s".into());
        }
        Ok(Self::Postgres(Box::new(Postgres {
            config,
            url: store.into(),
            password: password.map(Into::into),
            dir: dir.into(),
            ca: ca.map(|ca| dir.join(ca)),
            lease,
        })))
    }

    /// The store for messages: its path, or its URL (which has no password).
    pub fn describe(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Postgres(pg) => pg.url.clone(),
        }
    }
}

impl Postgres {
    /// Opens a connection, with the password resolved now (so a rotated
    /// one is picked up when a broken connection is opened again).
    pub(super) fn connect(&self) -> Result<postgres::Client, StoreError> {
        let mut config = self.config.clone();
        if let Some(reference) = &self.password {
            let reference = Reference::parse(reference).map_err(StoreError::Postgres)?;
            let password =
                reference.resolve_plain(&self.dir).map_err(|e| StoreError::Postgres(format!("store_password: {e}")))?;
            config.password(password.as_bytes());
        }
        if config.get_application_name().is_none() {
            config.application_name("rekey");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        // A process stopped inside a transaction (SIGSTOP, a stall) would
        // hold the fleet's write lock and its leases' rows, and nobody could
        // take over once its leases expired: the server ends such a session
        // after the lease's lifetime, and its transaction with it.
        let idle = format!("-c idle_in_transaction_session_timeout={}", self.lease.as_millis());
        let options = config.get_options().map_or(idle.clone(), |given| format!("{given} {idle}"));
        config.options(&options);
        config.connect(self.tls()?).map_err(|e| {
            StoreError::Postgres(format!("cannot connect to {}: {}", self.url, super::error::with_causes(&e)))
        })
    }

    /// TLS as the URL's `sslmode` asks, the server verified against the
    /// public roots and the private CA.
    fn tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
        let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(ca) = &self.ca {
            let bad = |why: String| StoreError::Postgres(format!("store_ca {}: {why}", ca.display()));
            let pem = std::fs::read(ca).map_err(|e| bad(e.to_string()))?;
            use rustls::pki_types::pem::PemObject;
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
                roots.add(cert.map_err(|e| bad(e.to_string()))?).map_err(|e| bad(e.to_string()))?;
            }
        }
        let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }
}
