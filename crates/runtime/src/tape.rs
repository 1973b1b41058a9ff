//! A plugin's HTTP exchanges, recorded from a live run (`rekey plugin test
//! --record`) and answered again by a local server (`--replay`), so that a
//! plugin author's CI checks the plugin against what the real API said
//! without an account at it.
//!
//! Recording keeps the requests as the plugin sent them (admin secrets as
//! their placeholders) and the responses as the plugin read them; before
//! the tape is written, every secret the run met (admin secrets, the keys
//! it made) is replaced by a stand-in of the same length, distinct per
//! secret, so the tape can be committed. Replaying sends each request to
//! the local server instead of the network, after every check the sandbox
//! makes; the server answers with the first unused exchange of the same
//! method, host and path, so a run that makes the same calls in the same
//! order gets the same answers.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The version of the tape file's format.
const FORMAT: u32 = 1;

/// One request and the response it got.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// `host[:port]`, as the `Host` header carries it.
    pub host: String,
    /// The path and query.
    pub path: String,
    /// The request's headers, as the plugin sent them.
    pub request_headers: Vec<(String, String)>,
    /// The request's body (as text; bytes that are not UTF-8 are replaced).
    pub request_body: String,
    /// The response's status.
    pub status: u16,
    /// The response's headers.
    pub response_headers: Vec<(String, String)>,
    /// The response's body, as the plugin read it.
    pub response_body: String,
}

/// A tape file.
#[derive(Debug, Serialize, Deserialize)]
pub struct TapeFile {
    /// [`FORMAT`].
    pub format: u32,
    /// The plugin the tape was recorded with (its name and version).
    pub plugin: String,
    /// The rotation ids the run used, in order: a replay uses them again,
    /// since they appear in what the provider answered (a key's label).
    pub rotation_ids: Vec<String>,
    /// The exchanges, in the order they happened.
    pub exchanges: Vec<Recorded>,
}

/// Why a tape cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TapeError {
    /// It cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a tape of this format.
    #[error("{path} is not a rekey tape (format {FORMAT}): {reason}")]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// What a call does with its HTTP exchanges besides sending them.
#[derive(Clone, Debug)]
pub enum Tape {
    /// Keeps each exchange.
    Record(Recording),
    /// Sends each request to this local replay server instead.
    Replay(SocketAddr),
}

/// The exchanges recorded so far, shared by every call of a run.
#[derive(Clone, Debug, Default)]
pub struct Recording(Arc<Mutex<Vec<Recorded>>>);

impl Recording {
    /// Keeps one exchange.
    pub(crate) fn push(&self, recorded: Recorded) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(recorded);
    }

    /// Writes the tape, every secret in `secrets` replaced by a stand-in.
    pub fn save(
        &self,
        path: &Path,
        plugin: String,
        rotation_ids: Vec<String>,
        secrets: &[String],
    ) -> Result<(), TapeError> {
        let exchanges = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut secrets: Vec<&String> = secrets.iter().filter(|s| s.len() >= 4).collect();
        // The longest first, so a secret inside another is not masked apart.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let mask = |text: &str| {
            secrets
                .iter()
                .enumerate()
                .fold(text.to_string(), |text, (i, secret)| text.replace(*secret, &stand_in(i, secret.len())))
        };
        let pairs = |pairs: &[(String, String)]| pairs.iter().map(|(n, v)| (n.clone(), mask(v))).collect();
        let exchanges = exchanges
            .iter()
            .map(|r| Recorded {
                method: r.method.clone(),
                host: mask(&r.host),
                path: mask(&r.path),
                request_headers: pairs(&r.request_headers),
                request_body: mask(&r.request_body),
                status: r.status,
                response_headers: pairs(&r.response_headers),
                response_body: mask(&r.response_body),
            })
            .collect();
        let tape = TapeFile { format: FORMAT, plugin, rotation_ids, exchanges };
        let json = serde_json::to_string_pretty(&tape).expect("a tape serializes");
        std::fs::write(path, json + "\n").map_err(|source| TapeError::Io { path: path.into(), source })
    }
}

/// The stand-in for the `index`th secret, `len` characters long (so a
/// plugin that checks a key's length still accepts it).
fn stand_in(index: usize, len: usize) -> String {
    let mark = format!("masked{index}");
    if len <= mark.len() { mark[..len].to_string() } else { format!("{mark}{}", "x".repeat(len - mark.len())) }
}

/// Reads a tape file.
pub fn load(path: &Path) -> Result<TapeFile, TapeError> {
    let text = std::fs::read_to_string(path).map_err(|source| TapeError::Io { path: path.into(), source })?;
    let tape: TapeFile =
        serde_json::from_str(&text).map_err(|e| TapeError::Invalid { path: path.into(), reason: e.to_string() })?;
    if tape.format != FORMAT {
        return Err(TapeError::Invalid { path: path.into(), reason: format!("it is format {}", tape.format) });
    }
    Ok(tape)
}

/// A local HTTP server that answers from a tape.
pub struct Replayer {
    addr: SocketAddr,
    state: Arc<Mutex<Replay>>,
    server: tokio::task::JoinHandle<()>,
}

/// The exchanges not answered yet, and the requests the tape had no answer for.
struct Replay {
    unused: Vec<Recorded>,
    unmatched: Vec<String>,
}

impl Replayer {
    /// Serves `exchanges` on a free loopback port.
    pub async fn start(exchanges: Vec<Recorded>) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Mutex::new(Replay { unused: exchanges, unmatched: vec![] }));
        let app = axum::Router::new().fallback(answer).with_state(state.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, state, server })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests it had no answer for, as `METHOD host/path`.
    pub fn unmatched(&self) -> Vec<String> {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).unmatched.clone()
    }

    /// How many recorded exchanges were never asked for.
    pub fn unused(&self) -> usize {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).unused.len()
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Answers a request with the first unused exchange of the same method,
/// host and path, or 501 naming the request.
async fn answer(
    axum::extract::State(state): axum::extract::State<Arc<Mutex<Replay>>>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let method = request.method().to_string();
    let host = request.headers().get(http::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
    let found = state.unused.iter().position(|r| r.method == method && r.host == host && r.path == path);
    let Some(index) = found else {
        let what = format!("{method} {host}{path}");
        state.unmatched.push(what.clone());
        let body = format!("rekey replay: the tape has no answer for {what}");
        return axum::response::IntoResponse::into_response((http::StatusCode::NOT_IMPLEMENTED, body));
    };
    let recorded = state.unused.remove(index);
    let mut response = axum::response::Response::new(axum::body::Body::from(recorded.response_body));
    *response.status_mut() = http::StatusCode::from_u16(recorded.status).unwrap_or(http::StatusCode::OK);
    for (name, value) in recorded.response_headers {
        // The length is the server's to set, for the body as replayed.
        let skip = ["content-length", "transfer-encoding", "connection"];
        if skip.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (http::HeaderName::try_from(name), http::HeaderValue::try_from(value)) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
