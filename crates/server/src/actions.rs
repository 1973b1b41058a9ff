//! The API's actions: rotate (or an emergency rotation), roll back and
//! resume, each for a rotator (or admin) whose scope covers the
//! credential. Each is checked against the credential's standing, recorded
//! in the audit log naming the token, and handed to the daemon's scheduler,
//! which runs it at once as its own job (202).

use super::api::{Api, ApiError, Bearer, ErrorBody};
use super::reads::Named;
use super::requests::{Asked, Requested};
use crate::access::{Action, Caller};
use crate::rotation::allowed;
use crate::store::Store;
use crate::store::rotations::{Rotation, State as RotationState};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use std::sync::Arc;

/// A rotation's options.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RotateOptions {
    /// Revoke the old key as soon as the new one works, with no grace
    /// period: after a leak.
    #[serde(default)]
    emergency: bool,
}

/// What was handed to the scheduler.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Queued {
    /// The credential.
    pub queued: String,
    /// `rotate`, `roll back` or `resume`.
    pub action: String,
}

/// Starts a rotation now, due or not.
#[utoipa::path(post, path = "/v1/credentials/{name}/rotate", tag = "rotations",
    params(Named, RotateOptions),
    responses(
        (status = 202, description = "The daemon runs it now", body = Queued),
        (status = 403, description = "Not a rotator, or outside the scope", body = ErrorBody),
        (status = 404, description = "Not declared", body = ErrorBody),
        (status = 409, description = "Manual, or a rotation is under way", body = ErrorBody),
    ))]
pub async fn rotate(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Path(Named { name }): Path<Named>,
    Query(options): Query<RotateOptions>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    answer(ask(caller, api, name, Asked::Rotate { emergency: options.emergency }).await)
}

/// Undoes the last rotation while its grace period lasts: the previous key
/// becomes current again and the new one is revoked.
#[utoipa::path(post, path = "/v1/credentials/{name}/rollback", tag = "rotations",
    params(Named),
    responses(
        (status = 202, description = "The daemon runs it now", body = Queued),
        (status = 403, description = "Not a rotator, or outside the scope", body = ErrorBody),
        (status = 404, description = "Not declared", body = ErrorBody),
        (status = 409, description = "No rotation in its grace period", body = ErrorBody),
    ))]
pub async fn rollback(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Path(Named { name }): Path<Named>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    answer(ask(caller, api, name, Asked::Rollback).await)
}

/// Continues an interrupted rotation from its journal now, instead of at
/// the daemon's next retry.
#[utoipa::path(post, path = "/v1/credentials/{name}/resume", tag = "rotations",
    params(Named),
    responses(
        (status = 202, description = "The daemon runs it now", body = Queued),
        (status = 403, description = "Not a rotator, or outside the scope", body = ErrorBody),
        (status = 404, description = "Not declared", body = ErrorBody),
        (status = 409, description = "No interrupted rotation", body = ErrorBody),
    ))]
pub async fn resume(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Path(Named { name }): Path<Named>,
) -> Result<(StatusCode, Json<Queued>), ApiError> {
    answer(ask(caller, api, name, Asked::Resume).await)
}

fn answer(asked: Result<Queued, ApiError>) -> Result<(StatusCode, Json<Queued>), ApiError> {
    asked.map(|queued| (StatusCode::ACCEPTED, Json(queued)))
}

/// Checks that `caller` may ask for `asked` on `name` and that it can be
/// done now, records the request in the audit log naming the token, and
/// hands it to the daemon's scheduler (the API's and the dashboard's way alike).
pub async fn ask(caller: Caller, api: Arc<Api>, name: String, asked: Asked) -> Result<Queued, ApiError> {
    if !caller.may(Action::Rotate, Some(&name)) {
        return Err(ApiError::forbidden(&caller, &format!("{} `{name}`", asked.verb())));
    }
    let (credential, by) = (name.clone(), caller.name.clone());
    let refused = api
        .read(move |store, config| {
            let Some(spec) = config.credential(&credential) else {
                return Ok(Some((StatusCode::NOT_FOUND, format!("no credential `{credential}` is declared"))));
            };
            let open = store.open_rotation(&credential)?;
            if let Some(why) = refusal(store, asked, &credential, spec.is_manual(), open.as_ref())? {
                return Ok(Some((StatusCode::CONFLICT, why)));
            }
            let emergency = matches!(asked, Asked::Rotate { emergency: true });
            store.audit(
                asked.event(),
                Some(&credential),
                None,
                serde_json::json!({ "token": by, "emergency": emergency }),
            )?;
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
    Ok(Queued { queued: name, action: asked.verb().into() })
}

/// Why `asked` cannot be done to `credential` now, if it cannot.
pub fn refusal(
    store: &Store,
    asked: Asked,
    credential: &str,
    manual: bool,
    open: Option<&Rotation>,
) -> Result<Option<String>, crate::store::StoreError> {
    let named = |why: Option<String>| why.map(|why| format!("`{credential}` {why}"));
    Ok(match (asked, open) {
        (Asked::Rotate { .. }, _) if manual => {
            Some(format!("`{credential}` is manual: a person types its new key at `rekey rotate {credential}`"))
        }
        (Asked::Rotate { .. }, Some(open)) if open.state == RotationState::Grace => Some(format!(
            "`{credential}` is in its grace period until {} UTC: its previous key is revoked then, and a new rotation can start after (roll back to undo the last one)",
            crate::human::time(open.revoke_after.unwrap_or_default())
        )),
        (Asked::Rotate { .. }, Some(open)) => {
            Some(format!("`{credential}` has a rotation under way ({}); wait for it or resume it", open.id))
        }
        (Asked::Rotate { .. }, None) => None,
        (Asked::Rollback, open) => named(allowed::rollback_refusal(store, open, true)?),
        (Asked::Resume, open) => named(allowed::resume_refusal(store, open)?),
    })
}
