//! The overview: agents and their state, open incidents by severity, and activity (events
//! per second over the last minute, alerts in the last hour). Live.

use std::sync::Arc;

use axum::extract::State as Shared;
use axum::response::Response;
use brig_ledger::store::LedgerStore;
use brig_store::Store;
use maud::{html, Markup};

use super::agents::{agents_now, AgentNow};
use super::session::Viewer;
use super::{
    blocking, internal, layout, live_region, respond, severity_badge, severity_name, UiError,
    UiResult, SEVERITIES,
};
use crate::State;

struct Overview {
    agents: Vec<AgentNow>,
    open: Vec<brig_store::IncidentRow>,
    per_second: f64,
    alerts_hour: usize,
    ledger_size: u64,
}

const SECOND: i64 = 1_000_000_000;

/// The first ledger index whose event is at or after `nanos`, by binary search over the
/// ledger (event times follow ledger order up to the writers' small reordering).
pub(crate) fn first_index_at(s: &mut Store, nanos: i64) -> Result<u64, UiError> {
    let (mut lo, mut hi) = (0u64, s.size().map_err(internal)?);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let ts = s
            .leaf(mid)
            .map_err(internal)?
            .and_then(|r| brig_model::Event::from_leaf(&r.leaf).ok())
            .map_or(i64::MIN, |e| e.ts.unix_nanos());
        if ts < nanos {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

fn read(state: &State) -> Result<Overview, UiError> {
    let agents = agents_now(state)?;
    state.store.with(|s| {
        let open = s.incidents(false, 1000).map_err(internal)?;
        let now = super::now_nanos();
        let size = s.size().map_err(internal)?;
        let minute = first_index_at(s, now - 60 * SECOND)?;
        let hour = first_index_at(s, now - 3600 * SECOND)?;
        let alerts_hour = s
            .kinds_since(hour, &["alert"], 100_000)
            .map_err(internal)?
            .len();
        Ok(Overview {
            agents,
            open,
            per_second: size.saturating_sub(minute) as f64 / 60.0,
            alerts_hour,
            ledger_size: size,
        })
    })
}

fn body(o: &Overview) -> Markup {
    html! {
        section aria-labelledby="h-agents" {
            h2 #h-agents { "Agents" }
            @if o.agents.is_empty() {
                p { "No agent has been seen yet." }
            } @else {
                ul.agents {
                    @for a in &o.agents {
                        li {
                            span.agent { (a.seen.agent) }
                            " "
                            @if let Some(c) = &a.contained {
                                span.state.contained title=(c.reason) { "contained" }
                            } @else {
                                span.state.running { "running" }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-open" {
            h2 #h-open { "Open incidents" }
            @if o.open.is_empty() {
                p { "No open incident." }
            } @else {
                ul.counts {
                    @for (n, name) in SEVERITIES.iter().enumerate().rev() {
                        @let count = o.open.iter().filter(|i| i.severity as usize == n).count();
                        @if count > 0 {
                            li {
                                (severity_badge(name)) " "
                                a href={ "/ui/incidents?severity=" (name) "&state=" (super::incidents::NOT_CLOSED) } {
                                    (count) " open"
                                }
                            }
                        }
                    }
                }
                ul.recent {
                    @for i in o.open.iter().take(10) {
                        li {
                            a href={ "/ui/incidents/" (i.id) } { (i.id) }
                            " " (severity_badge(severity_name(i.severity))) " " (i.agent) " — " (i.state)
                        }
                    }
                }
            }
        }
        section aria-labelledby="h-activity" {
            h2 #h-activity { "Activity" }
            dl.figures {
                dt { "Events per second (last minute)" } dd { (format!("{:.1}", o.per_second)) }
                dt { "Alerts in the last hour" } dd { (o.alerts_hour) }
                dt { "Events in the ledger" } dd { (o.ledger_size) }
            }
        }
    }
}

pub async fn page(Shared(state): Shared<Arc<State>>, v: Viewer) -> UiResult {
    let st = state.clone();
    let o = blocking(move || read(&st)).await?;
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        axum::http::StatusCode::OK,
        layout(
            &v,
            "/ui/",
            "Overview",
            flash,
            live_region("overview", "/ui/frag/overview", body(&o)),
        ),
    ))
}

async fn fragment_handler(state: Arc<State>) -> Result<Response, UiError> {
    let o = blocking(move || read(&state)).await?;
    Ok(super::fragment(body(&o)))
}

pub async fn fragment_route(Shared(state): Shared<Arc<State>>, _v: Viewer) -> UiResult {
    fragment_handler(state).await
}
