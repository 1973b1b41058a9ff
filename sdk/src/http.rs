//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Each request goes through the host, which only lets it reach hosts the
//! plugin declared and the operator granted, bounds sizes and counts, and
//! records a transcript. Failures come back as [`ProviderError`]s that tell
//! the host whether to retry.

use crate::{ProviderError, RateLimit};
use serde::Serialize;
use serde::de::DeserializeOwned;
use wasip2::http::types::Scheme;

#[cfg(not(test_host))]
mod wasi;

/// What a path segment escapes: all but RFC 3986's unreserved characters
/// and `@` (which emails in paths hold, and servers take as is).
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// `text` as one segment of a URL's path: a `/`, `?`, `#` or `%` in it, or
/// a whole `.` or `..`, cannot change which resource the request names.
pub fn segment(text: &str) -> String {
    match text {
        "." | ".." => text.replace('.', "%2E"),
        _ => percent_encoding::utf8_percent_encode(text, SEGMENT).to_string(),
    }
}

/// An HTTP request being built. Send it with [`Request::send`].
#[derive(Debug)]
pub struct Request {
    /// The method, upper-case.
    pub(crate) method_name: String,
    pub(crate) url: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

/// A response whose body was read to the end.
#[derive(Debug)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    /// A request with any method (`GET`, `POST`, … or an extension method).
    pub fn new(method: &str, url: &str) -> Self {
        Self { method_name: method.to_ascii_uppercase(), url: url.to_string(), headers: Vec::new(), body: Vec::new() }
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
        #[cfg(not(test_host))]
        return wasi::send(&self, &url);
        #[cfg(test_host)]
        return crate::testing::send(&self, &url);
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
        let message = format!("{what} answered {status}{}", reason(&self.body));
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

impl Response {
    /// This response when it is a success (2xx), or the error that tells
    /// the host what to do: as [`Response::error_for_status`], and a redirect
    /// or any other status below 400 is rejected, since requests never
    /// follow one (a write that was redirected did not happen).
    pub fn expect_success(self, what: &str) -> Result<Self, ProviderError> {
        self.error_for_status(what)?;
        match self.status {
            200..=299 => Ok(self),
            status => Err(ProviderError::Rejected(format!(
                "{what} answered {status}, which is not a success; requests follow no redirect{}",
                self.header("location").map_or(String::new(), |to| format!(" (to {to})"))
            ))),
        }
    }
}

impl Response {
    /// This response's JSON body when it is a success (none for an empty
    /// body, as a 204 has), or the error that tells the host what to do, as
    /// [`Response::expect_success`] says.
    pub fn expect_json(self, what: &str) -> Result<serde_json::Value, ProviderError> {
        let response = self.expect_success(what)?;
        match response.bytes() {
            [] => Ok(serde_json::Value::Null),
            body => Ok(serde_json::from_slice(body)?),
        }
    }
}

/// The longest part of an error response's body an error carries.
const REASON_CHARS: usize = 300;

/// What an error response's body says (`{"error": "quota exceeded"}`), on
/// one line and at most [`REASON_CHARS`] long, as `: …`; nothing when it is
/// empty. The host masks any secret in it, as in every error text.
fn reason(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let words: Vec<&str> =
        text.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty()).collect();
    let line = words.join(" ");
    match line.char_indices().nth(REASON_CHARS) {
        _ if line.is_empty() => String::new(),
        Some((cut, _)) => format!(": {}…", &line[..cut]),
        None => format!(": {line}"),
    }
}

/// The parts of an absolute `http(s)://` URL that `wasi:http` takes apart.
pub(crate) struct Url<'a> {
    pub(crate) scheme: Scheme,
    pub(crate) authority: &'a str,
    pub(crate) path_and_query: &'a str,
}

impl<'a> Url<'a> {
    pub(crate) fn parse(url: &'a str) -> Result<Self, ProviderError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(status: u16, body: &str) -> String {
        Response { status, headers: vec![], body: body.into() }
            .error_for_status("POST /keys")
            .unwrap_err()
            .message()
            .to_string()
    }

    #[test]
    fn a_segment_cannot_reach_another_resource() {
        assert_eq!(segment("app@shop-1.iam.gserviceaccount.com"), "app@shop-1.iam.gserviceaccount.com");
        assert_eq!(segment("../keys/x?y#z%"), "..%2Fkeys%2Fx%3Fy%23z%25");
        assert_eq!(segment(".."), "%2E%2E");
    }

    #[test]
    fn an_error_keeps_what_the_server_said() {
        let error = answered(400, "{\"error\":\n  \"quota exceeded\"}");
        assert!(error.contains("POST /keys answered 400: {\"error\": \"quota exceeded\"}"), "{error}");
        assert!(answered(503, "").ends_with("POST /keys answered 503"), "no body, no colon");
    }

    #[test]
    fn a_long_body_is_cut() {
        let error = answered(400, &"x".repeat(10_000));
        assert!(error.ends_with('…') && error.len() < REASON_CHARS + 100, "{error}");
    }
}
