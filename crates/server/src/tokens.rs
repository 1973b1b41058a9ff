//! The API's tokens, for an admin: every token (never the token itself),
//! and revoking one at once, a leaked one say, from wherever the admin is.
//! Tokens are made with `rekey token create` on the daemon's host, the
//! only place a new token is ever shown.

use super::api::{Api, ApiError, Bearer, ErrorBody};
use crate::access::Action;
use crate::store::tokens::TokenRecord;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use std::sync::Arc;

/// Every token, revoked and expired ones too; never the token itself.
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, body = Vec<TokenRecord>), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub async fn list(Bearer(caller): Bearer, State(api): State<Arc<Api>>) -> Result<Json<Vec<TokenRecord>>, ApiError> {
    if !caller.may(Action::ManageTokens, None) {
        return Err(ApiError::forbidden(&caller, "manage tokens"));
    }
    Ok(Json(api.read(|store, _| store.tokens()).await?))
}

/// A token revoked.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Revoked {
    /// Its name.
    pub revoked: String,
}

/// Revokes a token: every request with it, and every dashboard session
/// signed in with it, is refused from the next one on. Audited as
/// `token.revoked`, naming the admin's token.
#[utoipa::path(delete, path = "/v1/tokens/{name}", tag = "tokens",
    params(("name" = String, Path, description = "The token's name, as `rekey token list` shows it")),
    responses(
        (status = 200, body = Revoked),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such token, or it is revoked already", body = ErrorBody),
    ))]
pub async fn revoke(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Path(name): Path<String>,
) -> Result<Json<Revoked>, ApiError> {
    if !caller.may(Action::ManageTokens, None) {
        return Err(ApiError::forbidden(&caller, "manage tokens"));
    }
    let (token, by) = (name.clone(), format!("token {}", caller.name));
    if !api.read(move |store, _| store.revoke_token(&token, &by)).await? {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no token `{name}`, or it is revoked already")));
    }
    Ok(Json(Revoked { revoked: name }))
}
