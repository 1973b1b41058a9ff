//! The dashboard at `/`: server-rendered HTML for people, over the same
//! store, access rules and scheduler as the `/v1` API. Templates are
//! compiled into the binary (`crates/server/templates/`), and the pages load
//! nothing from elsewhere: one stylesheet served here, charts drawn as
//! inline SVG, no script at all; the Content-Security-Policy says so.
//!
//! Signing in with a token opens a session (`session`); every page checks
//! the session's token again, and every form carries the session's CSRF
//! token.

mod chart;
mod forms;
mod pages;
mod session;
mod view;

use super::api::Api;
use super::identity;
use crate::access::Caller;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use session::{Session, Sessions};
use std::sync::Arc;

/// What the dashboard's pages read.
pub struct Dashboard {
    api: Arc<Api>,
    sessions: Sessions,
    /// Whether it is served over TLS (cookies are then `Secure`).
    tls: bool,
}

impl Dashboard {
    /// The dashboard over `api`'s store and scheduler.
    pub fn new(api: Arc<Api>, tls: bool) -> Self {
        Self { api, sessions: Sessions::default(), tls }
    }
}

/// The dashboard's routes.
pub fn routes(dashboard: Arc<Dashboard>) -> axum::Router {
    axum::Router::new()
        .route("/", get(pages::overview))
        .route("/signin", get(pages::signin).post(forms::signin))
        .route("/signout", post(forms::signout))
        .route("/credentials/{name}", get(pages::credential))
        .route("/credentials/{name}/{action}", post(forms::act))
        .route("/audit", get(pages::audit))
        .route("/plugins", get(pages::plugins))
        .route("/static/style.css", get(style))
        .with_state(dashboard)
        .layer(axum::middleware::map_response(protect))
}

/// The headers every dashboard answer carries: nothing but this origin's
/// own stylesheet and forms, never framed, never cached.
async fn protect(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn style() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "max-age=3600")],
        include_str!("style.css"),
    )
}

/// A signed-in person: the caller their session's token stands for.
pub struct Signed {
    caller: Caller,
    session: Session,
}

/// Why a page cannot be shown.
pub enum Refused {
    /// Not signed in (or the session's token no longer works): to the sign-in page.
    SignIn,
    /// A page or action the caller's role or scope does not allow, or a bad form.
    Status(StatusCode, String),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::SignIn => Redirect::to("/signin").into_response(),
            Self::Status(status, message) => (status, pages::problem(status, &message)).into_response(),
        }
    }
}

impl From<super::api::ApiError> for Refused {
    fn from(e: super::api::ApiError) -> Self {
        let (status, message) = e.parts();
        Self::Status(status, message)
    }
}

impl FromRequestParts<Arc<Dashboard>> for Signed {
    type Rejection = Refused;

    async fn from_request_parts(parts: &mut Parts, dashboard: &Arc<Dashboard>) -> Result<Self, Refused> {
        let cookies = parts.headers.get(header::COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let session = session::read_cookie(cookies, session::COOKIE)
            .and_then(|id| dashboard.sessions.get(id))
            .ok_or(Refused::SignIn)?;
        let token = session.token.clone();
        let caller = dashboard.api.read(move |store, _| identity::by_session(store, &token)).await?;
        Ok(Self { caller: caller.ok_or(Refused::SignIn)?, session })
    }
}
