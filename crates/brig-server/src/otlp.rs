//! `POST /v1/traces`: OTLP/HTTP trace export, for agents that emit OpenTelemetry GenAI spans
//! instead of going through a Brig gateway.
//!
//! Bodies are `application/x-protobuf` or `application/json`, optionally
//! `Content-Encoding: gzip`; the answer is an `ExportTraceServiceResponse` in the request's
//! encoding (400 with a `google.rpc.Status` for a body that cannot be decoded, 415 for other
//! content types). Spans become events through `brig_detect::otlp`, the one mapping
//! `brig detect --input` also uses.
//!
//! Passive: the spans describe calls that already ran, so nothing can be blocked. Each event
//! passes the server's rule pack (its memory is per session, as for `/v1/decide`), alerts
//! are recorded with it and filed into incidents by the same incident response, and the
//! batch is appended through the same writer as `/v1/events`. A span the mapping cannot
//! read, or one an agent token sends for another agent, is rejected on its own: counted in
//! the answer's `partialSuccess`, in `/metrics` and in the log, never silently dropped.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State as Shared;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use brig_detect::otlp::{self, proto, Rejected};
use brig_gateway::record::Recorder;
use brig_ledger::Prepared;
use brig_model::{EventKind, NewEvent};
use serde_json::json;

use crate::auth::{Caller, Role};
use crate::routes::{append, blocking, require, ApiError};
use crate::{State, MAX_BODY};

/// The OTLP listener's routes (`brig serve --otlp-listen`): `/v1/traces` alone, with the
/// API's body limit and request accounting.
pub fn app(state: Arc<State>) -> axum::Router {
    axum::Router::new()
        .route("/v1/traces", axum::routing::post(traces))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::routes::track,
        ))
        .with_state(state)
}

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

/// gRPC's INVALID_ARGUMENT, the code of an undecodable body's `google.rpc.Status`.
const INVALID_ARGUMENT: i32 = 3;

/// The request's encoding, which the answer uses too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// Export trace spans (OTLP/HTTP).
#[utoipa::path(post, path = "/v1/traces",
    request_body(description = "An OTLP ExportTraceServiceRequest: protobuf or JSON, optionally gzip-compressed",
                 content((Vec<u8> = "application/x-protobuf"), (Object = "application/json"))),
    responses((status = 200, description = "ExportTraceServiceResponse in the request's encoding; partialSuccess counts the spans rejected and says why"),
              (status = 400, description = "the body is not an ExportTraceServiceRequest (a google.rpc.Status says why)"),
              (status = 401, body = crate::routes::ErrorBody), (status = 403, body = crate::routes::ErrorBody),
              (status = 415, description = "not application/x-protobuf or application/json")),
    security(("token" = [])))]
pub(crate) async fn traces(
    Shared(state): Shared<Arc<State>>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(e) = require(&caller, &[Role::Agent, Role::Operator], "export traces") {
        return e.into_response();
    }
    let encoding = match content_type(&headers) {
        Some(e) => e,
        None => {
            return (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Type must be {PROTOBUF} or {JSON}"),
            )
                .into_response()
        }
    };
    match export(state, caller, &headers, body, encoding).await {
        Ok(r) => r,
        Err(Failure::BadRequest(why)) => answer(
            encoding,
            StatusCode::BAD_REQUEST,
            match encoding {
                Encoding::Protobuf => proto::encode_status(INVALID_ARGUMENT, &why),
                Encoding::Json => json!({"code": INVALID_ARGUMENT, "message": why})
                    .to_string()
                    .into_bytes(),
            },
        ),
        Err(Failure::Api(e)) => e.into_response(),
    }
}

enum Failure {
    BadRequest(String),
    Api(ApiError),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

async fn export(
    state: Arc<State>,
    caller: Caller,
    headers: &HeaderMap,
    body: Bytes,
    encoding: Encoding,
) -> Result<Response, Failure> {
    let start = Instant::now();
    let body = decompress(headers, body)?;
    let st = state.clone();
    let (accepted, rejected, prepared, alerts) = blocking(move || {
        let resources = match encoding {
            Encoding::Protobuf => proto::decode(&body).map_err(|e| e.to_string()),
            Encoding::Json => serde_json::from_slice(&body)
                .map_err(|e| format!("not JSON: {e}"))
                .and_then(|doc| {
                    otlp::from_json(&doc).ok_or_else(|| {
                        "not an OTLP ExportTraceServiceRequest (no `resourceSpans` array)".into()
                    })
                }),
        };
        let resources = match resources {
            Ok(r) => r,
            Err(why) => return Ok(Err(why)),
        };
        Ok(Ok(observe(&st, &caller, otlp::map(&resources))))
    })
    .await?
    .map_err(Failure::BadRequest)?;
    if !prepared.is_empty() {
        state.metrics.queue_depth.inc();
        let result = append(&state, prepared, "not recorded").await;
        state.metrics.queue_depth.dec();
        let receipts = result?;
        state.metrics.events.inc_by(receipts.len() as u64);
    }
    state.metrics.otlp_spans.inc_by(accepted);
    state.metrics.otlp_rejected.inc_by(rejected.len() as u64);
    state.metrics.alerts.inc_by(alerts);
    state
        .metrics
        .ingest_seconds
        .observe(start.elapsed().as_secs_f64());
    let message = summary(&rejected);
    if !rejected.is_empty() {
        tracing::warn!(rejected = rejected.len(), accepted, reason = %message, "OTLP spans rejected");
    }
    let n = rejected.len() as i64;
    let body = match encoding {
        Encoding::Protobuf => proto::encode_response(n, &message),
        Encoding::Json if n == 0 => b"{}".to_vec(),
        Encoding::Json => json!({"partialSuccess": {"rejectedSpans": n, "errorMessage": message}})
            .to_string()
            .into_bytes(),
    };
    Ok(answer(encoding, StatusCode::OK, body))
}

/// Runs each span's events through the rule pack (alerts filed into incidents), leaving
/// out the spans of other agents than an agent token's own and those that cannot be
/// recorded. Returns the spans accepted, those rejected, the events to append and the
/// number of alerts raised.
fn observe(
    st: &State,
    caller: &Caller,
    mapped: otlp::Mapped,
) -> (u64, Vec<Rejected>, Vec<Prepared>, u64) {
    // One recorder serves every session: the events already name theirs, and the
    // detector keeps its memory per session, agent and workflow.
    let rec = Recorder::new(
        st.appender.clone(),
        otlp::SOURCE,
        String::new(),
        None,
        String::new(),
    )
    .with_detection(st.detection.clone())
    .with_response(st.response.clone());
    let mut rejected = mapped.rejected;
    let mut prepared = Vec::new();
    let (mut accepted, mut alerts) = (0u64, 0u64);
    for span in mapped.spans {
        if let Some(other) = span.iter().find(|e| !caller.may_act_as(&e.agent)) {
            rejected.push(Rejected {
                span_id: span_id(other),
                reason: format!(
                    "token `{}` may not record spans of agent `{}`",
                    caller.name, other.agent
                ),
            });
            continue;
        }
        let events: Vec<NewEvent> = span.into_iter().flat_map(|e| rec.observed(e)).collect();
        let raised = events.iter().filter(|e| e.kind == EventKind::Alert).count();
        let id = events.first().map(span_id).unwrap_or_default();
        match events
            .into_iter()
            .map(Prepared::new)
            .collect::<Result<Vec<_>, _>>()
        {
            Ok(p) => {
                prepared.extend(p);
                accepted += 1;
                alerts += raised as u64;
            }
            Err(e) => rejected.push(Rejected {
                span_id: id,
                reason: e.to_string(),
            }),
        }
    }
    (accepted, rejected, prepared, alerts)
}

fn span_id(e: &NewEvent) -> String {
    e.attrs
        .get("span_id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

/// The partial-success message: how many spans were rejected and why, the first few named.
fn summary(rejected: &[Rejected]) -> String {
    const NAMED: usize = 5;
    if rejected.is_empty() {
        return String::new();
    }
    let mut parts: Vec<String> = rejected
        .iter()
        .take(NAMED)
        .map(|r| format!("span {}: {}", r.span_id, r.reason))
        .collect();
    if rejected.len() > NAMED {
        parts.push(format!("and {} more", rejected.len() - NAMED));
    }
    format!("{} spans rejected: {}", rejected.len(), parts.join("; "))
}

fn content_type(headers: &HeaderMap) -> Option<Encoding> {
    let v = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = v.split(';').next()?.trim().to_ascii_lowercase();
    match mime.as_str() {
        PROTOBUF => Some(Encoding::Protobuf),
        JSON => Some(Encoding::Json),
        _ => None,
    }
}

/// The body, gunzipped when `Content-Encoding: gzip`; at most [`MAX_BODY`] bytes once
/// inflated (413 beyond), so a small bomb cannot fill memory.
fn decompress(headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, Failure> {
    let coding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match coding.as_deref() {
        None | Some("identity") => Ok(body.to_vec()),
        Some("gzip") => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .take(MAX_BODY as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| Failure::BadRequest(format!("gzip: {e}")))?;
            if out.len() > MAX_BODY {
                return Err(Failure::Api(ApiError(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the inflated body is over {MAX_BODY} bytes"),
                )));
            }
            Ok(out)
        }
        Some(other) => Err(Failure::Api(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Content-Encoding `{other}`: only gzip is accepted"),
        ))),
    }
}

fn answer(encoding: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    let ct = match encoding {
        Encoding::Protobuf => PROTOBUF,
        Encoding::Json => JSON,
    };
    (status, [(header::CONTENT_TYPE, ct)], body).into_response()
}
