//! The `wasi:http` hook that every outbound request of a plugin goes through:
//! the policy check, the count and size caps, the admin-secret placeholders,
//! the connection to a vetted address and the transcript entry.

use super::connect;
use super::error::Denial;
use super::grants::Policy;
use super::limits::{BODY_CHUNK, Budget, Limits};
use super::placeholder::Placeholders;
use super::tape::{Recorded, Tape};
use super::transcript::{Entry, Exchange, Transcript};
use bytes::Bytes as Chunk;
use http::header::{CONTENT_LENGTH, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use http_body_util::{BodyExt, Full};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Refusals of one call, read after it to name the cause of a failure.
pub(crate) type Denials = Arc<Mutex<Vec<Denial>>>;

/// The request hook of one call.
pub(crate) struct Egress {
    pub(crate) policy: Arc<Policy>,
    pub(crate) limits: Limits,
    pub(crate) transcript: Transcript,
    pub(crate) denials: Denials,
    pub(crate) placeholders: Placeholders,
    /// The call's memory account: a response read whole is charged to it.
    pub(crate) budget: Arc<Budget>,
    pub(crate) sent: u32,
    /// Whether the exchanges are recorded, or replayed from a local server.
    pub(crate) tape: Option<Tape>,
}

type Sending = Box<dyn Future<Output = Result<(http::Response<WasiBody>, connect::Driver), Error>> + Send>;

impl WasiHttpHooks for Egress {
    fn p2_outgoing_body_buffer_chunks(&mut self) -> usize {
        1
    }

    fn p2_outgoing_body_chunk_size(&mut self) -> usize {
        BODY_CHUNK
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _response_errors: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sending {
        self.sent += 1;
        let uri = request.uri();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri.host().unwrap_or_default().trim_matches(['[', ']']).to_ascii_lowercase();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let entry = self.transcript.start(Exchange {
            method: request.method().to_string(),
            scheme: if https { "https" } else { "http" }.into(),
            host: host.clone(),
            port,
            path: uri.path().to_string(),
            status: None,
            request_bytes: 0,
            response_bytes: 0,
            duration_ms: 0,
            error: None,
        });
        let refuse = |denials: &Denials, entry: &Entry, denial: Denial| {
            entry.failed(format!("denied: {denial}"));
            denials.lock().unwrap_or_else(|e| e.into_inner()).push(denial);
            Err(Error::HttpRequestDenied)
        };
        if self.sent > self.limits.max_requests {
            let denial = Denial::RequestLimit { limit: self.limits.max_requests };
            return Box::new(std::future::ready(refuse(&self.denials, &entry, denial)));
        }
        let header_bytes: usize = request.headers().iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
        if header_bytes > self.limits.max_request_headers {
            let denial = Denial::HeaderLimit { limit: self.limits.max_request_headers };
            return Box::new(std::future::ready(refuse(&self.denials, &entry, denial)));
        }
        let policy = self.policy.clone();
        let denials = self.denials.clone();
        let limits = self.limits.clone();
        let placeholders = self.placeholders.clone();
        let budget = self.budget.clone();
        let tape = self.tape.clone();
        Box::new(async move {
            // A URL is logged and echoed by servers: a placeholder is never filled in there.
            if placeholders.in_text(request.uri().to_string().as_bytes()) {
                return refuse(&denials, &entry, Denial::PlaceholderInUrl);
            }
            // `name@host`: the policy sees `host`, a server may see `name`.
            if request.uri().authority().is_some_and(|a| a.as_str().contains('@')) {
                return refuse(&denials, &entry, Denial::Userinfo);
            }
            let grant = match policy.http_grant(&host, port) {
                Ok(grant) => grant,
                Err(denial) => return refuse(&denials, &entry, denial),
            };
            let addrs = match &tape {
                // Nothing goes to the network: the local server answers.
                Some(Tape::Replay(server)) => vec![*server],
                _ => match policy.resolve(grant, &host, port).await {
                    Ok(addrs) => addrs,
                    Err(denial) => return refuse(&denials, &entry, denial),
                },
            };
            let mut request = request.map(|body| {
                Metered::new(body, entry.clone(), denials.clone(), Direction::Request, limits.max_request_body)
                    .boxed_unsync()
            });
            // As the plugin sent it, placeholders and all.
            let recording = match &tape {
                Some(Tape::Record(recording)) => {
                    let (parts, body) = request.into_parts();
                    let body = body.collect().await.inspect_err(|e| entry.failed(format!("{e:?}")))?.to_bytes();
                    let sent = (parts.method.to_string(), parts.headers.clone(), parts.uri.clone(), body.clone());
                    request = http::Request::from_parts(parts, full(body));
                    Some((recording.clone(), sent))
                }
                _ => None,
            };
            if !placeholders.is_empty() {
                let filled;
                (request, filled) =
                    fill(request, &placeholders).await.inspect_err(|e| entry.failed(format!("{e:?}")))?;
                // Plain HTTP would show the secret to every network hop.
                if filled && !https && !addrs.iter().all(|a| a.ip().is_loopback()) {
                    return refuse(&denials, &entry, Denial::PlaintextSecret { target: format!("{host}:{port}") });
                }
            }
            let tls_name = https.then_some(host.as_str()).filter(|_| !matches!(tape, Some(Tape::Replay(_))));
            match connect::send(&addrs, tls_name, policy.ca(), request).await {
                Ok((response, driver)) => {
                    entry.responded(response.status().as_u16());
                    let metered = denials.clone();
                    let response = response.map(|body| {
                        let body = body.map_err(Error::from);
                        Metered::new(body, entry, metered, Direction::Response, limits.max_response_body).boxed_unsync()
                    });
                    let (response, driver) = if placeholders.is_empty() && recording.is_none() {
                        (response, driver)
                    } else {
                        mask(response, driver, &placeholders, &budget, &denials).await?
                    };
                    match recording {
                        Some((recording, sent)) => Ok(record(&recording, sent, response, driver).await),
                        None => Ok((response, driver)),
                    }
                }
                Err(error) => {
                    entry.failed(format!("{error:?}"));
                    Err(error)
                }
            }
        })
    }
}

/// The request with its placeholders filled in, and whether it had any.
/// The body is read whole, within the request-body cap.
async fn fill(
    request: http::Request<WasiBody>,
    placeholders: &Placeholders,
) -> Result<(http::Request<WasiBody>, bool), Error> {
    let (mut parts, body) = request.into_parts();
    let mut body = body.collect().await?.to_bytes();
    let mut filled = false;
    for value in parts.headers.values_mut() {
        if let Some(new) = placeholders.fill(value.as_bytes()) {
            *value = HeaderValue::from_bytes(&new).map_err(|_| Error::HttpProtocolError)?;
            filled = true;
        }
    }
    if let Some(new) = placeholders.fill(&body) {
        body = Chunk::from(new);
        filled = true;
        if parts.headers.contains_key(CONTENT_LENGTH) {
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
    }
    Ok((http::Request::from_parts(parts, full(body)), filled))
}

/// The response with the secrets' values masked back to their placeholders
/// (when there are any). The body is read whole (within the response-body cap) while the
/// connection is driven, so an echo split across chunks is masked too.
async fn mask(
    response: http::Response<WasiBody>,
    driver: connect::Driver,
    placeholders: &Placeholders,
    budget: &Budget,
    denials: &Denials,
) -> Result<(http::Response<WasiBody>, connect::Driver), Error> {
    let (mut parts, body) = response.into_parts();
    let mut driver = Box::into_pin(driver);
    let collect = body.collect();
    tokio::pin!(collect);
    let mut driven = false;
    let mut body = loop {
        tokio::select! {
            biased;
            body = &mut collect => break body?.to_bytes(),
            ended = &mut driver, if !driven => {
                ended?;
                driven = true;
            }
        }
    };
    // The whole body is now held by the host until the plugin reads it.
    if !budget.charge(body.len()) {
        denials.lock().unwrap_or_else(|e| e.into_inner()).push(Denial::MemoryBudget);
        return Err(Error::HttpResponseBodySize(Some(body.len() as u64)));
    }
    for value in parts.headers.values_mut() {
        if let Some(masked) = placeholders.mask(value.as_bytes()) {
            *value = HeaderValue::from_bytes(&masked).map_err(|_| Error::HttpProtocolError)?;
        }
    }
    if let Some(masked) = placeholders.mask(&body) {
        body = Chunk::from(masked);
        parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let driver: connect::Driver = if driven { Box::new(std::future::ready(Ok(()))) } else { Box::new(driver) };
    Ok((http::Response::from_parts(parts, full(body)), driver))
}

/// Keeps an exchange whose response body `mask` has read whole, and gives
/// the response back as it was.
async fn record(
    recording: &super::tape::Recording,
    (method, headers, uri, body): (String, http::HeaderMap, http::Uri, Chunk),
    response: http::Response<WasiBody>,
    driver: connect::Driver,
) -> (http::Response<WasiBody>, connect::Driver) {
    let (parts, received) = response.into_parts();
    // A full body: collecting it cannot fail or wait.
    let received = received.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let pairs = |headers: &http::HeaderMap| {
        headers.iter().map(|(n, v)| (n.to_string(), text(v.as_bytes()))).collect::<Vec<_>>()
    };
    let host = headers.get(http::header::HOST).map(|h| text(h.as_bytes()));
    recording.push(Recorded {
        method,
        host: host.or_else(|| uri.authority().map(|a| a.to_string())).unwrap_or_default(),
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        request_headers: pairs(&headers),
        request_body: text(&body),
        status: parts.status.as_u16(),
        response_headers: pairs(&parts.headers),
        response_body: text(&received),
    });
    (http::Response::from_parts(parts, full(received)), driver)
}

fn full(body: Chunk) -> WasiBody {
    Full::new(body).map_err(|never| match never {}).boxed_unsync()
}

#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

/// A body that counts its bytes into the transcript and fails past a cap.
struct Metered<B> {
    inner: B,
    entry: Entry,
    denials: Denials,
    direction: Direction,
    limit: u64,
    seen: u64,
}

impl<B> Metered<B> {
    fn new(inner: B, entry: Entry, denials: Denials, direction: Direction, limit: u64) -> Self {
        Self { inner, entry, denials, direction, limit, seen: 0 }
    }
}

impl<B> Body for Metered<B>
where
    B: Body<Data = Chunk, Error = Error> + Unpin,
{
    type Data = Chunk;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Chunk>, Error>>> {
        let frame = std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
            let len = data.map_or(0, |d| d.len() as u64);
            self.seen += len;
            let (seen, direction) = (self.seen, self.direction);
            self.entry.update(|e| match direction {
                Direction::Request => e.request_bytes = seen,
                Direction::Response => e.response_bytes = seen,
            });
            if self.seen > self.limit {
                let (name, error) = match direction {
                    Direction::Request => ("request", Error::HttpRequestBodySize(Some(self.seen))),
                    Direction::Response => ("response", Error::HttpResponseBodySize(Some(self.seen))),
                };
                let denial = Denial::BodyLimit { direction: name, limit: self.limit };
                self.entry.failed(format!("denied: {denial}"));
                self.denials.lock().unwrap_or_else(|e| e.into_inner()).push(denial);
                return Poll::Ready(Some(Err(error)));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
