//! The approvals queue: held calls with their arguments and the policies that held them,
//! approved or denied with a reason through `brig_gateway::approval::settle_by_operator`,
//! as the API does. Live.

use std::sync::Arc;

use axum::extract::{Path, State as Shared};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use brig_ledger::store::LedgerStore;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use super::session::Viewer;
use super::{
    blocking, csrf_field, internal, layout, live_region, pre_value, respond, time_el, Flash,
    UiError, UiResult,
};
use crate::State;

struct Held {
    a: brig_store::Approval,
    /// The held call's arguments, from its payload in the ledger.
    arguments: Value,
}

fn read(state: &State) -> Result<Vec<Held>, UiError> {
    state.store.with(|s| {
        let pending = s.approvals(false).map_err(internal)?;
        let mut out = Vec::with_capacity(pending.len());
        for a in pending {
            let arguments = match s.leaf(a.event_index).map_err(internal)? {
                Some(row) => match brig_model::Event::from_leaf(&row.leaf) {
                    Ok(e) => {
                        let p = brig_incident::questions::payloads(s, a.event_index, &e)
                            .map_err(internal)?;
                        p.get("arguments").cloned().unwrap_or(p)
                    }
                    Err(e) => Value::String(format!("the held call does not parse: {e}")),
                },
                None => Value::String("the held call is not in the ledger".into()),
            };
            out.push(Held { a, arguments });
        }
        Ok(out)
    })
}

fn body(v: &Viewer, held: &[Held]) -> Markup {
    html! {
        table {
            caption { "Pending approvals" }
            thead {
                tr {
                    th scope="col" { "Approval" } th scope="col" { "Agent" } th scope="col" { "Tool" }
                    th scope="col" { "Arguments" } th scope="col" { "Held by" } th scope="col" { "Since" }
                    @if v.may_write() { th scope="col" { "Decision" } }
                }
            }
            tbody {
                @if held.is_empty() {
                    tr { td colspan="7" { "No call is waiting for a decision." } }
                }
                @for h in held {
                    tr {
                        th scope="row" { code { (h.a.id) } }
                        td { (h.a.agent) }
                        td { (h.a.tool) }
                        td { (pre_value(&h.arguments)) p.small { (h.a.summary) } }
                        td { (h.a.policies) }
                        td { (time_el(h.a.created_nanos)) }
                        @if v.may_write() {
                            td {
                                @let rid = format!("reason-{}", h.a.id);
                                form.settle method="post" action={ "/ui/approvals/" (h.a.id) } {
                                    (csrf_field(v))
                                    label for=(rid) { "Reason" }
                                    input id=(rid) type="text" name="reason" required;
                                    button type="submit" name="decision" value="approve" { "Approve" }
                                    button.danger type="submit" name="decision" value="deny" { "Deny" }
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
    let held = blocking(move || read(&st)).await?;
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/approvals",
            "Approvals",
            flash,
            live_region("approvals", "/ui/frag/approvals", body(&v, &held)),
        ),
    ))
}

pub async fn fragment(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let held = blocking(move || read(&state)).await?;
    Ok(super::fragment(body(&v, &held)))
}

#[derive(Deserialize)]
pub struct SettleForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    reason: String,
}

/// Approves or denies a held call; the outcome is the next page's message.
pub async fn settle(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Path(id): Path<String>,
    Form(f): Form<SettleForm>,
) -> UiResult {
    v.check_write(&f.csrf, "decide held calls")?;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "deny" => false,
        d => {
            return Err(UiError(
                StatusCode::BAD_REQUEST,
                format!("decision `{d}`: expected approve or deny"),
            ))
        }
    };
    let message =
        match crate::routes::settle_held(&state, &v.name, id.clone(), approve, f.reason).await {
            Ok(_) if approve => Flash::Status(format!("Approved {id}.")),
            Ok(_) => Flash::Status(format!("Denied {id}.")),
            Err(e) if e.0.is_client_error() => Flash::Alert(format!("{id}: {}", e.1)),
            Err(e) => return Err(e.into()),
        };
    state.console.flash(&v.sid, message);
    Ok(Redirect::to("/ui/approvals").into_response())
}
