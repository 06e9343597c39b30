//! The events a proxy session writes, whatever the transport.

use std::sync::Arc;

use brig_ledger::appender::{AppendResult, Appender};
use brig_ledger::Prepared;
use brig_model::{EventKind, NewEvent};
use serde_json::{json, Value};

use crate::detection::{alert_event, Detection};
use crate::images::Imager;
use crate::jsonrpc::Message;
use crate::response::Response;

/// Raw text kept of a message that could not be parsed (the rest is only counted).
const MALFORMED_KEEP: usize = 4096;

/// `direction` of a message from the agent's client to the server.
pub const TO_SERVER: &str = "agent_to_server";
/// `direction` of a message from the server to the agent's client.
pub const TO_AGENT: &str = "server_to_agent";

/// Where a recorder's events go: this host's ledger writer, or a control plane's
/// (`crate::remote`). Events keep their order.
pub trait EventSink: Send + Sync {
    /// Records without anyone waiting (a failure is reported, not returned).
    fn submit_deferred(&self, events: Vec<NewEvent>);
    /// Records; `then` gets the events' ledger indices once they are durable, or why not.
    fn submit_then(&self, events: Vec<NewEvent>, then: Then);
}

/// What a waited-for record is told.
pub type Then = Box<dyn FnOnce(Result<Vec<u64>, String>) + Send + 'static>;

/// The local ledger writer as a sink.
struct Local(Arc<Appender>);

fn prepare(events: Vec<NewEvent>) -> Result<Vec<Prepared>, String> {
    events
        .into_iter()
        .map(Prepared::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

impl EventSink for Local {
    fn submit_deferred(&self, events: Vec<NewEvent>) {
        match prepare(events) {
            Ok(p) => self.0.submit_deferred(p, |r| {
                if let Err(e) = r {
                    eprintln!("brig mcp-proxy: event not recorded: {e}");
                }
            }),
            Err(err) => eprintln!("brig mcp-proxy: event not recorded: {err}"),
        }
    }

    fn submit_then(&self, events: Vec<NewEvent>, then: Then) {
        match prepare(events) {
            Ok(p) => self.0.submit_then(p, move |r: AppendResult| {
                then(r.map(|receipts| receipts.iter().map(|r| r.index).collect()))
            }),
            Err(e) => then(Err(e)),
        }
    }
}

/// Builds and records one session's events.
#[derive(Clone)]
pub struct Recorder {
    sink: Arc<dyn EventSink>,
    source: &'static str,
    agent: String,
    workflow: Option<String>,
    session: String,
    /// Extra attributes on every event (the MCP session id of an HTTP session).
    tags: Vec<(String, Value)>,
    /// The rule pack, when detection is on.
    detection: Option<Arc<Detection>>,
    /// Incident response to alerts, when on.
    response: Option<Arc<Response>>,
    /// Pre- and post-images of the files calls change, when on.
    images: Option<Arc<Imager>>,
}

impl Recorder {
    pub fn new(
        appender: Arc<Appender>,
        source: &'static str,
        agent: String,
        workflow: Option<String>,
        session: String,
    ) -> Self {
        Self::to_sink(Arc::new(Local(appender)), source, agent, workflow, session)
    }

    /// A recorder writing to `sink` (a control plane's, for a remote gateway).
    pub fn to_sink(
        sink: Arc<dyn EventSink>,
        source: &'static str,
        agent: String,
        workflow: Option<String>,
        session: String,
    ) -> Self {
        Recorder {
            sink,
            source,
            agent,
            workflow,
            session,
            tags: Vec::new(),
            detection: None,
            response: None,
            images: None,
        }
    }

    /// The same recorder, evaluating what it records against the rule pack.
    pub fn with_detection(self, detection: Option<Arc<Detection>>) -> Self {
        Recorder { detection, ..self }
    }

    /// The same recorder, filing its alerts into incidents.
    pub fn with_response(self, response: Option<Arc<Response>>) -> Self {
        Recorder { response, ..self }
    }

    /// The same recorder, keeping images of the files calls change.
    pub fn with_images(self, images: Option<Arc<Imager>>) -> Self {
        Recorder { images, ..self }
    }

    pub fn images(&self) -> Option<&Arc<Imager>> {
        self.images.as_ref()
    }

    pub fn response(&self) -> Option<&Arc<Response>> {
        self.response.as_ref()
    }

    /// Evaluates an event against the rule pack: the alert events to record with it.
    pub fn observe(&self, e: &mut NewEvent) -> Vec<brig_detect::rules::Alert> {
        match &self.detection {
            Some(d) => d.observe(e),
            None => Vec::new(),
        }
    }

    /// The same recorder for another session.
    pub fn for_session(&self, session: String, tags: Vec<(String, Value)>) -> Self {
        Recorder {
            session,
            tags,
            ..self.clone()
        }
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    pub fn event(&self, kind: EventKind) -> NewEvent {
        let mut e = NewEvent::new(self.source, self.agent.clone(), kind);
        e.ts = Some(brig_model::Timestamp::now());
        e.workflow = self.workflow.clone();
        e.session = Some(self.session.clone());
        for (k, v) in &self.tags {
            e.attrs.insert(k.clone(), v.clone());
        }
        e
    }

    /// Records without waiting for durability (order is kept: one writer, FIFO). Nobody
    /// waits for it, so it rides along with the next commit somebody waits for (the next
    /// call's write-ahead record), or is committed within `DEFER_AT_MOST` (10 ms).
    ///
    /// The event is evaluated against the rule pack first; its alerts are recorded with it.
    pub fn record(&self, e: NewEvent) {
        self.sink.submit_deferred(self.observed(e));
    }

    /// `e` and the alerts the rule pack raises on it, ready to write; the alerts are filed
    /// with incident response.
    pub fn observed(&self, mut e: NewEvent) -> Vec<NewEvent> {
        let alerts = self.observe(&mut e);
        let mut raised = alert_events(&e, &alerts);
        if let Some(r) = &self.response {
            for a in &mut raised {
                a.id = Some(brig_model::EventId::new());
            }
            r.file(&raised);
        }
        std::iter::once(e).chain(raised).collect()
    }

    /// Records and waits until durable (not evaluated by the rule pack, unless the caller
    /// passed them through [`Recorder::observed`]): for events another process must never
    /// see before them (an approval request before its queue entry).
    pub fn record_durably(&self, events: Vec<NewEvent>) -> Result<(), String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.record_then(events, move |r| {
            let _ = tx.send(r);
        });
        rx.recv()
            .unwrap_or_else(|_| Err("the ledger writer stopped".into()))
            .map(|_| ())
    }

    /// Records; `then` gets the events' ledger indices once they are durable, or why not.
    pub fn record_then(
        &self,
        events: Vec<NewEvent>,
        then: impl FnOnce(Result<Vec<u64>, String>) + Send + 'static,
    ) {
        self.sink.submit_then(events, Box::new(then));
    }

    /// A protocol message, as received.
    pub fn message(&self, direction: &str, msg: &Message, raw: Value) -> NewEvent {
        let mut e = self.event(EventKind::ProtocolMessage);
        e.attrs.insert("direction".into(), json!(direction));
        if let Some(m) = msg.method() {
            e.attrs.insert("method".into(), json!(m));
        }
        e.payload.insert("message".into(), raw);
        e
    }

    /// Bytes that were not a message Brig could take (not JSON, too large).
    pub fn malformed(&self, direction: &str, reason: &str, raw: &[u8], len: usize) -> NewEvent {
        let mut e = self.event(EventKind::ProtocolMessage);
        e.attrs.insert("direction".into(), json!(direction));
        e.attrs.insert("malformed".into(), json!(reason));
        e.attrs.insert("bytes".into(), json!(len));
        let keep = &raw[..raw.len().min(MALFORMED_KEEP)];
        e.payload
            .insert("raw".into(), json!(String::from_utf8_lossy(keep)));
        e
    }

    /// The server's answer to a forwarded call.
    pub fn tool_result(&self, tool: &str, call: &str, response: &Value) -> NewEvent {
        let mut e = self.event(EventKind::ToolResult);
        e.tool = Some(tool.to_string());
        e.call = Some(call.to_string());
        let failed = response.get("error").is_some()
            || response.pointer("/result/isError").and_then(Value::as_bool) == Some(true);
        e.attrs
            .insert("status".into(), json!(if failed { "error" } else { "ok" }));
        e.attrs.insert("direction".into(), json!(TO_AGENT));
        let body = response
            .get("result")
            .or_else(|| response.get("error"))
            .cloned()
            .unwrap_or(Value::Null);
        e.payload.insert("result".into(), body);
        let found = self
            .images
            .as_ref()
            .and_then(|i| i.after(&self.session, call, &mut e));
        if let Some((pre, post)) = found.filter(|(pre, _)| !pre.is_empty()) {
            self.record(self.observed_change(pre, post, Some((tool, call)), "workspace snapshot"));
        }
        e
    }

    /// A `file.change` event: paths seen changed (by a workspace snapshot after a command, or
    /// a watcher), each with its pre- and post-image, as the actions they amount to — read
    /// for their effects beyond the file (a git hook written is persistence) — so the rules
    /// judge them and rollback can undo them. `call`: the tool call that made them.
    pub fn observed_change(
        &self,
        pre: brig_rollback::images::Images,
        post: brig_rollback::images::Images,
        call: Option<(&str, &str)>,
        found_by: &str,
    ) -> NewEvent {
        use brig_rollback::images::{as_actions, POST, PRE};
        let mut e = self.event(EventKind::FileChange);
        if let Some((tool, id)) = call {
            e.tool = Some(tool.to_string());
            e.call = Some(id.to_string());
        }
        e.actions = brig_detect::normalize::with_effects(as_actions(&pre, &post, found_by));
        e.attrs.insert("paths".into(), json!(pre.len()));
        e.payload.insert(PRE.into(), json!(pre));
        e.payload.insert(POST.into(), json!(post));
        e
    }
}

/// The alert events of `alerts`, raised by `cause`.
pub fn alert_events(cause: &NewEvent, alerts: &[brig_detect::rules::Alert]) -> Vec<NewEvent> {
    alerts.iter().map(|a| alert_event(cause, a)).collect()
}
