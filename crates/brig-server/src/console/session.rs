//! Signing in to the console: sessions held in server memory, the `brig_console` cookie, and
//! each session's CSRF value.
//!
//! A session is a random 32-byte id in an `HttpOnly; SameSite=Strict` cookie, pointing at
//! the API token it was opened with (by hash, never the secret). Every request looks the
//! token up again, so revoking the token ends its sessions at once; a session also ends
//! after 12 hours or on sign-out. Writes carry the session's CSRF value in a hidden field.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State as Shared};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use base64::Engine;
use maud::html;
use serde::Deserialize;

use super::{bare, respond, Flash, UiError};
use crate::auth::{self, Role};
use crate::State;

/// The session cookie's name.
pub const COOKIE: &str = "brig_console";
/// How long a session lasts.
const LIFETIME: Duration = Duration::from_secs(12 * 3600);

struct Session {
    token_hash: [u8; 32],
    csrf: String,
    started: Instant,
    flash: Option<Flash>,
}

/// The console's sessions, in memory (a restart signs everyone out).
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_id() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    fn open(&self, token_hash: [u8; 32]) -> String {
        let id = random_id();
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        // Expired sessions go whenever a new one is opened.
        m.retain(|_, s| s.started.elapsed() < LIFETIME);
        m.insert(
            id.clone(),
            Session {
                token_hash,
                csrf: random_id(),
                started: Instant::now(),
                flash: None,
            },
        );
        id
    }

    /// The session's token hash and CSRF value, if it is live.
    fn get(&self, id: &str) -> Option<([u8; 32], String)> {
        let mut m = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match m.get(id) {
            Some(s) if s.started.elapsed() < LIFETIME => Some((s.token_hash, s.csrf.clone())),
            Some(_) => {
                m.remove(id);
                None
            }
            None => None,
        }
    }

    fn end(&self, id: &str) {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Leaves a message for the session's next page.
    pub(crate) fn flash(&self, id: &str, f: Flash) {
        if let Some(s) = self
            .map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
        {
            s.flash = Some(f);
        }
    }

    /// The message left for this page, once.
    pub(crate) fn take_flash(&self, id: &str) -> Option<Flash> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(id)
            .and_then(|s| s.flash.take())
    }
}

/// The person signed in, for one request.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub sid: String,
    /// The API token's name: the actor the ledger records.
    pub name: String,
    pub role: Role,
    pub csrf: String,
}

impl Viewer {
    /// Operators change things; auditors only read.
    pub fn may_write(&self) -> bool {
        self.role == Role::Operator
    }

    /// What the ledger records as the actor of this person's actions (as the API does).
    pub fn actor(&self) -> String {
        format!("token:{}", self.name)
    }

    /// The check of a form that checks or records but changes nothing (verifying the ledger,
    /// exporting evidence, as the API lets auditors do): the form's CSRF value, else a 403.
    pub fn check_form(&self, csrf: &str) -> Result<(), UiError> {
        if !same(csrf.as_bytes(), self.csrf.as_bytes()) {
            return Err(UiError(
                StatusCode::FORBIDDEN,
                "The form's CSRF value is missing or wrong: reload the page and try again.".into(),
            ));
        }
        Ok(())
    }

    /// A write's checks, in order: the form's CSRF value, then the role (operators only).
    /// Either failing is a 403.
    pub fn check_write(&self, csrf: &str, what: &str) -> Result<(), UiError> {
        self.check_form(csrf)?;
        if !self.may_write() {
            return Err(UiError(
                StatusCode::FORBIDDEN,
                format!(
                    "Token {} ({}) may not {what}: auditors only read.",
                    self.name,
                    self.role.as_str()
                ),
            ));
        }
        Ok(())
    }
}

/// Equal without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn cookie_of(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// The viewer of a request; anyone not signed in is sent to the login page.
impl FromRequestParts<Arc<State>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, Response> {
        let to_login = || Redirect::to("/ui/login").into_response();
        let sid = cookie_of(parts).ok_or_else(to_login)?;
        let (hash, csrf) = state.console.get(&sid).ok_or_else(to_login)?;
        let st = state.clone();
        let row = tokio::task::spawn_blocking(move || st.store.with(|s| s.token_by_hash(&hash)))
            .await
            .map_err(|e| UiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())?
            .map_err(|e| UiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response())?;
        let Some(row) = row else {
            // The token was revoked: so is every session it opened.
            state.console.end(&sid);
            return Err(to_login());
        };
        let role = Role::parse(&row.role).filter(|r| *r != Role::Agent);
        let Some(role) = role else {
            state.console.end(&sid);
            return Err(to_login());
        };
        Ok(Viewer {
            sid,
            name: row.name,
            role,
            csrf,
        })
    }
}

fn login_form(error: Option<&str>) -> maud::Markup {
    bare(
        "Sign in to Brig",
        html! {
            @if let Some(e) = error {
                p.flash.bad role="alert" { (e) }
            }
            p { "Sign in with an operator or auditor token (" code { "brig tokens create" } ")." }
            form method="post" action="/ui/login" {
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="off" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub async fn login_page() -> Response {
    respond(StatusCode::OK, login_form(None))
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
}

/// Opens a session for an operator's or auditor's token; anything else is the login page
/// again with 401.
pub async fn login(Shared(state): Shared<Arc<State>>, Form(f): Form<LoginForm>) -> Response {
    let refused = || {
        respond(
            StatusCode::UNAUTHORIZED,
            login_form(Some("That token is not valid.")),
        )
    };
    let hash = auth::hash(f.token.trim());
    let st = state.clone();
    let row = tokio::task::spawn_blocking(move || st.store.with(|s| s.token_by_hash(&hash))).await;
    let row = match row {
        Ok(Ok(Some(row))) => row,
        Ok(Ok(None)) => return refused(),
        Ok(Err(e)) => {
            return UiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response()
        }
        Err(e) => return UiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if !matches!(Role::parse(&row.role), Some(Role::Operator | Role::Auditor)) {
        // Agent tokens act for agents, not people.
        return refused();
    }
    let sid = state.console.open(hash);
    tracing::info!(token = %row.name, role = %row.role, "console sign-in");
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/ui/".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{COOKIE}={sid}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
                    LIFETIME.as_secs()
                ),
            ),
        ],
    )
        .into_response()
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session (auditors too: signing out changes nothing recorded).
pub async fn logout(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !same(f.csrf.as_bytes(), v.csrf.as_bytes()) {
        return UiError(
            StatusCode::FORBIDDEN,
            "The form's CSRF value is missing or wrong.".into(),
        )
        .into_response();
    }
    state.console.end(&v.sid);
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/ui/login".to_string()),
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            ),
        ],
    )
        .into_response()
}
