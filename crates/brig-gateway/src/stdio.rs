//! The MCP proxy over stdio.
//!
//! ```text
//! agent's MCP client ──stdin──▶ brig mcp-proxy ──child stdin──▶ MCP server
//!                    ◀─stdout──                ◀─child stdout──
//! ```
//!
//! Agent → server: every line is parsed and recorded. A `tools/call` is decided as soon as
//! it is read and its record submitted to the ledger; a forwarder thread then takes the
//! lines in order and sends each call on only once its record is durable, so calls that
//! arrive together share one commit. A line that is not JSON, is too large, or is a batch
//! holding `tools/call` is answered with a JSON-RPC error and never forwarded. Server →
//! agent: every line is recorded (a response to a forwarded call as its `tool.result`) and
//! relayed unchanged; one that is not JSON or too large is recorded and dropped.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use brig_model::{EventId, EventKind};
use brig_store::DataDir;
use serde_json::{json, Value};

use crate::approval;
use crate::call::{self, call_id, Verdict};
use crate::guard::Guard;
use crate::jsonrpc::{self, id_key, Message};
use crate::lines::read_line_limited;
use crate::record::{Recorder, TO_AGENT, TO_SERVER};
use crate::remote::ControlPlane;
use crate::{finish_appender, start_appender, ProxyError, ProxyOptions};

/// Lines read ahead of the forwarder (calls decided, records on their way to the ledger).
const READ_AHEAD: usize = 4096;

/// A forwarded request waiting for its answer.
struct Pending {
    id: Value,
    /// For a `tools/call`: the tool, so its answer is recorded as the call's result.
    tool: Option<String>,
}

/// What the agent is told about a request the server will never answer.
const SERVER_GONE: &str = "the upstream server is gone";

type Shared<T> = Arc<Mutex<T>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where the agent's answers go (the proxy's stdout).
#[derive(Clone)]
struct ToAgent(Shared<Box<dyn Write + Send>>);

impl ToAgent {
    fn line(&self, bytes: &[u8]) {
        let mut out = lock(&self.0);
        // The client going away ends the session; nothing to do about a failed write here.
        let _ = out
            .write_all(bytes)
            .and_then(|()| out.write_all(b"\n"))
            .and_then(|()| out.flush());
    }

    fn send(&self, v: &Value) {
        self.line(v.to_string().as_bytes());
    }
}

/// Requests forwarded to the server that await its answer, and whether it can still
/// answer (both under one lock, so a request is either answered by the server or told the
/// server is gone, never both, never neither).
#[derive(Default)]
struct Outstanding {
    requests: HashMap<String, Pending>,
    gone: bool,
}

/// The server's stdin, and the requests forwarded to it that await their answers.
#[derive(Clone)]
struct ToServer {
    stdin: Shared<Option<ChildStdin>>,
    pending: Shared<Outstanding>,
}

impl ToServer {
    fn line(&self, line: &[u8]) -> bool {
        let mut stdin = lock(&self.stdin);
        match stdin.as_mut() {
            Some(s) => s
                .write_all(line)
                .and_then(|()| s.write_all(b"\n"))
                .and_then(|()| s.flush())
                .is_ok(),
            None => false,
        }
    }

    /// Forwards a request (`tool` for a `tools/call`); false when the server is gone and
    /// the caller must answer the agent.
    fn request(&self, id: &Value, tool: Option<&str>, line: &[u8]) -> bool {
        let key = id_key(id);
        {
            let mut out = lock(&self.pending);
            if out.gone {
                return false;
            }
            let p = Pending {
                id: id.clone(),
                tool: tool.map(str::to_string),
            };
            out.requests.insert(key.clone(), p);
        }
        // A failed write whose entry is already gone was answered when the server's
        // output closed.
        self.line(line) || lock(&self.pending).requests.remove(&key).is_none()
    }

    fn close(&self) {
        lock(&self.stdin).take();
    }
}

/// One line for the forwarder, in the order the agent sent them.
enum Step {
    /// Relay as is; `request` is the id of a request the server must answer, `cancels`
    /// the request a `notifications/cancelled` cancels.
    Relay {
        line: Vec<u8>,
        request: Option<Value>,
        cancels: Option<Value>,
    },
    /// A call: relay, refuse or hold once its verdict (after the durable append) is in.
    Call {
        id: Value,
        tool: String,
        line: Vec<u8>,
        verdict: Receiver<Verdict>,
    },
}

/// Runs the proxy until the agent closes its end (or the server exits). Returns the
/// server's exit code.
pub fn run(
    opts: ProxyOptions,
    command: &[OsString],
    data: &DataDir,
    guard: Guard,
    client_in: impl Read,
    client_out: Box<dyn Write + Send>,
) -> Result<i32, ProxyError> {
    let backend = Backend::Local {
        data: data.clone(),
        guard,
    };
    run_with(opts, command, backend, client_in, client_out)
}

/// Where a proxy's decisions come from and its records go.
pub enum Backend {
    /// This host's data directory (SQLite, or the PostgreSQL it names).
    Local { data: DataDir, guard: Guard },
    /// A control plane elsewhere, reached with an agent token ([`crate::remote`]).
    Remote(Remote),
}

/// A remote gateway's connection and what it decides alone.
pub struct Remote {
    pub cp: Arc<ControlPlane>,
    /// Calls whose every action only reads may go on this long after the control plane
    /// last answered (`None`: none may).
    pub grace_reads: Option<Duration>,
    /// Normalizes calls, to tell reads from the rest when the control plane is away.
    pub normalize: crate::guard::Normalizer,
}

/// What the forwarder and the reader need of the backend.
#[derive(Clone)]
enum Side {
    Local(DataDir),
    Remote(Arc<ControlPlane>),
}

/// Runs the proxy on `backend` until the agent closes its end (or the server exits).
/// Returns the server's exit code.
pub fn run_with(
    opts: ProxyOptions,
    command: &[OsString],
    backend: Backend,
    client_in: impl Read,
    client_out: Box<dyn Write + Send>,
) -> Result<i32, ProxyError> {
    let (program, args) = command.split_first().ok_or(ProxyError::NoCommand)?;
    let session = EventId::new().to_string();
    let who = (opts.who.agent.clone(), opts.who.workflow.clone());
    let (rec, appender, uplink, response, side, mut decider) = match backend {
        Backend::Local { data, guard } => {
            let appender = start_appender(&data)?;
            let response = crate::response::Response::start_for(&opts, &data, &appender)?;
            let images = crate::images::Imager::open(&data, &opts.workspace)
                .map_err(|e| ProxyError::Images(e.to_string()))?;
            let rec = Recorder::new(appender.clone(), "mcp-proxy", who.0, who.1, session)
                .with_response(response.clone())
                .with_images(Some(std::sync::Arc::new(images)));
            let side = Side::Local(data);
            (
                rec,
                Some(appender),
                None,
                response,
                side,
                Decider::Local(guard),
            )
        }
        Backend::Remote(r) => {
            let uplink = crate::remote::Uplink::start(r.cp.clone());
            let rec = Recorder::to_sink(uplink.clone(), "mcp-proxy", who.0, who.1, session);
            let side = Side::Remote(r.cp.clone());
            let decider = Decider::Remote(r, uplink.clone());
            (rec, None, Some(uplink), None, side, decider)
        }
    };
    let rec = rec.with_detection(opts.detection.clone());
    // Proof of life until a clean exit (the drop at the end marks the gateway stopped).
    let heartbeat = match (&side, opts.heartbeat) {
        (Side::Local(data), Some(every)) => Some(crate::heartbeat::Pulse::Local(data.store()?))
            .map(|p| crate::heartbeat::Heartbeat::start(p, &opts.who.agent, rec.session(), every))
            .map(crate::heartbeat::Heartbeat::stop_on_signals),
        (Side::Remote(cp), Some(every)) => Some(
            crate::heartbeat::Heartbeat::start(
                crate::heartbeat::Pulse::Remote(cp.clone()),
                &opts.who.agent,
                rec.session(),
                every,
            )
            .stop_on_signals(),
        ),
        (_, None) => None,
    };
    if let Some(task) = &opts.who.task {
        let mut e = rec.event(EventKind::AgentPrompt);
        e.payload.insert("task".into(), json!(task));
        rec.record(e);
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| ProxyError::Spawn {
            cmd: program.to_string_lossy().into_owned(),
            source,
        })?;
    let upstream = ToServer {
        stdin: Arc::new(Mutex::new(child.stdin.take())),
        pending: Arc::new(Mutex::new(Outstanding::default())),
    };
    let upstream_out = child.stdout.take().expect("stdout is piped");
    let child = Arc::new(Mutex::new(child));
    let stop_watch = Arc::new(AtomicBool::new(false));
    let watcher = match &side {
        Side::Local(data) => {
            let (data, opts, rec, child, stop) = (
                data.clone(),
                opts.clone(),
                rec.clone(),
                child.clone(),
                stop_watch.clone(),
            );
            std::thread::spawn(move || watch_containment(&data, &opts, &rec, &child, &stop))
        }
        Side::Remote(cp) => follow_containment(cp, &opts, &rec, &child, &stop_watch),
    };
    let out = ToAgent(Arc::new(Mutex::new(client_out)));
    let relay_back = {
        let (rec, out, pending) = (rec.clone(), out.clone(), upstream.pending.clone());
        let limit = opts.max_message_bytes;
        std::thread::spawn(move || server_to_client(upstream_out, limit, &rec, &out, &pending))
    };
    let (steps, steps_rx) = mpsc::sync_channel(READ_AHEAD);
    let forwarder = {
        let fwd = Forwarder {
            side: side.clone(),
            opts: opts.clone(),
            rec: rec.clone(),
            out: out.clone(),
            upstream: upstream.clone(),
            held: Arc::new(approval::Held::default()),
        };
        std::thread::spawn(move || fwd.run(steps_rx))
    };

    let result = client_to_server(client_in, &opts, &rec, &mut decider, &out, steps);
    // The agent is gone: calls still held can no longer be answered.
    let waiting = forwarder.join().unwrap_or_default();
    let held: Vec<String> = waiting.iter().map(|(id, _)| id.clone()).collect();
    if let Side::Local(data) = &side {
        approval::cancel_pending(data, &rec, &held, approval::SESSION_ENDED);
    }
    for (_, w) in waiting {
        let _ = w.join();
    }
    result?;

    // The agent is done: close the server's stdin and give it a moment to finish.
    upstream.close();
    let code = wait_or_kill(&child, Duration::from_secs(5));
    stop_watch.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let _ = relay_back.join();
    drop(rec);
    if let Some(r) = &response {
        r.finish();
    }
    if let Some(a) = appender {
        finish_appender(a);
    }
    drop(heartbeat);
    if let Some(up) = uplink {
        let left = up.finish(Duration::from_secs(10));
        if left > 0 {
            eprintln!(
                "brig mcp-proxy: {left} event(s) could not be sent to the control plane before exit"
            );
        }
    }
    Ok(code)
}

fn wait_or_kill(child: &Shared<Child>, grace: Duration) -> i32 {
    let start = Instant::now();
    loop {
        {
            let mut child = lock(child);
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
    let who = &opts.who;
    while !stop.load(Ordering::SeqCst) {
        if let Ok(Some(c)) = store.containment_of(&who.agent, who.workflow.as_deref()) {
            if c.kill_upstream {
                let mut child = lock(child);
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

/// A remote gateway's kill switch: the control plane's stream announces containment; an
/// order for this agent (its workflow, or everyone) that asks for it stops the upstream
/// server (calls are refused by the control plane anyway).
fn follow_containment(
    cp: &Arc<ControlPlane>,
    opts: &ProxyOptions,
    rec: &Recorder,
    child: &Shared<Child>,
    stop: &Arc<AtomicBool>,
) -> JoinHandle<()> {
    let (who, rec, child) = (opts.who.clone(), rec.clone(), child.clone());
    cp.follow_containment(stop.clone(), move |e| {
        let attrs = &e["attrs"];
        let ours = e["agent"] == who.agent.as_str()
            || attrs["scope"] == brig_store::Scope::All.to_string().as_str()
            || (e["workflow"].is_string() && e["workflow"].as_str() == who.workflow.as_deref());
        if !(ours && attrs["action"] == "contain" && attrs["kill_upstream"] == true) {
            return;
        }
        let mut child = lock(&child);
        let pid = child.id();
        if matches!(child.try_wait(), Ok(None)) && child.kill().is_ok() {
            let mut ev = rec.event(EventKind::ResponseAction);
            ev.attrs.insert("action".into(), json!("kill_upstream"));
            ev.attrs.insert("pid".into(), json!(pid));
            ev.attrs.insert("scope".into(), attrs["scope"].clone());
            rec.record(ev);
        }
    })
}

/// Who decides calls: this host's guard, or the control plane.
enum Decider {
    Local(Guard),
    /// The control plane decides; calls are refused while the uplink's backlog is over
    /// [`crate::remote::MAX_BACKLOG`].
    Remote(Remote, Arc<crate::remote::Uplink>),
}

impl Decider {
    /// Decides a call; the verdict arrives on the returned channel once the call's record
    /// is durable (remote: once the control plane has answered, having recorded it).
    fn decide(
        &mut self,
        opts: &ProxyOptions,
        rec: &Recorder,
        id: &Value,
        tool: &str,
        arguments: &Value,
    ) -> Receiver<Verdict> {
        let (tx, verdict) = mpsc::sync_channel(1);
        match self {
            Decider::Local(guard) => {
                let (events, decided) = call::decide(guard, &opts.who, rec, id, tool, arguments);
                rec.record_then(events, move |durable| {
                    let _ = tx.send(decided.settle(durable));
                });
            }
            Decider::Remote(r, uplink) => {
                let verdict = if uplink.backlog() > crate::remote::MAX_BACKLOG {
                    Verdict::Refuse(format!(
                        "This tool call was blocked by Brig and not run: {} events are waiting to reach the control plane, so what the agent does could not be accounted for; Brig fails closed",
                        uplink.backlog()
                    ))
                } else {
                    remote_verdict(r, opts, rec, id, tool, arguments)
                };
                let _ = tx.send(verdict);
            }
        }
        verdict
    }
}

/// The control plane's verdict on a call, or — when it cannot be reached — a refusal,
/// save for a read within the grace (recorded here, sent up when it is back).
fn remote_verdict(
    r: &Remote,
    opts: &ProxyOptions,
    rec: &Recorder,
    id: &Value,
    tool: &str,
    arguments: &Value,
) -> Verdict {
    let blocked = |why: &str| {
        Verdict::Refuse(format!(
            "This tool call was blocked by Brig and not run: {why}"
        ))
    };
    let req = json!({
        "agent": opts.who.agent, "workflow": opts.who.workflow, "task": opts.who.task,
        "session": rec.session(), "call": call_id(id), "tool": tool, "arguments": arguments,
    });
    let err = match r.cp.decide(&req) {
        Ok(d) => {
            let reason = d["reason"]
                .as_str()
                .unwrap_or("denied by the control plane");
            return match d["effect"].as_str() {
                Some("allow") => Verdict::Forward,
                Some("hold") => match d["approval"].as_str() {
                    Some(a) => Verdict::Hold(Box::new(remote_approval(a, opts, tool))),
                    None => blocked("held for approval without an approval id"),
                },
                _ => Verdict::Refuse(reason.to_string()),
            };
        }
        Err(e) => e,
    };
    // Reading files and listing them only: egress, messages and secrets are not reads here.
    let reads_only = |actions: &[brig_model::Action]| {
        use brig_model::ActionKind::{FileList, FileRead};
        !actions.is_empty()
            && actions
                .iter()
                .all(|a| matches!(a.action, FileRead | FileList))
    };
    if let Some(grace) = r.grace_reads {
        let actions = (r.normalize)(tool, arguments);
        if matches!(err, crate::remote::CallError::Unreachable(_))
            && reads_only(&actions)
            && r.cp.answered_within(grace)
        {
            let mut e = rec.event(EventKind::ToolCall);
            e.tool = Some(tool.to_string());
            e.call = Some(call_id(id));
            e.actions = actions;
            e.attrs.insert("offline_grace".into(), json!(true));
            e.payload.insert("arguments".into(), arguments.clone());
            rec.record(e);
            return Verdict::Forward;
        }
    }
    blocked(&format!("{err}; Brig fails closed"))
}

/// The approval a held call waits on, as far as a remote gateway knows it.
fn remote_approval(id: &str, opts: &ProxyOptions, tool: &str) -> brig_store::Approval {
    brig_store::Approval {
        id: id.to_string(),
        event_index: 0,
        agent: opts.who.agent.clone(),
        workflow: opts.who.workflow.clone(),
        tool: tool.to_string(),
        summary: String::new(),
        policies: String::new(),
        status: "pending".into(),
        created_nanos: brig_model::Timestamp::now().unix_nanos(),
        decided_nanos: None,
        decided_by: None,
        reason: None,
    }
}

/// Reads the agent's lines, records and decides them, and hands them to the forwarder in
/// order. Answers what can never be forwarded at once.
fn client_to_server(
    client_in: impl Read,
    opts: &ProxyOptions,
    rec: &Recorder,
    decider: &mut Decider,
    out: &ToAgent,
    steps: SyncSender<Step>,
) -> Result<(), ProxyError> {
    let mut reader = BufReader::new(client_in);
    let mut buf = Vec::new();
    while let Some(status) = read_line_limited(&mut reader, &mut buf, opts.max_message_bytes)? {
        if let Err(t) = status {
            rec.record(rec.malformed(TO_SERVER, "too large", &[], t.len));
            let msg = format!(
                "message of {} bytes exceeds the limit of {}",
                t.len, t.limit
            );
            out.send(&jsonrpc::error(Value::Null, jsonrpc::INVALID_REQUEST, &msg));
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(e) => {
                rec.record(rec.malformed(TO_SERVER, "not JSON", &buf, buf.len()));
                let msg = format!("Parse error: {e}");
                out.send(&jsonrpc::error(Value::Null, jsonrpc::PARSE_ERROR, &msg));
                continue;
            }
        };
        let msg = Message::classify(&value);
        let step = match msg {
            Message::ToolCall {
                id,
                tool,
                arguments,
            } => {
                let verdict = decider.decide(opts, rec, &id, &tool, &arguments);
                Step::Call {
                    id,
                    tool,
                    line: std::mem::take(&mut buf),
                    verdict,
                }
            }
            other => {
                rec.record(rec.message(TO_SERVER, &other, value.clone()));
                if let Some(refusal) = refusal_of(&other, &value) {
                    out.send(&refusal);
                    continue;
                }
                let request = match &other {
                    Message::Request { id, .. } => Some(id.clone()),
                    _ => None,
                };
                Step::Relay {
                    line: std::mem::take(&mut buf),
                    request,
                    cancels: approval::cancelled_request(&value).cloned(),
                }
            }
        };
        if steps.send(step).is_err() {
            break;
        }
    }
    Ok(())
}

/// The JSON-RPC error for a message Brig never forwards, if it is one.
pub(crate) fn refusal_of(msg: &Message, value: &Value) -> Option<Value> {
    match msg {
        Message::Batch { .. } if batch_has_tool_call(value) => Some(jsonrpc::error(
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "Brig does not accept tools/call inside a batch: send each call on its own",
        )),
        Message::Batch { len: 0 } => Some(jsonrpc::error(
            Value::Null,
            jsonrpc::INVALID_REQUEST,
            "an empty batch is not a valid JSON-RPC message",
        )),
        Message::Invalid { reason } => {
            let id = value.get("id").cloned().unwrap_or(Value::Null);
            Some(jsonrpc::error(id, jsonrpc::INVALID_REQUEST, reason))
        }
        _ => None,
    }
}

fn batch_has_tool_call(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        a.iter()
            .any(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
    })
}

/// Takes the agent's lines in order and sends each on once it may go.
struct Forwarder {
    side: Side,
    opts: ProxyOptions,
    rec: Recorder,
    out: ToAgent,
    upstream: ToServer,
    held: Arc<approval::Held>,
}

impl Forwarder {
    /// Returns the threads of calls still waiting for a human, by approval id.
    fn run(self, steps: Receiver<Step>) -> Vec<(String, JoinHandle<()>)> {
        let mut waiting = Vec::new();
        for step in steps {
            match step {
                Step::Relay {
                    line,
                    request: None,
                    cancels,
                } => {
                    self.upstream.line(&line);
                    // In order: a call held before this line is in `held` by now.
                    if let Some(r) = cancels {
                        if let Some(a) = self.held.remove(&id_key(&r)) {
                            if let Side::Local(data) = &self.side {
                                approval::cancel_call(data, &self.rec, &a, &r);
                            }
                        }
                    }
                }
                Step::Relay {
                    line,
                    request: Some(id),
                    ..
                } => {
                    if !self.upstream.request(&id, None, &line) {
                        self.out.send(&server_gone(id, None));
                    }
                }
                Step::Call {
                    id,
                    tool,
                    line,
                    verdict,
                } => {
                    let verdict = verdict.recv().unwrap_or_else(|_| {
                        Verdict::Refuse("This tool call was blocked by Brig and not run: the ledger writer stopped, and Brig fails closed".into())
                    });
                    match verdict {
                        Verdict::Forward => {
                            if !self.upstream.request(&id, Some(&tool), &line) {
                                self.out.send(&server_gone(id, Some(&tool)));
                            }
                        }
                        Verdict::Refuse(text) => self.out.send(&jsonrpc::tool_refusal(id, &text)),
                        Verdict::Hold(a) => {
                            let approval_id = a.id.clone();
                            self.held.insert(id_key(&id), approval_id.clone());
                            let held = self.hold(*a, id, tool, line);
                            waiting.push((approval_id, held));
                        }
                    }
                }
            }
        }
        waiting
    }

    /// Waits for a human on a thread of its own; the session goes on meanwhile.
    fn hold(
        &self,
        a: brig_store::Approval,
        id: Value,
        tool: String,
        line: Vec<u8>,
    ) -> JoinHandle<()> {
        let (side, opts, rec, out, upstream, held) = (
            self.side.clone(),
            self.opts.clone(),
            self.rec.clone(),
            self.out.clone(),
            self.upstream.clone(),
            self.held.clone(),
        );
        std::thread::spawn(move || {
            let call = call_id(&id);
            let timeout = opts.approval_timeout;
            let waited = match &side {
                Side::Local(data) => {
                    approval::hold_and_wait(data, &opts.who, &rec, &a, &call, timeout)
                }
                Side::Remote(cp) => wait_remote(cp, &a.id, timeout),
            };
            held.remove(&id_key(&id));
            match waited {
                Ok(()) => {
                    if !upstream.request(&id, Some(&tool), &line) {
                        out.send(&server_gone(id, Some(&tool)));
                    }
                }
                Err(text) => out.send(&jsonrpc::tool_refusal(id, &text)),
            }
        })
    }
}

/// Waits for the control plane's decision on a held call (looking every 200 ms).
fn wait_remote(cp: &ControlPlane, id: &str, timeout: Duration) -> Result<(), String> {
    let held = |why: &str| format!("This tool call was held for approval and not run: {why}");
    let deadline = Instant::now() + timeout;
    loop {
        match cp.approval(id) {
            Ok(a) => match a["status"].as_str() {
                Some("approved") => return Ok(()),
                Some("pending") => {}
                Some(other) => {
                    let why = a["reason"].as_str().unwrap_or("");
                    return Err(held(&format!("{other}: {why}")));
                }
                None => return Err(held("the control plane gave no status")),
            },
            Err(crate::remote::CallError::Refused { message, .. }) => return Err(held(&message)),
            // Unreachable: keep waiting until the deadline (fail closed at the end).
            Err(_) => {}
        }
        if Instant::now() >= deadline {
            return Err(held(
                "no decision in time (or the control plane is unreachable)",
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The answer to a request the server will never answer: a tool error for a call (an
/// agent reads it like any refusal), a JSON-RPC error otherwise.
fn server_gone(id: Value, tool: Option<&str>) -> Value {
    match tool {
        Some(_) => jsonrpc::tool_refusal(
            id,
            &format!("This tool call was allowed by Brig, but {SERVER_GONE}: it was not run"),
        ),
        None => jsonrpc::error(id, jsonrpc::INTERNAL_ERROR, SERVER_GONE),
    }
}

/// The server's output closed: every request still waiting is answered with an error
/// (recorded), and later ones will be at once.
fn server_closed(rec: &Recorder, out: &ToAgent, pending: &Shared<Outstanding>) {
    let orphans: Vec<Pending> = {
        let mut o = lock(pending);
        o.gone = true;
        o.requests.drain().map(|(_, p)| p).collect()
    };
    let mut e = rec.event(EventKind::ProtocolMessage);
    e.attrs.insert("direction".into(), json!(TO_AGENT));
    e.attrs
        .insert("upstream_failure".into(), json!(SERVER_GONE));
    e.attrs.insert("unanswered".into(), json!(orphans.len()));
    rec.record(e);
    for p in orphans {
        let answer = server_gone(p.id.clone(), p.tool.as_deref());
        match &p.tool {
            Some(tool) => rec.record(rec.tool_result(tool, &call_id(&p.id), &answer)),
            None => rec.record(rec.message(TO_AGENT, &Message::classify(&answer), answer.clone())),
        }
        out.send(&answer);
    }
}

fn server_to_client(
    upstream_out: impl Read,
    limit: usize,
    rec: &Recorder,
    out: &ToAgent,
    pending: &Shared<Outstanding>,
) {
    let mut reader = BufReader::new(upstream_out);
    let mut buf = Vec::new();
    loop {
        let status = match read_line_limited(&mut reader, &mut buf, limit) {
            Ok(Some(s)) => s,
            Ok(None) | Err(_) => return server_closed(rec, out, pending),
        };
        if let Err(t) = status {
            eprintln!(
                "brig mcp-proxy: dropped a {}-byte message from the server (limit {})",
                t.len, t.limit
            );
            rec.record(rec.malformed(TO_AGENT, "too large", &[], t.len));
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: Value = match serde_json::from_slice(&buf) {
            Ok(v) => v,
            Err(_) => {
                eprintln!("brig mcp-proxy: dropped a message from the server that is not JSON");
                rec.record(rec.malformed(TO_AGENT, "not JSON", &buf, buf.len()));
                continue;
            }
        };
        let msg = Message::classify(&value);
        let answered = match &msg {
            Message::Response { id, .. } => lock(pending).requests.remove(&id_key(id)),
            _ => None,
        };
        match answered.and_then(|p| Some((p.tool?, call_id(&p.id)))) {
            Some((tool, call)) => rec.record(rec.tool_result(&tool, &call, &value)),
            None => rec.record(rec.message(TO_AGENT, &msg, value.clone())),
        }
        out.line(&buf);
    }
}
