//! A gateway whose state is a control plane elsewhere (`brig mcp-proxy --server URL`).
//!
//! The host running the agent holds no database credentials and no signing key: only an
//! agent token, which lets it ask and report for its own agent. Each `tools/call` is
//! decided by the control plane (`POST /v1/decide`: containment, policy and the server's
//! rules; the call and its decision recorded there before the answer); everything else the
//! session sees goes up as events (`POST /v1/events`, in order, batched, retried); a held
//! call waits on `GET /v1/approvals/{id}`; and the kill switch arrives over
//! `GET /v1/stream`, so a containment that asks for it stops the upstream server at once.
//!
//! Fail closed: when the control plane cannot be reached, calls are refused. The one
//! exception is a configurable grace for calls whose every action only reads
//! (`--offline-grace-reads SECS`), counted from the last answer the control plane gave;
//! such a call is reported once the control plane is back. A write is never let through
//! on a guess.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use brig_model::NewEvent;
use serde_json::{json, Value};

use crate::record::{EventSink, Then};

/// How long one request to the control plane may take before the call it decides is
/// refused.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Most events in one upload.
const BATCH: usize = 500;
/// Events waiting for upload beyond which calls are refused: the gateway could no longer
/// account for what the agent does.
pub const MAX_BACKLOG: usize = 100_000;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No answer (connection refused, timeout, a 5xx): the control plane is unavailable.
    #[error("the control plane is unreachable: {0}")]
    Unreachable(String),
    /// An answer that refuses the request (4xx), with the server's reason.
    #[error("the control plane refused: {status} {message}")]
    Refused { status: u16, message: String },
}

/// Who the token is, as the control plane says.
#[derive(Clone, Debug)]
pub struct Token {
    pub name: String,
    pub role: String,
    pub agent: Option<String>,
}

/// The connection to a control plane, usable from plain threads.
pub struct ControlPlane {
    base: String,
    token: String,
    client: reqwest::Client,
    rt: tokio::runtime::Runtime,
    last_ok: Mutex<Option<Instant>>,
    /// The control plane stopped answering (said once on stderr, and again when it is back).
    away: std::sync::atomic::AtomicBool,
}

impl ControlPlane {
    /// Connects and checks the token: it must be a live agent token.
    pub fn connect(base: &str, token: &str) -> Result<(Arc<ControlPlane>, Token), CallError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| CallError::Unreachable(e.to_string()))?;
        let cp = Arc::new(ControlPlane {
            base: base.trim_end_matches('/').to_string(),
            token: token.trim().to_string(),
            client,
            rt,
            last_ok: Mutex::new(None),
            away: Default::default(),
        });
        let me = cp.request("GET", "/v1/whoami", None, REQUEST_TIMEOUT)?;
        let token = Token {
            name: me["name"].as_str().unwrap_or_default().to_string(),
            role: me["role"].as_str().unwrap_or_default().to_string(),
            agent: me["agent"].as_str().map(str::to_string),
        };
        Ok((cp, token))
    }

    /// Whether the control plane answered within the last `d`.
    pub fn answered_within(&self, d: Duration) -> bool {
        let last = *self.last_ok.lock().unwrap_or_else(|p| p.into_inner());
        last.is_some_and(|t| t.elapsed() <= d)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Result<Value, CallError> {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.client.get(&url),
            _ => self.client.post(&url),
        }
        .bearer_auth(&self.token)
        .timeout(timeout);
        if let Some(b) = body {
            req = req.json(b);
        }
        let answer = self.rt.block_on(async move {
            let res = req.send().await.map_err(|e| e.to_string())?;
            let status = res.status().as_u16();
            let text = res.text().await.map_err(|e| e.to_string())?;
            Ok::<_, String>((status, text))
        });
        let (status, text) = answer.map_err(|e| self.unreachable(e))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status >= 500 {
            return Err(self.unreachable(format!("{status} {text}")));
        }
        *self.last_ok.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        if self.away.swap(false, std::sync::atomic::Ordering::SeqCst) {
            eprintln!(
                "brig mcp-proxy: the control plane at {} answers again; calls are decided again",
                self.base
            );
        }
        if status >= 400 {
            let message = value["error"].as_str().unwrap_or(&text).to_string();
            return Err(CallError::Refused { status, message });
        }
        Ok(value)
    }

    /// The error for a request that got no answer; the first of a run is said on stderr,
    /// so that whoever runs the agent knows why every call is now refused.
    fn unreachable(&self, why: String) -> CallError {
        if !self.away.swap(true, std::sync::atomic::Ordering::SeqCst) {
            eprintln!(
                "brig mcp-proxy: the control plane at {} is unreachable ({why}); every call is refused until it answers again (fail closed)",
                self.base
            );
        }
        CallError::Unreachable(why)
    }

    /// `POST /v1/gateways/heartbeat`: this gateway is alive (or, with `stopped`, done).
    pub fn heartbeat(&self, body: &Value) -> Result<(), CallError> {
        self.request(
            "POST",
            "/v1/gateways/heartbeat",
            Some(body),
            REQUEST_TIMEOUT,
        )
        .map(|_| ())
    }

    /// `POST /v1/decide`: the control plane's verdict on a call (recorded there first).
    pub fn decide(&self, body: &Value) -> Result<Value, CallError> {
        self.request("POST", "/v1/decide", Some(body), REQUEST_TIMEOUT)
    }

    /// `GET /v1/approvals/{id}`.
    pub fn approval(&self, id: &str) -> Result<Value, CallError> {
        self.request("GET", &format!("/v1/approvals/{id}"), None, REQUEST_TIMEOUT)
    }

    /// `POST /v1/events`: the ledger indices of the events, in order.
    pub fn ingest(&self, events: &[NewEvent]) -> Result<Vec<u64>, CallError> {
        let v = self.request(
            "POST",
            "/v1/events",
            Some(&json!({ "events": events })),
            REQUEST_TIMEOUT * 6,
        )?;
        Ok(v["recorded"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x["index"].as_u64()).collect())
            .unwrap_or_default())
    }

    /// Follows `GET /v1/stream` from now on, calling `on` with each `containment` event
    /// (its ledger event), reconnecting with `Last-Event-ID` after a break, until `stop`.
    pub fn follow_containment(
        self: &Arc<Self>,
        stop: Arc<AtomicBool>,
        mut on: impl FnMut(&Value) + Send + 'static,
    ) -> JoinHandle<()> {
        let cp = self.clone();
        std::thread::spawn(move || {
            let mut last: Option<String> = None;
            while !stop.load(Ordering::SeqCst) {
                let mut req = cp
                    .client
                    .get(format!("{}/v1/stream", cp.base))
                    .bearer_auth(&cp.token);
                if let Some(id) = &last {
                    req = req.header("last-event-id", id.clone());
                }
                let stop2 = stop.clone();
                let seen = cp.rt.block_on(async {
                    let mut ids = None;
                    let Ok(mut res) = req.send().await else {
                        return ids;
                    };
                    let mut parser = crate::sse::Parser::new(1 << 20);
                    while !stop2.load(Ordering::SeqCst) {
                        let chunk =
                            tokio::time::timeout(Duration::from_millis(200), res.chunk()).await;
                        let bytes = match chunk {
                            Err(_) => continue, // a pause: look at `stop`, read on
                            Ok(Ok(Some(b))) => b,
                            Ok(_) => break, // the stream ended or broke: reconnect
                        };
                        for ev in parser.push(&bytes) {
                            if ev.id.is_some() {
                                ids.clone_from(&ev.id);
                            }
                            if ev.event.as_deref() == Some("containment") {
                                if let Ok(v) = serde_json::from_str::<Value>(&ev.data) {
                                    on(&v["event"]);
                                }
                            }
                        }
                    }
                    ids
                });
                if seen.is_some() {
                    last = seen;
                }
                if !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        })
    }
}

/// Events on their way to the control plane, in order.
#[derive(Default)]
struct Queue {
    batches: VecDeque<(Vec<NewEvent>, Option<Then>)>,
    events: usize,
    closed: bool,
}

/// The event sink of a remote gateway: uploads in order, in batches, retrying while the
/// control plane is away (nothing is dropped for being late).
pub struct Uplink {
    cp: Arc<ControlPlane>,
    queue: Mutex<Queue>,
    ready: Condvar,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Uplink {
    pub fn start(cp: Arc<ControlPlane>) -> Arc<Uplink> {
        let up = Arc::new(Uplink {
            cp,
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            worker: Mutex::new(None),
        });
        let worker = {
            let up = up.clone();
            std::thread::spawn(move || up.run())
        };
        *up.worker.lock().unwrap_or_else(|p| p.into_inner()) = Some(worker);
        up
    }

    /// Events not yet acknowledged by the control plane.
    pub fn backlog(&self) -> usize {
        self.lock().events
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn push(&self, events: Vec<NewEvent>, then: Option<Then>) {
        // An event the ledger would refuse is refused here, alone, rather than failing
        // the batch it would travel in (checked, not sealed: the server seals it).
        let (good, bad): (Vec<_>, Vec<_>) = events.into_iter().partition(|e| e.validate().is_ok());
        if !bad.is_empty() {
            eprintln!("brig mcp-proxy: {} invalid event(s) not sent", bad.len());
        }
        let mut q = self.lock();
        q.events += good.len();
        q.batches.push_back((good, then));
        drop(q);
        self.ready.notify_one();
    }

    fn run(&self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            let taken = {
                let mut q = self.lock();
                while q.batches.is_empty() && !q.closed {
                    q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
                }
                if q.batches.is_empty() {
                    return;
                }
                // Whole batches, up to BATCH events (one oversize batch goes alone).
                let mut taken = Vec::new();
                let mut n = 0;
                while let Some((b, _)) = q.batches.front() {
                    if !taken.is_empty() && n + b.len() > BATCH {
                        break;
                    }
                    n += b.len();
                    taken.push(q.batches.pop_front().expect("front exists"));
                }
                taken
            };
            let events: Vec<NewEvent> = taken.iter().flat_map(|(b, _)| b.clone()).collect();
            let result = if events.is_empty() {
                Ok(Vec::new())
            } else {
                self.cp.ingest(&events)
            };
            match result {
                Err(CallError::Unreachable(e)) => {
                    // Put them back, in front, and wait before the next try.
                    let mut q = self.lock();
                    for b in taken.into_iter().rev() {
                        q.batches.push_front(b);
                    }
                    let closed = q.closed;
                    drop(q);
                    if closed && backoff >= Duration::from_secs(2) {
                        eprintln!("brig mcp-proxy: control plane unreachable at exit ({e})");
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                other => {
                    backoff = Duration::from_millis(100);
                    self.lock().events -= events.len();
                    settle(taken, other);
                }
            }
        }
    }

    /// Stops taking events and uploads what is queued, waiting at most `wait`. Returns how
    /// many events could not be uploaded.
    pub fn finish(&self, wait: Duration) -> usize {
        self.lock().closed = true;
        self.ready.notify_all();
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && self.backlog() > 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let left = self.backlog();
        if left == 0 {
            if let Some(w) = self.worker.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = w.join();
            }
        }
        left
    }
}

/// Tells each waited-for batch its indices (or why it was not recorded).
fn settle(taken: Vec<(Vec<NewEvent>, Option<Then>)>, result: Result<Vec<u64>, CallError>) {
    let mut indices = match &result {
        Ok(v) => v.clone().into_iter(),
        Err(_) => Vec::new().into_iter(),
    };
    for (b, then) in taken {
        let mine: Vec<u64> = indices.by_ref().take(b.len()).collect();
        match (&result, then) {
            (Ok(_), Some(t)) => t(Ok(mine)),
            (Err(e), Some(t)) => t(Err(e.to_string())),
            (Err(e), None) => eprintln!("brig mcp-proxy: events not recorded: {e}"),
            (Ok(_), None) => {}
        }
    }
}

impl EventSink for Uplink {
    fn submit_deferred(&self, events: Vec<NewEvent>) {
        self.push(events, None);
    }

    fn submit_then(&self, events: Vec<NewEvent>, then: Then) {
        self.push(events, Some(then));
    }
}
