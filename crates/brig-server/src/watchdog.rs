//! The watchdog: gateways that stop beating without saying goodbye.
//!
//! Every running gateway beats (`brig_gateway::heartbeat`): local ones into the store,
//! remote ones through `POST /v1/gateways/heartbeat` here. A thread of `brig serve` looks
//! every [`SCAN_EVERY`] for gateways whose last beat is older than [`MISSES`] of their own
//! intervals and that never stopped cleanly — killed, frozen, or cut off — and raises one
//! critical alert for each gap (the rule [`SILENT_RULE`]), in the gateway's agent and
//! session, which incident response takes like any other alert: an agent cannot escape the
//! gateway by crashing it. A gateway that beats again closes the gap; a later one alerts
//! again.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State as Shared;
use axum::http::StatusCode;
use axum::Json;
use brig_ledger::Prepared;
use brig_model::{EventId, EventKind, NewEvent, Timestamp};
use brig_store::GatewayRow;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::routes::{blocking, internal, require, ApiError};
use crate::State;

/// How often the watchdog looks.
pub const SCAN_EVERY: Duration = Duration::from_secs(1);
/// Intervals a gateway may miss before it is reported silent.
pub const MISSES: u32 = 3;
/// The id of the built-in "gateway silent" detection (not a Sigma rule: absence is not an
/// event; documented in rules/README.md).
pub const SILENT_RULE: &str = "b7d1f0c4-5a2e-4c61-9e0b-6f3a8d2c7e15";

/// A gateway's heartbeat, or its goodbye.
#[derive(Deserialize, ToSchema)]
pub struct HeartbeatRequest {
    /// The gateway's own id, the same in every beat.
    id: String,
    /// The agent it runs for (an agent token's own identity when omitted).
    agent: Option<String>,
    /// The Brig session it records under.
    session: String,
    pid: i64,
    #[serde(default)]
    host: String,
    /// When it started (ns since the Unix epoch).
    started: i64,
    /// How often it beats, in milliseconds.
    interval_ms: i64,
    /// A clean exit: the gateway will not beat again.
    #[serde(default)]
    stopped: bool,
}

/// Proof of life from a remote gateway (`brig mcp-proxy --server`); `stopped` at a clean
/// exit. `brig serve` alerts on a gateway that misses three beats without stopping.
#[utoipa::path(post, path = "/v1/gateways/heartbeat", request_body = HeartbeatRequest,
    responses((status = 204, description = "recorded"), (status = 400, body = crate::routes::ErrorBody),
              (status = 401, body = crate::routes::ErrorBody), (status = 403, body = crate::routes::ErrorBody)),
    security(("token" = [])))]
pub(crate) async fn heartbeat(
    Shared(state): Shared<Arc<State>>,
    caller: Caller,
    Json(req): Json<HeartbeatRequest>,
) -> Result<StatusCode, ApiError> {
    require(&caller, &[Role::Agent, Role::Operator], "send heartbeats")?;
    let bad = |m: &str| Err(ApiError(StatusCode::BAD_REQUEST, m.to_string()));
    let agent = match req.agent.clone().or_else(|| caller.agent.clone()) {
        Some(a) => a,
        None => return bad("`agent` is required"),
    };
    if !caller.may_act_as(&agent) {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            format!(
                "token `{}` may not send heartbeats as agent `{agent}`",
                caller.name
            ),
        ));
    }
    if req.id.is_empty() || req.id.len() > 128 {
        return bad("`id` must be 1 to 128 characters");
    }
    let fields = [
        ("agent", &agent),
        ("id", &req.id),
        ("session", &req.session),
        ("host", &req.host),
    ];
    for (name, v) in fields {
        if v.len() > 256 || v.contains('\0') {
            return bad(&format!("`{name}` must be at most 256 bytes, without NUL"));
        }
    }
    if !(100..=3_600_000).contains(&req.interval_ms) {
        return bad("`interval_ms` must be between 100 and 3600000");
    }
    // The server's clock, not the gateway's: the watchdog compares with it.
    let now = Timestamp::now().unix_nanos();
    let row = GatewayRow {
        id: req.id,
        agent,
        session: req.session,
        pid: req.pid,
        host: req.host,
        started_nanos: req.started,
        last_seen_nanos: now,
        interval_ms: req.interval_ms,
        stopped_nanos: None,
        silent_nanos: None,
    };
    blocking(move || {
        state.store.with(|s| {
            let known = s.gateway(&row.id).map_err(internal)?;
            if known.as_ref().is_some_and(|k| k.agent != row.agent) {
                return Err(ApiError(
                    StatusCode::FORBIDDEN,
                    format!("gateway `{}` belongs to another agent", row.id),
                ));
            }
            if !req.stopped {
                return s.gateway_beat(&row).map_err(internal);
            }
            if known.is_none() {
                s.gateway_beat(&row).map_err(internal)?;
            }
            s.gateway_stopped(&row.id, now).map_err(internal)
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The alert for a silent gateway, in its agent's session.
fn silent_alert(g: &GatewayRow, now: i64) -> NewEvent {
    let mut e = NewEvent::new("watchdog", g.agent.clone(), EventKind::Alert);
    e.id = Some(EventId::new());
    e.ts = Some(Timestamp::from_unix_nanos(now));
    e.session = Some(g.session.clone());
    let silent_ms = (now - g.last_seen_nanos) / 1_000_000;
    for (k, v) in [
        ("rule_id", json!(SILENT_RULE)),
        (
            "title",
            json!("Gateway went silent: killed, hung or cut off (the agent may be outside Brig)"),
        ),
        ("level", json!("critical")),
        ("rule_kind", json!("watchdog")),
        ("blocking", json!(false)),
        (
            "tags",
            json!(["attack.defense-evasion", "attack.t1562.001"]),
        ),
        (
            "gateway",
            json!({"id": g.id, "pid": g.pid, "host": g.host, "interval_ms": g.interval_ms,
                   "last_seen": g.last_seen_nanos, "silent_ms": silent_ms}),
        ),
    ] {
        e.attrs.insert(k.into(), v);
    }
    e
}

/// One look: every newly silent gateway's alert recorded, then filed with incident
/// response. Returns how many were raised. `since`: when this server started — a remote
/// gateway could not beat while the server was down, so none is judged before it has had
/// [`MISSES`] intervals to reach the server again.
pub fn scan(state: &State, since: i64) -> Result<usize, String> {
    let now = Timestamp::now().unix_nanos();
    let silent = state
        .store
        .with(|s| s.silent_gateways(now, MISSES))
        .map_err(|e| e.to_string())?;
    let mut raised = 0;
    let judged = |g: &GatewayRow| since + g.interval_ms * 1_000_000 * i64::from(MISSES) < now;
    for g in silent.into_iter().filter(judged) {
        // Claimed first: of two servers on one database, one reports the gap.
        let mine = state
            .store
            .with(|s| s.gateway_silent(&g.id, now))
            .map_err(|e| e.to_string())?;
        if !mine {
            continue;
        }
        let alert = silent_alert(&g, now);
        let recorded = Prepared::new(alert.clone())
            .map_err(|e| e.to_string())
            .and_then(|p| state.appender.append(vec![p]).map_err(|e| e.to_string()));
        if let Err(e) = recorded {
            eprintln!(
                "brig serve: watchdog: gateway {} of agent {} is silent, and the alert could not be recorded: {e}",
                g.id, g.agent
            );
            tracing::error!(gateway = %g.id, agent = %g.agent, error = %e, "silent gateway not recorded");
            continue;
        }
        tracing::warn!(gateway = %g.id, agent = %g.agent, pid = g.pid, host = %g.host, "gateway silent");
        if let Some(r) = &state.response {
            r.file(&[alert]);
        }
        raised += 1;
    }
    Ok(raised)
}

/// Runs [`scan`] every [`SCAN_EVERY`] on a thread of its own until the server closes.
pub fn start(state: Arc<State>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let since = Timestamp::now().unix_nanos();
        let mut failing = false;
        while !state.closing.load(std::sync::atomic::Ordering::SeqCst) {
            match scan(&state, since) {
                Ok(_) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    eprintln!("brig serve: watchdog: cannot read the gateways: {e}");
                }
                Err(_) => {}
            }
            std::thread::sleep(SCAN_EVERY);
        }
    })
}
