//! The `/v1` API: JSON over HTTP, every request authenticated by a bearer
//! token (`Authorization: Bearer rkt_…`) and authorized by the token's role
//! and scope. It never returns a secret: names, versions, key ids, times,
//! states, digests and audit entries only. The endpoints are in
//! [`super::reads`], [`super::actions`] and [`super::tokens`]; their OpenAPI document,
//! generated from the handlers and types themselves, is served at
//! `/v1/openapi.json`.
//!
//! A client that fails to authenticate too often is refused for the rest
//! of the minute, whatever it sends (see [`super::throttle`]).

use super::listener::Client;
use super::requests::Requests;
use super::throttle::Throttle;
use super::{actions, identity, reads, tokens};
use crate::access::Caller;
use crate::config::Config;
use crate::store::audit::{Break, Checkpoint};
use crate::store::{Store, StoreError};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::{Arc, Mutex};
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// How many requests read the store at once, each on a connection of its
/// own (SQLite's WAL and PostgreSQL both let readers run side by side).
const READERS: usize = 4;

/// What the API reads: the declaration and store connections of its own.
pub struct Api {
    config: std::sync::RwLock<Arc<Config>>,
    /// [`READERS`] connections; a read takes one that is free.
    stores: Vec<Mutex<Store>>,
    /// Where a read waits when every connection is taken.
    next: std::sync::atomic::AtomicUsize,
    pub(super) requests: Arc<Requests>,
    throttle: Throttle,
    /// How far the audit chain is known to hold, so a view checks only
    /// what was appended since.
    verified: Mutex<Checkpoint>,
}

impl Api {
    /// The API over `config` and `store` (a connection of its own: the
    /// rotations keep theirs, and it opens [`READERS`] − 1 more), handing
    /// the rotations it is asked for to `requests`.
    pub fn new(config: Arc<Config>, store: Store, requests: Arc<Requests>) -> Result<Self, StoreError> {
        let mut stores = Vec::with_capacity(READERS);
        for _ in 1..READERS {
            stores.push(Mutex::new(store.connection()?));
        }
        stores.push(Mutex::new(store));
        Ok(Self {
            config: std::sync::RwLock::new(config),
            stores,
            next: Default::default(),
            requests,
            throttle: Throttle::default(),
            verified: Mutex::default(),
        })
    }

    /// Serves `config` from now on (the daemon reloaded it).
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// The declaration served now.
    pub(super) fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `read` on the store off the async threads.
    pub(super) async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Store, &Config) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let api = self.clone();
        let config = self.config();
        tokio::task::spawn_blocking(move || read(&api.store(), &config))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// A free store connection, or, when all are taken, the next in turn
    /// once it is free.
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        let free = self.stores.iter().find_map(|store| match store.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        });
        free.unwrap_or_else(|| {
            let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.stores.len();
            self.stores[turn].lock().unwrap_or_else(|e| e.into_inner())
        })
    }

    /// The plugins, as `rekey plugin list` shows them.
    pub(super) async fn plugins(&self) -> Result<Vec<crate::trust::listing::Listed>, ApiError> {
        let config = self.config();
        tokio::task::spawn_blocking(move || crate::trust::listing::plugins(&config))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Whether the audit chain holds, checked from where this API last
    /// found it whole (entries appended since, and the head): how many
    /// entries it holds, or where it breaks. `rekey audit verify` and
    /// `/v1/audit/verify` check it all.
    pub(super) fn verify_audit_since_last(&self, store: &Store) -> Result<Result<i64, Break>, StoreError> {
        let mut known = self.verified.lock().unwrap_or_else(|e| e.into_inner());
        let checked = store.verify_audit_after(&known)?;
        if let Ok(point) = &checked {
            *known = point.clone();
        }
        Ok(checked.map(|point| point.count))
    }

    /// Whether `client` is refused for failing too often; counts a failure when `failed`.
    pub(super) fn throttled(&self, client: Client, failed: bool) -> bool {
        self.throttle.throttled(client, failed)
    }
}

/// The `/v1` routes, and `/v1/openapi.json` describing them.
pub fn routes() -> axum::Router<Arc<Api>> {
    let (router, document) = OpenApiRouter::with_openapi(Document::openapi())
        .routes(routes!(reads::credentials))
        .routes(routes!(reads::credential))
        .routes(routes!(actions::rotate))
        .routes(routes!(actions::rollback))
        .routes(routes!(actions::resume))
        .routes(routes!(reads::audit))
        .routes(routes!(reads::audit_verify))
        .routes(routes!(reads::plugins))
        .routes(routes!(tokens::list))
        .routes(routes!(tokens::revoke))
        .split_for_parts();
    let document = Arc::new(document.to_pretty_json().expect("the OpenAPI document serializes"));
    let served = move || async move { ([(header::CONTENT_TYPE, "application/json")], document.as_str().to_owned()) };
    router.route("/v1/openapi.json", axum::routing::get(served))
}

/// The API's OpenAPI document; the paths come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(title = "rekey", description = "The rekey daemon's API: credentials, rotations and the audit log, for tokens made with `rekey token create`."),
    modifiers(&BearerToken),
    security(("token" = [])),
    tags(
        (name = "credentials", description = "Credentials, their standing and history (viewer)"),
        (name = "rotations", description = "Rotate, roll back and resume (rotator)"),
        (name = "audit", description = "The audit log and its chain (auditor)"),
        (name = "plugins", description = "Approved plugins (auditor)"),
        (name = "tokens", description = "API tokens (admin)"),
    )
)]
struct Document;

/// Declares the bearer token every operation needs.
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("rkt_ followed by 43 base64url characters".into());
        scheme.description = Some("A token made with `rekey token create`.".into());
        components.add_security_scheme("token", SecurityScheme::Http(scheme));
    }
}

/// The body of every refusal.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What is wrong and how to fix it.
    pub error: String,
}

/// A refusal or failure, as `{"error": "…"}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    pub(super) fn internal(message: String) -> Self {
        tracing::error!("API request failed: {message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "the request failed; the daemon's log says why")
    }

    /// Its status and message.
    pub(super) fn parts(self) -> (StatusCode, String) {
        (self.status, self.message)
    }

    pub(super) fn forbidden(caller: &Caller, what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, format!("token `{}` ({}) may not {what}", caller.name, caller.role.name()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(ErrorBody { error: self.message })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The caller a request's bearer token stands for, as a handler takes it
/// (an extractor of the server's own: the engine's [`Caller`] knows no HTTP).
pub struct Bearer(pub Caller);

impl FromRequestParts<Arc<Api>> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, ApiError> {
        let client = parts.extensions.get::<ConnectInfo<Client>>().map(|c| c.0);
        let client = client.unwrap_or(Client(std::net::SocketAddr::from(([0, 0, 0, 0], 0))));
        let refused = || ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed authentications; wait a minute");
        if api.throttled(client, false) {
            return Err(refused());
        }
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let caller = match given {
            Some(given) => api.read(move |store, _| identity::by_token(store, &given)).await?.map(|(caller, _)| caller),
            None => None,
        };
        caller.map(Bearer).ok_or_else(|| {
            if api.throttled(client, true) {
                return refused();
            }
            // One answer for a missing, unknown, expired or revoked token: which it was is no one's business.
            ApiError::new(StatusCode::UNAUTHORIZED, "a valid token is needed: Authorization: Bearer rkt_…")
        })
    }
}
