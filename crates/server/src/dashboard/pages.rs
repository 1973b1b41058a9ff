//! The dashboard's pages: the sign-in form, the credentials overview with
//! its chart, one credential (versions, history with each rotation's
//! journal, and the actions its viewer may take), the audit log with
//! filters, and the plugins.

use super::chart::{self, Chart};
use super::view::{self, RotationView, Row, VersionRow};
use super::{Dashboard, Refused, Signed, session};
use crate::access::{Action, Caller};
use crate::actions::refusal;
use crate::requests::Asked;
use crate::store::audit::{Entry, Page};
use crate::trust::listing::{Approval, Listed};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

/// The header's navigation, for a signed-in caller.
pub struct Nav {
    token: String,
    role: &'static str,
    auditor: bool,
    csrf: String,
    here: &'static str,
}

impl Nav {
    fn of(signed: &Signed, here: &'static str) -> Option<Self> {
        Some(Self {
            token: signed.caller.name.clone(),
            role: signed.caller.role.name(),
            auditor: signed.caller.may(Action::Audit, None),
            csrf: signed.session.csrf.clone(),
            here,
        })
    }
}

fn now_text() -> String {
    view::time(crate::store::now())
}

/// Renders `page`, or a plain 500 if a template fails (it cannot, short of a bug).
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!("a dashboard page failed to render: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render; the daemon's log says why").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "problem.html")]
struct ProblemPage {
    nav: Option<Nav>,
    version: &'static str,
    now: String,
    status: String,
    message: view::Spans,
}

/// The page of a refusal.
pub fn problem(status: StatusCode, message: &str) -> Response {
    let message = view::Spans::of(message);
    render(&ProblemPage { nav: None, version: crate::VERSION, now: now_text(), status: status.to_string(), message })
}

#[derive(Template)]
#[template(path = "signin.html")]
struct SignInPage {
    nav: Option<Nav>,
    version: &'static str,
    now: String,
    check: String,
    problem: Option<String>,
}

/// The sign-in form, tied to this browser by a cookie it must send back.
pub fn signin_form(dashboard: &Dashboard, problem: Option<String>, status: StatusCode) -> Response {
    let check = session::random();
    let cookie = session::cookie(session::SIGNIN_COOKIE, &check, std::time::Duration::from_secs(3_600), dashboard.tls);
    let page = render(&SignInPage { nav: None, version: crate::VERSION, now: now_text(), check, problem });
    (status, [(header::SET_COOKIE, cookie)], page).into_response()
}

pub async fn signin(State(dashboard): State<Arc<Dashboard>>) -> Response {
    signin_form(&dashboard, None, StatusCode::OK)
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    nav: Option<Nav>,
    version: &'static str,
    now: String,
    rows: Vec<Row>,
    overdue: usize,
    failing: usize,
    running: usize,
    chart: Chart,
}

pub async fn overview(signed: Signed, State(dashboard): State<Arc<Dashboard>>) -> Result<Response, Refused> {
    let caller = signed.caller.clone();
    let now = crate::store::now();
    let (standings, rotations) = dashboard
        .api
        .read(move |store, config| {
            let standings = crate::status::standings(config, store, now, |name| caller.may(Action::View, Some(name)))?;
            let since = now - chart::WEEKS * 7 * 86_400;
            let rotations = store.rotations_since(since)?;
            let rotations =
                rotations.into_iter().filter(|r| caller.may(Action::View, Some(&r.credential))).collect::<Vec<_>>();
            Ok((standings, rotations))
        })
        .await?;
    let rows: Vec<Row> = standings.iter().map(|s| Row::of(s, now)).collect();
    Ok(render(&OverviewPage {
        nav: Nav::of(&signed, "credentials"),
        version: crate::VERSION,
        now: now_text(),
        overdue: rows.iter().filter(|r| r.overdue).count(),
        failing: rows.iter().filter(|r| r.failing).count(),
        running: rows.iter().filter(|r| r.running).count(),
        chart: chart::chart(&standings, &rotations, now),
        rows,
    }))
}

/// A form's button on the credential page.
pub struct Button {
    action: &'static str,
    label: &'static str,
    help: &'static str,
    class: &'static str,
}

/// The actions and the words on their buttons.
const BUTTONS: [(Asked, &str, &str, &str, &str); 4] = [
    (
        Asked::Rotate { emergency: false },
        "rotate",
        "Rotate now",
        "a new key; the old one is revoked after the grace period",
        "",
    ),
    (
        Asked::Rotate { emergency: true },
        "emergency",
        "Emergency rotation",
        "after a leak: the old key is revoked as soon as the new one works",
        "danger",
    ),
    (Asked::Rollback, "rollback", "Roll back", "put the previous key back and revoke the new one", ""),
    (Asked::Resume, "resume", "Resume", "continue the interrupted rotation from its journal", ""),
];

/// The action a form posts, by its path's last segment.
pub fn asked(action: &str) -> Option<Asked> {
    BUTTONS.iter().find(|b| b.1 == action).map(|b| b.0)
}

#[derive(Template)]
#[template(path = "credential.html")]
struct CredentialPage {
    nav: Option<Nav>,
    version: &'static str,
    now: String,
    name: String,
    notice: Option<view::Spans>,
    /// What `rekey.toml` declares of it.
    declared: view::Declared,
    /// Why an action a person may look for is not offered now.
    withheld: Vec<view::Spans>,
    /// Where the page reloads itself while a rotation it shows is under
    /// way, or was just asked for (no script: the CSP stays as it is).
    refresh: Option<String>,
    row: Row,
    orphans: Vec<String>,
    buttons: Vec<Button>,
    csrf: String,
    versions: Vec<VersionRow>,
    history: Vec<RotationView>,
}

/// What was just asked, shown once after the redirect.
#[derive(serde::Deserialize)]
pub struct Notice {
    asked: Option<String>,
}

pub async fn credential(
    signed: Signed,
    State(dashboard): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Response, Refused> {
    if !signed.caller.may(Action::View, Some(&name)) {
        return Err(Refused::Status(StatusCode::FORBIDDEN, format!("`{name}` is outside the scope of your token")));
    }
    let (caller, wanted) = (signed.caller.clone(), name.clone());
    let now = crate::store::now();
    let found = dashboard
        .api
        .read(move |store, config| {
            let Some(spec) = config.credential(&wanted) else { return Ok(None) };
            let standing = crate::status::standing(config, store, now, &wanted)?.expect("declared: its spec was found");
            let open = store.open_rotation(&wanted)?;
            let manual = spec.is_manual();
            let (mut buttons, mut withheld) = (vec![], vec![]);
            if caller.may(Action::Rotate, Some(&wanted)) {
                for (asked, action, label, help, class) in BUTTONS {
                    match refusal(store, asked, &wanted, manual, open.as_ref())? {
                        None => buttons.push(Button { action, label, help, class }),
                        // Rotating is what people come for: say why it is not offered.
                        Some(why) if action == "rotate" => {
                            withheld.push(view::Spans::of(&format!("No “{label}”: {why}")))
                        }
                        Some(_) => {}
                    }
                }
            }
            let versions = store.versions(&wanted)?.iter().map(VersionRow::of).collect();
            let history = crate::status::history(store, &wanted)?.iter().map(RotationView::of).collect();
            Ok(Some((standing, view::Declared::of(spec), buttons, withheld, versions, history)))
        })
        .await?;
    let Some((standing, declared, buttons, withheld, versions, history)) = found else {
        return Err(Refused::Status(StatusCode::NOT_FOUND, format!("no credential `{name}` is declared")));
    };
    let notice = notice.asked.as_deref().and_then(asked).map(|asked| {
        view::Spans::of(&format!(
            "Asked: {} `{name}`. The daemon runs it now; this page shows it once it has.",
            asked.verb()
        ))
    });
    let running =
        standing.in_progress.as_ref().is_some_and(|p| p.state == crate::store::rotations::State::Running.as_str());
    let refresh = (running || notice.is_some()).then(|| super::forms::credential_page(&name));
    Ok(render(&CredentialPage {
        nav: Nav::of(&signed, "credentials"),
        version: crate::VERSION,
        now: now_text(),
        notice,
        declared,
        withheld,
        refresh,
        row: Row::of(&standing, now),
        orphans: standing.suspected_orphans.iter().map(|s| s.reason.clone()).collect(),
        buttons,
        csrf: signed.session.csrf.clone(),
        versions,
        history,
        name,
    }))
}

/// The audit page's filters.
#[derive(Default, serde::Deserialize)]
pub struct Filter {
    #[serde(default)]
    credential: String,
    #[serde(default)]
    event: String,
    before: Option<i64>,
}

/// One audit entry, as text.
pub struct EntryRow {
    seq: i64,
    at: String,
    event: String,
    credential: String,
    rotation: String,
    /// The detail as `(field, value)`s, for people rather than as JSON.
    detail: Vec<(String, String)>,
}

/// An audit entry's detail as fields a person reads: each field of an
/// object with its value (text unquoted, lists comma-separated, nested
/// objects as compact JSON); anything else as one unnamed field.
fn fields(detail: &serde_json::Value) -> Vec<(String, String)> {
    let plain = |value: &serde_json::Value| match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Null => "none".into(),
        serde_json::Value::Array(items) if items.is_empty() => "none".into(),
        serde_json::Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), String::from)).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    };
    match detail {
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(key, value)| {
                let moment = key.ends_with("_at") || key.ends_with("_after");
                let shown = match value.as_i64() {
                    Some(unix) if moment => view::time(unix),
                    _ => plain(value),
                };
                (key.replace('_', " "), shown)
            })
            .collect(),
        serde_json::Value::Null => vec![],
        other => vec![(String::new(), plain(other))],
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    version: &'static str,
    now: String,
    intact: bool,
    chain: String,
    filter: Filter,
    entries: Vec<EntryRow>,
    older: Option<String>,
}

/// Entries one audit page shows.
const AUDIT_PAGE: usize = 200;

pub async fn audit(
    signed: Signed,
    State(dashboard): State<Arc<Dashboard>>,
    Query(filter): Query<Filter>,
) -> Result<Response, Refused> {
    let credential = Some(filter.credential.trim()).filter(|c| !c.is_empty()).map(String::from);
    if !signed.caller.may(Action::Audit, credential.as_deref()) {
        return Err(Refused::Status(StatusCode::FORBIDDEN, "your token may not read the audit log here".into()));
    }
    let caller: Caller = signed.caller.clone();
    let (event, before) = (filter.event.trim().to_string(), filter.before.unwrap_or(i64::MAX));
    let api = dashboard.api.clone();
    let (entries, verified) = dashboard
        .api
        .read(move |store, _| {
            let page = Page {
                credential: credential.as_deref(),
                event: &event,
                before,
                newest_first: true,
                limit: AUDIT_PAGE,
                ..Page::default()
            };
            let keep = |e: &Entry| e.credential.as_deref().is_none_or(|c| caller.may(Action::Audit, Some(c)));
            Ok((store.audit_page(&page, keep)?, api.verify_audit_since_last(store)?))
        })
        .await?;
    let older = (entries.len() == AUDIT_PAGE).then(|| entries.last().map(|e| e.seq)).flatten().map(|seq| {
        let query = [("credential", filter.credential.as_str()), ("event", filter.event.as_str())]
            .iter()
            .map(|(k, v)| {
                format!("{k}={}", percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC))
            })
            .collect::<Vec<_>>()
            .join("&");
        format!("/audit?{query}&before={seq}")
    });
    let entries = entries
        .into_iter()
        .map(|e| EntryRow {
            seq: e.seq,
            at: view::time(e.at),
            event: e.event,
            credential: e.credential.unwrap_or_default(),
            rotation: e.rotation.unwrap_or_default(),
            detail: fields(&e.detail),
        })
        .collect();
    let (intact, chain) = match verified {
        Ok(n) => (true, format!("{n} entries")),
        Err(broken) => (false, format!("BROKEN: {broken}")),
    };
    Ok(render(&AuditPage {
        nav: Nav::of(&signed, "audit"),
        version: crate::VERSION,
        now: now_text(),
        intact,
        chain,
        filter,
        entries,
        older,
    }))
}

/// One plugin, as text.
pub struct PluginRow {
    name: String,
    version: String,
    sha256: String,
    approval: &'static str,
    class: &'static str,
    signature: String,
    permissions: Vec<String>,
    approved_at: String,
}

impl PluginRow {
    fn of(listed: Listed) -> Self {
        Self {
            class: if listed.approval == Approval::Approved { "" } else { "failing" },
            approval: listed.approval.text(),
            name: listed.name,
            version: listed.version.unwrap_or_else(|| "–".into()),
            sha256: listed.sha256.unwrap_or_else(|| "–".into()),
            signature: listed.signature,
            permissions: listed.permissions,
            approved_at: listed.approved_at.unwrap_or_else(|| "–".into()),
        }
    }
}

#[derive(Template)]
#[template(path = "plugins.html")]
struct PluginsPage {
    nav: Option<Nav>,
    version: &'static str,
    now: String,
    plugins: Vec<PluginRow>,
}

pub async fn plugins(signed: Signed, State(dashboard): State<Arc<Dashboard>>) -> Result<Response, Refused> {
    if !signed.caller.may(Action::Audit, None) {
        return Err(Refused::Status(StatusCode::FORBIDDEN, "your token may not see the plugins".into()));
    }
    let listed = dashboard.api.plugins().await?;
    Ok(render(&PluginsPage {
        nav: Nav::of(&signed, "plugins"),
        version: crate::VERSION,
        now: now_text(),
        plugins: listed.into_iter().map(PluginRow::of).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::fields;

    #[test]
    fn an_audit_detail_reads_as_named_fields() {
        let detail = serde_json::json!({
            "key_id": "k-1", "version": 2, "revoke_after": 0, "requests": [], "ids": [3, 4], "error": null
        });
        let shown: Vec<(String, String)> = fields(&detail);
        let expected = [
            ("key id", "k-1"),
            ("version", "2"),
            ("revoke after", "1970-01-01 00:00:00 UTC"),
            ("requests", "none"),
            ("ids", "3, 4"),
            ("error", "none"),
        ];
        assert_eq!(shown, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        assert!(fields(&serde_json::Value::Null).is_empty());
    }
}
