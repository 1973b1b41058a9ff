//! Which `Host` the daemon answers to. A web page the operator opens can
//! point a name of its own at 127.0.0.1 (DNS rebinding) and then read the
//! local daemon as its own origin; the browser then sends that name as the
//! `Host`. So a request is served only when its `Host` is an IP address,
//! `localhost`, or one of the names in `[daemon] hosts`.

use super::api::Api;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Refuses a request whose `Host` is not one the daemon answers to.
pub async fn check(State(api): State<Arc<Api>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|h| h.to_str().unwrap_or("?").to_string());
    match host {
        Some(host) if !allowed(&host, &api.config().manifest.daemon.hosts) => (
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this daemon does not answer to the name `{}`; if it is yours, add it to `hosts` under [daemon] in rekey.toml\n",
                name(&host).escape_default()
            ),
        )
            .into_response(),
        _ => next.run(request).await,
    }
}

/// `host` without its port.
fn name(host: &str) -> &str {
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed.split_once(']').map_or(host, |(address, _)| address);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

/// Whether a request naming `host` is served, with `names` configured.
pub fn allowed(host: &str, names: &[String]) -> bool {
    let name = name(host).trim_end_matches('.');
    name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || names.iter().any(|configured| configured.trim_end_matches('.').eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn addresses_localhost_and_configured_names_are_served() {
        let names = ["rekey.example.com".to_string()];
        for host in ["127.0.0.1:9464", "10.0.0.5", "[::1]:9464", "::1", "localhost:9464", "Rekey.Example.com.:443"] {
            assert!(allowed(host, &names), "{host}");
        }
    }

    #[test]
    fn any_other_name_is_refused() {
        for host in ["attacker.example:9464", "rekey.example.com.attacker.example", "127.0.0.1.nip.io", ""] {
            assert!(!allowed(host, &["rekey.example.com".to_string()]), "{host}");
        }
    }
}
