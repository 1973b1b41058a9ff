//! The daemon's HTTP endpoints on `daemon.listen`: `/metrics` (OpenMetrics
//! text; open on a loopback address, and elsewhere for a token whose scope
//! covers every credential, since it names them all), `/healthz` (the
//! process answers) and `/readyz` (the store opens and reads, the
//! scheduler runs, no rotation is stuck), open to anyone who reaches the
//! address; the `/v1` API (`server::api`), for tokens only; and the
//! dashboard at `/` (`server::dashboard`), for people signed in with a
//! token. None reveals a secret; none answers to a `Host` it does not know
//! (`server::hosts`).

use super::health::Health;
use super::metrics::Metrics;
use crate::server::api::{ApiError, Bearer};
use crate::server::dashboard::Dashboard;
use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;

/// What the endpoints read.
pub struct Shared {
    /// The metrics.
    pub metrics: Arc<Metrics>,
    /// The scheduler's health.
    pub health: Arc<Health>,
    /// The store file, probed on each `/readyz`.
    pub store: crate::store::Location,
    /// How long a rotation may run before the daemon is not ready.
    pub stuck_after: Duration,
    /// The `/v1` API.
    pub api: Arc<crate::server::api::Api>,
    /// Whether it is served over TLS.
    pub tls: bool,
    /// Whether it listens on a loopback address only, where `/metrics`
    /// needs no token.
    pub loopback: bool,
}

/// The endpoints.
pub fn app(shared: Arc<Shared>) -> Router {
    let api = crate::server::api::routes().with_state(shared.api.clone());
    let dashboard = crate::server::dashboard::routes(Arc::new(Dashboard::new(shared.api.clone(), shared.tls)));
    let hosts = axum::middleware::from_fn_with_state(shared.api.clone(), crate::server::hosts::check);
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(shared)
        .merge(api)
        .merge(dashboard)
        // No endpoint takes more than a small JSON body.
        .layer(axum::extract::DefaultBodyLimit::max(64 << 10))
        .layer(hosts)
}

async fn metrics(State(shared): State<Arc<Shared>>, mut parts: Parts) -> Response {
    if !shared.loopback {
        let caller = match Bearer::from_request_parts(&mut parts, &shared.api).await {
            Ok(Bearer(caller)) => caller,
            Err(refused) => return refused.into_response(),
        };
        if !caller.sees_everything() {
            let why = format!(
                "token `{}` is scoped to some credentials, and /metrics names them all: use a token with no --credentials",
                caller.name
            );
            return ApiError::new(StatusCode::FORBIDDEN, why).into_response();
        }
    }
    let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    ([(header::CONTENT_TYPE, kind)], shared.metrics.encode()).into_response()
}

async fn ready(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let mut problems = shared.health.problems(shared.stuck_after);
    let store = shared.store.clone();
    let probed = tokio::task::spawn_blocking(move || crate::store::probe(&store)).await;
    match probed {
        Ok(Ok(())) => {}
        Ok(Err(e)) => problems.insert(0, format!("the store cannot be read: {e}")),
        Err(e) => problems.insert(0, format!("the store check did not finish: {e}")),
    }
    if problems.is_empty() {
        (StatusCode::OK, "ready\n".to_string())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", problems.join("; ")))
    }
}
