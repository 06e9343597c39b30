//! Coding-agent hooks: Claude Code, Gemini CLI and Cursor run a command at fixed points of
//! their loop — before a tool runs, after it ran, when the user submits a prompt — with the
//! event as JSON on stdin, and read a decision from its stdout. `brig hook <agent>` is that
//! command: each event is one short-lived process.
//!
//! ```text
//! coding agent ──event JSON──▶ brig hook claude-code ──▶ call::decide (containment,
//!              ◀─decision JSON─                           policy, rules, playbook) → ledger
//! ```
//!
//! A tool about to run is decided by the same path as the MCP proxy's calls
//! ([`crate::call::decide`]: containment, Cedar policy, inline detection, incident
//! response), recorded durably before the answer; a held call becomes the agent's own
//! "ask the user" answer, with the approval request recorded. A tool's result is recorded
//! as `tool.result` and evaluated by the rules; a prompt is recorded as `agent.prompt` and
//! becomes the session's declared task.
//!
//! Since every event is a new process, what detection remembers of a session (the task,
//! where values came from, injection marks, correlation windows) is rebuilt from the
//! session's latest recorded events ([`HISTORY`]) before the event is judged: the ledger is
//! the session's memory.
//!
//! Fail closed: an event that cannot be read or decided is answered with a denial (see
//! [`fail_closed`]), never with an allow.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use brig_ledger::appender::Appender;
use brig_ledger::store::LedgerStore;
use brig_model::{EventKind, NewEvent};
use brig_store::{DataDir, Store};
use serde_json::{json, Map, Value};

use crate::call::{self, Verdict};
use crate::detection::Detection;
use crate::guard::Guard;
use crate::record::{Recorder, TO_AGENT};
use crate::remote::ControlPlane;
use crate::response::{Response, ResponseConfig};
use crate::Identity;

/// Most recorded events of a session replayed into detection before an event is judged.
pub const HISTORY: usize = 500;

/// Exit code of a blocking answer: Claude Code, Gemini CLI and Cursor block the action on
/// it (Claude Code and Gemini CLI then read the reason from stderr, not stdout).
pub const BLOCKING_EXIT: i32 = 2;

/// The coding agents whose hook protocol Brig speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentKind {
    ClaudeCode,
    GeminiCli,
    Cursor,
    /// OpenAI Codex CLI's hooks (experimental, `[features] codex_hooks`): Claude Code's
    /// event shapes; only shell commands reach PreToolUse, and it cannot ask the user.
    Codex,
}

impl AgentKind {
    /// The name used in agent ids, event sources and the command line.
    pub fn name(self) -> &'static str {
        match self {
            AgentKind::ClaudeCode => "claude-code",
            AgentKind::GeminiCli => "gemini-cli",
            AgentKind::Cursor => "cursor",
            AgentKind::Codex => "codex",
        }
    }

    /// Every agent this module reads hooks for.
    pub const ALL: [AgentKind; 4] = [
        AgentKind::ClaudeCode,
        AgentKind::GeminiCli,
        AgentKind::Cursor,
        AgentKind::Codex,
    ];

    /// The settings files that configure this agent's hooks, relative to a project or the
    /// home directory: the first is the one `brig hook install` writes; the others can
    /// switch hooks off as well (Claude Code's `disableAllHooks` in its local settings).
    pub fn settings_files(self) -> &'static [&'static str] {
        match self {
            AgentKind::ClaudeCode => &[".claude/settings.json", ".claude/settings.local.json"],
            AgentKind::GeminiCli => &[".gemini/settings.json"],
            AgentKind::Cursor => &[".cursor/hooks.json"],
            AgentKind::Codex => &[".codex/hooks.json", ".codex/config.toml"],
        }
    }
}

/// What happened, in Brig's terms.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// The user submitted a prompt: the session's declared task from now on.
    Prompt(String),
    /// A tool is about to run.
    PreTool { tool: String, input: Value },
    /// A tool ran.
    PostTool {
        tool: String,
        input: Value,
        response: Value,
    },
    /// An event Brig has nothing to do for (answered with an empty object).
    Other,
}

/// One hook event, whichever agent sent it.
#[derive(Clone, Debug)]
pub struct HookEvent {
    pub agent: AgentKind,
    /// `hook_event_name` as sent (the answer names it back).
    pub name: String,
    pub session: String,
    /// The working directory: relative paths resolve here (it follows the agent's `cd`).
    pub cwd: PathBuf,
    /// The project: the default agent id and the policy's served directory come from it.
    /// The first workspace root (Cursor), else the working directory; the caller may know
    /// better (`CLAUDE_PROJECT_DIR`, `GEMINI_PROJECT_DIR`: see [`project_from_env`]).
    pub project: PathBuf,
    /// The agent's id of the tool call, when it gives one (`tool_use_id`).
    pub call: Option<String>,
    pub kind: Kind,
}

/// The answer to an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Allow,
    Deny(String),
    /// Held for approval: the agent asks its user.
    Ask(String),
    /// Recorded; nothing to decide.
    Done,
}

/// Why an event could not be handled (the hook then fails closed).
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("the hook input is not valid: {0}")]
    Input(String),
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("the ledger cannot be written: {0}")]
    Ledger(String),
    #[error(transparent)]
    ControlPlane(#[from] crate::remote::CallError),
}

fn input(why: impl Into<String>) -> HookError {
    HookError::Input(why.into())
}

/// Reads one event as `agent` sends it.
pub fn parse(agent: AgentKind, bytes: &[u8]) -> Result<HookEvent, HookError> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| input(format!("not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| input("not a JSON object"))?;
    let name = text(obj, "hook_event_name")?.to_string();
    let mut ev = match agent {
        AgentKind::ClaudeCode | AgentKind::GeminiCli | AgentKind::Codex => {
            tool_shaped(agent, obj, &name)?
        }
        AgentKind::Cursor => cursor(obj, &name)?,
    };
    for dir in [&ev.cwd, &ev.project] {
        if !dir.is_absolute() {
            return Err(input(format!(
                "the directory `{}` is not absolute",
                dir.display()
            )));
        }
    }
    if ev.call.is_none() {
        ev.call = call_hash(&ev);
    }
    Ok(ev)
}

fn text<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, HookError> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| input(format!("`{key}` is missing or not a string")))
}

/// Claude Code's events (`PreToolUse`, `PostToolUse`, `UserPromptSubmit`; Codex's too) and
/// Gemini CLI's (`BeforeTool`, `AfterTool`, `BeforeAgent`) carry the same fields.
fn tool_shaped(
    agent: AgentKind,
    obj: &Map<String, Value>,
    name: &str,
) -> Result<HookEvent, HookError> {
    let args = || obj.get("tool_input").cloned().unwrap_or_else(|| json!({}));
    let kind = match name {
        "PreToolUse" | "BeforeTool" => Kind::PreTool {
            tool: text(obj, "tool_name")?.to_string(),
            input: args(),
        },
        "PostToolUse" | "AfterTool" => Kind::PostTool {
            tool: text(obj, "tool_name")?.to_string(),
            input: args(),
            response: obj.get("tool_response").cloned().unwrap_or(Value::Null),
        },
        "UserPromptSubmit" | "BeforeAgent" => Kind::Prompt(text(obj, "prompt")?.to_string()),
        _ => Kind::Other,
    };
    Ok(HookEvent {
        agent,
        name: name.to_string(),
        session: text(obj, "session_id")?.to_string(),
        cwd: PathBuf::from(text(obj, "cwd")?),
        project: PathBuf::from(text(obj, "cwd")?),
        call: obj
            .get("tool_use_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        kind,
    })
}

/// The tool name a Cursor shell command is recorded under (a shell tool to the normalizer).
pub const CURSOR_SHELL: &str = "run_terminal_cmd";

/// Cursor's events: one per kind of action (`beforeShellExecution`, `beforeMCPExecution`,
/// `beforeReadFile`, `beforeSubmitPrompt` and their `after…` counterparts).
fn cursor(obj: &Map<String, Value>, name: &str) -> Result<HookEvent, HookError> {
    let cwd = obj
        .get("cwd")
        .and_then(Value::as_str)
        .or_else(|| obj.get("workspace_roots")?.get(0)?.as_str())
        .ok_or_else(|| input("neither `cwd` nor `workspace_roots` is given"))?;
    // MCP arguments and results arrive as JSON text in some versions.
    let json_field = |k: &str| match obj.get(k) {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::String(s.clone())),
        Some(v) => v.clone(),
        None => Value::Null,
    };
    let shell = || -> Result<Value, HookError> {
        Ok(json!({ "command": text(obj, "command")?, "cwd": cwd }))
    };
    let kind = match name {
        "beforeShellExecution" => Kind::PreTool {
            tool: CURSOR_SHELL.into(),
            input: shell()?,
        },
        "afterShellExecution" => Kind::PostTool {
            tool: CURSOR_SHELL.into(),
            input: shell()?,
            response: json!({ "output": obj.get("output").cloned().unwrap_or(Value::Null) }),
        },
        "beforeMCPExecution" => Kind::PreTool {
            tool: text(obj, "tool_name")?.to_string(),
            input: json_field("tool_input"),
        },
        "afterMCPExecution" => Kind::PostTool {
            tool: text(obj, "tool_name")?.to_string(),
            input: json_field("tool_input"),
            response: json_field("result_json"),
        },
        // The file's content is not recorded: the read is decided by its path.
        "beforeReadFile" => Kind::PreTool {
            tool: "read_file".into(),
            input: json!({ "file_path": text(obj, "file_path")? }),
        },
        "afterFileEdit" => Kind::PostTool {
            tool: "edit_file".into(),
            input: json!({ "file_path": text(obj, "file_path")? }),
            response: json!({ "edits": obj.get("edits").cloned().unwrap_or(Value::Null) }),
        },
        "beforeSubmitPrompt" => Kind::Prompt(text(obj, "prompt")?.to_string()),
        _ => Kind::Other,
    };
    let project = obj
        .get("workspace_roots")
        .and_then(|r| r.get(0)?.as_str())
        .unwrap_or(cwd);
    Ok(HookEvent {
        agent: AgentKind::Cursor,
        name: name.to_string(),
        session: text(obj, "conversation_id")?.to_string(),
        cwd: PathBuf::from(cwd),
        project: PathBuf::from(project),
        call: None,
        kind,
    })
}

/// A call id for an agent that gives none: the same session, tool and arguments before
/// and after the tool ran give the same id, so the result is correlated with its call.
fn call_hash(ev: &HookEvent) -> Option<String> {
    let (tool, args) = match &ev.kind {
        Kind::PreTool { tool, input } | Kind::PostTool { tool, input, .. } => (tool, input),
        _ => return None,
    };
    let mut h = blake3::Hasher::new();
    for part in [
        ev.session.as_bytes(),
        tool.as_bytes(),
        args.to_string().as_bytes(),
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    Some(format!("h-{}", &h.finalize().to_hex()[..16]))
}

/// The project directory the agent itself names in the hook's environment, when it does:
/// Claude Code sets `CLAUDE_PROJECT_DIR` and Gemini CLI `GEMINI_PROJECT_DIR` for their
/// hooks (the event's `cwd` follows the agent's `cd`, the project does not).
pub fn project_from_env(agent: AgentKind) -> Option<PathBuf> {
    let var = match agent {
        AgentKind::ClaudeCode => "CLAUDE_PROJECT_DIR",
        AgentKind::GeminiCli => "GEMINI_PROJECT_DIR",
        AgentKind::Cursor | AgentKind::Codex => return None,
    };
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// The default agent id for a project: `<agent>:<directory name>-<8 hex of its path's
/// hash>`, so two checkouts named alike are two agents.
pub fn default_agent_id(agent: AgentKind, project: &Path) -> String {
    let name = project
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "root".into());
    let hash = blake3::hash(project.as_os_str().as_encoded_bytes()).to_hex();
    format!("{}:{name}-{}", agent.name(), &hash[..8])
}

/// The answer to print, and the exit code, for `outcome` of `ev`.
pub fn answer(ev: &HookEvent, outcome: &Outcome) -> (Value, i32) {
    answer_to(ev.agent, &ev.name, outcome)
}

fn answer_to(agent: AgentKind, event: &str, outcome: &Outcome) -> (Value, i32) {
    let (decision, reason) = match outcome {
        Outcome::Allow => ("allow", None),
        Outcome::Deny(r) => ("deny", Some(r.as_str())),
        Outcome::Ask(r) => ("ask", Some(r.as_str())),
        Outcome::Done => return (done(agent, event), 0),
    };
    let v = match agent {
        AgentKind::ClaudeCode => {
            let mut out = json!({ "hookEventName": event, "permissionDecision": decision });
            if let Some(r) = reason {
                out["permissionDecisionReason"] = json!(r);
            }
            json!({ "hookSpecificOutput": out })
        }
        // Codex: no objection is an empty answer; it has no "ask", so a held call is
        // refused, naming the approval a person can grant before the agent retries.
        AgentKind::Codex if decision == "allow" => json!({}),
        AgentKind::Codex => {
            let why = match outcome {
                Outcome::Ask(r) => format!("Held for approval and not run (Codex cannot ask): {r}"),
                _ => reason.unwrap_or_default().to_string(),
            };
            json!({ "hookSpecificOutput": {
                "hookEventName": event, "permissionDecision": "deny",
                "permissionDecisionReason": why,
            }})
        }
        AgentKind::GeminiCli => {
            let mut out = json!({ "decision": decision });
            if let Some(r) = reason {
                out["reason"] = json!(r);
            }
            out
        }
        AgentKind::Cursor if event == "beforeSubmitPrompt" => {
            json!({ "continue": decision == "allow" })
        }
        AgentKind::Cursor => {
            let mut out = json!({ "permission": decision });
            if let Some(r) = reason {
                out["user_message"] = json!(r);
                out["agent_message"] = json!(r);
            }
            out
        }
    };
    (v, 0)
}

/// The answer to an event that needs no decision.
fn done(agent: AgentKind, event: &str) -> Value {
    match agent {
        AgentKind::Cursor if event == "beforeSubmitPrompt" => json!({ "continue": true }),
        _ => json!({}),
    }
}

/// The answer when Brig cannot decide: a denial naming why, exit code [`BLOCKING_EXIT`]
/// (the agents block on it and show stderr, where the caller writes `why` too). `agent`
/// and `event` are what is known of the input (the event name may be unknown).
pub fn fail_closed(agent: AgentKind, event: Option<&str>, why: &str) -> (Value, i32) {
    let reason = format!("Brig could not decide, so it denies (fail closed): {why}");
    let event = event.unwrap_or(match agent {
        AgentKind::ClaudeCode | AgentKind::Codex => "PreToolUse",
        AgentKind::GeminiCli => "BeforeTool",
        AgentKind::Cursor => "beforeShellExecution",
    });
    let (v, _) = answer_to(agent, event, &Outcome::Deny(reason));
    (v, BLOCKING_EXIT)
}

/// The event name of a payload that may not parse as an event (for [`fail_closed`]).
pub fn event_name(bytes: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    v.get("hook_event_name")?.as_str().map(str::to_string)
}

/// The recorded events of `session`, its latest [`HISTORY`] oldest first, with their
/// payloads (what a replay into detection needs).
pub fn history(store: &mut Store, session: &str) -> Result<Vec<NewEvent>, HookError> {
    let mut out = Vec::new();
    for idx in store.recent_session_events(session, HISTORY)? {
        let Some(row) = store.leaf(idx)? else {
            continue;
        };
        let e = brig_model::Event::from_leaf(&row.leaf).map_err(|err| {
            brig_ledger::store::StoreError::Damaged(format!("event {idx} does not parse: {err}"))
        })?;
        let payload = match brig_incident::questions::raw_payloads(store, idx, &e)? {
            Value::Object(m) => m.into_iter().collect(),
            _ => Default::default(),
        };
        out.push(NewEvent {
            v: Some(e.v),
            id: Some(e.id),
            ts: Some(e.ts),
            source: e.source,
            agent: e.agent,
            workflow: e.workflow,
            session: e.session,
            kind: e.kind,
            tool: e.tool,
            call: e.call,
            actions: e.actions,
            decision: e.decision,
            attrs: e.attrs,
            payload,
        });
    }
    Ok(out)
}

/// The session's declared task: its latest prompt.
pub fn latest_task(history: &[NewEvent]) -> Option<String> {
    history
        .iter()
        .rev()
        .filter(|e| e.kind == EventKind::AgentPrompt)
        .find_map(|e| e.payload.get("task")?.as_str().map(str::to_string))
}

/// A hook process signs a checkpoint when it finishes only if the latest one is older than
/// this: hook processes come one per tool call, and a signed checkpoint per call would fill
/// the checkpoint table for nothing (events are durable without one; evidence exports and
/// `brig ledger checkpoint` sign a fresh one whenever they need it).
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A hook process on this host's data directory.
pub struct LocalHook {
    data: DataDir,
    /// Containment and policy (`None`: the process only records, it decides nothing).
    guard: Option<Guard>,
    who: Identity,
    detection: Option<Arc<Detection>>,
    appender: Arc<Appender>,
    response: Option<Arc<Response>>,
    /// Pre-images of the files a call changes go in its `tool.call`, post-images in its
    /// `tool.result`, so `brig rollback` can undo what the agent's tools did.
    images: Arc<crate::images::Imager>,
}

impl LocalHook {
    /// Opens the ledger writer and incident response on `data`. `who` names the agent and
    /// workflow (its task is read from the session).
    pub fn open(
        data: &DataDir,
        guard: Option<Guard>,
        who: Identity,
        detection: Option<Arc<Detection>>,
        response: Option<&ResponseConfig>,
    ) -> Result<LocalHook, HookError> {
        let mut store = data.store()?;
        store.set_busy_timeout(std::time::Duration::from_secs(2))?;
        let appender = Arc::new(Appender::start(brig_ledger::Ledger::new(store), None));
        let response = response
            .map(|c| Response::start(data, c, appender.clone()))
            .transpose()?;
        let images = crate::images::Imager::open(data, &[])
            .map_err(|e| HookError::Ledger(format!("the object store for pre-images: {e}")))?;
        Ok(LocalHook {
            data: data.clone(),
            guard,
            who,
            detection,
            appender,
            response,
            images: Arc::new(images),
        })
    }

    /// Decides or records one event; durable before it returns.
    pub fn handle(&mut self, ev: &HookEvent) -> Result<Outcome, HookError> {
        if ev.kind == Kind::Other {
            return Ok(Outcome::Done);
        }
        let mut store = self.data.store()?;
        let past = history(&mut store, &ev.session)?;
        if let Some(d) = &self.detection {
            // Alerts are what the rules said, never what they saw: not replayed.
            d.replay(past.iter().filter(|e| e.kind != EventKind::Alert));
        }
        let rec = Recorder::new(
            self.appender.clone(),
            source(ev.agent),
            self.who.agent.clone(),
            self.who.workflow.clone(),
            ev.session.clone(),
        )
        .with_detection(self.detection.clone())
        .with_response(self.response.clone())
        .with_images(Some(self.images.clone()));
        match &ev.kind {
            Kind::Prompt(text) => {
                let mut e = rec.event(EventKind::AgentPrompt);
                e.attrs.insert("hook".into(), json!(ev.name));
                e.payload.insert("task".into(), json!(text));
                rec.record_durably(rec.observed(e))
                    .map_err(HookError::Ledger)?;
                Ok(Outcome::Done)
            }
            Kind::PreTool { tool, input } => {
                let who = Identity {
                    task: latest_task(&past),
                    ..self.who.clone()
                };
                let call = ev.call.clone().unwrap_or_default();
                self.decide(&mut store, &rec, &who, &call, tool, input)
            }
            Kind::PostTool { tool, response, .. } => {
                let call = ev.call.clone().unwrap_or_default();
                // A call Brig held ran: the person at the agent said yes when it asked.
                let mut events = approved_by_user(&mut store, ev, &self.who.agent, &call)?;
                let mut result = tool_result(&rec, ev, tool, &call, response);
                post_images(&self.data, &past, &call, &mut result);
                events.extend(rec.observed(result));
                rec.record_durably(events).map_err(HookError::Ledger)?;
                Ok(Outcome::Done)
            }
            Kind::Other => Ok(Outcome::Done),
        }
    }

    fn decide(
        &mut self,
        store: &mut Store,
        rec: &Recorder,
        who: &Identity,
        call: &str,
        tool: &str,
        input: &Value,
    ) -> Result<Outcome, HookError> {
        let id = json!(call);
        let guard = self
            .guard
            .as_mut()
            .ok_or_else(|| HookError::Input("this hook process was not given a policy".into()))?;
        let (events, decided) = call::decide(guard, who, rec, &id, tool, input);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rec.record_then(events, move |r| {
            let _ = tx.send(r);
        });
        let durable = rx
            .recv()
            .unwrap_or_else(|_| Err("the ledger writer stopped".into()));
        Ok(match decided.settle(durable) {
            Verdict::Forward => Outcome::Allow,
            Verdict::Refuse(text) => Outcome::Deny(text),
            Verdict::Hold(a) => match crate::approval::queue(store, rec, &a, call) {
                Ok(()) => Outcome::Ask(format!(
                    "Brig holds this call for approval (approval {}, policy {}): {}. Approve it here to let it run; it is recorded either way.",
                    a.id,
                    a.policies,
                    a.reason.as_deref().unwrap_or(&a.summary)
                )),
                Err(text) => Outcome::Deny(text),
            },
        })
    }

    /// Lets incident response finish what the event started (a playbook run), and the
    /// ledger writer sign a checkpoint. Call after the answer is printed.
    pub fn finish(self) {
        drop(self.detection);
        if let Some(r) = &self.response {
            r.finish();
        }
        drop(self.response);
        if let Ok(a) = Arc::try_unwrap(self.appender) {
            if let Err(e) = a.finish() {
                eprintln!("brig hook: the ledger writer failed: {e}");
            }
        }
        if let Err(e) = checkpoint_if_stale(&self.data) {
            eprintln!("brig hook: checkpoint not signed: {e}");
        }
    }
}

/// Records in `result` the state now of the paths its call changes (as its `tool.call`,
/// found in the session's history, named them), beside the pre-images that call carries.
fn post_images(data: &DataDir, past: &[NewEvent], call: &str, result: &mut NewEvent) {
    use brig_rollback::images::{capture, POST, PRE};
    let Some(called) = past
        .iter()
        .rev()
        .find(|e| e.kind == EventKind::ToolCall && e.call.as_deref() == Some(call))
    else {
        return;
    };
    // The same paths as the pre-images (directories the call created included).
    let Some(Value::Object(pre)) = called.payload.get(PRE) else {
        return;
    };
    let paths: Vec<String> = pre.keys().cloned().collect();
    let captured = brig_rollback::objects::Objects::open(&data.root().join("objects"))
        .and_then(|objects| capture(&paths, &objects));
    match captured {
        Ok(images) => {
            result.payload.insert(POST.into(), json!(images));
        }
        Err(e) => {
            result
                .attrs
                .insert("postimage_error".into(), json!(e.to_string()));
        }
    }
}

/// Settles the pending approval of `call` (held, then asked of the user, and now run) as
/// approved by the agent's user; the `approval.decision` to record, if there was one.
fn approved_by_user(
    store: &mut Store,
    ev: &HookEvent,
    agent: &str,
    call: &str,
) -> Result<Vec<NewEvent>, HookError> {
    for a in store.approvals(false)? {
        if a.agent != agent || a.status != "pending" {
            continue;
        }
        let Some(row) = store.leaf(a.event_index)? else {
            continue;
        };
        let held = brig_model::Event::from_leaf(&row.leaf).ok();
        if held.is_none_or(|e| {
            e.call.as_deref() != Some(call) || e.session.as_deref() != Some(&ev.session)
        }) {
            continue;
        }
        let actor = format!("user at {}", ev.agent.name());
        let why = format!("allowed when {} asked; the tool ran", ev.agent.name());
        match crate::approval::settle_by_operator(store, &a.id, true, &actor, &why) {
            Ok((_, mut e)) => {
                e.source = source(ev.agent).to_string();
                e.ts = Some(brig_model::Timestamp::now());
                e.session = Some(ev.session.clone());
                e.call = Some(call.to_string());
                return Ok(vec![e]);
            }
            // Settled meanwhile (an operator, a timeout): theirs is the record.
            Err(crate::approval::SettleError::NotPending { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(HookError::Ledger(e.to_string())),
        }
    }
    Ok(Vec::new())
}

/// Signs a checkpoint when the latest is older than [`CHECKPOINT_EVERY`] (or there is none).
fn checkpoint_if_stale(data: &DataDir) -> Result<(), String> {
    let mut store = data.store().map_err(|e| e.to_string())?;
    let latest = store.latest_checkpoint().map_err(|e| e.to_string())?;
    let now = brig_model::Timestamp::now().unix_nanos();
    let fresh = latest
        .is_some_and(|c| now.saturating_sub(c.created_nanos) < CHECKPOINT_EVERY.as_nanos() as i64);
    if fresh {
        return Ok(());
    }
    let signer = data.signer().map_err(|e| e.to_string())?;
    brig_ledger::Ledger::new(store)
        .checkpoint(&signer)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The event source of an agent's hook events.
fn source(agent: AgentKind) -> &'static str {
    match agent {
        AgentKind::ClaudeCode => "hook:claude-code",
        AgentKind::GeminiCli => "hook:gemini-cli",
        AgentKind::Cursor => "hook:cursor",
        AgentKind::Codex => "hook:codex",
    }
}

/// The `tool.result` of a tool the agent ran.
fn tool_result(
    rec: &Recorder,
    ev: &HookEvent,
    tool: &str,
    call: &str,
    response: &Value,
) -> NewEvent {
    let mut e = rec.event(EventKind::ToolResult);
    e.tool = Some(tool.to_string());
    e.call = Some(call.to_string());
    e.attrs.insert("hook".into(), json!(ev.name));
    e.attrs.insert("direction".into(), json!(TO_AGENT));
    e.attrs.insert(
        "status".into(),
        json!(if failed(response) { "error" } else { "ok" }),
    );
    e.payload.insert("result".into(), response.clone());
    e
}

/// Whether a tool's response says it failed (the shapes the agents use).
fn failed(response: &Value) -> bool {
    response.get("error").is_some_and(|e| !e.is_null())
        || response.get("is_error").and_then(Value::as_bool) == Some(true)
        || response.get("isError").and_then(Value::as_bool) == Some(true)
        || response.get("success").and_then(Value::as_bool) == Some(false)
}

/// A hook process whose decisions come from a control plane (`--server URL`, an agent
/// token): the call is decided and recorded there; prompts and results are sent there.
/// The declared task is recorded but not sent with the call: an agent token cannot read
/// the ledger back.
pub struct RemoteHook {
    pub cp: Arc<ControlPlane>,
    pub who: Identity,
}

impl RemoteHook {
    pub fn handle(&self, ev: &HookEvent) -> Result<Outcome, HookError> {
        let call = ev.call.clone().unwrap_or_default();
        let event = |kind: EventKind| {
            let mut e = NewEvent::new(source(ev.agent), self.who.agent.clone(), kind);
            e.ts = Some(brig_model::Timestamp::now());
            e.id = Some(brig_model::EventId::new());
            e.workflow = self.who.workflow.clone();
            e.session = Some(ev.session.clone());
            e.attrs.insert("hook".into(), json!(ev.name));
            e
        };
        match &ev.kind {
            Kind::Other => Ok(Outcome::Done),
            Kind::Prompt(text) => {
                let mut e = event(EventKind::AgentPrompt);
                e.payload.insert("task".into(), json!(text));
                self.cp.ingest(&[e])?;
                Ok(Outcome::Done)
            }
            Kind::PostTool { tool, response, .. } => {
                let mut e = event(EventKind::ToolResult);
                e.tool = Some(tool.clone());
                e.call = Some(call);
                e.attrs.insert("direction".into(), json!(TO_AGENT));
                e.attrs.insert(
                    "status".into(),
                    json!(if failed(response) { "error" } else { "ok" }),
                );
                e.payload.insert("result".into(), response.clone());
                self.cp.ingest(&[e])?;
                Ok(Outcome::Done)
            }
            Kind::PreTool { tool, input } => {
                // The control plane knows nothing of the project: relative paths (a shell
                // command's) resolve against the directory given as the call's `cwd`.
                let mut input = input.clone();
                if let Some(args) = input.as_object_mut() {
                    args.entry("cwd")
                        .or_insert_with(|| json!(ev.cwd.to_string_lossy()));
                }
                let d = self.cp.decide(&json!({
                    "agent": self.who.agent, "workflow": self.who.workflow,
                    "session": ev.session, "call": call, "tool": tool, "arguments": input,
                }))?;
                let reason = d["reason"]
                    .as_str()
                    .unwrap_or("denied by the control plane");
                Ok(match d["effect"].as_str() {
                    Some("allow") => Outcome::Allow,
                    Some("hold") => Outcome::Ask(format!(
                        "Brig's control plane holds this call for approval (approval {}). Approve it here to let it run; it is recorded either way.",
                        d["approval"].as_str().unwrap_or("?")
                    )),
                    _ => Outcome::Deny(reason.to_string()),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claude(v: Value) -> HookEvent {
        parse(AgentKind::ClaudeCode, v.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn claude_code_events() {
        let ev = claude(json!({
            "hook_event_name": "PreToolUse", "session_id": "s1", "cwd": "/w/p",
            "tool_name": "Bash", "tool_input": {"command": "ls"}, "tool_use_id": "toolu_1"
        }));
        assert_eq!(ev.call.as_deref(), Some("toolu_1"));
        assert_eq!(
            ev.kind,
            Kind::PreTool {
                tool: "Bash".into(),
                input: json!({"command": "ls"})
            }
        );
        let (v, code) = answer(&ev, &Outcome::Deny("no".into()));
        assert_eq!(code, 0);
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
        assert_eq!(v["hookSpecificOutput"]["permissionDecisionReason"], "no");
        assert_eq!(v["hookSpecificOutput"]["hookEventName"], "PreToolUse");
        let p = claude(json!({
            "hook_event_name": "UserPromptSubmit", "session_id": "s1", "cwd": "/w/p",
            "prompt": "fix the tests"
        }));
        assert_eq!(p.kind, Kind::Prompt("fix the tests".into()));
    }

    #[test]
    fn bad_input_is_refused() {
        for bad in [
            "not json",
            "[]",
            r#"{"hook_event_name":"PreToolUse","cwd":"/w"}"#,
            r#"{"hook_event_name":"PreToolUse","session_id":"s","cwd":"rel","tool_name":"Bash"}"#,
        ] {
            assert!(
                parse(AgentKind::ClaudeCode, bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
        let (v, code) = fail_closed(AgentKind::ClaudeCode, None, "x");
        assert_eq!(code, BLOCKING_EXIT);
        assert_eq!(v["hookSpecificOutput"]["permissionDecision"], "deny");
    }

    #[test]
    fn calls_without_ids_correlate_by_hash() {
        let before = parse(
            AgentKind::Cursor,
            json!({"hook_event_name": "beforeShellExecution", "conversation_id": "c",
                   "workspace_roots": ["/w/p"], "command": "ls", "cwd": "/w/p"})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        let after = parse(
            AgentKind::Cursor,
            json!({"hook_event_name": "afterShellExecution", "conversation_id": "c",
                   "workspace_roots": ["/w/p"], "command": "ls", "cwd": "/w/p", "output": "a"})
            .to_string()
            .as_bytes(),
        )
        .unwrap();
        assert!(before.call.is_some());
        assert_eq!(before.call, after.call);
        let (v, _) = answer(&before, &Outcome::Ask("why".into()));
        assert_eq!(
            v,
            json!({"permission": "ask", "user_message": "why", "agent_message": "why"})
        );
    }

    #[test]
    fn agent_ids_name_the_project() {
        let a = default_agent_id(AgentKind::ClaudeCode, Path::new("/home/u/site"));
        let b = default_agent_id(AgentKind::ClaudeCode, Path::new("/srv/site"));
        assert!(a.starts_with("claude-code:site-"), "{a}");
        assert_ne!(a, b);
    }
}
