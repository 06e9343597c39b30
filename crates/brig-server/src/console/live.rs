//! `GET /ui/live`: what changes in the ledger, for the signed-in page to refresh itself.
//!
//! Built on the same follower as `/v1/stream` ([`crate::stream::follow_from`]): every new
//! ledger event is an `event` (index, kind, agent, session), and those that matter to a
//! page are announced once more under their own name: `alert`, `incident` (lifecycle and
//! playbook steps), `approval` (held calls and decisions) and `containment`.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State as Shared;
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use brig_model::{Event, EventKind};
use futures_util::stream::{self, StreamExt};
use serde_json::json;

use super::session::Viewer;
use crate::stream::{follow_from, kind_of, open};
use crate::State;

/// The named SSE events one ledger event is announced as.
fn names_of(e: &Event) -> Vec<&'static str> {
    let mut v = vec!["event"];
    match e.kind {
        EventKind::Alert => v.push("alert"),
        EventKind::IncidentTransition | EventKind::ResponseAction => v.push("incident"),
        EventKind::ApprovalRequest | EventKind::ApprovalDecision => v.push("approval"),
        _ => {}
    }
    if e.decision
        .as_ref()
        .is_some_and(|d| d.effect == brig_model::Effect::Hold)
    {
        v.push("approval");
    }
    if kind_of(e) == "containment" {
        v.push("containment");
    }
    v.dedup();
    v
}

pub async fn live(Shared(state): Shared<Arc<State>>, _v: Viewer) -> Response {
    let (follow, size) = match open(&state).await {
        Ok(f) => f,
        Err(e) => return super::UiError::from(e).into_response(),
    };
    let events = follow_from(state, follow, size).flat_map(|(index, e)| {
        let data = json!({
            "idx": index,
            "kind": e.kind.as_str(),
            "agent": e.agent,
            "session": e.session,
        })
        .to_string();
        let out: Vec<Result<Sse, Infallible>> = names_of(&e)
            .into_iter()
            .map(|name| {
                Ok(Sse::default()
                    .event(name)
                    .id(index.to_string())
                    .data(data.clone()))
            })
            .collect();
        stream::iter(out)
    });
    axum::response::Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
