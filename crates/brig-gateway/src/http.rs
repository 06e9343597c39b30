//! The MCP proxy over Streamable HTTP.
//!
//! ```text
//! agent's MCP client ──POST/GET/DELETE /mcp──▶ brig mcp-proxy ──same──▶ MCP server URL
//!                    ◀──JSON or SSE stream───                ◀─────────
//! ```
//!
//! Brig listens where the agent's client connects and relays each HTTP request to the
//! upstream URL. A POSTed `tools/call` is decided and written ahead exactly as over stdio
//! and only then forwarded; a refused call is answered by Brig with a tool error (HTTP 200,
//! JSON). Responses come back as one JSON body or as an SSE stream: either way every
//! message in them is recorded (the call's answer as its `tool.result`) and relayed; an SSE
//! event that is not JSON or is too large is recorded and dropped. GET streams (server →
//! agent requests and notifications) and DELETE (end of session) pass through, recorded.
//!
//! Sessions: each MCP session (`Mcp-Session-Id`, assigned by the server at `initialize`)
//! is one Brig session; its events carry the MCP id as attrs `mcp_session`.
//!
//! The listener serves the MCP endpoint and nothing else: the agent's side has no path to
//! any operator function. Plain `http://` upstreams only (no TLS client is built in).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use brig_model::{EventId, EventKind};
use brig_store::DataDir;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::approval;
use crate::call::{self, call_id, Verdict};
use crate::guard::Guard;
use crate::jsonrpc::{self, Message};
use crate::record::{Recorder, TO_AGENT, TO_SERVER};
use crate::sse;
use crate::stdio::refusal_of;
use crate::{finish_appender, start_appender, ProxyError, ProxyOptions};

/// The path Brig serves MCP on.
pub const ENDPOINT: &str = "/mcp";

/// Where to listen and where to relay.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    pub upstream: String,
}

const SESSION_HEADER: &str = "mcp-session-id";

/// Headers that belong to one hop and are never relayed (plus the ones Brig sets itself).
/// `accept-encoding` is dropped so the upstream answers in plain text Brig can read.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
    "accept-encoding",
    "content-encoding",
];

struct Proxy {
    opts: ProxyOptions,
    data: DataDir,
    guard: Mutex<Guard>,
    /// Records what belongs to no MCP session (a stateless server's traffic).
    rec: Recorder,
    sessions: Mutex<HashMap<String, Recorder>>,
    held: approval::Held,
    client: reqwest::Client,
    upstream: reqwest::Url,
}

type Shared = Arc<Proxy>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs until SIGINT or SIGTERM. `ready` is told the bound address (useful with port 0).
pub fn run(
    opts: ProxyOptions,
    http: HttpOptions,
    data: &DataDir,
    guard: Guard,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ProxyError> {
    let upstream = parse_upstream(&http.upstream)?;
    let appender = start_appender(data)?;
    let rec = Recorder::new(
        appender.clone(),
        "mcp-proxy",
        opts.who.agent.clone(),
        opts.who.workflow.clone(),
        EventId::new().to_string(),
    )
    .with_detection(opts.detection.clone());
    let response = crate::response::Response::start_for(&opts, data, &appender)?;
    let images = crate::images::Imager::open(data, &opts.workspace)
        .map_err(|e| ProxyError::Images(e.to_string()))?;
    let rec = rec
        .with_response(response.clone())
        .with_images(Some(std::sync::Arc::new(images)));
    // Proof of life until a clean exit (dropped below: the gateway is marked stopped).
    let heartbeat = match opts.heartbeat {
        Some(every) => Some(crate::heartbeat::Heartbeat::start(
            crate::heartbeat::Pulse::Local(data.store()?),
            &opts.who.agent,
            rec.session(),
            every,
        )),
        None => None,
    };
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| ProxyError::Upstream {
            url: http.upstream.clone(),
            reason: e.to_string(),
        })?;
    let proxy = Arc::new(Proxy {
        opts,
        data: data.clone(),
        guard: Mutex::new(guard),
        rec,
        sessions: Mutex::new(HashMap::new()),
        held: approval::Held::default(),
        client,
        upstream,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(proxy.clone(), http.listen, ready))?;
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    approval::cancel_pending(data, &proxy.rec, &proxy.held.all(), approval::SESSION_ENDED);
    drop(proxy);
    if let Some(r) = &response {
        r.finish();
    }
    drop(heartbeat);
    finish_appender(appender);
    Ok(())
}

fn parse_upstream(url: &str) -> Result<reqwest::Url, ProxyError> {
    let bad = |reason: &str| ProxyError::Upstream {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "http" => Ok(parsed),
        "https" => Err(bad(
            "https upstreams are not supported yet: reach the server over http:// (for example through a local TLS-terminating tunnel)",
        )),
        other => Err(bad(&format!("scheme `{other}` is not http"))),
    }
}

async fn serve(
    proxy: Shared,
    listen: SocketAddr,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ProxyError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ProxyError::Listen {
            addr: listen.to_string(),
            source,
        })?;
    ready(listener.local_addr()?);
    let app = Router::new()
        .route(ENDPOINT, any(endpoint))
        .layer(DefaultBodyLimit::disable())
        .with_state(proxy);
    let server = axum::serve(listener, app);
    tokio::select! {
        r = server => r?,
        () = shutdown_signal() => {}
    }
    Ok(())
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

async fn endpoint(
    State(proxy): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match method {
        Method::POST => proxy.post(headers, body).await,
        Method::GET | Method::DELETE => proxy.pass(method, headers).await,
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, POST, DELETE")],
        )
            .into_response(),
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// A tools/call the proxy forwards, to recognize its answer.
#[derive(Clone)]
struct CallRef {
    id: Value,
    tool: String,
}

impl Proxy {
    /// The recorder for the session a request belongs to; `initialize` starts a new one.
    fn recorder(&self, headers: &HeaderMap, initialize: bool) -> Recorder {
        let sid = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match sid {
            Some(sid) => lock(&self.sessions)
                .entry(sid.clone())
                .or_insert_with(|| self.new_session(Some(sid)))
                .clone(),
            None if initialize => self.new_session(None),
            None => self.rec.clone(),
        }
    }

    fn new_session(&self, mcp_session: Option<String>) -> Recorder {
        let tags = mcp_session
            .map(|s| vec![("mcp_session".to_string(), json!(s))])
            .unwrap_or_default();
        let rec = self.rec.for_session(EventId::new().to_string(), tags);
        if let Some(task) = &self.opts.who.task {
            let mut e = rec.event(EventKind::AgentPrompt);
            e.payload.insert("task".into(), json!(task));
            rec.record(e);
        }
        rec
    }

    /// Remembers the MCP session the server assigned at `initialize`.
    fn bind_session(&self, rec: &Recorder, response: &reqwest::Response) -> Recorder {
        let Some(sid) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return rec.clone();
        };
        let bound = rec.for_session(
            rec.session().to_string(),
            vec![("mcp_session".to_string(), json!(sid))],
        );
        lock(&self.sessions).insert(sid.to_string(), bound.clone());
        bound
    }

    async fn post(self: Arc<Self>, headers: HeaderMap, body: Body) -> Response {
        let limit = self.opts.max_message_bytes;
        let session_rec = self.recorder(&headers, false);
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(e) => {
                session_rec.record(session_rec.malformed(TO_SERVER, "too large", &[], limit + 1));
                let msg =
                    format!("message body unreadable or over the limit of {limit} bytes ({e})");
                return json_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &jsonrpc::error(Value::Null, jsonrpc::INVALID_REQUEST, &msg),
                );
            }
        };
        let value: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                session_rec.record(session_rec.malformed(
                    TO_SERVER,
                    "not JSON",
                    &bytes,
                    bytes.len(),
                ));
                let msg = format!("Parse error: {e}");
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &jsonrpc::error(Value::Null, jsonrpc::PARSE_ERROR, &msg),
                );
            }
        };
        let msg = Message::classify(&value);
        let initialize = msg.method() == Some("initialize");
        let rec = if initialize {
            self.recorder(&headers, true)
        } else {
            session_rec
        };
        match msg {
            Message::ToolCall {
                id,
                tool,
                arguments,
            } => self.call(rec, headers, bytes, id, tool, arguments).await,
            other => {
                rec.record(rec.message(TO_SERVER, &other, value.clone()));
                if let Some(refusal) = refusal_of(&other, &value) {
                    return json_response(StatusCode::BAD_REQUEST, &refusal);
                }
                if let Some(request) = approval::cancelled_request(&value) {
                    if let Some(a) = self.held.remove(&held_key(&rec, request)) {
                        approval::cancel_call(&self.data, &rec, &a, request);
                    }
                }
                let id = match &other {
                    Message::Request { id, .. } => id.clone(),
                    _ => Value::Null,
                };
                self.forward(
                    &rec,
                    Method::POST,
                    headers,
                    Some(bytes),
                    None,
                    id,
                    initialize,
                )
                .await
            }
        }
    }

    async fn call(
        self: Arc<Self>,
        rec: Recorder,
        headers: HeaderMap,
        bytes: Bytes,
        id: Value,
        tool: String,
        arguments: Value,
    ) -> Response {
        let (events, decided) = {
            let mut guard = lock(&self.guard);
            call::decide(&mut guard, &self.opts.who, &rec, &id, &tool, &arguments)
        };
        let (tx, rx) = oneshot::channel();
        rec.record_then(events, move |durable| {
            let _ = tx.send(decided.settle(durable));
        });
        let verdict = rx.await.unwrap_or_else(|_| {
            Verdict::Refuse("This tool call was blocked by Brig and not run: the ledger writer stopped, and Brig fails closed".into())
        });
        let refuse =
            |text: &str| json_response(StatusCode::OK, &jsonrpc::tool_refusal(id.clone(), text));
        match verdict {
            Verdict::Forward => {}
            Verdict::Refuse(text) => return refuse(&text),
            Verdict::Hold(a) => {
                let key = held_key(&rec, &id);
                self.held.insert(key.clone(), a.id.clone());
                let (proxy, rec2, cid) = (self.clone(), rec.clone(), call_id(&id));
                let waited = tokio::task::spawn_blocking(move || {
                    let timeout = proxy.opts.approval_timeout;
                    approval::hold_and_wait(&proxy.data, &proxy.opts.who, &rec2, &a, &cid, timeout)
                })
                .await
                .unwrap_or_else(|e| {
                    Err(format!(
                        "This tool call was held for approval and not run: the wait failed ({e})"
                    ))
                });
                self.held.remove(&key);
                if let Err(text) = waited {
                    return refuse(&text);
                }
            }
        }
        let call = CallRef {
            id: id.clone(),
            tool,
        };
        self.forward(
            &rec,
            Method::POST,
            headers,
            Some(bytes),
            Some(call),
            id,
            false,
        )
        .await
    }

    /// GET (the server's stream to the agent) and DELETE (end of session).
    async fn pass(self: Arc<Self>, method: Method, headers: HeaderMap) -> Response {
        let rec = self.recorder(&headers, false);
        if method == Method::DELETE {
            let mut e = rec.event(EventKind::ProtocolMessage);
            e.attrs.insert("direction".into(), json!(TO_SERVER));
            e.attrs.insert("http".into(), json!("DELETE"));
            rec.record(e);
        }
        self.forward(&rec, method, headers, None, None, Value::Null, false)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn forward(
        &self,
        rec: &Recorder,
        method: Method,
        headers: HeaderMap,
        body: Option<Bytes>,
        call: Option<CallRef>,
        id: Value,
        initialize: bool,
    ) -> Response {
        let mut req = self.client.request(method, self.upstream.clone());
        for (name, value) in &headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                req = req.header(name, value);
            }
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                let msg = format!("the upstream server cannot be reached ({e})");
                return upstream_failure(rec, call.as_ref(), id, &msg);
            }
        };
        let rec = if initialize {
            self.bind_session(rec, &resp)
        } else {
            rec.clone()
        };
        let status = resp.status();
        let mut out_headers = HeaderMap::new();
        for (name, value) in resp.headers() {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                out_headers.append(name.clone(), value.clone());
            }
        }
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let limit = self.opts.max_message_bytes;
        if content_type.starts_with("text/event-stream") {
            let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(16);
            tokio::spawn(relay_events(resp, rec, call, limit, tx));
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            });
            return with_headers(status, out_headers, Body::from_stream(stream));
        }
        let bytes = match read_limited(resp, limit).await {
            Ok(b) => b,
            Err(why) => {
                rec.record(rec.malformed(TO_AGENT, &why, &[], 0));
                let msg = format!("the upstream server's response was dropped: {why}");
                return upstream_failure(&rec, call.as_ref(), id, &msg);
            }
        };
        if content_type.starts_with("application/json") && !bytes.is_empty() {
            if !record_from_server(&rec, call.as_ref(), &bytes) {
                let msg = "the upstream server's response was dropped: it is not JSON";
                return upstream_failure(&rec, call.as_ref(), id, msg);
            }
        } else if !bytes.is_empty() || !status.is_success() {
            // Not MCP traffic (an HTTP error page, say): recorded as such, relayed.
            let mut e = rec.event(EventKind::ProtocolMessage);
            e.attrs.insert("direction".into(), json!(TO_AGENT));
            e.attrs.insert("http_status".into(), json!(status.as_u16()));
            let keep = &bytes[..bytes.len().min(4096)];
            e.payload
                .insert("raw".into(), json!(String::from_utf8_lossy(keep)));
            rec.record(e);
        }
        with_headers(status, out_headers, Body::from(bytes))
    }
}

/// A held call's key: its MCP session and JSON-RPC id.
fn held_key(rec: &Recorder, id: &Value) -> String {
    format!("{}#{}", rec.session(), crate::jsonrpc::id_key(id))
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = headers;
    r
}

/// The agent's answer when the upstream failed: a tool error for a call (so an agent
/// reads it like any refusal), a JSON-RPC error otherwise.
fn upstream_failure(rec: &Recorder, call: Option<&CallRef>, id: Value, why: &str) -> Response {
    let mut e = rec.event(EventKind::ProtocolMessage);
    e.attrs.insert("direction".into(), json!(TO_AGENT));
    e.attrs.insert("upstream_failure".into(), json!(why));
    rec.record(e);
    match call {
        Some(c) => {
            let text = format!("This tool call was allowed by Brig, but {why}");
            json_response(StatusCode::OK, &jsonrpc::tool_refusal(c.id.clone(), &text))
        }
        None => json_response(
            StatusCode::BAD_GATEWAY,
            &jsonrpc::error(id, jsonrpc::INTERNAL_ERROR, why),
        ),
    }
}

async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Bytes, String> {
    let mut buf = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if buf.len() + c.len() > limit {
                    return Err(format!("too large (over {limit} bytes)"));
                }
                buf.extend_from_slice(&c);
            }
            Ok(None) => return Ok(Bytes::from(buf)),
            Err(e) => return Err(format!("unreadable ({e})")),
        }
    }
}

/// Records one message (or batch) from the server; false when it is not JSON.
fn record_from_server(rec: &Recorder, call: Option<&CallRef>, bytes: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        rec.record(rec.malformed(TO_AGENT, "not JSON", bytes, bytes.len()));
        return false;
    };
    let msg = Message::classify(&value);
    match (call, &msg) {
        (Some(c), Message::Response { id, .. }) if *id == c.id => {
            rec.record(rec.tool_result(&c.tool, &call_id(&c.id), &value));
        }
        _ => rec.record(rec.message(TO_AGENT, &msg, value)),
    }
    true
}

/// Relays an SSE response event by event, recording each message.
async fn relay_events(
    mut resp: reqwest::Response,
    rec: Recorder,
    call: Option<CallRef>,
    limit: usize,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let mut parser = sse::Parser::new(limit);
    loop {
        let chunk = match resp.chunk().await {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e))).await;
                return;
            }
        };
        for event in parser.push(&chunk) {
            if event.len > limit {
                eprintln!(
                    "brig mcp-proxy: dropped a {}-byte event from the server (limit {limit})",
                    event.len
                );
                rec.record(rec.malformed(TO_AGENT, "too large", &[], event.len));
                continue;
            }
            if !event.data.is_empty()
                && !record_from_server(&rec, call.as_ref(), event.data.as_bytes())
            {
                eprintln!("brig mcp-proxy: dropped an event from the server that is not JSON");
                continue;
            }
            if tx.send(Ok(Bytes::from(event.encode()))).await.is_err() {
                return; // the agent went away
            }
        }
    }
}
