//! What the dashboard's forms post: sign in (tied to the browser that
//! loaded the form), sign out, and the credential actions. Every form but
//! sign-in carries its session's CSRF token; one without it, or with
//! another, is refused with 403 before anything else is looked at.

use super::pages::{asked, signin_form};
use super::{Dashboard, Refused, Signed, session};
use crate::actions;
use crate::identity;
use crate::listener::Client;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use std::sync::Arc;
use std::time::Duration;

/// What a credential's name keeps unescaped in a path.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// The sign-in form.
#[derive(serde::Deserialize)]
pub struct SignIn {
    token: String,
    check: String,
}

pub async fn signin(
    State(dashboard): State<Arc<Dashboard>>,
    ConnectInfo(client): ConnectInfo<Client>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, Refused> {
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let tied = session::read_cookie(cookies, session::SIGNIN_COOKIE).is_some_and(|c| session::same(&form.check, c));
    if !tied {
        let why = "this sign-in form was not loaded by this browser (or it expired); sign in again";
        return Ok(signin_form(&dashboard, Some(why.into()), StatusCode::FORBIDDEN));
    }
    if dashboard.api.throttled(client, false) {
        let why = "too many failed sign-ins from here; wait a minute";
        return Ok(signin_form(&dashboard, Some(why.into()), StatusCode::TOO_MANY_REQUESTS));
    }
    let given = form.token.trim().to_string();
    let signed_in = dashboard
        .api
        .read(move |store, _| {
            let found = identity::by_token(store, &given)?;
            if let Some((caller, _)) = &found {
                store.audit("dashboard.signed_in", None, None, serde_json::json!({ "token": caller.name }))?;
            }
            Ok(found)
        })
        .await?;
    let Some((caller, remembered)) = signed_in else {
        dashboard.api.throttled(client, true);
        let why = "that token is not valid: unknown, expired or revoked";
        return Ok(signin_form(&dashboard, Some(why.into()), StatusCode::UNAUTHORIZED));
    };
    tracing::info!("token `{}` signed in to the dashboard from {}", caller.name, client.0.ip());
    let id = dashboard.sessions.open(remembered);
    let cookies = AppendHeaders([
        (header::SET_COOKIE, session::cookie(session::COOKIE, &id, session::LIFETIME, dashboard.tls)),
        (header::SET_COOKIE, session::cookie(session::SIGNIN_COOKIE, "", Duration::ZERO, dashboard.tls)),
    ]);
    Ok((cookies, Redirect::to("/")).into_response())
}

/// A form with nothing but its CSRF token.
#[derive(serde::Deserialize)]
pub struct Csrf {
    #[serde(default)]
    csrf: String,
}

impl Csrf {
    /// Refuses a form (or a body that is none) whose token is not
    /// `signed`'s session's.
    fn check(form: Result<Form<Self>, FormRejection>, signed: &Signed) -> Result<(), Refused> {
        let given = form.map(|Form(form)| form.csrf).unwrap_or_default();
        if session::same(&given, &signed.session.csrf) {
            Ok(())
        } else {
            Err(Refused::Status(
                StatusCode::FORBIDDEN,
                "this form did not come from this dashboard (no or a wrong CSRF token); reload the page and try again"
                    .into(),
            ))
        }
    }
}

pub async fn signout(
    signed: Signed,
    State(dashboard): State<Arc<Dashboard>>,
    headers: HeaderMap,
    form: Result<Form<Csrf>, FormRejection>,
) -> Result<Response, Refused> {
    Csrf::check(form, &signed)?;
    let cookies = headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if let Some(id) = session::read_cookie(cookies, session::COOKIE) {
        dashboard.sessions.close(id);
    }
    let cleared = session::cookie(session::COOKIE, "", Duration::ZERO, dashboard.tls);
    Ok(([(header::SET_COOKIE, cleared)], Redirect::to("/signin")).into_response())
}

/// Rotate, emergency, roll back or resume: checked and handed to the
/// scheduler as the API does, then back to the credential's page.
pub async fn act(
    signed: Signed,
    State(dashboard): State<Arc<Dashboard>>,
    Path((name, action)): Path<(String, String)>,
    form: Result<Form<Csrf>, FormRejection>,
) -> Result<Response, Refused> {
    Csrf::check(form, &signed)?;
    let Some(asked) = asked(&action) else {
        return Err(Refused::Status(StatusCode::NOT_FOUND, format!("no action `{action}`")));
    };
    actions::ask(signed.caller, dashboard.api.clone(), name.clone(), asked).await?;
    Ok(Redirect::to(&format!("{}?asked={action}", credential_page(&name))).into_response())
}

/// The path of a credential's page.
pub fn credential_page(name: &str) -> String {
    format!("/credentials/{}", percent_encoding::utf8_percent_encode(name, SEGMENT))
}
