//! Agents and workflows with their containment, and the kill switch: contain, freeze and
//! release, each through a confirmation page that asks for the reason the ledger records.
//! The order goes through `brig_incident::switch`, as the API's and the CLI's do.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Query, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use brig_incident::switch::{self, Order};
use brig_store::{AgentSeen, Containment, Scope};
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Viewer;
use super::{
    blocking, csrf_field, internal, layout, live_region, respond, time_el, Flash, UiError, UiResult,
};
use crate::State;

/// An agent and what stops it now, if anything.
pub(crate) struct AgentNow {
    pub seen: AgentSeen,
    pub contained: Option<Containment>,
}

/// The containment that stops an agent (everything, its workflow, or itself), as the guard
/// reads it.
fn stopping<'a>(
    cs: &'a [Containment],
    agent: &str,
    workflow: Option<&str>,
) -> Option<&'a Containment> {
    cs.iter().find(|c| match &c.scope {
        Scope::All => true,
        Scope::Agent(a) => a == agent,
        Scope::Workflow(w) => workflow == Some(w.as_str()),
        Scope::Path(_) => false,
    })
}

/// Most agents listed.
const MAX_AGENTS: usize = 1000;

pub(crate) fn agents_now(state: &State) -> Result<Vec<AgentNow>, UiError> {
    state.store.with(|s| {
        let seen = s.agents_seen(MAX_AGENTS).map_err(internal)?;
        let cs = s.containments().map_err(internal)?;
        Ok(seen
            .into_iter()
            .map(|mut a| {
                if a.workflow.is_none() {
                    // Its events name none: the register's workflow that lists it.
                    a.workflow = super::register(state).and_then(|r| {
                        r.workflows
                            .iter()
                            .find(|w| w.agents.iter().any(|x| x == &a.agent))
                            .map(|w| w.name.clone())
                    });
                }
                let contained = stopping(&cs, &a.agent, a.workflow.as_deref()).cloned();
                AgentNow { seen: a, contained }
            })
            .collect())
    })
}

struct Listing {
    agents: Vec<AgentNow>,
    /// Workflow → frozen by.
    workflows: BTreeMap<String, Option<Containment>>,
    contained_agents: Vec<Containment>,
}

fn read(state: &State) -> Result<Listing, UiError> {
    let agents = agents_now(state)?;
    let cs = state.store.with(|s| s.containments()).map_err(internal)?;
    // The workflows agents named, and those the risk register declares.
    let declared = super::register(state)
        .map(|r| {
            r.workflows
                .iter()
                .map(|w| w.name.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut workflows: BTreeMap<String, Option<Containment>> = agents
        .iter()
        .filter_map(|a| a.seen.workflow.clone())
        .chain(declared)
        .map(|w| (w, None))
        .collect();
    let mut contained_agents = Vec::new();
    for c in cs {
        match &c.scope {
            Scope::Workflow(w) => {
                workflows.insert(w.clone(), Some(c));
            }
            Scope::Agent(a) if !agents.iter().any(|x| &x.seen.agent == a) => {
                contained_agents.push(c)
            }
            _ => {}
        }
    }
    Ok(Listing {
        agents,
        workflows,
        contained_agents,
    })
}

/// A button that opens the confirmation page (a GET form: works without script).
fn order_button(v: &Viewer, action: &str, scope: &str, label: &str) -> Markup {
    if !v.may_write() {
        return html! {};
    }
    html! {
        form.inline method="get" action="/ui/confirm" {
            input type="hidden" name="action" value=(action);
            input type="hidden" name="scope" value=(scope);
            button type="submit" { (label) }
        }
    }
}

fn body(v: &Viewer, l: &Listing) -> Markup {
    html! {
        table {
            caption { "Agents" }
            thead { tr { th scope="col" { "Agent" } th scope="col" { "State" } th scope="col" { "Workflow" } th scope="col" { "Last seen" } @if v.may_write() { th scope="col" { "Action" } } } }
            tbody {
                @if l.agents.is_empty() && l.contained_agents.is_empty() {
                    tr { td colspan="5" { "No agent has been seen yet." } }
                }
                @for a in &l.agents {
                    @let scope = format!("agent:{}", a.seen.agent);
                    tr {
                        th scope="row" { (a.seen.agent) }
                        td {
                            @if let Some(c) = &a.contained {
                                span.state.contained { "contained" }
                                " by " (c.scope.key()) ": " (c.reason)
                            } @else {
                                span.state.running { "running" }
                            }
                        }
                        td { (a.seen.workflow.as_deref().unwrap_or("—")) }
                        td { (time_el(a.seen.last_nanos)) }
                        @if v.may_write() {
                            td {
                                @match &a.contained {
                                    Some(c) if c.scope.key() == scope => (order_button(v, "release", &scope, "Release")),
                                    Some(_) => "contained above the agent",
                                    None => (order_button(v, "contain", &scope, "Contain")),
                                }
                            }
                        }
                    }
                }
                @for c in &l.contained_agents {
                    @let scope = c.scope.key();
                    tr {
                        th scope="row" { (scope.trim_start_matches("agent:")) }
                        td { span.state.contained { "contained" } ": " (c.reason) }
                        td { "—" }
                        td { "never seen" }
                        @if v.may_write() { td { (order_button(v, "release", &scope, "Release")) } }
                    }
                }
            }
        }
        table {
            caption { "Workflows" }
            thead { tr { th scope="col" { "Workflow" } th scope="col" { "State" } @if v.may_write() { th scope="col" { "Action" } } } }
            tbody {
                @if l.workflows.is_empty() {
                    tr { td colspan="3" { "No agent has named a workflow yet." } }
                }
                @for (w, frozen) in &l.workflows {
                    @let scope = format!("workflow:{w}");
                    tr {
                        th scope="row" { (w) }
                        td {
                            @if let Some(c) = frozen {
                                span.state.contained { "frozen" } ": " (c.reason)
                            } @else {
                                span.state.running { "running" }
                            }
                        }
                        @if v.may_write() {
                            td {
                                @if frozen.is_some() {
                                    (order_button(v, "release", &scope, "Release"))
                                } @else {
                                    (order_button(v, "freeze", &scope, "Freeze"))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn page(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let st = state.clone();
    let l = blocking(move || read(&st)).await?;
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/agents",
            "Agents",
            flash,
            live_region("agents", "/ui/frag/agents", body(&v, &l)),
        ),
    ))
}

pub async fn fragment(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let l = blocking(move || read(&state)).await?;
    Ok(super::fragment(body(&v, &l)))
}

#[derive(Deserialize)]
pub struct OrderQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    scope: String,
}

/// A kill-switch order the console gives: what, on what, and the words for it.
struct Asked {
    action: &'static str,
    scope: Scope,
    /// "agent X" / "workflow W".
    target: String,
}

impl Asked {
    fn parse(action: &str, scope: &str) -> Result<Asked, UiError> {
        let bad = |m: String| UiError(StatusCode::BAD_REQUEST, m);
        let scope = Scope::from_key(scope)
            .ok_or_else(|| bad(format!("scope `{scope}`: expected agent:ID or workflow:ID")))?;
        let target = match &scope {
            Scope::Agent(a) => format!("agent {a}"),
            Scope::Workflow(w) => format!("workflow {w}"),
            _ => {
                return Err(bad(
                    "the console contains agents and freezes workflows".into()
                ))
            }
        };
        let action = match (action, &scope) {
            ("contain", Scope::Agent(_)) => "contain",
            ("freeze", Scope::Workflow(_)) => "freeze",
            ("release", _) => "release",
            (a, _) => return Err(bad(format!("action `{a}` does not apply to {target}"))),
        };
        Ok(Asked {
            action,
            scope,
            target,
        })
    }

    /// "Contain agent X", "Freeze workflow W", "Release agent X".
    fn verb(&self) -> String {
        let mut v = self.action.to_string();
        v[..1].make_ascii_uppercase();
        format!("{v} {}", self.target)
    }

    /// "Agent X contained.", "Workflow W frozen.", "Agent X released."
    fn done(&self) -> String {
        let mut t = self.target.clone();
        t[..1].make_ascii_uppercase();
        let past = match self.action {
            "contain" => "contained",
            "freeze" => "frozen",
            _ => "released",
        };
        format!("{t} {past}.")
    }
}

fn confirm_markup(v: &Viewer, a: &Asked, alert: Option<&str>) -> Markup {
    let title = format!("{}?", a.verb());
    let what = match a.action {
        "contain" => "Every call the agent makes is denied until it is released, on every gateway sharing this ledger.",
        "freeze" => "Every agent of the workflow is stopped until the workflow is released.",
        _ => "Its calls are decided by policy again.",
    };
    layout(
        v,
        "/ui/agents",
        &title,
        alert.map(|t| Flash::Alert(t.to_string())),
        html! {
            p { (what) " The order and its reason are recorded in the ledger as yours." }
            form method="post" action="/ui/confirm" {
                (csrf_field(v))
                input type="hidden" name="action" value=(a.action);
                input type="hidden" name="scope" value=(a.scope.key());
                label for="reason" { "Reason" }
                textarea #reason name="reason" required rows="3" {}
                div.actions {
                    button.danger type="submit" { (a.verb()) }
                    a href="/ui/agents" { "Cancel" }
                }
            }
        },
    )
}

/// The confirmation page (operators only: it is a write control).
pub async fn confirm_page(v: Viewer, Query(q): Query<OrderQuery>) -> UiResult {
    if !v.may_write() {
        return Err(UiError(
            StatusCode::FORBIDDEN,
            format!(
                "Token {} (auditor) may not give kill-switch orders.",
                v.name
            ),
        ));
    }
    let a = Asked::parse(&q.action, &q.scope)?;
    Ok(respond(StatusCode::OK, confirm_markup(&v, &a, None)))
}

#[derive(Deserialize)]
pub struct OrderForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    reason: String,
}

/// Gives the order: contain / freeze / release, recorded with the reason and the token.
pub async fn confirm(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Form(f): Form<OrderForm>,
) -> UiResult {
    v.check_write(&f.csrf, "give kill-switch orders")?;
    let a = Asked::parse(&f.action, &f.scope)?;
    if f.reason.trim().is_empty() {
        return Ok(respond(
            StatusCode::BAD_REQUEST,
            confirm_markup(&v, &a, Some("A reason is required.")),
        ));
    }
    let order = Order {
        scope: a.scope.clone(),
        reason: f.reason.trim().to_string(),
        actor: v.actor(),
        kill_upstream: false,
    };
    let release = a.action == "release";
    let st = state.clone();
    let outcome = blocking(move || {
        let r = if release {
            switch::release(&st.data, &order).map(|(was, _)| was)
        } else {
            switch::contain(&st.data, &order).map(|_| true)
        };
        r.map_err(|e| UiError::from(crate::routes::switch_error(e)))
    })
    .await?;
    let message = if release && !outcome {
        Flash::Status(format!(
            "{} was not contained; the release is recorded.",
            a.target
        ))
    } else {
        Flash::Status(a.done())
    };
    state.console.flash(&v.sid, message);
    Ok(Redirect::to("/ui/agents").into_response())
}
