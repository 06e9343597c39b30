//! The web console: server-rendered pages over the same state and the same functions as the
//! `/v1` API, for the people who respond to an incident.
//!
//! Pages are HTML rendered by maud (every record text escaped by the template), one small
//! stylesheet and one small script embedded in the binary. Reading and every form work
//! without JavaScript; the script adds live updates (the regions marked `data-live` are
//! fetched again, debounced, when `/ui/live` announces a ledger change) and countdowns.
//!
//! Sign-in is with an operator or auditor API token ([`session`]); writes are operator-only
//! and carry the session's CSRF value, and each is recorded in the ledger with the token's
//! name, exactly as the API's are.

mod agents;
mod approvals;
mod evidence;
mod incidents;
mod ledger;
mod live;
mod metrics;
mod overview;
mod rollback;
mod session;
mod timeline;

use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup, DOCTYPE};

use crate::routes::ApiError;
use crate::State;

pub use session::Sessions;
use session::Viewer;

/// The console's routes (merged into the API's router).
pub fn router() -> Router<Arc<State>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/") }))
        .route("/ui", get(|| async { Redirect::to("/ui/") }))
        .route("/ui/", get(overview::page))
        .route("/ui/frag/overview", get(overview::fragment_route))
        .route("/ui/login", get(session::login_page).post(session::login))
        .route("/ui/logout", post(session::logout))
        .route("/ui/live", get(live::live))
        .route("/ui/assets/console.css", get(css))
        .route("/ui/assets/console.js", get(js))
        .route("/ui/incidents", get(incidents::list))
        .route("/ui/frag/incidents", get(incidents::list_fragment))
        .route("/ui/incidents/{id}", get(incidents::detail))
        .route(
            "/ui/incidents/{id}/questions",
            get(incidents::questions_page),
        )
        .route(
            "/ui/frag/incidents/{id}/questions",
            get(incidents::questions_fragment),
        )
        .route(
            "/ui/frag/incidents/{id}/alerts",
            get(incidents::alerts_fragment),
        )
        .route("/ui/agents", get(agents::page))
        .route("/ui/frag/agents", get(agents::fragment))
        .route(
            "/ui/confirm",
            get(agents::confirm_page).post(agents::confirm),
        )
        .route("/ui/approvals", get(approvals::page))
        .route("/ui/frag/approvals", get(approvals::fragment))
        .route("/ui/approvals/{id}", post(approvals::settle))
        .route("/ui/rollback", get(rollback::page))
        .route("/ui/rollback/apply", post(rollback::apply))
        .route("/ui/evidence", get(evidence::page))
        .route("/ui/evidence/export", post(evidence::export))
        .route("/ui/evidence/files/{name}", get(evidence::download))
        .route("/ui/metrics", get(metrics::page))
        .route("/ui/ledger", get(ledger::page))
        .route("/ui/ledger/verify", post(ledger::verify))
}

const CSS: &str = include_str!("../../assets/console.css");
const JS: &str = include_str!("../../assets/console.js");

/// Assets change only with the binary: an hour of caching, revalidated after.
const ASSET_CACHE: &str = "public, max-age=3600";

async fn css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        CSS,
    )
        .into_response()
}

async fn js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        JS,
    )
        .into_response()
}

/// A message shown once on the next page: what a write did, or why it failed.
#[derive(Clone, Debug)]
pub enum Flash {
    Status(String),
    Alert(String),
}

fn flash_markup(f: &Option<Flash>) -> Markup {
    html! {
        @match f {
            Some(Flash::Status(t)) => p.flash.ok role="status" { (t) },
            Some(Flash::Alert(t)) => p.flash.bad role="alert" { (t) },
            None => {},
        }
    }
}

/// The main sections, in the navigation's order: (label, path).
const NAV: [(&str, &str); 8] = [
    ("Overview", "/ui/"),
    ("Incidents", "/ui/incidents"),
    ("Agents", "/ui/agents"),
    ("Approvals", "/ui/approvals"),
    ("Rollback", "/ui/rollback"),
    ("Evidence", "/ui/evidence"),
    ("Metrics", "/ui/metrics"),
    ("Ledger", "/ui/ledger"),
];

/// A whole page: the header with the navigation and who is signed in, one `h1`, the
/// flash message, then `body`.
pub(crate) fn layout(
    v: &Viewer,
    current: &str,
    title: &str,
    flash: Option<Flash>,
    body: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Brig" }
                link rel="stylesheet" href="/ui/assets/console.css";
                script src="/ui/assets/console.js" defer {}
            }
            body data-live-url="/ui/live" {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "Brig" }
                    nav aria-label="Main" {
                        ul {
                            @for (label, path) in NAV {
                                li {
                                    @if path == current {
                                        a href=(path) aria-current="page" { (label) }
                                    } @else {
                                        a href=(path) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    div.who {
                        span { "Signed in as " (v.name) " (" (v.role.as_str()) ")" }
                        form method="post" action="/ui/logout" {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main #main tabindex="-1" {
                    h1 { (title) }
                    @if !v.may_write() {
                        p.notice { "Read-only: signed in as an auditor (you may verify the ledger and export evidence)" }
                    }
                    (flash_markup(&flash))
                    (body)
                }
            }
        }
    }
}

/// A page for someone not signed in (the login page).
fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Brig" }
                link rel="stylesheet" href="/ui/assets/console.css";
            }
            body {
                a.skip href="#main" { "Skip to content" }
                main #main.narrow tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// What a console page may load and who may frame it: its own stylesheet and script only
/// (no inline script, so injected markup cannot run), and no framing (a kill-switch button
/// cannot be clickjacked).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// An HTML answer with a status code.
pub(crate) fn respond(status: StatusCode, m: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        m.into_string(),
    )
        .into_response()
}

/// A request the console refuses or could not serve: a short page saying why, with the
/// status code (403 for a write an auditor may not make, for instance).
pub(crate) struct UiError(pub StatusCode, pub String);

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError(e.0, e.1)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let title = match self.0 {
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            s if s.is_client_error() => "Request refused",
            _ => "Something went wrong",
        };
        respond(
            self.0,
            bare(
                title,
                html! {
                    p role="alert" { (self.1) }
                    p { a href="/ui/" { "Back to the overview" } }
                },
            ),
        )
    }
}

pub(crate) type UiResult = Result<Response, UiError>;

pub(crate) fn internal(e: impl std::fmt::Display) -> UiError {
    UiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UiError> + Send + 'static,
) -> Result<T, UiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// The risk register `brig serve --register` runs by (the one incident response grades
/// with), if any.
pub(crate) fn register(state: &State) -> Option<&brig_register::Register> {
    state.response.as_deref().and_then(|r| r.register())
}

/// The severity names, by the store's number (0 advisory … 3 reportable breach).
pub(crate) const SEVERITIES: [&str; 4] = [
    "advisory",
    "policy_violation",
    "security_incident",
    "reportable_breach",
];

pub(crate) fn severity_name(n: u8) -> &'static str {
    SEVERITIES.get(n as usize).copied().unwrap_or("unknown")
}

/// A severity as a badge: its name as text (colour is never the only carrier).
pub(crate) fn severity_badge(name: &str) -> Markup {
    html! { span class={ "sev sev-" (name) } { (name.replace('_', " ")) } }
}

pub(crate) fn datetime(nanos: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_nanos(nanos)
}

/// `2026-12-05 13:04:05 UTC`.
pub(crate) fn when(nanos: i64) -> String {
    datetime(nanos).format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time as `<time datetime=…>`.
pub(crate) fn time_el(nanos: i64) -> Markup {
    html! { time datetime=(datetime(nanos).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)) { (when(nanos)) } }
}

/// A duration in seconds, in words people read quickly: `42 s`, `3 min 5 s`, `2 h 10 min`.
pub(crate) fn span_words(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{} min {} s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else if s < 86_400.0 * 2.0 {
        format!(
            "{} h {} min",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    } else {
        format!("{:.1} d", s / 86_400.0)
    }
}

pub(crate) fn now_nanos() -> i64 {
    brig_model::Timestamp::now().unix_nanos()
}

/// A hidden CSRF field for a form.
pub(crate) fn csrf_field(v: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(v.csrf); }
}

/// A region the script fetches again from `url` when the ledger changes. Not an
/// `aria-live` region: a screen reader would read the whole table again at every change.
pub(crate) fn live_region(id: &str, url: &str, inner: Markup) -> Markup {
    html! { div id=(id) data-live=(url) { (inner) } }
}

/// A fragment (the inside of a live region), not a whole page.
pub(crate) fn fragment(m: Markup) -> Response {
    respond(StatusCode::OK, m)
}

/// JSON or text shown in `<pre>`: strings as they are, the rest pretty-printed.
pub(crate) fn pre_value(v: &serde_json::Value) -> Markup {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        v => serde_json::to_string_pretty(v).unwrap_or_default(),
    };
    html! { pre { (text) } }
}
