//! The `/v1` API: JSON over HTTP, every request authenticated by a bearer
//! token (`Authorization: Bearer rkt_…`) and authorized by the token's role
//! and scope. It never returns a secret: names, versions, key ids, times,
//! states and audit entries only.
//!
//! - `GET /v1/credentials`: the standing of each credential in scope;
//! - `GET /v1/credentials/{name}`: one credential and its history;
//! - `GET /v1/audit?credential=&after=&limit=`: the audit log, paged
//!   (auditor, admin), entries about credentials out of scope left out;
//! - `GET /v1/audit/verify`: whether the audit chain holds (auditor, admin);
//! - `POST /v1/credentials/{name}/rotate[?emergency=true]`: a rotation, run
//!   by the daemon's scheduler at once (rotator, admin; 202);
//! - `POST /v1/credentials/{name}/rollback`: undo the rotation in its grace
//!   period, the same way;
//! - `GET /v1/tokens`: every token (admin).
//!
//! Every request that changes something is an audit entry naming its token.
//!
//! A client that fails to authenticate [`FAILURES`] times in a minute is
//! refused for the rest of that minute, whatever it sends.

use super::access::{Action, Caller, Role, Scope};
use super::requests::{Asked, Requested, Requests};
use super::token;
use crate::config::Config;
use crate::store::rotations::State as RotationState;
use crate::store::{Store, StoreError};
use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Failed authentications a client may make in a minute.
pub const FAILURES: u32 = 20;
/// The most audit entries one page holds.
const MAX_PAGE: usize = 500;

/// What the API reads: the declaration and a store connection of its own.
pub struct Api {
    config: std::sync::RwLock<Arc<Config>>,
    store: Mutex<Store>,
    requests: Arc<Requests>,
    failures: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Api {
    /// The API over `config` and `store` (a connection of its own: the
    /// rotations keep theirs), handing the rotations it is asked for to
    /// `requests`.
    pub fn new(config: Arc<Config>, store: Store, requests: Arc<Requests>) -> Self {
        let config = std::sync::RwLock::new(config);
        Self { config, store: Mutex::new(store), requests, failures: Mutex::default() }
    }

    /// Serves `config` from now on (the daemon reloaded it).
    pub fn set_config(&self, config: Arc<Config>) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
    }

    /// Runs `read` on the store off the async threads.
    async fn read<T: Send + 'static>(
        self: &Arc<Self>,
        read: impl FnOnce(&Store, &Config) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let api = self.clone();
        let config = self.config.read().unwrap_or_else(|e| e.into_inner()).clone();
        tokio::task::spawn_blocking(move || {
            let store = api.store.lock().unwrap_or_else(|e| e.into_inner());
            read(&store, &config)
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
        .map_err(|e| ApiError::internal(e.to_string()))
    }

    /// Whether `client` is refused for failing too often; counts a failure when `failed`.
    fn throttled(&self, client: IpAddr, failed: bool) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let entry = failures.entry(client).or_insert((now, 0));
        if now.duration_since(entry.0) > Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 += u32::from(failed);
        entry.1 > FAILURES
    }
}

/// The `/v1` routes.
pub fn routes() -> axum::Router<Arc<Api>> {
    axum::Router::new()
        .route("/v1/credentials", get(credentials))
        .route("/v1/credentials/{name}", get(credential))
        .route("/v1/credentials/{name}/rotate", axum::routing::post(rotate))
        .route("/v1/credentials/{name}/rollback", axum::routing::post(rollback))
        .route("/v1/audit", get(audit))
        .route("/v1/audit/verify", get(audit_verify))
        .route("/v1/tokens", get(tokens))
}

/// A refusal or failure, as `{"error": "…"}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into() }
    }

    fn internal(message: String) -> Self {
        tracing::error!("API request failed: {message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "the request failed; the daemon's log says why")
    }

    fn forbidden(caller: &Caller, what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, format!("token `{}` ({}) may not {what}", caller.name, caller.role.name()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(serde_json::json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl FromRequestParts<Arc<Api>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, api: &Arc<Api>) -> Result<Self, ApiError> {
        let client = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
        let client = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let refused = || ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too many failed authentications; wait a minute");
        if api.throttled(client, false) {
            return Err(refused());
        }
        let given = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| token::well_formed(t))
            .map(String::from);
        let caller = match given {
            Some(given) => api.read(move |store, _| authenticate(store, &given)).await?,
            None => None,
        };
        caller.ok_or_else(|| {
            if api.throttled(client, true) {
                return refused();
            }
            // One answer for a missing, unknown, expired or revoked token: which it was is no one's business.
            ApiError::new(StatusCode::UNAUTHORIZED, "a valid token is needed: Authorization: Bearer rkt_…")
        })
    }
}

/// The caller a token stands for, if it is known, unexpired and not revoked.
fn authenticate(store: &Store, given: &str) -> Result<Option<Caller>, StoreError> {
    let Some((record, kept)) = store.token_by_lookup(token::lookup(given))? else { return Ok(None) };
    let now = crate::store::now();
    if !token::matches(given, &kept) || !record.usable(now) {
        return Ok(None);
    }
    store.token_used(&record, now)?;
    let (Some(role), Ok(scope)) = (Role::parse(&record.role), Scope::new(record.scope)) else { return Ok(None) };
    Ok(Some(Caller { name: record.name, role, scope }))
}

async fn credentials(caller: Caller, State(api): State<Arc<Api>>) -> Result<Response, ApiError> {
    let standings = api
        .read(move |store, config| {
            crate::status::standings(config, store, crate::store::now(), |name| caller.may(Action::View, Some(name)))
        })
        .await?;
    Ok(Json(standings).into_response())
}

async fn credential(
    caller: Caller,
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    if !caller.may(Action::View, Some(&name)) {
        return Err(ApiError::forbidden(&caller, &format!("see `{name}`: it is outside its scope")));
    }
    let wanted = name.clone();
    let found = api
        .read(move |store, config| {
            let standing = crate::status::standings(config, store, crate::store::now(), |n| n == wanted)?;
            match standing.into_iter().next() {
                Some(standing) => Ok(Some((standing, crate::status::history(store, &wanted)?))),
                None => Ok(None),
            }
        })
        .await?;
    match found {
        Some((standing, history)) => {
            Ok(Json(serde_json::json!({ "credential": standing, "history": history })).into_response())
        }
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no credential `{name}` is declared"))),
    }
}

/// The audit log's query: one credential's entries, entries after a
/// sequence number, and how many.
#[derive(Debug, serde::Deserialize)]
struct Page {
    credential: Option<String>,
    after: Option<i64>,
    limit: Option<usize>,
}

async fn audit(caller: Caller, State(api): State<Arc<Api>>, Query(page): Query<Page>) -> Result<Response, ApiError> {
    if !caller.may(Action::Audit, page.credential.as_deref()) {
        return Err(ApiError::forbidden(&caller, "read the audit log here"));
    }
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let entries = api
        .read(move |store, _| {
            let all = store.audit_log(page.credential.as_deref())?;
            Ok(all
                .into_iter()
                .filter(|e| e.seq > page.after.unwrap_or(0))
                .filter(|e| e.credential.as_deref().is_none_or(|c| caller.may(Action::Audit, Some(c))))
                .take(limit)
                .collect::<Vec<_>>())
        })
        .await?;
    let next = (entries.len() == limit).then(|| entries.last().map(|e| e.seq)).flatten();
    Ok(Json(serde_json::json!({ "entries": entries, "next_after": next })).into_response())
}

async fn audit_verify(caller: Caller, State(api): State<Arc<Api>>) -> Result<Response, ApiError> {
    if !caller.may(Action::Audit, None) {
        return Err(ApiError::forbidden(&caller, "verify the audit log"));
    }
    let verified = api.read(|store, _| store.verify_audit()).await?;
    Ok(Json(match verified {
        Ok(entries) => serde_json::json!({ "intact": true, "entries": entries }),
        Err(broken) => serde_json::json!({ "intact": false, "break": broken.to_string() }),
    })
    .into_response())
}

async fn tokens(caller: Caller, State(api): State<Arc<Api>>) -> Result<Response, ApiError> {
    if !caller.may(Action::ManageTokens, None) {
        return Err(ApiError::forbidden(&caller, "manage tokens"));
    }
    Ok(Json(api.read(|store, _| store.tokens()).await?).into_response())
}

/// A rotation's options.
#[derive(Debug, serde::Deserialize)]
struct RotateOptions {
    #[serde(default)]
    emergency: bool,
}

async fn rotate(
    caller: Caller,
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
    Query(options): Query<RotateOptions>,
) -> Result<Response, ApiError> {
    ask(caller, api, name, Asked::Rotate { emergency: options.emergency }).await
}

async fn rollback(caller: Caller, State(api): State<Arc<Api>>, Path(name): Path<String>) -> Result<Response, ApiError> {
    ask(caller, api, name, Asked::Rollback).await
}

/// Checks that `caller` may ask for `asked` on `name` and that it can be
/// done now, records the request in the audit log naming the token, and
/// hands it to the daemon's scheduler: 202.
async fn ask(caller: Caller, api: Arc<Api>, name: String, asked: Asked) -> Result<Response, ApiError> {
    let (verb, event) = match asked {
        Asked::Rotate { .. } => ("rotate", "api.rotate"),
        Asked::Rollback => ("roll back", "api.rollback"),
    };
    if !caller.may(Action::Rotate, Some(&name)) {
        return Err(ApiError::forbidden(&caller, &format!("{verb} `{name}`")));
    }
    let (credential, by) = (name.clone(), caller.name.clone());
    let refused = api
        .read(move |store, config| {
            let Some(spec) = config.credential(&credential) else {
                return Ok(Some((StatusCode::NOT_FOUND, format!("no credential `{credential}` is declared"))));
            };
            let open =
                store.overview()?.open_rotation(&credential).map(|r| (r.id.clone(), r.state, r.from_version.is_some()));
            let why = match (asked, open) {
                (Asked::Rotate { .. }, _) if Config::is_manual(spec) => {
                    Some(format!("`{credential}` is manual: a person types its new key at `rekey rotate {credential}`"))
                }
                (Asked::Rotate { .. }, Some((id, _, _))) => {
                    Some(format!("`{credential}` has a rotation under way ({id}); wait for it or resume it"))
                }
                (Asked::Rollback, Some((_, RotationState::Grace, true))) => None,
                (Asked::Rollback, _) => Some(format!(
                    "`{credential}` has nothing to roll back: only a rotation in its grace period, from a previous key not yet revoked, can be"
                )),
                (Asked::Rotate { .. }, None) => None,
            };
            if let Some(why) = why {
                return Ok(Some((StatusCode::CONFLICT, why)));
            }
            let emergency = matches!(asked, Asked::Rotate { emergency: true });
            store.audit(event, Some(&credential), None, serde_json::json!({ "token": by, "emergency": emergency }))?;
            Ok(None)
        })
        .await?;
    if let Some((status, why)) = refused {
        return Err(ApiError::new(status, why));
    }
    if let Err(waiting) = api.requests.ask(&name, Requested { asked, by: caller.name }) {
        let why = format!("`{name}` already has a request waiting ({:?}, by {})", waiting.asked, waiting.by);
        return Err(ApiError::new(StatusCode::CONFLICT, why));
    }
    let queued = serde_json::json!({ "queued": name, "action": verb });
    Ok((StatusCode::ACCEPTED, Json(queued)).into_response())
}
