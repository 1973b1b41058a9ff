//! The transport: a request over `wasi:http/outgoing-handler`, through the
//! host's sandbox.

use super::{Request, Response, Url};
use crate::ProviderError;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest};

/// Largest chunk written to or read from a body stream at once (the WASI
/// streams limit a single blocking write to 4 KiB).
const CHUNK: u64 = 4096;

/// Sends `sent` to `url` (its own, parsed) and reads the whole response.
pub(super) fn send(sent: &Request, url: &Url<'_>) -> Result<Response, ProviderError> {
    let headers = Fields::new();
    for (name, value) in &sent.headers {
        headers
            .append(name, value.as_bytes())
            .map_err(|e| ProviderError::InvalidConfig(format!("header `{name}` is not valid: {e:?}")))?;
    }
    let request = OutgoingRequest::new(headers);
    let invalid = |part: &str| ProviderError::InvalidConfig(format!("the {part} of `{}` is not valid", sent.url));
    request.set_method(&method(&sent.method_name)).map_err(|()| invalid("method"))?;
    request.set_scheme(Some(&url.scheme)).map_err(|()| invalid("scheme"))?;
    request.set_authority(Some(url.authority)).map_err(|()| invalid("host"))?;
    request.set_path_with_query(Some(url.path_and_query)).map_err(|()| invalid("path"))?;

    let outgoing = request.body().expect("a new request's body is taken once");
    let future = outgoing_handler::handle(request, None).map_err(|e| transport_error(&sent.url, e))?;
    // A body that cannot be written usually means the request failed
    // (a refused connection, a denial): the response says why.
    let written = write_body(&outgoing, &sent.body)
        .and_then(|()| OutgoingBody::finish(outgoing, None).map_err(|e| transport_error(&sent.url, e)));

    future.subscribe().block();
    let incoming = match future.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(transport_error(&sent.url, e)),
        Some(Err(())) | None => {
            return Err(ProviderError::Unavailable(format!("no response from {}", sent.url)));
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

/// The `wasi:http` method of an upper-case method name.
fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
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
