//! The MCP proxy over stdio.
//!
//! ```text
//! agent's MCP client ──stdin──▶ brig mcp-proxy ──child stdin──▶ MCP server
//!                    ◀─stdout──                ◀─child stdout──
//! ```
//!
//! Agent → server: every line is parsed and recorded. A `tools/call` is normalized into
//! actions, decided (containment, then policy), and recorded together with its decision in
//! one durable append *before* anything is forwarded; only an allowed call reaches the
//! server, any other gets a tool error result naming why. A line that is not JSON, is too
//! large, or is a batch holding `tools/call` is answered with a JSON-RPC error and never
//! forwarded. Server → agent: every line is recorded (a response to a forwarded call as its
//! `tool.result`) and relayed unchanged.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use brig_ledger::appender::{Appender, Checkpointing};
use brig_ledger::Prepared;
use brig_model::{Effect, EventId, EventKind, NewEvent, Timestamp};
use brig_store::{Approval, DataDir};
use serde_json::{json, Value};

use crate::guard::{refusal_text, Call, Guard};
use crate::jsonrpc::{self, id_key, Message};
use crate::lines::read_line_limited;

/// Raw text kept of a message that could not be parsed (the rest is only counted).
const MALFORMED_KEEP: usize = 4096;

/// Longest a call waits for another process's lock on the ledger before it is denied.
const LEDGER_WAIT: Duration = Duration::from_secs(2);

/// Errors that stop the proxy (per-message problems never do).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no upstream command given (brig mcp-proxy … -- CMD ARGS…)")]
    NoCommand,
    #[error("cannot start the upstream server `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("ledger store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
}

/// Who the agent is and what it was asked to do.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    pub agent: String,
    pub workflow: Option<String>,
    pub task: Option<String>,
    /// Largest message accepted from either side, in bytes.
    pub max_message_bytes: usize,
    /// The upstream server's command line.
    pub command: Vec<OsString>,
    /// How long a call held for approval waits for a decision before it is refused.
    pub approval_timeout: Duration,
}

/// Builds and records this session's events.
#[derive(Clone)]
struct Recorder {
    appender: Arc<Appender>,
    agent: String,
    workflow: Option<String>,
    session: String,
}

impl Recorder {
    fn event(&self, kind: EventKind) -> NewEvent {
        let mut e = NewEvent::new("mcp-proxy", self.agent.clone(), kind);
        e.workflow = self.workflow.clone();
        e.session = Some(self.session.clone());
        e
    }

    /// Records without waiting for durability (ordering is kept: one writer, FIFO).
    fn record(&self, e: NewEvent) {
        match Prepared::new(e) {
            Ok(p) => drop(self.appender.submit(vec![p])),
            Err(err) => eprintln!("brig mcp-proxy: event not recorded: {err}"),
        }
    }

    /// Records and waits until durable.
    /// Records and waits until durable; returns the events' ledger indices.
    fn record_durably(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, String> {
        let prepared = events
            .into_iter()
            .map(Prepared::new)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        self.appender
            .append(prepared)
            .map(|r| r.iter().map(|r| r.index).collect())
    }

    fn message(&self, direction: &str, msg: &Message, raw: Value) -> NewEvent {
        let mut e = self.event(EventKind::ProtocolMessage);
        e.attrs.insert("direction".into(), json!(direction));
        if let Some(m) = msg.method() {
            e.attrs.insert("method".into(), json!(m));
        }
        e.payload.insert("message".into(), raw);
        e
    }

    fn malformed(&self, direction: &str, reason: &str, raw: &[u8]) -> NewEvent {
        let mut e = self.event(EventKind::ProtocolMessage);
        e.attrs.insert("direction".into(), json!(direction));
        e.attrs.insert("malformed".into(), json!(reason));
        e.attrs.insert("bytes".into(), json!(raw.len()));
        let keep = &raw[..raw.len().min(MALFORMED_KEEP)];
        e.payload
            .insert("raw".into(), json!(String::from_utf8_lossy(keep)));
        e
    }
}

/// A forwarded call waiting for its result.
struct Pending {
    tool: String,
    call: String,
}

type Shared<T> = Arc<Mutex<T>>;

fn write_line(out: &Shared<Box<dyn Write + Send>>, bytes: &[u8]) {
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    // The client going away ends the session; nothing to do about a failed write here.
    let _ = out
        .write_all(bytes)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
}

fn reply(out: &Shared<Box<dyn Write + Send>>, v: &Value) {
    write_line(out, v.to_string().as_bytes());
}

/// Runs the proxy until the agent closes its end (or the server exits). Returns the
/// server's exit code.
pub fn run(
    opts: ProxyOptions,
    data: &DataDir,
    mut guard: Guard,
    client_in: impl Read,
    client_out: Box<dyn Write + Send>,
) -> Result<i32, ProxyError> {
    let (program, args) = opts.command.split_first().ok_or(ProxyError::NoCommand)?;
    let signer = data.signer()?;
    let mut store = data.store()?;
    store.set_busy_timeout(LEDGER_WAIT)?;
    let appender = Arc::new(Appender::start(
        brig_ledger::Ledger::new(store),
        Some(Checkpointing {
            signer,
            interval: Duration::from_secs(10),
        }),
    ));
    let rec = Recorder {
        appender: appender.clone(),
        agent: opts.agent.clone(),
        workflow: opts.workflow.clone(),
        session: EventId::new().to_string(),
    };
    if let Some(task) = &opts.task {
        let mut e = rec.event(EventKind::AgentPrompt);
        e.payload.insert("task".into(), json!(task));
        rec.record(e);
    }
    let child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| ProxyError::Spawn {
            cmd: program.to_string_lossy().into_owned(),
            source,
        })?;
    let (child, upstream_in, upstream_out) = {
        let mut child = child;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        (
            Arc::new(Mutex::new(child)),
            Arc::new(Mutex::new(stdin)),
            stdout,
        )
    };
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (data, opts, rec, child, stop) = (
            data.clone(),
            opts.clone(),
            rec.clone(),
            child.clone(),
            stop_watch.clone(),
        );
        std::thread::spawn(move || watch_containment(&data, &opts, &rec, &child, &stop))
    };
    let out: Shared<Box<dyn Write + Send>> = Arc::new(Mutex::new(client_out));
    let pending: Shared<HashMap<String, Pending>> = Arc::new(Mutex::new(HashMap::new()));

    let relay_back = {
        let (rec, out, pending) = (rec.clone(), out.clone(), pending.clone());
        let limit = opts.max_message_bytes;
        std::thread::spawn(move || server_to_client(upstream_out, limit, &rec, &out, &pending))
    };

    let mut waiting = Vec::new();
    let result = client_to_server(
        client_in,
        data,
        &mut waiting,
        &opts,
        &rec,
        &mut guard,
        &out,
        &upstream_in,
        &pending,
    );
    // The agent is gone: calls still held can no longer be answered.
    if let Ok(mut store) = data.store() {
        for (approval, _) in &waiting {
            let now = Timestamp::now().unix_nanos();
            let _ = store.settle_approval(
                approval,
                "cancelled",
                "brig",
                "the agent's session ended",
                now,
            );
        }
    }
    for (_, w) in waiting {
        let _ = w.join();
    }
    result?;

    // The agent is done: close the server's stdin and give it a moment to finish.
    upstream_in.lock().unwrap_or_else(|p| p.into_inner()).take();
    let code = wait_or_kill(&child, Duration::from_secs(5));
    stop_watch.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let _ = relay_back.join();
    drop(rec);
    if let Ok(appender) = Arc::try_unwrap(appender) {
        if let Err(e) = appender.finish() {
            eprintln!("brig mcp-proxy: final checkpoint failed: {e}");
        }
    }
    Ok(code)
}

fn wait_or_kill(child: &Shared<Child>, grace: Duration) -> i32 {
    let start = Instant::now();
    loop {
        {
            let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
            if let Ok(Some(status)) = child.try_wait() {
                return status.code().unwrap_or(1);
            }
            if start.elapsed() > grace {
                let _ = child.kill();
                return child.wait().ok().and_then(|s| s.code()).unwrap_or(1);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// How often a proxy looks for a containment that asks it to stop its upstream server.
const CONTAINMENT_WATCH: Duration = Duration::from_millis(50);

/// Stops the upstream server as soon as the agent is contained with `--kill-upstream`
/// (calls are denied at each call anyway; this also ends what the server does on its own).
fn watch_containment(
    data: &DataDir,
    opts: &ProxyOptions,
    rec: &Recorder,
    child: &Shared<Child>,
    stop: &AtomicBool,
) {
    let Ok(mut store) = data.store() else { return };
    while !stop.load(Ordering::SeqCst) {
        if let Ok(Some(c)) = store.containment_of(&opts.agent, opts.workflow.as_deref()) {
            if c.kill_upstream {
                let mut child = child.lock().unwrap_or_else(|p| p.into_inner());
                let pid = child.id();
                if matches!(child.try_wait(), Ok(None)) && child.kill().is_ok() {
                    let mut e = rec.event(EventKind::ResponseAction);
                    e.attrs.insert("action".into(), json!("kill_upstream"));
                    e.attrs.insert("pid".into(), json!(pid));
                    e.attrs.insert("scope".into(), json!(c.scope.to_string()));
                    e.payload.insert("reason".into(), json!(c.reason));
                    rec.record(e);
                }
                return;
            }
        }
        std::thread::sleep(CONTAINMENT_WATCH);
    }
}

fn forward(upstream: &Shared<Option<ChildStdin>>, line: &[u8]) -> bool {
    let mut guard = upstream.lock().unwrap_or_else(|p| p.into_inner());
    match guard.as_mut() {
        Some(stdin) => stdin
            .write_all(line)
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush())
            .is_ok(),
        None => false,
    }
}

const TO_SERVER: &str = "agent_to_server";
const TO_AGENT: &str = "server_to_agent";

#[allow(clippy::too_many_arguments)]
fn client_to_server(
    client_in: impl Read,
    data: &DataDir,
    waiting: &mut Vec<(String, std::thread::JoinHandle<()>)>,
    opts: &ProxyOptions,
    rec: &Recorder,
    guard: &mut Guard,
    out: &Shared<Box<dyn Write + Send>>,
    upstream: &Shared<Option<ChildStdin>>,
    pending: &Shared<HashMap<String, Pending>>,
) -> Result<(), ProxyError> {
    let mut reader = BufReader::new(client_in);
    let mut buf = Vec::new();
    while let Some(status) = read_line_limited(&mut reader, &mut buf, opts.max_message_bytes)? {
        if let Err(t) = status {
            rec.record(rec.malformed(TO_SERVER, "too large", &[]));
            let msg = format!(
                "message of {} bytes exceeds the limit of {}",
                t.len, t.limit
            );
            reply(
                out,
                &jsonrpc::error(Value::Null, jsonrpc::INVALID_REQUEST, &msg),
            );
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(e) => {
                rec.record(rec.malformed(TO_SERVER, "not JSON", &buf));
                let msg = format!("Parse error: {e}");
                reply(
                    out,
                    &jsonrpc::error(Value::Null, jsonrpc::PARSE_ERROR, &msg),
                );
                continue;
            }
        };
        let msg = Message::classify(&value);
        match &msg {
            Message::ToolCall {
                id,
                tool,
                arguments,
            } => {
                let call = ToolCall {
                    id,
                    tool,
                    arguments,
                };
                match call.decide_and_record(opts, rec, guard, out) {
                    Outcome::Forward => {
                        pending.lock().unwrap_or_else(|p| p.into_inner()).insert(
                            id_key(id),
                            Pending {
                                tool: tool.clone(),
                                call: call_id(id),
                            },
                        );
                        if !forward(upstream, &buf) {
                            reply(
                                out,
                                &jsonrpc::error(
                                    id.clone(),
                                    jsonrpc::INVALID_REQUEST,
                                    "the upstream server is gone",
                                ),
                            );
                        }
                    }
                    Outcome::Refused => {}
                    Outcome::Held(approval) => {
                        let held = Held {
                            approval: approval.clone(),
                            id: id.clone(),
                            tool: tool.clone(),
                            line: buf.clone(),
                        };
                        let ctx = Waiting {
                            data: data.clone(),
                            opts: opts.clone(),
                            rec: rec.clone(),
                            out: out.clone(),
                            upstream: upstream.clone(),
                            pending: pending.clone(),
                        };
                        waiting.push((approval, std::thread::spawn(move || ctx.run(held))));
                    }
                }
            }
            Message::Batch { .. } if batch_has_tool_call(&value) => {
                rec.record(rec.message(TO_SERVER, &msg, value.clone()));
                reply(
                    out,
                    &jsonrpc::error(
                        Value::Null,
                        jsonrpc::INVALID_REQUEST,
                        "Brig does not accept tools/call inside a batch: send each call on its own",
                    ),
                );
            }
            Message::Invalid { reason } => {
                rec.record(rec.message(TO_SERVER, &msg, value.clone()));
                let id = value.get("id").cloned().unwrap_or(Value::Null);
                reply(out, &jsonrpc::error(id, jsonrpc::INVALID_REQUEST, reason));
            }
            _ => {
                rec.record(rec.message(TO_SERVER, &msg, value.clone()));
                forward(upstream, &buf);
            }
        }
    }
    Ok(())
}

fn batch_has_tool_call(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter()
            .any(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
    })
}

/// The `call` correlation id of a JSON-RPC id (strings without their quotes).
fn call_id(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_string)
}

struct ToolCall<'a> {
    id: &'a Value,
    tool: &'a str,
    arguments: &'a Value,
}

impl ToolCall<'_> {
    /// Decides, records call and decision durably, and answers a refused call.
    fn decide_and_record(
        &self,
        opts: &ProxyOptions,
        rec: &Recorder,
        guard: &mut Guard,
        out: &Shared<Box<dyn Write + Send>>,
    ) -> Outcome {
        let actions = guard.normalize(self.tool, self.arguments);
        let decision = guard.decide(&Call {
            agent: &opts.agent,
            workflow: opts.workflow.as_deref(),
            task: opts.task.as_deref(),
            tool: self.tool,
            arguments: self.arguments,
            actions: &actions,
        });
        // Only a held call needs a summary for people (the approval queue).
        let summary = (decision.effect == Effect::Hold).then(|| summarize(&actions, self.tool));
        let mut call = rec.event(EventKind::ToolCall);
        call.tool = Some(self.tool.to_string());
        call.call = Some(call_id(self.id));
        call.actions = actions.clone();
        call.attrs.insert("direction".into(), json!(TO_SERVER));
        call.payload
            .insert("arguments".into(), self.arguments.clone());
        let mut decided = rec.event(EventKind::PolicyDecision);
        decided.tool = call.tool.clone();
        decided.call = call.call.clone();
        decided.actions = actions;
        decided.decision = Some(decision.clone());
        // Write-ahead: nothing is forwarded unless the call and its decision are durable.
        let indices = match rec.record_durably(vec![call, decided]) {
            Ok(i) => i,
            Err(e) => {
                let text = format!(
                    "This tool call was blocked by Brig and not run: the ledger cannot be written ({e}), and Brig fails closed"
                );
                reply(out, &jsonrpc::tool_refusal(self.id.clone(), &text));
                return Outcome::Refused;
            }
        };
        match decision.effect {
            Effect::Allow => Outcome::Forward,
            Effect::Deny => {
                reply(
                    out,
                    &jsonrpc::tool_refusal(self.id.clone(), &refusal_text(&decision)),
                );
                Outcome::Refused
            }
            Effect::Hold => {
                let approval = Approval {
                    id: EventId::new().to_string(),
                    event_index: indices[0],
                    agent: opts.agent.clone(),
                    workflow: opts.workflow.clone(),
                    tool: self.tool.to_string(),
                    summary: summary.unwrap_or_default(),
                    policies: decision.policies.join(","),
                    status: "pending".into(),
                    created_nanos: Timestamp::now().unix_nanos(),
                    decided_nanos: None,
                    decided_by: None,
                    reason: decision.reason.clone(),
                };
                match guard.hold(&approval) {
                    Ok(()) => {
                        let mut e = rec.event(EventKind::ApprovalRequest);
                        e.tool = Some(self.tool.to_string());
                        e.call = Some(call_id(self.id));
                        e.attrs.insert("approval".into(), json!(approval.id));
                        e.attrs.insert("event_index".into(), json!(indices[0]));
                        rec.record(e);
                        Outcome::Held(approval.id)
                    }
                    Err(e) => {
                        let text = format!(
                            "This tool call needs approval, but it cannot be queued ({e}); Brig fails closed and did not run it"
                        );
                        reply(out, &jsonrpc::tool_refusal(self.id.clone(), &text));
                        Outcome::Refused
                    }
                }
            }
        }
    }
}

/// What happens to a tools/call after the decision.
enum Outcome {
    Forward,
    Refused,
    /// Queued for approval under this id.
    Held(String),
}

/// One line a person can read: what the call does.
fn summarize(actions: &[brig_model::Action], tool: &str) -> String {
    if actions.is_empty() {
        return tool.to_string();
    }
    actions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// How often a held call looks at the approval queue.
const APPROVAL_POLL: Duration = Duration::from_millis(100);

/// A call waiting for a human.
struct Held {
    approval: String,
    id: Value,
    tool: String,
    line: Vec<u8>,
}

/// What a waiting call needs to finish either way.
struct Waiting {
    data: DataDir,
    opts: ProxyOptions,
    rec: Recorder,
    out: Shared<Box<dyn Write + Send>>,
    upstream: Shared<Option<ChildStdin>>,
    pending: Shared<HashMap<String, Pending>>,
}

impl Waiting {
    /// Polls the approval queue (and containment: containing the agent cancels its held
    /// calls) until the call is approved, denied, cancelled or times out.
    fn run(self, held: Held) {
        let deadline = Instant::now() + self.opts.approval_timeout;
        let mut store = match self.data.store() {
            Ok(s) => s,
            Err(e) => {
                return self.refuse(&held, &format!("the approval queue cannot be read ({e})"))
            }
        };
        loop {
            match store.containment_of(&self.opts.agent, self.opts.workflow.as_deref()) {
                Ok(None) => {}
                Ok(Some(c)) => {
                    let why = format!("cancelled: {} is contained ({})", c.scope, c.reason);
                    return self.close(&mut store, &held, "cancelled", &why);
                }
                Err(e) => {
                    let why = format!("containment state cannot be read ({e})");
                    return self.close(&mut store, &held, "cancelled", &why);
                }
            }
            match store.approval(&held.approval) {
                Ok(Some(a)) if a.status == "approved" => return self.forward(&held),
                Ok(Some(a)) if a.status != "pending" => {
                    let by = a.decided_by.unwrap_or_else(|| "?".into());
                    let why = a.reason.unwrap_or_default();
                    return self.refuse(&held, &format!("{} by {by}: {why}", a.status));
                }
                Ok(_) => {}
                Err(e) => {
                    return self.refuse(&held, &format!("the approval queue cannot be read ({e})"))
                }
            }
            if Instant::now() >= deadline {
                let why = format!(
                    "no decision within {} s (the default is to deny)",
                    self.opts.approval_timeout.as_secs()
                );
                return self.close(&mut store, &held, "expired", &why);
            }
            std::thread::sleep(APPROVAL_POLL);
        }
    }

    fn forward(&self, held: &Held) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                id_key(&held.id),
                Pending {
                    tool: held.tool.clone(),
                    call: call_id(&held.id),
                },
            );
        if !forward(&self.upstream, &held.line) {
            self.refuse(held, "approved, but the upstream server is gone");
        }
    }

    fn refuse(&self, held: &Held, why: &str) {
        let text = format!("This tool call was held for approval and not run: {why}");
        reply(&self.out, &jsonrpc::tool_refusal(held.id.clone(), &text));
    }

    /// Settles the approval as Brig (timeout, containment), records that, then refuses.
    fn close(&self, store: &mut brig_store::SqliteStore, held: &Held, status: &str, why: &str) {
        let now = Timestamp::now().unix_nanos();
        if let Ok(true) = store.settle_approval(&held.approval, status, "brig", why, now) {
            let mut e = self.rec.event(EventKind::ApprovalDecision);
            e.tool = Some(held.tool.clone());
            e.call = Some(call_id(&held.id));
            e.attrs.insert("approval".into(), json!(held.approval));
            e.attrs.insert("status".into(), json!(status));
            e.decision = Some(brig_model::Decision {
                effect: Effect::Deny,
                policies: vec!["brig.approvals".into()],
                reason: Some(why.to_string()),
            });
            self.rec.record(e);
        }
        self.refuse(held, why);
    }
}

fn server_to_client(
    upstream_out: impl Read,
    limit: usize,
    rec: &Recorder,
    out: &Shared<Box<dyn Write + Send>>,
    pending: &Shared<HashMap<String, Pending>>,
) {
    let mut reader = BufReader::new(upstream_out);
    let mut buf = Vec::new();
    loop {
        let status = match read_line_limited(&mut reader, &mut buf, limit) {
            Ok(Some(s)) => s,
            Ok(None) | Err(_) => return,
        };
        if let Err(t) = status {
            eprintln!(
                "brig mcp-proxy: dropped a {}-byte message from the server (limit {})",
                t.len, t.limit
            );
            rec.record(rec.malformed(TO_AGENT, "too large", &[]));
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("brig mcp-proxy: dropped a message from the server that is not JSON");
                rec.record(rec.malformed(TO_AGENT, "not JSON", &buf));
                continue;
            }
        };
        let msg = Message::classify(&value);
        let answered = match &msg {
            Message::Response { id, is_error } => pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id_key(id))
                .map(|p| (p, *is_error)),
            _ => None,
        };
        match answered {
            Some((p, is_error)) => {
                let mut e = rec.event(EventKind::ToolResult);
                e.tool = Some(p.tool);
                e.call = Some(p.call);
                let failed = is_error
                    || value.pointer("/result/isError").and_then(Value::as_bool) == Some(true);
                e.attrs
                    .insert("status".into(), json!(if failed { "error" } else { "ok" }));
                e.attrs.insert("direction".into(), json!(TO_AGENT));
                let body = value
                    .get("result")
                    .or_else(|| value.get("error"))
                    .cloned()
                    .unwrap_or(Value::Null);
                e.payload.insert("result".into(), body);
                rec.record(e);
            }
            None => rec.record(rec.message(TO_AGENT, &msg, value.clone())),
        }
        write_line(out, &buf);
    }
}
