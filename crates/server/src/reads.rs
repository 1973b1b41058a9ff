//! The API's reads: credentials and their history (viewer), the audit log
//! and approved plugins (auditor). Each shows only the credentials in the
//! caller's scope.

use super::api::{Api, ApiError, Bearer, ErrorBody};
use crate::access::Action;
use crate::status::{RotationRecord, Standing};
use crate::store::audit::{Entry, Page};
use crate::trust::listing::Listed;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The most audit entries one page holds.
const MAX_PAGE: usize = 500;

/// The most credentials one page holds.
const MAX_CREDENTIALS_PAGE: usize = 1000;

/// Which credentials a page of `/v1/credentials` shows.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CredentialsQuery {
    /// Only the credentials declared after this one (the previous page's
    /// last name, also given by its `Link: <…>; rel="next"` header).
    after: Option<String>,
    /// How many credentials, 1 to 1,000; absent: every one in scope.
    limit: Option<usize>,
}

/// The standing of each credential in scope, in declaration order: all of
/// them, or a page (`limit`, then `after`), which reads the store about
/// that page alone.
#[utoipa::path(get, path = "/v1/credentials", tag = "credentials", params(CredentialsQuery),
    responses(
        (status = 200, description = "Each credential in the token's scope, in declaration order; a `Link` header with `rel=\"next\"` when a page has more after it", body = Vec<Standing>),
        (status = 400, description = "`after` names no credential in scope", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
    ))]
pub async fn credentials(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Query(page): Query<CredentialsQuery>,
) -> Result<Response, ApiError> {
    let limit = page.limit.map_or(usize::MAX, |limit| limit.clamp(1, MAX_CREDENTIALS_PAGE));
    let (standings, more) = api
        .read(move |store, config| {
            let in_scope: Vec<_> =
                config.credentials().iter().filter(|spec| caller.may(Action::View, Some(&spec.name))).collect();
            let start = match &page.after {
                None => 0,
                Some(after) => match in_scope.iter().position(|spec| spec.name == *after) {
                    Some(at) => at + 1,
                    None => return Ok(Err(after.clone())),
                },
            };
            let specs = &in_scope[start..in_scope.len().min(start.saturating_add(limit))];
            let more = start + specs.len() < in_scope.len();
            crate::status::standings_of(config, store, crate::store::now(), specs).map(|s| Ok((s, more)))
        })
        .await?
        .map_err(|after| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("`after`: no credential `{after}` is declared in this token's scope; pass the last name of the page before"),
            )
        })?;
    let next = more.then(|| standings.last()).flatten().map(|last| {
        let after = percent_encoding::utf8_percent_encode(&last.name, percent_encoding::NON_ALPHANUMERIC);
        format!("</v1/credentials?limit={limit}&after={after}>; rel=\"next\"")
    });
    let mut response = Json(standings).into_response();
    if let Some(link) = next.and_then(|link| HeaderValue::from_str(&link).ok()) {
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// The credential a request is about, named in its path.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct Named {
    /// The credential's name.
    pub name: String,
}

/// One credential and its rotations.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct CredentialPage {
    /// Where it stands.
    pub credential: Standing,
    /// Its rotations, newest first, each with its journal.
    pub history: Vec<RotationRecord>,
}

/// One credential: its standing and history.
#[utoipa::path(get, path = "/v1/credentials/{name}", tag = "credentials",
    params(Named),
    responses(
        (status = 200, body = CredentialPage),
        (status = 403, description = "Outside the token's scope", body = ErrorBody),
        (status = 404, description = "Not declared", body = ErrorBody),
    ))]
pub async fn credential(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Path(Named { name }): Path<Named>,
) -> Result<Json<CredentialPage>, ApiError> {
    if !caller.may(Action::View, Some(&name)) {
        return Err(ApiError::forbidden(&caller, &format!("see `{name}`: it is outside its scope")));
    }
    let wanted = name.clone();
    let found = api
        .read(move |store, config| match crate::status::standing(config, store, crate::store::now(), &wanted)? {
            Some(credential) => {
                Ok(Some(CredentialPage { credential, history: crate::status::history(store, &wanted)? }))
            }
            None => Ok(None),
        })
        .await?;
    found.map(Json).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no credential `{name}` is declared")))
}

/// The audit log's query.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Only the entries about this credential.
    credential: Option<String>,
    /// Only the entries after this sequence number (the previous page's `next_after`).
    after: Option<i64>,
    /// How many entries, 1 to 500 (default 100).
    limit: Option<usize>,
}

/// A page of the audit log.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The entries, oldest first.
    pub entries: Vec<Entry>,
    /// Ask with `after` set to this for the next page; absent on the last one.
    pub next_after: Option<i64>,
}

/// The audit log, paged; entries about credentials outside the token's
/// scope are left out.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(PageQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 403, description = "Not an auditor, or the credential asked for is outside the scope", body = ErrorBody),
    ))]
pub async fn audit(
    Bearer(caller): Bearer,
    State(api): State<Arc<Api>>,
    Query(page): Query<PageQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    if !caller.may(Action::Audit, page.credential.as_deref()) {
        return Err(ApiError::forbidden(&caller, "read the audit log here"));
    }
    let limit = page.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let entries = api
        .read(move |store, _| {
            let query = Page {
                credential: page.credential.as_deref(),
                after: page.after.unwrap_or(0),
                limit,
                ..Page::default()
            };
            store.audit_page(&query, |e| e.credential.as_deref().is_none_or(|c| caller.may(Action::Audit, Some(c))))
        })
        .await?;
    let next_after = (entries.len() == limit).then(|| entries.last().map(|e| e.seq)).flatten();
    Ok(Json(AuditPage { entries, next_after }))
}

/// Whether the audit chain holds.
#[derive(serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Verified {
    /// True when every entry is there, in order, and unaltered.
    pub intact: bool,
    /// How many entries were checked, when intact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<usize>,
    /// Where and how the chain breaks, when not.
    #[serde(rename = "break", skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
}

/// Checks the audit log's chain of MACs from the first entry to the last.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, body = Verified), (status = 403, description = "Not an auditor", body = ErrorBody)))]
pub async fn audit_verify(Bearer(caller): Bearer, State(api): State<Arc<Api>>) -> Result<Json<Verified>, ApiError> {
    if !caller.may(Action::Audit, None) {
        return Err(ApiError::forbidden(&caller, "verify the audit log"));
    }
    let verified = api.read(|store, _| store.verify_audit()).await?;
    Ok(Json(match verified {
        Ok(entries) => Verified { intact: true, entries: Some(entries), broken: None },
        Err(broken) => Verified { intact: false, entries: None, broken: Some(broken.to_string()) },
    }))
}

/// The approved plugins: digest, permissions, signer, and whether the file
/// on disk changed since it was approved; then unapproved files.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<Listed>), (status = 403, description = "Not an auditor", body = ErrorBody)))]
pub async fn plugins(Bearer(caller): Bearer, State(api): State<Arc<Api>>) -> Result<Json<Vec<Listed>>, ApiError> {
    if !caller.may(Action::Audit, None) {
        return Err(ApiError::forbidden(&caller, "see the plugins"));
    }
    Ok(Json(api.plugins().await?))
}
