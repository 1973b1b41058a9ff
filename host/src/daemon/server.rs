//! The daemon's HTTP endpoints on `daemon.listen`: `/metrics` (OpenMetrics
//! text), `/healthz` (the process answers) and `/readyz` (the store opens
//! and reads, the scheduler runs, no rotation is stuck), open to anyone who
//! reaches the address; the `/v1` API (`server::api`), for tokens only;
//! and the dashboard at `/` (`server::dashboard`), for people signed in
//! with a token. None reveals a secret.

use super::health::Health;
use super::metrics::Metrics;
use crate::server::dashboard::Dashboard;
use crate::server::listener::Client;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
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
}

/// The endpoints.
pub fn app(shared: Arc<Shared>) -> Router {
    let api = crate::server::api::routes().with_state(shared.api.clone());
    let dashboard = crate::server::dashboard::routes(Arc::new(Dashboard::new(shared.api.clone(), shared.tls)));
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(shared)
        .merge(api)
        .merge(dashboard)
        // No endpoint takes more than a small JSON body.
        .layer(axum::extract::DefaultBodyLimit::max(64 << 10))
}

/// Serves `app` on `listener` until the task is dropped.
pub async fn serve<L>(listener: L, app: Router)
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
    Client: for<'a> axum::extract::connect_info::Connected<axum::serve::IncomingStream<'a, L>>,
{
    let app = app.into_make_service_with_connect_info::<Client>();
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!("the metrics and health endpoints stopped: {e}");
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], shared.metrics.encode())
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
