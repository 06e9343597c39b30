//! The HTTP API: routes, roles, handlers, and the OpenAPI document generated from them.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, FromRequestParts, MatchedPath, Request, State as Shared};
use axum::http::{header, request::Parts, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use brig_gateway::call::{self, Verdict};
use brig_gateway::record::Recorder;
use brig_gateway::Identity;
use brig_incident::switch::{self, Order};
use brig_ledger::store::LedgerStore;
use brig_ledger::Prepared;
use brig_model::{EventId, EventKind, NewEvent};
use brig_store::Scope;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{self, Caller, Role};
use crate::metrics::{EffectLabels, RequestLabels};
use crate::{State, MAX_BODY};

type St = Shared<Arc<State>>;

/// The API's routes over `state`.
pub fn app(state: Arc<State>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/v1/openapi.json", get(openapi))
        .route("/v1/whoami", get(whoami))
        .route("/v1/events", post(ingest))
        .route("/v1/decide", post(decide))
        .route("/v1/traces", post(crate::otlp::traces))
        .route("/v1/containment", get(containment).post(contain))
        .route("/v1/containment/release", post(release))
        .route("/v1/incidents", get(incidents))
        .route("/v1/evidence/export", post(export_evidence))
        .route("/v1/rollback/plan", post(rollback_plan))
        .route("/v1/rollback/verify", post(rollback_verify))
        .route("/v1/rollback/apply", post(rollback_apply))
        .route("/v1/approvals", get(approvals))
        .route("/v1/approvals/{id}", get(approval))
        .route("/v1/approvals/{id}/approve", post(approve))
        .route("/v1/approvals/{id}/deny", post(deny))
        .route("/v1/ledger/checkpoint", get(checkpoint))
        .route("/v1/ledger/proof", get(proof))
        .route("/v1/alerts", get(alerts))
        .route("/v1/stream", get(crate::stream::stream))
        .route("/v1/gateways/heartbeat", post(crate::watchdog::heartbeat))
        .merge(crate::console::router())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Brig control plane", description = "Incident response for AI agents: ingest, decide, contain, read. Bearer tokens with roles agent, operator, auditor (brig tokens create)."),
    paths(healthz, readyz, whoami, ingest, decide, crate::otlp::traces, containment, contain, release, incidents, approvals, approval, approve, deny, export_evidence, rollback_plan, rollback_verify, rollback_apply, proof, alerts, checkpoint, crate::stream::stream, crate::watchdog::heartbeat),
    components(schemas(ErrorBody, WhoAmI, IngestRequest, IngestResponse, Recorded, DecideRequest, DecideResponse, ContainRequest, ContainResponse, ReleaseResponse, ContainedScope, IncidentSummary, ApprovalItem, SettleRequest, SettleResponse, ExportRequest, RollbackRequest, Checkpoint, Role, crate::watchdog::HeartbeatRequest)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// An error answer: what was wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: String,
}

/// A refused or failed request.
pub struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.0, Json(ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::TOO_MANY_REQUESTS {
            // Whole seconds only (RFC 9110); the body says the milliseconds.
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        res
    }
}

fn forbidden(what: &str, c: &Caller) -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        format!("token `{}` ({}) may not {what}", c.name, c.role.as_str()),
    )
}

pub(crate) fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

pub(crate) fn require(c: &Caller, roles: &[Role], what: &str) -> Result<(), ApiError> {
    if roles.contains(&c.role) {
        Ok(())
    } else {
        Err(forbidden(what, c))
    }
}

/// The caller, from `Authorization: Bearer <token>`: 401 when missing, unknown or revoked.
impl FromRequestParts<Arc<State>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Self, ApiError> {
        let unauthorized = |why: &str| ApiError(StatusCode::UNAUTHORIZED, why.to_string());
        let secret = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("missing `Authorization: Bearer <token>`"))?;
        let hash = auth::hash(secret.trim());
        let st = state.clone();
        let row = blocking(move || st.store.with(|s| s.token_by_hash(&hash)).map_err(internal))
            .await?
            .ok_or_else(|| unauthorized("unknown or revoked token"))?;
        let role = Role::parse(&row.role)
            .ok_or_else(|| internal(format!("token `{}` has an unknown role", row.name)))?;
        within_limits(parts, state, &row)?;
        Ok(Caller {
            name: row.name,
            role,
            agent: row.agent,
        })
    }
}

/// The token's own limits: its request rate (429, with `Retry-After`) and its body size
/// (413; a body of unknown length is refused with 411 when the token has a limit, since it
/// could not be checked before it is read).
fn within_limits(parts: &Parts, state: &State, row: &brig_store::TokenRow) -> Result<(), ApiError> {
    if let Some(max) = row.max_body {
        let len = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
        match len {
            Some(n) if n > max => {
                return Err(ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "token `{}` may send at most {max} bytes per request; this body is {n}",
                        row.name
                    ),
                ))
            }
            None if chunked => {
                return Err(ApiError(
                    StatusCode::LENGTH_REQUIRED,
                    format!(
                        "token `{}` has a body limit of {max} bytes: send Content-Length",
                        row.name
                    ),
                ))
            }
            _ => {}
        }
    }
    if let Some(rate) = row.rate {
        if let Err(wait) = state.limiter.take(&row.name, rate) {
            return Err(ApiError(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "token `{}` is over its limit of {rate} requests per second; retry in {} ms",
                    row.name,
                    wait.as_millis().max(1)
                ),
            ));
        }
    }
    Ok(())
}

/// Counts every request by route and status; logs it.
pub(crate) async fn track(Shared(state): St, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().clone();
    let start = Instant::now();
    let res = next.run(req).await;
    let status = res.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            route: route.clone(),
            status,
        })
        .inc();
    tracing::info!(%method, route, status, micros = start.elapsed().as_micros() as u64, "request");
    res
}

/// Appends a batch through the server's one ledger writer and waits until it is durable,
/// without holding an async thread; a failure is a 503 that starts with `what`.
pub(crate) async fn append(
    state: &State,
    batch: Vec<Prepared>,
    what: &str,
) -> Result<Vec<brig_ledger::Receipt>, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    state.appender.submit_then(batch, move |r| {
        let _ = tx.send(r);
    });
    rx.await
        .map_err(internal)?
        .map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, format!("{what}: {e}")))
}

/// Runs blocking store and ledger work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(internal)?
}

/// The caller, as the server knows its token.
#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    name: String,
    role: Role,
    /// The identity an agent token acts as.
    agent: Option<String>,
}

/// Who the token is: how a gateway checks its token and learns its identity at start.
#[utoipa::path(get, path = "/v1/whoami",
    responses((status = 200, body = WhoAmI), (status = 401, body = ErrorBody)),
    security(("token" = [])))]
async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        name: caller.name,
        role: caller.role,
        agent: caller.agent,
    })
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: the store can be read.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, description = "the store cannot be read")))]
async fn readyz(Shared(state): St) -> Response {
    let size = blocking(move || state.store.with(|s| s.size()).map_err(internal)).await;
    match size {
        Ok(n) => Json(json!({"ready": true, "ledger_size": n})).into_response(),
        Err(ApiError(_, e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "error": e})),
        )
            .into_response(),
    }
}

async fn metrics(Shared(state): St) -> Response {
    let s = state.clone();
    let contained = blocking(move || s.store.with(|s| s.containments()).map_err(internal))
        .await
        .map(|c| c.len() as i64)
        .unwrap_or(-1);
    state.metrics.contained.set(contained);
    if state.metrics.record.due() {
        // Bounded reads (brig_incident::metrics), off the async threads; a failure leaves
        // the last figures standing.
        let s = state.clone();
        let figures = blocking(move || {
            s.store
                .with(|st| brig_incident::metrics::metrics(st, Vec::new(), None))
                .map_err(internal)
        })
        .await;
        match figures {
            Ok(m) => state.metrics.record.set(&m),
            Err(ApiError(_, e)) => tracing::warn!(error = %e, "incident metrics not computed"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Events to record, in Brig's event JSON (the same as `brig ingest` reads).
#[derive(Deserialize, ToSchema)]
pub struct IngestRequest {
    #[schema(value_type = Vec<Object>)]
    events: Vec<Value>,
}

/// Where each event was recorded, in order.
#[derive(Serialize, ToSchema)]
pub struct IngestResponse {
    recorded: Vec<Recorded>,
}

#[derive(Serialize, ToSchema)]
pub struct Recorded {
    index: u64,
    id: String,
    /// The id was recorded before; nothing new was written.
    duplicate: bool,
}

/// Records a batch durably, all or nothing: one invalid event refuses the batch, naming it.
/// An agent token may record only its own agent's events.
#[utoipa::path(post, path = "/v1/events", request_body = IngestRequest,
    responses((status = 200, body = IngestResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn ingest(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<IngestRequest>,
) -> Result<Json<IngestResponse>, ApiError> {
    require(&caller, &[Role::Agent, Role::Operator], "record events")?;
    let mut prepared = Vec::with_capacity(req.events.len());
    for (i, v) in req.events.into_iter().enumerate() {
        let e: NewEvent = serde_json::from_value(v)
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("events[{i}]: {e}")))?;
        if !caller.may_act_as(&e.agent) {
            return Err(forbidden(
                &format!("record events of agent `{}` (events[{i}])", e.agent),
                &caller,
            ));
        }
        if caller.role == Role::Agent && !agent_may_record(&e) {
            return Err(forbidden(
                &format!("record `{}` events (events[{i}])", e.kind),
                &caller,
            ));
        }
        prepared.push(
            Prepared::new(e)
                .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("events[{i}]: {e}")))?,
        );
    }
    let n = prepared.len() as u64;
    let start = Instant::now();
    state.metrics.queue_depth.inc();
    let result = append(&state, prepared, "not recorded").await;
    state.metrics.queue_depth.dec();
    let receipts = result?;
    state.metrics.events.inc_by(n);
    state
        .metrics
        .ingest_seconds
        .observe(start.elapsed().as_secs_f64());
    Ok(Json(IngestResponse {
        recorded: receipts
            .into_iter()
            .map(|r| Recorded {
                index: r.index,
                id: r.id.to_string(),
                duplicate: r.duplicate,
            })
            .collect(),
    }))
}

/// Whether an agent's own token may record `e`. Operator actions (an erasure record among
/// them) and incident transitions are the operators' and the server's word, so an agent that
/// forged one could cover its tracks; of response actions, a remote gateway records only that
/// it stopped its upstream server on a containment order.
fn agent_may_record(e: &NewEvent) -> bool {
    match e.kind {
        EventKind::OperatorAction | EventKind::IncidentTransition => false,
        EventKind::ResponseAction => e.attrs.get("action") == Some(&json!("kill_upstream")),
        _ => true,
    }
}

/// A tool call an agent is about to make.
#[derive(Deserialize, ToSchema)]
pub struct DecideRequest {
    /// The agent (an agent token: its own identity, the default).
    agent: Option<String>,
    workflow: Option<String>,
    /// The task the agent was given, as declared.
    task: Option<String>,
    /// The agent's session (conversation); one is made up when absent.
    session: Option<String>,
    /// The call's id, to correlate its result.
    call: Option<String>,
    tool: String,
    #[schema(value_type = Object)]
    #[serde(default)]
    arguments: Value,
}

/// Allow, deny or hold, and why; recorded in the ledger before it is answered.
#[derive(Serialize, ToSchema)]
pub struct DecideResponse {
    /// `allow`, `deny` or `hold` (a person must approve it first).
    effect: String,
    /// Why, for a denial (the text to show the agent).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// The held call's approval id.
    #[serde(skip_serializing_if = "Option::is_none")]
    approval: Option<String>,
    session: String,
}

/// The gateway's decision as a service: containment, then policy, then the detection rules
/// (a blocking rule denies), for one tool call; the call, the decision and any alerts are
/// recorded durably before the answer (fails closed), and alerts go to incident response.
#[utoipa::path(post, path = "/v1/decide", request_body = DecideRequest,
    responses((status = 200, body = DecideResponse), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn decide(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<DecideRequest>,
) -> Result<Json<DecideResponse>, ApiError> {
    require(&caller, &[Role::Agent, Role::Operator], "ask for decisions")?;
    let agent = match (&req.agent, &caller.agent) {
        (Some(a), _) => a.clone(),
        (None, Some(own)) => own.clone(),
        (None, None) => {
            return Err(ApiError(
                StatusCode::BAD_REQUEST,
                "`agent` is required".into(),
            ))
        }
    };
    if !caller.may_act_as(&agent) {
        return Err(forbidden(
            &format!("ask for decisions as agent `{agent}`"),
            &caller,
        ));
    }
    let start = Instant::now();
    let session = req
        .session
        .clone()
        .unwrap_or_else(|| EventId::new().to_string());
    let st = state.clone();
    let sess = session.clone();
    let (verdict, alerts) = blocking(move || {
        let who = Identity {
            agent: agent.clone(),
            workflow: req.workflow.clone(),
            task: req.task.clone(),
        };
        let rec = Recorder::new(st.appender.clone(), "api", agent, req.workflow, sess)
            .with_detection(st.detection.clone())
            .with_response(st.response.clone());
        let id = json!(req.call.unwrap_or_else(|| EventId::new().to_string()));
        let (events, decided) = {
            let mut guard = st.guard.lock().unwrap_or_else(|p| p.into_inner());
            call::decide(&mut guard, &who, &rec, &id, &req.tool, &req.arguments)
        };
        let alerts = events
            .iter()
            .filter(|e| e.kind == brig_model::EventKind::Alert)
            .count();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rec.record_then(events, move |r| {
            let _ = tx.send(r);
        });
        let durable = rx
            .recv()
            .unwrap_or_else(|_| Err("the ledger writer stopped".into()));
        let verdict = decided.settle(durable);
        if let Verdict::Hold(a) = &verdict {
            st.store.with(|s| s.add_approval(a)).map_err(internal)?;
        }
        Ok((verdict, alerts))
    })
    .await?;
    let (effect, reason, approval) = match verdict {
        Verdict::Forward => ("allow", None, None),
        Verdict::Refuse(text) => ("deny", Some(text), None),
        Verdict::Hold(a) => ("hold", None, Some(a.id)),
    };
    state
        .metrics
        .decisions
        .get_or_create(&EffectLabels {
            effect: effect.into(),
        })
        .inc();
    state.metrics.alerts.inc_by(alerts as u64);
    state
        .metrics
        .decide_seconds
        .observe(start.elapsed().as_secs_f64());
    Ok(Json(DecideResponse {
        effect: effect.into(),
        reason,
        approval,
        session,
    }))
}

/// One contained scope.
#[derive(Serialize, ToSchema)]
pub struct ContainedScope {
    /// `agent:ID`, `workflow:W`, `all` or `path:GLOB`.
    scope: String,
    reason: String,
    actor: String,
    since_nanos: i64,
    kill_upstream: bool,
}

/// What is contained now.
#[utoipa::path(get, path = "/v1/containment",
    responses((status = 200, body = Vec<ContainedScope>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn containment(
    Shared(state): St,
    caller: Caller,
) -> Result<Json<Vec<ContainedScope>>, ApiError> {
    require(
        &caller,
        &[Role::Operator, Role::Auditor],
        "read containment",
    )?;
    let rows = blocking(move || state.store.with(|s| s.containments()).map_err(internal)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|c| ContainedScope {
                scope: c.scope.key(),
                reason: c.reason,
                actor: c.actor,
                since_nanos: c.since_nanos,
                kill_upstream: c.kill_upstream,
            })
            .collect(),
    ))
}

/// An operator's kill-switch order.
#[derive(Deserialize, ToSchema)]
pub struct ContainRequest {
    /// `agent:ID`, `workflow:W`, `all` or `path:GLOB`.
    scope: String,
    /// Why (required: it is recorded in the ledger).
    reason: String,
    /// Also stop the upstream server processes behind the affected proxies.
    #[serde(default)]
    kill_upstream: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ContainResponse {
    contained: String,
    ledger_index: u64,
}

#[derive(Serialize, ToSchema)]
pub struct ReleaseResponse {
    released: String,
    was_contained: bool,
    ledger_index: u64,
}

fn order(req: ContainRequest, caller: &Caller) -> Result<Order, ApiError> {
    let scope = Scope::from_key(&req.scope).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "scope `{}`: expected agent:ID, workflow:W, all or path:GLOB",
                req.scope
            ),
        )
    })?;
    Ok(Order {
        scope,
        reason: req.reason,
        actor: format!("token:{}", caller.name),
        kill_upstream: req.kill_upstream,
    })
}

pub(crate) fn switch_error(e: switch::SwitchError) -> ApiError {
    use switch::SwitchError::*;
    match e {
        NoReason | BadPath(_) => ApiError(StatusCode::BAD_REQUEST, e.to_string()),
        e => internal(e),
    }
}

/// Contains a scope for every gateway sharing this store (operators only), recorded in the
/// ledger with the token's name.
#[utoipa::path(post, path = "/v1/containment", request_body = ContainRequest,
    responses((status = 200, body = ContainResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn contain(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<ContainRequest>,
) -> Result<Json<ContainResponse>, ApiError> {
    require(&caller, &[Role::Operator], "contain")?;
    let o = order(req, &caller)?;
    let scope = o.scope.key();
    let index = blocking(move || switch::contain(&state.data, &o).map_err(switch_error)).await?;
    Ok(Json(ContainResponse {
        contained: scope,
        ledger_index: index,
    }))
}

/// Lifts containment (operators only; an agent can never lift its own).
#[utoipa::path(post, path = "/v1/containment/release", request_body = ContainRequest,
    responses((status = 200, body = ReleaseResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn release(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<ContainRequest>,
) -> Result<Json<ReleaseResponse>, ApiError> {
    require(&caller, &[Role::Operator], "lift containment")?;
    let o = order(req, &caller)?;
    let scope = o.scope.key();
    let (was, index) =
        blocking(move || switch::release(&state.data, &o).map_err(switch_error)).await?;
    Ok(Json(ReleaseResponse {
        released: scope,
        was_contained: was,
        ledger_index: index,
    }))
}

/// One incident, in brief.
#[derive(Serialize, ToSchema)]
pub struct IncidentSummary {
    id: String,
    agent: String,
    state: String,
    /// 0 advisory, 1 policy violation, 2 security incident, 3 reportable breach.
    severity: u8,
    opened_nanos: i64,
    last_alert_nanos: i64,
}

/// Open incidents, newest first (`?all=true`: closed ones too).
#[utoipa::path(get, path = "/v1/incidents",
    params(("all" = Option<bool>, Query, description = "include closed incidents")),
    responses((status = 200, body = Vec<IncidentSummary>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn incidents(
    Shared(state): St,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<AllQuery>,
) -> Result<Json<Vec<IncidentSummary>>, ApiError> {
    require(&caller, &[Role::Operator, Role::Auditor], "read incidents")?;
    let rows = blocking(move || {
        state
            .store
            .with(|s| s.incidents(q.all.unwrap_or(false), 1000))
            .map_err(internal)
    })
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| IncidentSummary {
                id: r.id,
                agent: r.agent,
                state: r.state,
                severity: r.severity,
                opened_nanos: r.opened_nanos,
                last_alert_nanos: r.last_alert_nanos,
            })
            .collect(),
    ))
}

/// A call held for a person's decision.
#[derive(Serialize, ToSchema)]
pub struct ApprovalItem {
    id: String,
    /// pending, approved, denied, expired or cancelled.
    status: String,
    agent: String,
    workflow: Option<String>,
    tool: String,
    /// The call's normalized actions, for people.
    actions: String,
    /// The policies that held it.
    policies: String,
    /// The held `tool.call` in the ledger.
    ledger_index: u64,
    created_nanos: i64,
    decided_by: Option<String>,
    reason: Option<String>,
}

/// Held calls, oldest first (`?all=true`: every approval and how it ended). Operators and
/// auditors.
#[utoipa::path(get, path = "/v1/approvals",
    params(("all" = Option<bool>, Query, description = "include settled approvals")),
    responses((status = 200, body = Vec<ApprovalItem>), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn approvals(
    Shared(state): St,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<AllQuery>,
) -> Result<Json<Vec<ApprovalItem>>, ApiError> {
    require(&caller, &[Role::Operator, Role::Auditor], "read approvals")?;
    let all = q.all.unwrap_or(false);
    let rows = blocking(move || state.store.with(|s| s.approvals(all)).map_err(internal)).await?;
    Ok(Json(rows.into_iter().map(approval_item).collect()))
}

fn approval_item(a: brig_store::Approval) -> ApprovalItem {
    ApprovalItem {
        id: a.id,
        status: a.status,
        agent: a.agent,
        workflow: a.workflow,
        tool: a.tool,
        // What the held call does, as people read it: a secret on its command line redacted.
        actions: brig_model::secrets::redact_text(&a.summary),
        policies: a.policies,
        ledger_index: a.event_index,
        created_nanos: a.created_nanos,
        decided_by: a.decided_by,
        reason: a.reason,
    }
}

/// One approval: how an agent whose call was held (`/v1/decide` answered `hold`) learns
/// whether it may run it. Agent tokens see their own agent's approvals only.
#[utoipa::path(get, path = "/v1/approvals/{id}",
    params(("id" = String, Path, description = "the approval id")),
    responses((status = 200, body = ApprovalItem), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
async fn approval(
    Shared(state): St,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<ApprovalItem>, ApiError> {
    require(
        &caller,
        &[Role::Agent, Role::Operator, Role::Auditor],
        "read approvals",
    )?;
    let wanted = id.clone();
    let row = blocking(move || state.store.with(|s| s.approval(&wanted)).map_err(internal)).await?;
    let not_found = || ApiError(StatusCode::NOT_FOUND, format!("no approval with id {id}"));
    let a = row.ok_or_else(not_found)?;
    if caller.role == Role::Agent && !caller.may_act_as(&a.agent) {
        // The same answer as for an id that does not exist: an agent learns nothing of
        // other agents' calls.
        return Err(not_found());
    }
    Ok(Json(approval_item(a)))
}

/// An operator's decision on a held call.
#[derive(Deserialize, ToSchema)]
pub struct SettleRequest {
    /// Why (required: it is recorded in the ledger, and the agent reads it on a deny).
    reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct SettleResponse {
    id: String,
    status: String,
    /// The `approval.decision` event.
    ledger_index: u64,
}

/// Lets a held call run (operators only). The waiting gateway, wherever it runs, forwards
/// the call on its next look; the decision is a ledger event naming the token.
#[utoipa::path(post, path = "/v1/approvals/{id}/approve", request_body = SettleRequest,
    params(("id" = String, Path, description = "the approval id")),
    responses((status = 200, body = SettleResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
async fn approve(
    Shared(state): St,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    Json(req): Json<SettleRequest>,
) -> Result<Json<SettleResponse>, ApiError> {
    settle(state, caller, id, true, req.reason).await
}

/// Refuses a held call (operators only); the agent reads the reason.
#[utoipa::path(post, path = "/v1/approvals/{id}/deny", request_body = SettleRequest,
    params(("id" = String, Path, description = "the approval id")),
    responses((status = 200, body = SettleResponse), (status = 400, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
async fn deny(
    Shared(state): St,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
    Json(req): Json<SettleRequest>,
) -> Result<Json<SettleResponse>, ApiError> {
    settle(state, caller, id, false, req.reason).await
}

async fn settle(
    state: Arc<State>,
    caller: Caller,
    id: String,
    approve: bool,
    reason: String,
) -> Result<Json<SettleResponse>, ApiError> {
    require(&caller, &[Role::Operator], "decide held calls")?;
    let (approval, index) = settle_held(&state, &caller.name, id, approve, reason).await?;
    Ok(Json(SettleResponse {
        id: approval.id,
        status: if approve { "approved" } else { "denied" }.into(),
        ledger_index: index,
    }))
}

/// Settles a held call by the operator whose token is `token` and records the decision in
/// the ledger (its index returned); shared by the API and the console.
pub(crate) async fn settle_held(
    state: &Arc<State>,
    token: &str,
    id: String,
    approve: bool,
    reason: String,
) -> Result<(brig_store::Approval, u64), ApiError> {
    use brig_gateway::approval::{settle_by_operator, SettleError};
    let actor = format!("token:{token}");
    let st = state.clone();
    let (approval, event) = blocking(move || {
        st.store
            .with(|s| settle_by_operator(s, &id, approve, &actor, &reason))
            .map_err(|e| {
                let code = match &e {
                    SettleError::NoReason => StatusCode::BAD_REQUEST,
                    SettleError::NotFound(_) => StatusCode::NOT_FOUND,
                    SettleError::NotPending { .. } => StatusCode::CONFLICT,
                    SettleError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
                };
                ApiError(code, e.to_string())
            })
    })
    .await?;
    let prepared = Prepared::new(event).map_err(internal)?;
    let receipts = append(
        state,
        vec![prepared],
        "the decision was taken but not recorded",
    )
    .await?;
    Ok((approval, receipts[0].index))
}

/// What to export: one incident, one session, or one agent's events (optionally one of
/// its sessions, optionally between two times).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    incident: Option<String>,
    session: Option<String>,
    agent: Option<String>,
    /// RFC 3339; with `agent`.
    from: Option<String>,
    /// RFC 3339; with `agent`.
    to: Option<String>,
    /// zstd-compress the tar.
    #[serde(default)]
    zstd: bool,
    /// For the custody log (a case number, the request).
    note: Option<String>,
    /// Put the raw payloads that hold secrets in the bundle (withheld by default; readable
    /// files are redacted either way). Operators only; recorded in the ledger.
    #[serde(default)]
    include_secrets: bool,
}

fn export_scope(r: &ExportRequest) -> Result<brig_evidence::export::Scope, ApiError> {
    scope_of(&r.incident, &r.session, &r.agent, &r.from, &r.to)
}

/// The evidence scope a request names: exactly one of incident, session, agent.
fn scope_of(
    incident: &Option<String>,
    session: &Option<String>,
    agent: &Option<String>,
    from: &Option<String>,
    to: &Option<String>,
) -> Result<brig_evidence::export::Scope, ApiError> {
    use brig_evidence::export::Scope as S;
    let bad = |m: String| ApiError(StatusCode::BAD_REQUEST, m);
    let time = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(|t| {
                t.parse::<brig_model::Timestamp>()
                    .map_err(|e| bad(format!("{field} `{t}`: {e}")))
            })
            .transpose()
    };
    match (incident, session, agent) {
        (Some(i), None, None) => Ok(S::Incident(i.clone())),
        (None, Some(s), None) => Ok(S::Session(s.clone())),
        (None, session, Some(a)) => Ok(S::Agent {
            agent: a.clone(),
            session: session.clone(),
            from: time("from", from)?,
            to: time("to", to)?,
        }),
        _ => Err(bad(
            "give one of: incident; session; agent (with session, from, to if wanted)".into(),
        )),
    }
}

/// An evidence bundle of the scope, signed and proven against a fresh checkpoint, as a tar
/// (zstd-compressed on request) — the same bundle `brig evidence export` writes, which
/// `brig evidence verify` checks offline. Operators and auditors; the custody log names the
/// token. Headers: `X-Brig-Manifest-Sha256`, `X-Brig-Events`.
#[utoipa::path(post, path = "/v1/evidence/export", request_body = ExportRequest,
    responses((status = 200, description = "the bundle", content_type = "application/x-tar"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("token" = [])))]
async fn export_evidence(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<ExportRequest>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Operator, Role::Auditor], "export evidence")?;
    let scope = export_scope(&req)?;
    if req.include_secrets {
        require(&caller, &[Role::Operator], "export raw secrets")?;
    }
    let compressed = req.zstd;
    let opts = brig_evidence::export::Options {
        by: format!("token:{}", caller.name),
        compress: req.zstd,
        note: req.note,
        include_secrets: req.include_secrets,
    };
    let (file, summary) = blocking(move || {
        // Written to a private temporary file, opened, then unlinked: the open handle is
        // streamed, and nothing is left behind whatever happens to the connection.
        let dir = tempfile::tempdir().map_err(internal)?;
        let path = dir.path().join("bundle");
        let summary = export_recorded(&state, &scope, &path, &opts)?;
        let file = std::fs::File::open(&path).map_err(internal)?;
        Ok((file, summary))
    })
    .await?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(
        tokio::fs::File::from_std(file),
    ));
    let content_type = if compressed {
        "application/zstd"
    } else {
        "application/x-tar"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_LENGTH, summary.bytes.to_string()),
            (
                header::HeaderName::from_static("x-brig-manifest-sha256"),
                summary.manifest_sha256,
            ),
            (
                header::HeaderName::from_static("x-brig-events"),
                summary.events.to_string(),
            ),
        ],
        body,
    )
        .into_response())
}

/// Writes the evidence bundle of `scope` to `path` and records the export in the ledger (an
/// operator action naming `opts.by`); shared by the API and the console. Blocking.
pub(crate) fn export_recorded(
    state: &State,
    scope: &brig_evidence::export::Scope,
    path: &std::path::Path,
    opts: &brig_evidence::export::Options,
) -> Result<brig_evidence::export::Summary, ApiError> {
    let summary =
        brig_evidence::export::export(&state.data, scope, path, opts).map_err(evidence_error)?;
    // The export is an operator action like any other: in the ledger, with the token.
    let mut e = NewEvent::new("operator", "*", brig_model::EventKind::OperatorAction);
    e.attrs.insert("action".into(), json!("evidence.export"));
    e.attrs.insert("actor".into(), json!(opts.by));
    e.attrs.insert("events".into(), json!(summary.events));
    e.attrs
        .insert("manifest_sha256".into(), json!(summary.manifest_sha256));
    e.payload
        .insert("scope".into(), json!(format!("{scope:?}")));
    let recorded = Prepared::new(e)
        .map_err(|e| e.to_string())
        .and_then(|p| state.appender.append(vec![p]));
    if let Err(e) = recorded {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the export could not be recorded in the ledger: {e}"),
        ));
    }
    Ok(summary)
}

/// The files of a scope to roll back. Git history is reverted with the CLI only
/// (`brig rollback apply --git-revert`, on the repository's host).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    incident: Option<String>,
    session: Option<String>,
    agent: Option<String>,
    /// RFC 3339; with `agent`.
    from: Option<String>,
    /// RFC 3339; with `agent`.
    to: Option<String>,
    /// Only paths matching one of these globs.
    #[serde(default)]
    include: Vec<String>,
    /// Never paths matching one of these globs.
    #[serde(default)]
    exclude: Vec<String>,
    /// apply: restore this many items first, verify them, stop if any does not match.
    canary: Option<usize>,
    /// apply: say what would be done, change nothing.
    #[serde(default)]
    dry_run: bool,
}

fn plan_of(state: &State, r: &RollbackRequest) -> Result<brig_evidence::undo::Planned, ApiError> {
    let scope = scope_of(&r.incident, &r.session, &r.agent, &r.from, &r.to)?;
    let sel = brig_evidence::undo::Selection {
        include: r.include.clone(),
        exclude: r.exclude.clone(),
        git_revert: false,
    };
    plan_scope(state, &scope, &sel)
}

/// The rollback plan of `scope`; shared by the API and the console. Blocking.
pub(crate) fn plan_scope(
    state: &State,
    scope: &brig_evidence::export::Scope,
    sel: &brig_evidence::undo::Selection,
) -> Result<brig_evidence::undo::Planned, ApiError> {
    brig_evidence::undo::plan_scope(&state.data, scope, sel).map_err(evidence_error)
}

/// Verifies a plan against the files; when an operator (`who`) verified an incident's
/// rollback and every path matches, records its `recovered` step. Shared by the API and
/// the console. Blocking.
pub(crate) fn verify_recorded(
    state: &State,
    p: &brig_evidence::undo::Planned,
    scope: &brig_evidence::export::Scope,
    who: Option<&str>,
) -> Result<(Vec<brig_evidence::undo::Check>, Option<u64>), ApiError> {
    let checks = brig_evidence::undo::verify(p)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let Some(who) = who else {
        return Ok((checks, None));
    };
    let recovered = state
        .store
        .with(|s| {
            brig_evidence::undo::record_recovered(s, scope, &checks, who, |e| {
                let e = Prepared::new(e).map_err(|e| e.to_string())?;
                Ok(state.appender.append(vec![e])?[0].index)
            })
        })
        .map_err(evidence_error)?;
    Ok((checks, recovered))
}

/// Applies a plan (canary first), each step recorded in the ledger naming `who`; shared by
/// the API and the console. Blocking.
pub(crate) fn apply_recorded(
    state: &State,
    p: &brig_evidence::undo::Planned,
    canary: Option<usize>,
    dry_run: bool,
    who: &str,
) -> Result<Vec<brig_evidence::undo::Outcome>, ApiError> {
    let mut unrecorded = None;
    let outcomes = brig_evidence::undo::apply(p, canary, dry_run, |o| {
        if dry_run || unrecorded.is_some() {
            return;
        }
        let step = Prepared::new(brig_evidence::undo::step_event(who, o))
            .map_err(|e| e.to_string())
            .and_then(|e| state.appender.append(vec![e]));
        if let Err(e) = step {
            unrecorded = Some(e);
        }
    })
    .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    if let Some(e) = unrecorded {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("a rollback step could not be recorded in the ledger: {e}"),
        ));
    }
    Ok(outcomes)
}

/// An evidence or rollback failure as an answer: nothing in scope is 404, images that
/// cannot be planned from (altered, erased, a bad glob) 422, the rest 500.
pub(crate) fn evidence_error(e: brig_evidence::EvidenceError) -> ApiError {
    use brig_evidence::EvidenceError as E;
    let code = match &e {
        E::Empty(_) | E::Incident(brig_incident::desk::DeskError::NotFound(_)) => {
            StatusCode::NOT_FOUND
        }
        E::Rollback(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    ApiError(code, e.to_string())
}

/// What rolling back the scope would do, path by path (newest change first): restore,
/// nothing (already as before), or conflict (changed since by someone else: never
/// overwritten); with diffs, and the agent's git commits. Read on the server's host, from
/// the images its gateways recorded. Operators and auditors.
#[utoipa::path(post, path = "/v1/rollback/plan", request_body = RollbackRequest,
    responses((status = 200, description = "`{items, git}`, as `brig rollback plan --json`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("token" = [])))]
async fn rollback_plan(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<RollbackRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, &[Role::Operator, Role::Auditor], "plan a rollback")?;
    blocking(move || {
        let p = plan_of(&state, &req)?;
        Ok(Json(json!({"items": p.items, "git": p.branches})))
    })
    .await
}

/// Re-hashes every path of the scope against its pre-agent state. Operators and auditors.
/// When an operator verifies an incident's rollback and every path matches, the incident's
/// `recovered` step is recorded (once; `recovered` is its ledger index, else null).
#[utoipa::path(post, path = "/v1/rollback/verify", request_body = RollbackRequest,
    responses((status = 200, description = "`{matches, checks, recovered}`"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("token" = [])))]
async fn rollback_verify(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<RollbackRequest>,
) -> Result<Json<Value>, ApiError> {
    require(
        &caller,
        &[Role::Operator, Role::Auditor],
        "verify a rollback",
    )?;
    let who = (caller.role == Role::Operator).then(|| format!("token:{}", caller.name));
    blocking(move || {
        let p = plan_of(&state, &req)?;
        let scope = scope_of(&req.incident, &req.session, &req.agent, &req.from, &req.to)?;
        let (checks, recovered) = verify_recorded(&state, &p, &scope, who.as_deref())?;
        let matches = checks.iter().all(|c| c.matches);
        Ok(Json(
            json!({"matches": matches, "checks": checks, "recovered": recovered}),
        ))
    })
    .await
}

/// Restores the scope's pre-images on the server's host (operators only): each file
/// atomically, newest change first; a conflict is left as it is with the pre-image saved
/// beside it. Every step is a ledger event naming the token. Idempotent: running it again
/// finishes an interrupted apply.
#[utoipa::path(post, path = "/v1/rollback/apply", request_body = RollbackRequest,
    responses((status = 200, description = "`{outcomes}`, one per path"),
              (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)),
    security(("token" = [])))]
async fn rollback_apply(
    Shared(state): St,
    caller: Caller,
    Json(req): Json<RollbackRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&caller, &[Role::Operator], "roll back files")?;
    let who = format!("token:{}", caller.name);
    blocking(move || {
        let p = plan_of(&state, &req)?;
        let outcomes = apply_recorded(&state, &p, req.canary, req.dry_run, &who)?;
        Ok(Json(json!({"outcomes": outcomes})))
    })
    .await
}

#[derive(Deserialize)]
struct AllQuery {
    all: Option<bool>,
}

/// The latest signed checkpoint of the ledger.
#[derive(Serialize, ToSchema)]
pub struct Checkpoint {
    size: u64,
    /// Root hash, hex.
    root: String,
    /// The C2SP signed note, byte for byte.
    note: String,
}

/// The latest signed checkpoint (verify it offline with the ledger's key).
#[utoipa::path(get, path = "/v1/ledger/checkpoint",
    responses((status = 200, body = Checkpoint), (status = 404, body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn checkpoint(Shared(state): St, caller: Caller) -> Result<Json<Checkpoint>, ApiError> {
    require(
        &caller,
        &[Role::Operator, Role::Auditor],
        "read checkpoints",
    )?;
    let cp = blocking(move || {
        state
            .store
            .with(|s| s.latest_checkpoint())
            .map_err(internal)
    })
    .await?
    .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no checkpoint signed yet".into()))?;
    Ok(Json(Checkpoint {
        size: cp.size,
        root: hex_of(&cp.root),
        note: cp.note,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ProofQuery {
    /// The ledger index of the event.
    index: u64,
}

/// A C2SP tlog-proof that the event at `index` is in the ledger: the leaf itself, its
/// inclusion proof, and the signed checkpoint it is proven against (the newest). Anyone
/// checks it offline with the ledger's key (`brig ledger verify-proof FILE --key VKEY`).
/// 404 when there is no such event, 409 when no checkpoint covers it yet (one is signed
/// every few seconds while the ledger grows). Operators and auditors.
#[utoipa::path(get, path = "/v1/ledger/proof", params(ProofQuery),
    responses((status = 200, description = "the proof", content_type = "text/plain"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("token" = [])))]
async fn proof(
    Shared(state): St,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<ProofQuery>,
) -> Result<Response, ApiError> {
    require(&caller, &[Role::Operator, Role::Auditor], "read proofs")?;
    let text = blocking(move || {
        let mut ledger = state.data.ledger().map_err(internal)?;
        let size = ledger.size().map_err(internal)?;
        if q.index >= size {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!("no event at index {} (the ledger holds {size})", q.index),
            ));
        }
        let cp = ledger.checkpoint_covering(q.index, true).map_err(|e| {
            ApiError(
                StatusCode::CONFLICT,
                format!("{e}: no signed checkpoint covers it yet; ask again shortly"),
            )
        })?;
        let p = ledger.prove(q.index, &cp, true).map_err(internal)?;
        Ok(p.to_text())
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AlertsQuery {
    /// The first ledger index to look from [default: 0].
    from: Option<u64>,
    /// At most this many [default: 1000, at most 10000].
    limit: Option<usize>,
}

/// Alerts recorded in the ledger, oldest first, from `from` on: `[{index, event}]`, each
/// event as the ledger holds it (payload digests only). Operators and auditors.
#[utoipa::path(get, path = "/v1/alerts", params(AlertsQuery),
    responses((status = 200, description = "`[{index, event}]`"),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("token" = [])))]
async fn alerts(
    Shared(state): St,
    caller: Caller,
    axum::extract::Query(q): axum::extract::Query<AlertsQuery>,
) -> Result<Json<Vec<Value>>, ApiError> {
    require(&caller, &[Role::Operator, Role::Auditor], "read alerts")?;
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    blocking(move || {
        state.store.with(|s| {
            let indices = s
                .kinds_since(q.from.unwrap_or(0), &["alert"], limit)
                .map_err(internal)?;
            let mut out = Vec::with_capacity(indices.len());
            for i in indices {
                let row = s.leaf(i).map_err(internal)?;
                let mut event = row
                    .and_then(|r| brig_model::Event::from_leaf(&r.leaf).ok())
                    .ok_or_else(|| internal(format!("ledger row {i} is unreadable")))?;
                // Read by people and SIEM pollers: a secret an alert quotes is redacted
                // (the exact leaf is what /v1/proof and evidence bundles carry).
                brig_model::secrets::redact_event(&mut event);
                out.push(json!({"index": i, "event": event}));
            }
            Ok(Json(out))
        })
    })
    .await
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
