//! A minimal PostgreSQL client over the sandbox's TCP: startup with
//! SCRAM-SHA-256 (or MD5 / cleartext, if the server asks) and the simple
//! query protocol. Messages are encoded and decoded by `postgres-protocol`.

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::authentication::md5_hash;
use postgres_protocol::authentication::sasl::{ChannelBinding, SCRAM_SHA_256, ScramSha256};
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;
use rekey_sdk::tcp::TcpStream;
use std::io::{Read, Write};

/// Most bytes buffered for one server message.
const MAX_MESSAGE: usize = 4 << 20;

/// Why talking to the server failed.
#[derive(Debug)]
pub enum PgError {
    /// The connection could not be made or broke.
    Network(String),
    /// The server answered with an error.
    Server {
        /// The SQLSTATE, e.g. `28P01`.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The server would not speak TLS, or its certificate failed.
    Tls(String),
}

impl PgError {
    /// Whether the server refused the credentials.
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Server { code, .. } if code == "28P01" || code == "28000")
    }
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Network(m) | Self::Tls(m) => f.write_str(m),
            Self::Server { code, message } => write!(f, "{message} (SQLSTATE {code})"),
        }
    }
}

fn io(error: std::io::Error) -> PgError {
    PgError::Network(format!("the connection to PostgreSQL failed: {error}"))
}

/// An authenticated session.
pub struct Session {
    stream: TcpStream,
    buffer: BytesMut,
}

impl Session {
    /// Asks for TLS (`SSLRequest`), and has the host verify the server as
    /// `name`. A server that declines gets nothing else: no password, no
    /// startup message, in clear.
    fn start_tls(&mut self, name: &str) -> Result<(), PgError> {
        let mut out = BytesMut::new();
        frontend::ssl_request(&mut out);
        self.send(&out)?;
        let mut answer = [0u8; 1];
        self.stream.read_exact(&mut answer).map_err(io)?;
        match &answer {
            b"S" => self.stream.start_tls(name).map_err(|e| PgError::Tls(e.to_string())),
            b"N" => Err(PgError::Tls(
                "the server does not accept TLS connections (its `ssl` is off); turn it on, or set sslmode = \"disable\" to send passwords in clear"
                    .into(),
            )),
            _ => Err(PgError::Tls("the server answered the TLS request with neither yes nor no; is it PostgreSQL?".into())),
        }
    }

    /// Connects to `address`, in TLS verified as `tls` when given (asked
    /// for with `SSLRequest` before anything else is sent), and logs in.
    pub fn open(address: &str, tls: Option<&str>, user: &str, password: &str, database: &str) -> Result<Self, PgError> {
        let stream = TcpStream::connect(address).map_err(|e| PgError::Network(e.to_string()))?;
        let mut session = Self { stream, buffer: BytesMut::new() };
        if let Some(name) = tls {
            session.start_tls(name)?;
        }
        let mut out = BytesMut::new();
        frontend::startup_message([("user", user), ("database", database), ("client_encoding", "UTF8")], &mut out)
            .map_err(io)?;
        session.send(&out)?;
        let mut scram: Option<ScramSha256> = None;
        loop {
            let mut out = BytesMut::new();
            match session.receive()? {
                Message::AuthenticationOk => break,
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password.as_bytes(), &mut out).map_err(io)?
                }
                Message::AuthenticationMd5Password(body) => {
                    let hashed = md5_hash(user.as_bytes(), password.as_bytes(), body.salt());
                    frontend::password_message(hashed.as_bytes(), &mut out).map_err(io)?;
                }
                Message::AuthenticationSasl(body) => {
                    let mut mechanisms = body.mechanisms();
                    let mut offered = false;
                    while let Some(mechanism) = mechanisms.next().map_err(io)? {
                        offered |= mechanism == SCRAM_SHA_256;
                    }
                    if !offered {
                        return Err(PgError::Network("the server offers no SASL mechanism this client speaks".into()));
                    }
                    let client = ScramSha256::new(password.as_bytes(), ChannelBinding::unsupported());
                    frontend::sasl_initial_response(SCRAM_SHA_256, client.message(), &mut out).map_err(io)?;
                    scram = Some(client);
                }
                Message::AuthenticationSaslContinue(body) => {
                    let client = scram.as_mut().ok_or_else(|| PgError::Network("SASL out of order".into()))?;
                    client.update(body.data()).map_err(io)?;
                    frontend::sasl_response(client.message(), &mut out).map_err(io)?;
                }
                Message::AuthenticationSaslFinal(body) => {
                    let client = scram.as_mut().ok_or_else(|| PgError::Network("SASL out of order".into()))?;
                    client.finish(body.data()).map_err(io)?;
                }
                Message::ErrorResponse(body) => return Err(server_error(&body)),
                _ => {
                    return Err(PgError::Network(
                        "the server asked for an authentication method this client does not speak".into(),
                    ));
                }
            }
            if !out.is_empty() {
                session.send(&out)?;
            }
        }
        loop {
            match session.receive()? {
                Message::ReadyForQuery(_) => return Ok(session),
                Message::ErrorResponse(body) => return Err(server_error(&body)),
                _ => {}
            }
        }
    }

    /// Runs one statement with the simple query protocol; the rows as text.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, PgError> {
        let mut out = BytesMut::new();
        frontend::query(sql, &mut out).map_err(io)?;
        self.send(&out)?;
        let (mut rows, mut error) = (Vec::new(), None);
        loop {
            match self.receive()? {
                Message::DataRow(body) => {
                    let ranges: Vec<_> = body.ranges().collect().map_err(io)?;
                    let text = |r: Option<std::ops::Range<usize>>| {
                        r.map(|r| String::from_utf8_lossy(&body.buffer()[r]).into_owned())
                    };
                    rows.push(ranges.into_iter().map(text).collect());
                }
                Message::ErrorResponse(body) => error = Some(server_error(&body)),
                Message::ReadyForQuery(_) => return error.map_or(Ok(rows), Err),
                _ => {}
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), PgError> {
        self.stream.write_all(bytes).map_err(io)
    }

    fn receive(&mut self) -> Result<Message, PgError> {
        loop {
            if let Some(message) = Message::parse(&mut self.buffer).map_err(io)? {
                return Ok(message);
            }
            if self.buffer.len() > MAX_MESSAGE {
                return Err(PgError::Network("the server sent an oversized message".into()));
            }
            let mut chunk = [0u8; 8192];
            let n = self.stream.read(&mut chunk).map_err(io)?;
            if n == 0 {
                return Err(PgError::Network("PostgreSQL closed the connection".into()));
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut out = BytesMut::new();
        frontend::terminate(&mut out);
        let _ = self.stream.write_all(&out);
    }
}

fn server_error(body: &ErrorResponseBody) -> PgError {
    let (mut code, mut message) = (String::new(), String::new());
    let mut fields = body.fields();
    while let Ok(Some(field)) = fields.next() {
        match field.type_() {
            b'C' => code = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            b'M' => message = String::from_utf8_lossy(field.value_bytes()).into_owned(),
            _ => {}
        }
    }
    PgError::Server { code, message }
}
