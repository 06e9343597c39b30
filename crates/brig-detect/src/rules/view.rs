//! The documents rules see: Brig's field taxonomy.
//!
//! Each event becomes one flat JSON document per normalized action (a `tool.call` with
//! three actions is three documents), so a rule says `action: file.copy` and
//! `dest|startswith: /tmp/` without knowing which tool did it. Fields:
//!
//! | field | on | meaning |
//! |---|---|---|
//! | `product` | all | always `brig` (rules say `logsource: product: brig`) |
//! | `category` | all | `file`, `network`, `process`, `message`, `payment`, `permission`, `persistence`, `monitoring`, `credential`, `config`, `data`, `tool` (calls no normalizer understood), `tool_result`, `tool_catalog`, `policy`, `prompt`, `protocol`, `other` |
//! | `id` | all | the event id (for traces: the span id) |
//! | `kind` | all | the event kind (`tool.call`, `tool.result`, `policy.decision`, …) |
//! | `agent`, `workflow`, `session`, `source`, `tool`, `call` | all | as recorded |
//! | `action` | calls, decisions | the normalized action (`file.write`, `net.egress`, …) |
//! | `target`, `dest` | calls, decisions | absolute path, URL, host, recipient, program… |
//! | `host` | calls | the host of a URL target or dest (lowercase, no port) |
//! | `program` | `proc.exec` | the program run |
//! | any action attribute | calls | e.g. `command`, `code`, `sudo`, `method`, `uploads`, `pattern` |
//! | `args` | calls (not `proc.exec`) | the call's arguments as sent (`args.command`, `args.to` …) |
//! | `task` | all | the declared task of the session (lowercased) |
//! | `in_task` | calls | `true` when the declared task names the target, dest or host |
//! | `provenance` | calls | where the key value came from: `task`, `tool_result` (only an earlier tool result names it) or `none` |
//! | `after_injection` | calls | an earlier tool result in the session carried instructions aimed at the agent |
//! | `new_host` | calls with a host | the first time this agent reaches this host |
//! | `data_classes`, `classified_target` | calls, with a risk register | the data classes (`pii`, `secrets`, your own …) of the resources the target or dest lies in; whether there are any |
//! | `call_classes`, `session_classes`, `classified` | calls, with a risk register | the classes of everything this call touches; of everything the session touched so far (this call included); whether that is any |
//! | `external` | `net.egress`; `message.send` with a risk register | the destination is outside the organization (not an internal host, not an internal domain of the register) |
//! | `tool_allowed` | calls, when the register lists the workflow's tools | the tool is one of them |
//! | `internal_host` | calls with a host | loopback, private address, cluster or intranet name (`.svc`, `.internal`, `.local` …), single-label name |
//! | `new_tool` | calls | the first time this agent uses this tool |
//! | `new_action` | calls | the first time this agent performs this kind of action (`net.egress`, `perm.grant` …) |
//! | `agent_calls` | calls | how many calls of this agent came before (its history: a shift matters more in an established agent) |
//! | `in_scope` | calls | for actions that change something: the declared task covers the target (named, under a named directory, a word of the task, created by the agent this session, or housekeeping); see [`super::scope`] |
//! | `task_paths` | calls | the declared task names files or directories (it scopes the work by path) |
//! | `task_readonly` | calls | the declared task forbids changes ("don't change anything", "read-only") |
//! | `target_hidden`, `dest_hidden` | calls, file actions | the target (dest) lies in a hidden directory — one whose name starts with `.` — below the agent's roots (the proxy's served directories; without them, anywhere in the path) |
//! | `temp_path` | calls | the target is scratch space (`/tmp`, `/var/tmp`, `/dev/shm`, `$TMPDIR`) |
//! | `from_injection` | calls | the key value (destination, record, target; for a command, the command itself) is named by a tool result that carried instructions for the agent, and not by the task |
//! | `held_before` | calls | a call of another tool on this target is waiting for human approval (acting on it now goes around the gate) |
//! | `refused_before` | calls | an earlier call of the session on the same target was refused (by policy, or by the system: permission denied, forbidden) |
//! | `status`, `error_type`, `result`, `targets` | results | `ok`/`error`, the error's type, the result text (first 8 KiB), the targets of the call it answers |
//! | `refused` | results | the call failed because it was refused (permission denied, forbidden, blocked by policy…), not for a transient reason |
//! | `injection` | results | the result text carries instructions aimed at the agent |
//! | `decision`, `policies` | decisions | `allow`/`deny`/`hold`, the deciding policy ids |
//! | `method` | protocol messages | the JSON-RPC method |
//! | `tool`, `description`, `description_changed`, `listed_first`, `injection` | `tool_catalog` (one per tool of a `tools/list` answer) | the tool's name and description; its description or input schema differs from what this agent was last shown; first time listed; the description carries instructions for the agent |

use std::collections::BTreeSet;

use brig_model::{ActionKind, EventKind, NewEvent};
use serde_json::{json, Map, Value};

use super::scope;
use super::session::{self, Memory, Session};

/// Result text kept in a document.
const RESULT_KEEP: usize = 8 * 1024;

/// The category of an action: what `logsource.category` a rule names.
pub fn category(kind: ActionKind) -> &'static str {
    use ActionKind::*;
    match kind {
        FileRead | FileList | FileWrite | FileDelete | FileCopy | FileMove | DirCreate
        | ArchiveCreate | BackupCreate => "file",
        FileChmod | PermGrant | AccountChange => "permission",
        PaymentSend => "payment",
        NetEgress | NetConfig => "network",
        MessageSend => "message",
        ProcExec | ProcKill | ServiceStop => "process",
        ConfigChange => "config",
        CredAccess => "credential",
        PersistSchedule => "persistence",
        MonitorTamper => "monitoring",
        DataRead | DataWrite | DataExport => "data",
        ToolCall => "tool",
    }
}

/// Words of a refusal (as opposed to a transient failure such as a timeout).
const REFUSAL_MARKS: &[&str] = &[
    "permission denied",
    "access denied",
    "accessdenied",
    "access is denied",
    "forbidden",
    "not permitted",
    "not authorized",
    "unauthorized",
    "blocked by",
    "denied",
    "operation not permitted",
    "refused by policy",
    "requires approval",
    "http 401",
    "http 403",
];

/// Denials that refuse every call of the agent (containment, the playbook, a store Brig
/// cannot read), not this target: retrying after a release is not probing a boundary.
fn stops_everything(policies: &[String]) -> bool {
    policies.iter().any(|p| {
        matches!(
            p.as_str(),
            "brig.containment" | "brig.playbook" | "brig.fail-closed"
        )
    })
}

/// Does a failed call's output say it was refused (not merely that it failed)?
pub fn is_refusal(text: &str) -> bool {
    let t = text.to_lowercase();
    REFUSAL_MARKS.iter().any(|m| t.contains(m))
}

pub use super::injection::carries_instructions;

/// The host of a URL target; `None` for paths and addresses (see
/// [`brig_model::net::url_host`]).
pub fn host_of(s: &str) -> Option<String> {
    brig_model::net::url_host(s)
}

/// Fields every document of an event carries.
fn common(e: &NewEvent, id: &str, session: &Session) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("product".into(), json!("brig"));
    d.insert("id".into(), json!(id));
    d.insert("kind".into(), json!(e.kind.as_str()));
    d.insert("agent".into(), json!(e.agent));
    d.insert("source".into(), json!(e.source));
    for (k, v) in [
        ("workflow", &e.workflow),
        ("session", &e.session),
        ("tool", &e.tool),
        ("call", &e.call),
    ] {
        if let Some(v) = v {
            d.insert(k.into(), json!(v));
        }
    }
    if !session.task.is_empty() {
        d.insert("task".into(), json!(session.task));
    }
    d
}

/// Does `path` go through a hidden directory (a component starting with `.`) below the
/// agent's roots? The part of the path that is a root, or lies above one, does not count:
/// an agent given `/home/u/.agents/ws` writes ordinary files there.
pub fn hidden_dir(path: &str, roots: &[String]) -> bool {
    if !path.starts_with('/') {
        return false;
    }
    let below = roots
        .iter()
        .filter(|r| {
            path.strip_prefix(r.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        })
        .map(|r| &path[r.len()..])
        .min_by_key(|rest| rest.len())
        .unwrap_or(path);
    let mut parts: Vec<&str> = below.split('/').filter(|p| !p.is_empty()).collect();
    parts.pop(); // the file itself: a dotfile is not a hidden place
    parts
        .iter()
        .any(|p| p.starts_with('.') && *p != "." && *p != "..")
}

/// The memory key of an event's session (the agent's, for events outside any session).
pub fn session_key(e: &NewEvent) -> String {
    e.session
        .clone()
        .unwrap_or_else(|| format!("agent:{}", e.agent))
}

/// Builds the documents of one event, updating what detection remembers.
pub fn documents(e: &NewEvent, id: &str, memory: &mut Memory) -> Vec<Value> {
    let key = session_key(e);
    match e.kind {
        EventKind::AgentPrompt => {
            let task = e.payload.get("task").and_then(Value::as_str).unwrap_or("");
            let s = memory.session(&key);
            if !task.is_empty() {
                s.set_task(task);
            }
            let mut d = common(e, id, s);
            d.insert("category".into(), json!("prompt"));
            vec![Value::Object(d)]
        }
        // Changes a watcher saw are the agent's actions as much as its calls are.
        EventKind::ToolCall => call_documents(e, id, &key, memory),
        EventKind::FileChange if !e.actions.is_empty() => call_documents(e, id, &key, memory),
        EventKind::ToolResult => {
            let s = memory.session(&key);
            let mut d = common(e, id, s);
            d.insert("category".into(), json!("tool_result"));
            let text = result_text(e);
            let status = e.attrs.get("status").cloned().unwrap_or(json!("ok"));
            let targets = e
                .call
                .as_deref()
                .map(|c| s.targets_of(c))
                .unwrap_or_default();
            let refused = status == json!("error") && is_refusal(&text);
            if refused {
                s.refused.extend(targets.iter().cloned());
            }
            // A call that has a result is no longer waiting for anyone: whoever decided
            // (an operator's `brig approvals approve` in another process, say), it ran.
            for t in &targets {
                s.held.remove(t);
            }
            d.insert("refused".into(), json!(refused));
            let injection = carries_instructions(&text);
            s.add_result(&text, injection);
            d.insert("status".into(), status);
            if let Some(t) = e.attrs.get("error_type") {
                d.insert("error_type".into(), t.clone());
            }
            d.insert("injection".into(), json!(injection));
            d.insert("targets".into(), json!(targets));
            d.insert("result".into(), json!(crate::head(&text, RESULT_KEEP)));
            vec![Value::Object(d)]
        }
        EventKind::PolicyDecision => {
            let s = memory.session(&key);
            let mut d = common(e, id, s);
            d.insert("category".into(), json!("policy"));
            if let Some(dec) = &e.decision {
                let effect = serde_json::to_value(dec.effect).unwrap_or(Value::Null);
                let targets = e.actions.iter().map(|a| a.target.clone());
                if effect == json!("hold") {
                    let tool = e.tool.clone().unwrap_or_default();
                    s.held.extend(targets.map(|t| (t, tool.clone())));
                } else if effect != json!("allow") && !stops_everything(&dec.policies) {
                    s.refused.extend(targets);
                }
                d.insert("decision".into(), effect);
                d.insert("policies".into(), json!(dec.policies));
            }
            if let Some(a) = e.actions.first() {
                d.insert("action".into(), json!(a.action.as_str()));
                d.insert("target".into(), json!(a.target));
            }
            vec![Value::Object(d)]
        }
        EventKind::ApprovalDecision => {
            let s = memory.session(&key);
            let approved = e
                .decision
                .as_ref()
                .is_some_and(|d| d.effect == brig_model::Effect::Allow);
            let targets = e
                .call
                .as_deref()
                .map(|c| s.targets_of(c))
                .unwrap_or_default();
            // A call its agent (or the session's end) cancelled was not refused by anyone.
            let cancelled = e.attrs.get("status").and_then(Value::as_str) == Some("cancelled");
            for t in targets {
                s.held.remove(&t);
                if !approved && !cancelled {
                    s.refused.insert(t);
                }
            }
            let mut d = common(e, id, s);
            d.insert("category".into(), json!("policy"));
            d.insert("approved".into(), json!(approved));
            vec![Value::Object(d)]
        }
        EventKind::ProtocolMessage if listed_tools(e).is_some() => {
            catalog_documents(e, id, &key, memory)
        }
        _ => {
            let s = memory.session(&key);
            let mut d = common(e, id, s);
            let cat = if e.kind == EventKind::ProtocolMessage {
                "protocol"
            } else {
                "other"
            };
            d.insert("category".into(), json!(cat));
            if let Some(m) = e.attrs.get("method") {
                d.insert("method".into(), m.clone());
            }
            vec![Value::Object(d)]
        }
    }
}

/// Whether the agent's workflow (by the event's workflow name, else the agent's
/// membership in the register) allows this tool; `None` when the register declares no
/// tool list for it (or `*`).
fn allowed_tool(r: &brig_register::Register, e: &NewEvent) -> Option<bool> {
    let w = e
        .workflow
        .as_deref()
        .and_then(|name| r.workflows.iter().find(|w| w.name == name))
        .or_else(|| r.workflow_of(&e.agent))?;
    if w.tools.is_empty() || w.tools.iter().any(|t| t == "*") {
        return None;
    }
    let tool = e.tool.as_deref()?;
    let bare = crate::normalize::strip_prefix(tool);
    Some(w.tools.iter().any(|t| t == tool || t == bare))
}

/// The tools of a `tools/list` answer, as relayed to the agent.
fn listed_tools(e: &NewEvent) -> Option<&Vec<Value>> {
    e.payload
        .get("message")
        .and_then(|m| m.pointer("/result/tools"))
        .and_then(Value::as_array)
}

/// One document per tool a server lists: has its description or input schema changed
/// since this agent last saw it (a "rug pull": the tool the user approved is not the tool
/// the agent now calls)?
fn catalog_documents(e: &NewEvent, id: &str, key: &str, memory: &mut Memory) -> Vec<Value> {
    let tools = listed_tools(e).cloned().unwrap_or_default();
    let mut docs = Vec::new();
    for t in tools.iter().take(512) {
        let Some(name) = t.get("name").and_then(Value::as_str) else {
            continue;
        };
        let shape = format!(
            "{}\u{0}{}",
            t.get("description").and_then(Value::as_str).unwrap_or(""),
            t.get("inputSchema")
                .map(Value::to_string)
                .unwrap_or_default()
        );
        let seen = memory.tool_shape(&e.agent, name, &shape);
        let s = memory.session(key);
        let mut d = common(e, id, s);
        d.insert("category".into(), json!("tool_catalog"));
        d.insert("tool".into(), json!(name));
        d.insert("description_changed".into(), json!(seen == Some(false)));
        d.insert("listed_first".into(), json!(seen.is_none()));
        if let Some(desc) = t.get("description").and_then(Value::as_str) {
            d.insert("description".into(), json!(crate::head(desc, RESULT_KEEP)));
            d.insert("injection".into(), json!(carries_instructions(desc)));
        }
        docs.push(Value::Object(d));
    }
    docs
}

fn call_documents(e: &NewEvent, id: &str, key: &str, memory: &mut Memory) -> Vec<Value> {
    let new_tool = e
        .tool
        .as_deref()
        .is_some_and(|t| memory.first_use(&e.agent, "tool", t));
    let history = memory.count_call(&e.agent);
    let new_actions: Vec<bool> = e
        .actions
        .iter()
        .map(|a| memory.first_use(&e.agent, "action", a.action.as_str()))
        .collect();
    let hosts: Vec<Option<String>> = e
        .actions
        .iter()
        .map(|a| host_of(&a.target).or_else(|| a.dest.as_deref().and_then(host_of)))
        .collect();
    let new_hosts: Vec<bool> = hosts
        .iter()
        .map(|h| {
            h.as_deref()
                .is_some_and(|h| memory.first_use(&e.agent, "host", h))
        })
        .collect();
    let register = memory.register.clone();
    // Shared, not copied: this runs for every call.
    let memory_roots = std::sync::Arc::clone(&memory.roots);
    let classes: Vec<Vec<String>> = e
        .actions
        .iter()
        .map(|a| match &register {
            Some(r) => {
                let mut c = r.classes_of(&a.target);
                if let Some(d) = &a.dest {
                    c.extend(r.classes_of(d));
                }
                c.into_iter().collect()
            }
            None => Vec::new(),
        })
        .collect();
    let tool_allowed = register.as_deref().and_then(|r| allowed_tool(r, e));
    let s = memory.session(key);
    for c in &classes {
        s.classes.extend(c.iter().cloned());
    }
    let call_classes: BTreeSet<&String> = classes.iter().flatten().collect();
    let mut base = common(e, id, s);
    if register.is_some() {
        base.insert("call_classes".into(), json!(call_classes));
        base.insert("session_classes".into(), json!(s.classes));
        base.insert("classified".into(), json!(!s.classes.is_empty()));
    }
    if let Some(allowed) = tool_allowed {
        base.insert("tool_allowed".into(), json!(allowed));
    }
    let args = e.payload.get("arguments").cloned();
    let mut docs = Vec::with_capacity(e.actions.len().max(1));
    for (i, a) in e.actions.iter().enumerate() {
        let mut d = base.clone();
        d.insert("category".into(), json!(category(a.action)));
        for (k, v) in &a.attrs {
            d.entry(k.clone()).or_insert_with(|| v.clone());
        }
        d.insert("action".into(), json!(a.action.as_str()));
        d.insert("target".into(), json!(a.target));
        if let Some(dest) = &a.dest {
            d.insert("dest".into(), json!(dest));
        }
        if a.action == ActionKind::ProcExec {
            d.insert("program".into(), json!(a.target));
        }
        // The value that says where the action goes: its destination, the record a data
        // call addresses, else its target.
        let key_value = a
            .dest
            .as_deref()
            .or_else(|| a.attrs.get("record").and_then(Value::as_str))
            .unwrap_or(&a.target);
        let origin = s.origin(key_value);
        let host_origin = hosts[i].as_deref().map(|h| s.origin(h)).unwrap_or_default();
        let provenance = origin.provenance();
        let in_task = origin.task || host_origin.task;
        if let Some(h) = &hosts[i] {
            d.insert("host".into(), json!(h));
            d.insert("new_host".into(), json!(new_hosts[i]));
            // A bucket name (`s3://name/…`) is not a host of the network.
            let bucket = [
                "s3://", "gs://", "gcs://", "az://", "abfs://", "wasb://", "r2://",
            ]
            .iter()
            .any(|p| a.target.starts_with(p));
            let internal = !bucket
                && (session::is_internal_host(h)
                    || register.as_deref().is_some_and(|r| r.is_internal(h)));
            d.insert("internal_host".into(), json!(internal));
            if a.action == ActionKind::NetEgress {
                d.insert("external".into(), json!(!internal));
            }
        }
        if let Some(r) = register.as_deref() {
            d.insert("data_classes".into(), json!(classes[i]));
            d.insert("classified_target".into(), json!(!classes[i].is_empty()));
            if a.action == ActionKind::MessageSend {
                d.insert("external".into(), json!(!r.is_internal(&a.target)));
            }
        }
        // Scope is a question about changes; reads and runs are in scope when in the task.
        let in_scope = in_task
            || (a.action.mutates()
                && (s.scope.covers(&a.target)
                    || s.created_here(&a.target)
                    || scope::is_housekeeping(&a.target)));
        d.insert("in_task".into(), json!(in_task));
        d.insert("in_scope".into(), json!(in_scope));
        d.insert("task_paths".into(), json!(s.scope.names_paths()));
        d.insert("task_readonly".into(), json!(s.scope.readonly));
        d.insert("temp_path".into(), json!(scope::is_temp(&a.target)));
        d.insert(
            "target_hidden".into(),
            json!(hidden_dir(&a.target, &memory_roots)),
        );
        if let Some(dest) = &a.dest {
            d.insert("dest_hidden".into(), json!(hidden_dir(dest, &memory_roots)));
        }
        d.insert("provenance".into(), json!(provenance));
        // A command is acted-on injected text when the injected text holds the command
        // itself, not merely the program's name.
        let planted = match a.action {
            ActionKind::ProcExec => a
                .attrs
                .get("command")
                .and_then(Value::as_str)
                .is_some_and(|c| s.injected && s.origin(c).injected),
            _ => origin.injected,
        } || host_origin.injected;
        d.insert("from_injection".into(), json!(planted));
        d.insert("after_injection".into(), json!(s.injected));
        // Another route to a target whose call waits for approval; the same tool again
        // goes through the same gate (it is held in its turn) and is not a way around it.
        let around = s
            .held
            .get(&a.target)
            .is_some_and(|tool| Some(tool.as_str()) != e.tool.as_deref());
        d.insert("held_before".into(), json!(around));
        d.insert("new_tool".into(), json!(new_tool));
        d.insert("new_action".into(), json!(new_actions[i]));
        d.insert("agent_calls".into(), json!(history));
        d.insert(
            "refused_before".into(),
            json!(s.refused.contains(&a.target)),
        );
        // The arguments as sent, for rules that read them; a command's own text is in
        // `command` already, so its `proc.exec` documents go without the copy.
        if let Some(args) = args.as_ref().filter(|_| a.action != ActionKind::ProcExec) {
            d.insert("args".into(), args.clone());
        }
        docs.push(Value::Object(d));
        // What this action creates is the agent's own from here on (a later action of
        // the same command line included).
        match a.action {
            ActionKind::FileCopy | ActionKind::FileMove | ActionKind::ArchiveCreate => {
                if let Some(d) = &a.dest {
                    s.remember_created(d);
                }
            }
            ActionKind::DirCreate => s.remember_created(&a.target),
            _ => {}
        }
    }
    if let Some(call) = &e.call {
        s.remember_call(call, e.actions.iter().map(|a| a.target.clone()).collect());
    }
    docs
}

fn result_text(e: &NewEvent) -> String {
    match e.payload.get("result") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}
