//! A small HTTP client for checks and notifications: URLs the operator wrote
//! in `rekey.toml`, so no sandbox policy applies, but the same connector as
//! plugins (vetted address, TLS with Mozilla's roots) and a deadline.

use super::DeployError;
use crate::runtime::connect;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::time::Duration;

/// Sends a request and returns the response status; the body is read and
/// dropped.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<u16, DeployError> {
    tokio::time::timeout(timeout, send(method, url, headers, body))
        .await
        .map_err(|_| DeployError(format!("{method} {url} did not answer within {timeout:?}")))?
}

async fn send(method: &str, url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<u16, DeployError> {
    let fail = |what: String| DeployError(format!("{method} {url}: {what}"));
    let uri: http::Uri = url.parse().map_err(|_| fail("not a valid URL".into()))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(fail("only http:// and https:// URLs are supported".into())),
    };
    let host = uri.host().ok_or_else(|| fail("no host".into()))?.trim_matches(['[', ']']).to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
        .await
        .map_err(|e| fail(format!("cannot resolve {host}: {e}")))?
        .collect();
    let mut request = http::Request::builder().method(method).uri(uri.clone());
    request = request.header(http::header::HOST, uri.authority().map_or(host.clone(), |a| a.to_string()));
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let body = Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync();
    let request = request.body(body).map_err(|e| fail(format!("invalid request: {e}")))?;
    let (response, driver) = connect::send(&addrs, https.then_some(host.as_str()), &[], request)
        .await
        .map_err(|e| fail(format!("{e:?}")))?;
    let status = response.status().as_u16();
    let (_, read) = tokio::join!(Box::into_pin(driver), response.into_body().collect());
    read.map_err(|e| fail(format!("reading the response failed: {e}")))?;
    Ok(status)
}
