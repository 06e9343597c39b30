//! Rollback of an incident's file changes: the plan (per path restore / remove / nothing /
//! conflict, with diffs), then apply with a canary and verify — through the same functions
//! as `/v1/rollback/*` ([`crate::routes::plan_scope`], [`crate::routes::apply_recorded`],
//! [`crate::routes::verify_recorded`]), every step recorded in the ledger with the token.

use std::sync::Arc;

use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::Form;
use brig_evidence::export::Scope;
use brig_evidence::undo::{Check, Outcome, Planned, Selection};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Viewer;
use super::{blocking, csrf_field, internal, layout, respond, Flash, UiError, UiResult};
use crate::State;

#[derive(Deserialize, Default)]
pub struct PlanQuery {
    #[serde(default)]
    incident: String,
}

fn incident_ids(state: &State) -> Result<Vec<(String, String)>, UiError> {
    let rows = state
        .store
        .with(|s| s.incidents(true, 1000))
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                format!(
                    "{} ({}, {})",
                    r.agent,
                    super::severity_name(r.severity),
                    r.state
                ),
            )
        })
        .collect())
}

/// The incident picker, a GET form; `button` names its submit button.
pub(crate) fn incident_select(
    action: &str,
    method: &str,
    ids: &[(String, String)],
    current: &str,
    button: &str,
    extra: Markup,
) -> Markup {
    html! {
        form.pick method=(method) action=(action) {
            (extra)
            label for="incident" { "Incident" }
            select #incident name="incident" required {
                @for (id, what) in ids {
                    option value=(id) selected[id == current] { (id) " — " (what) }
                }
            }
            button type="submit" { (button) }
        }
    }
}

fn word<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What a plan item does, in the contract's words: restore, remove (a created path goes),
/// nothing, conflict.
fn action_word(i: &brig_rollback::plan::Item) -> String {
    let a = word(&i.action);
    if a == "restore" && i.restore.is_none() {
        "remove".into()
    } else {
        a
    }
}

fn plan_markup(v: &Viewer, incident: &str, p: &Planned) -> Markup {
    html! {
        table.plan {
            caption { "Rollback plan" }
            thead { tr { th scope="col" { "Path" } th scope="col" { "Change" } th scope="col" { "Action" } th scope="col" { "By" } th scope="col" { "Diff" } } }
            tbody {
                @if p.items.is_empty() {
                    tr { td colspan="5" { "The incident changed no file Brig recorded." } }
                }
                @for i in &p.items {
                    @let action = action_word(i);
                    tr class=(if action == "conflict" { "conflict" } else { "" }) {
                        th scope="row" { code { (i.path) } }
                        td { (word(&i.change)) }
                        td {
                            span class={ "action action-" (action) } { (action) }
                            @if let Some(r) = &i.reason { ": " (r) }
                        }
                        td { (i.tools.join(", ")) }
                        td {
                            @if let Some(d) = &i.diff {
                                details { summary { "Diff of " (i.path) } pre.diff { (d) } }
                            }
                        }
                    }
                }
            }
        }
        @if !p.branches.is_empty() {
            p { "The agent also committed to git: revert those with " code { "brig rollback apply --git-revert" } " on the repository's host." }
        }
        @if v.may_write() && !p.items.is_empty() {
            form.apply method="post" action="/ui/rollback/apply" {
                (csrf_field(v))
                input type="hidden" name="incident" value=(incident);
                label for="canary" { "Canary" }
                input #canary type="number" name="canary" value="1" min="0";
                span.small { " paths restored and verified first; the rest only if they match." }
                button.danger type="submit" { "Apply rollback" }
            }
        }
    }
}

pub async fn page(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Query(q): Query<PlanQuery>,
) -> UiResult {
    let st = state.clone();
    let incident = q.incident.trim().to_string();
    let (ids, plan) = blocking(move || {
        let ids = incident_ids(&st)?;
        let plan = if incident.is_empty() {
            None
        } else {
            let scope = Scope::Incident(incident.clone());
            Some(
                crate::routes::plan_scope(&st, &scope, &Selection::default())
                    .map_err(UiError::from),
            )
        };
        Ok((ids, plan))
    })
    .await?;
    let flash = state.console.take_flash(&v.sid);
    let (plan_part, flash) = match plan {
        None => (html! {}, flash),
        Some(Ok(p)) => (plan_markup(&v, q.incident.trim(), &p), flash),
        Some(Err(e)) => (html! {}, Some(Flash::Alert(e.1))),
    };
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/rollback",
            "Rollback",
            flash,
            html! {
                (incident_select("/ui/rollback", "get", &ids, q.incident.trim(), "Plan", html! {}))
                (plan_part)
            },
        ),
    ))
}

#[derive(Deserialize)]
pub struct ApplyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    incident: String,
    canary: Option<String>,
}

fn result_markup(outcomes: &[Outcome], checks: &[Check]) -> Markup {
    let bad: Vec<&Check> = checks.iter().filter(|c| !c.matches).collect();
    html! {
        section aria-labelledby="h-result" {
            h2 #h-result { "Result" }
            ol {
                @for o in outcomes {
                    li { code { (o.path) } ": " (o.result) @if let Some(d) = &o.detail { " — " (d) } }
                }
            }
        }
        section aria-labelledby="h-verification" {
            h2 #h-verification { "Verification" }
            @if bad.is_empty() {
                p { "All " (checks.len()) " paths restored." }
            } @else {
                p { (bad.len()) " of " (checks.len()) " paths are not in their state from before the agent:" }
                ul { @for c in bad { li { code { (c.path) } } } }
            }
        }
    }
}

/// Applies the plan (canary first), then verifies every path; shows both.
pub async fn apply(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Form(f): Form<ApplyForm>,
) -> UiResult {
    v.check_write(&f.csrf, "roll back files")?;
    let canary = match f.canary.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => match c.parse::<usize>() {
            Ok(0) => None,
            Ok(n) => Some(n),
            Err(_) => {
                return Err(UiError(
                    StatusCode::BAD_REQUEST,
                    format!("Canary `{c}`: expected a whole number of paths"),
                ))
            }
        },
    };
    let incident = f.incident.trim().to_string();
    if incident.is_empty() {
        return Err(UiError(
            StatusCode::BAD_REQUEST,
            "Choose an incident.".into(),
        ));
    }
    let who = v.actor();
    let st = state.clone();
    let inc = incident.clone();
    let done = blocking(move || {
        let scope = Scope::Incident(inc);
        let p = crate::routes::plan_scope(&st, &scope, &Selection::default())?;
        let outcomes = crate::routes::apply_recorded(&st, &p, canary, false, &who)?;
        let (checks, _) = crate::routes::verify_recorded(&st, &p, &scope, Some(&who))?;
        let ids = incident_ids(&st)?;
        Ok((outcomes, checks, ids))
    })
    .await;
    let (outcomes, checks, ids) = match done {
        Ok(x) => x,
        Err(e) => {
            return Ok(respond(
                e.0,
                layout(
                    &v,
                    "/ui/rollback",
                    "Rollback",
                    Some(Flash::Alert(e.1)),
                    html! {},
                ),
            ))
        }
    };
    let restored = outcomes.iter().filter(|o| o.result == "restored").count();
    let conflicts = outcomes.iter().filter(|o| o.result == "conflict").count();
    let status = format!(
        "Rollback of {incident} applied: {restored} restored, {conflicts} conflict(s) left as they are."
    );
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/rollback",
            "Rollback",
            Some(Flash::Status(status)),
            html! {
                (incident_select("/ui/rollback", "get", &ids, &incident, "Plan", html! {}))
                (result_markup(&outcomes, &checks))
            },
        ),
    ))
}
