//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Each request goes through the host, which only lets it reach hosts the
//! plugin declared and the operator granted, bounds sizes and counts, and
//! records a transcript. Failures come back as [`ProviderError`]s that tell
//! the host whether to retry.

use crate::{ProviderError, RateLimit};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};

/// Largest chunk written to or read from a body stream at once (the WASI
/// streams limit a single blocking write to 4 KiB).
const CHUNK: u64 = 4096;

/// An HTTP request being built. Send it with [`Request::send`].
#[derive(Debug)]
pub struct Request {
    method: Method,
    /// The method as given, for messages.
    method_name: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A response whose body was read to the end.
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A request with any method (`GET`, `POST`, … or an extension method).
    pub fn new(method: &str, url: &str) -> Self {
        let method_name = method.to_ascii_uppercase();
        let method = match method_name.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_string()),
        };
        Self { method, method_name, url: url.to_string(), headers: Vec::new(), body: Vec::new() }
    }

    /// A `GET` request.
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: &str) -> Self {
        Self::new("PUT", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: &str) -> Self {
        Self::new("DELETE", url)
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// Sets a raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("serializing JSON to memory cannot fail");
        self.header("content-type", "application/json").body(body)
    }

    /// Sends the request and reads the whole response. A status of 400 and
    /// above is turned into the matching [`ProviderError`]; use
    /// [`Request::send_any_status`] to look at such responses yourself.
    pub fn send(self) -> Result<Response, ProviderError> {
        let what = format!("{} {}", self.method_name, self.url);
        let response = self.send_any_status()?;
        response.error_for_status(&what)?;
        Ok(response)
    }

    /// Sends the request and reads the whole response, whatever its status.
    pub fn send_any_status(self) -> Result<Response, ProviderError> {
        let url = Url::parse(&self.url)?;
        let headers = Fields::new();
        for (name, value) in &self.headers {
            headers
                .append(name, value.as_bytes())
                .map_err(|e| ProviderError::InvalidConfig(format!("header `{name}` is not valid: {e:?}")))?;
        }
        let request = OutgoingRequest::new(headers);
        let invalid = |part: &str| ProviderError::InvalidConfig(format!("the {part} of `{}` is not valid", self.url));
        request.set_method(&self.method).map_err(|()| invalid("method"))?;
        request.set_scheme(Some(&url.scheme)).map_err(|()| invalid("scheme"))?;
        request.set_authority(Some(url.authority)).map_err(|()| invalid("host"))?;
        request.set_path_with_query(Some(url.path_and_query)).map_err(|()| invalid("path"))?;

        let outgoing = request.body().expect("a new request's body is taken once");
        let future = outgoing_handler::handle(request, None).map_err(|e| transport_error(&self.url, e))?;
        // A body that cannot be written usually means the request failed
        // (a refused connection, a denial): the response says why.
        let written = write_body(&outgoing, &self.body)
            .and_then(|()| OutgoingBody::finish(outgoing, None).map_err(|e| transport_error(&self.url, e)));

        future.subscribe().block();
        let incoming = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(e))) => return Err(transport_error(&self.url, e)),
            Some(Err(())) | None => {
                return Err(ProviderError::Unavailable(format!("no response from {}", self.url)));
            }
        };
        written?;
        let status = incoming.status();
        let headers = incoming
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
            .collect();
        let body = read_body(incoming.consume().expect("a response's body is taken once"))?;
        Ok(Response { status, headers, body })
    }
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 is replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ProviderError> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// Maps a status of 400 and above to the error that tells the host what
    /// to do: 401/403 unauthorized, 404 not found, 429 rate limited, 408 and
    /// 5xx unavailable (retried), any other 4xx rejected.
    pub fn error_for_status(&self, what: &str) -> Result<(), ProviderError> {
        let status = self.status;
        if status < 400 {
            return Ok(());
        }
        let message = format!("{what} answered {status}");
        Err(match status {
            401 | 403 => ProviderError::Unauthorized(message),
            404 => ProviderError::NotFound(message),
            429 => ProviderError::RateLimited(RateLimit {
                retry_after_seconds: self.header("retry-after").and_then(|v| v.trim().parse().ok()),
                message,
            }),
            408 | 500.. => ProviderError::Unavailable(message),
            _ => ProviderError::Rejected(message),
        })
    }
}

/// The parts of an absolute `http(s)://` URL that `wasi:http` takes apart.
struct Url<'a> {
    scheme: Scheme,
    authority: &'a str,
    path_and_query: &'a str,
}

impl<'a> Url<'a> {
    fn parse(url: &'a str) -> Result<Self, ProviderError> {
        let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err(ProviderError::InvalidConfig(format!("`{url}` is not an absolute http:// or https:// URL")));
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.is_empty() {
            return Err(ProviderError::InvalidConfig(format!("`{url}` has no host")));
        }
        let path_and_query = if path.is_empty() { "/" } else { path };
        Ok(Self { scheme, authority, path_and_query })
    }
}

fn write_body(body: &OutgoingBody, bytes: &[u8]) -> Result<(), ProviderError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let stream = body.write().expect("a body's stream is taken once");
    for chunk in bytes.chunks(CHUNK as usize) {
        stream.blocking_write_and_flush(chunk)?;
    }
    Ok(())
}

fn read_body(body: IncomingBody) -> Result<Vec<u8>, ProviderError> {
    let mut out = Vec::new();
    {
        let stream = body.stream().expect("a body's stream is taken once");
        loop {
            match stream.blocking_read(CHUNK) {
                Ok(chunk) => out.extend_from_slice(&chunk),
                Err(wasip2::io::streams::StreamError::Closed) => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    IncomingBody::finish(body);
    Ok(out)
}

/// Maps a `wasi:http` error code: a refusal by the host's sandbox is
/// permanent (retrying will not help), a URL that cannot be sent is the
/// operator's config to fix, and every failure of the transport itself (a
/// dropped connection, a response that is not HTTP, a timeout) is transient.
fn transport_error(url: &str, code: ErrorCode) -> ProviderError {
    match code {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            ProviderError::Rejected(format!("the host denied the request to {url}: {code:?}"))
        }
        ErrorCode::HttpRequestUriInvalid => {
            ProviderError::InvalidConfig(format!("request to {url} is not valid: {code:?}"))
        }
        other => ProviderError::Unavailable(format!("request to {url} failed: {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_connection_is_transient_and_a_denial_permanent() {
        let url = "https://api.example.com/keys";
        for code in [ErrorCode::HttpProtocolError, ErrorCode::ConnectionTerminated, ErrorCode::ConnectionRefused] {
            assert!(matches!(transport_error(url, code), ProviderError::Unavailable(_)));
        }
        assert!(matches!(transport_error(url, ErrorCode::HttpRequestDenied), ProviderError::Rejected(_)));
        assert!(matches!(transport_error(url, ErrorCode::HttpRequestUriInvalid), ProviderError::InvalidConfig(_)));
    }
}
