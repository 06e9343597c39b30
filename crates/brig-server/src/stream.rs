//! `GET /v1/stream`: the ledger followed live, as server-sent events.
//!
//! Each new ledger event is one SSE event: `alert` for alerts, `containment` for an
//! operator's or the playbook's contain and release, `event` for everything else; the data is
//! `{"index": N, "event": {…}}` (the event as the ledger holds it, payload digests only) and
//! the SSE `id` is the index, so a client that reconnects with `Last-Event-ID` (or
//! `?from=N`) misses nothing. The ledger is read from the stream's own connection whenever
//! the store announces a change (PostgreSQL: `LISTEN`, as soon as any server commits;
//! SQLite: every 100 ms), so whichever process appended, the stream sees it. Agent tokens
//! receive only their own agent's events, and the containment orders
//! given for every agent or a workflow.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State as Shared};
use axum::http::HeaderMap;
use axum::response::sse::{Event as Sse, KeepAlive};
use brig_ledger::store::LedgerStore;
use brig_model::{Event, EventKind};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, Role};
use crate::routes::{internal, require, ApiError};
use crate::State;

/// The longest wait for a change notice before the ledger is read again anyway.
const WAIT: Duration = Duration::from_secs(1);
/// Most events read at a time.
const CHUNK: usize = 1000;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct From {
    /// The first ledger index to send [default: the next one appended].
    from: Option<u64>,
}

/// The SSE event type of a ledger event.
pub(crate) fn kind_of(e: &Event) -> &'static str {
    let action = e.attrs.get("action").and_then(|a| a.as_str()).unwrap_or("");
    match e.kind {
        EventKind::Alert => "alert",
        EventKind::OperatorAction | EventKind::ResponseAction
            if matches!(action, "contain" | "release") =>
        {
            "containment"
        }
        _ => "event",
    }
}

/// New ledger events as they are appended (server-sent events).
#[utoipa::path(get, path = "/v1/stream", params(From),
    responses((status = 200, description = "text/event-stream: `event`, `alert` and `containment` events, id = ledger index"),
              (status = 401, body = crate::routes::ErrorBody)),
    security(("token" = [])))]
pub async fn stream(
    Shared(state): Shared<Arc<State>>,
    caller: Caller,
    headers: HeaderMap,
    Query(q): Query<From>,
) -> Result<axum::response::Sse<impl Stream<Item = Result<Sse, Infallible>>>, ApiError> {
    require(
        &caller,
        &[Role::Agent, Role::Operator, Role::Auditor],
        "follow the ledger",
    )?;
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map(|i| i + 1);
    let (follow, size) = open(&state).await?;
    let next = q.from.or(resume).unwrap_or(size);
    let only = (caller.role == Role::Agent).then(|| caller.agent.clone().unwrap_or_default());
    let events = follow_from(state, follow, next).filter_map(move |(index, e)| {
        // An agent sees its own events, and the kill-switch orders for everyone (`*`:
        // every agent, a workflow), which may be about it.
        let everyone = e.agent == "*" && kind_of(&e) == "containment";
        let keep = only.as_ref().is_none_or(|a| &e.agent == a || everyone);
        let sse = keep.then(|| {
            let data = json!({"index": index, "event": e}).to_string();
            Ok(Sse::default()
                .event(kind_of(&e))
                .id(index.to_string())
                .data(data))
        });
        std::future::ready(sse)
    });
    Ok(axum::response::Sse::new(events).keep_alive(KeepAlive::default()))
}

/// A stream's own store connection and change listener.
pub(crate) type Follow = Arc<std::sync::Mutex<(brig_store::Store, brig_store::Changes)>>;

/// Opens a connection and a change listener to follow the ledger with; also returns the
/// ledger's size now.
pub(crate) async fn open(state: &Arc<State>) -> Result<(Follow, u64), ApiError> {
    let data = state.data.clone();
    let (store, changes, size) = tokio::task::spawn_blocking(move || {
        let mut store = data.store()?;
        let changes = store.changes()?;
        let size = store.size()?;
        Ok::<_, brig_store::DataDirError>((store, changes, size))
    })
    .await
    .map_err(internal)?
    .map_err(internal)?;
    Ok((Arc::new(std::sync::Mutex::new((store, changes))), size))
}

/// The ledger's events from index `next` on, in order, as they are appended: read whenever
/// the store announces a change. Ends when the server stops or the notice channel is lost
/// (the client reconnects rather than trusting silence). Shared by `/v1/stream` and the
/// console's live updates.
pub(crate) fn follow_from(
    state: Arc<State>,
    follow: Follow,
    next: u64,
) -> impl Stream<Item = (u64, Event)> + Send {
    stream::unfold((next, Vec::new()), move |(mut next, mut ready)| {
        let (follow, state) = (follow.clone(), state.clone());
        async move {
            loop {
                if let Some(e) = ready.pop() {
                    return Some((e, (next, ready)));
                }
                // The server is stopping: end the stream (the client resumes elsewhere or
                // later with Last-Event-ID).
                if state.closing.load(std::sync::atomic::Ordering::SeqCst) {
                    return None;
                }
                let (from, follow) = (next, follow.clone());
                let read = tokio::task::spawn_blocking(move || {
                    let mut f = follow.lock().unwrap_or_else(|p| p.into_inner());
                    let (store, changes) = &mut *f;
                    let rows = read_from(store, from);
                    if !rows.is_empty() {
                        return Some(rows);
                    }
                    // Nothing new: wait for a notice (PostgreSQL) or the poll interval.
                    match changes.wait(WAIT) {
                        Ok(_) => Some(read_from(store, from)),
                        Err(_) => None,
                    }
                })
                .await
                .ok()
                .flatten();
                // The notice channel is gone (the database went away): end the stream.
                let read = read?;
                for row in read.into_iter().rev() {
                    next = next.max(row.index + 1);
                    if let Ok(e) = Event::from_leaf(&row.leaf) {
                        ready.push((row.index, e));
                    }
                }
            }
        }
    })
}

/// Up to `CHUNK` rows from index `from` on (none when the store cannot be read: the caller
/// waits and tries again).
fn read_from(store: &mut brig_store::Store, from: u64) -> Vec<brig_ledger::store::LeafRow> {
    let mut rows = Vec::new();
    let _ = store.scan(from, from + CHUNK as u64, &mut |row| {
        rows.push(row);
        true
    });
    rows
}
