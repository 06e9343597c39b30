//! The readable parts of a bundle, derived from the events in it: each session's prompts,
//! tool calls (arguments, decisions, results), model outputs, approvals and alerts; and each
//! file the agent changed, with what the ledger knows of it before and after.
//!
//! Pre-images come from what the ledger holds (issue 7's snapshot store will add the rest):
//! the content a call read back before the change, or the content an earlier call wrote.
//! When neither is known the change says so instead of guessing.

use std::collections::{BTreeMap, HashMap};

use brig_incident::questions::last_effects;
use brig_model::{ActionKind, Effect, Event, EventKind};
use brig_rollback::images::{POST, PRE};
use brig_rollback::objects::Objects;
use brig_rollback::snapshot::{Entry, Kind};
use serde_json::{json, Value};

/// A payload decoded from its blob, by (event index, part).
pub type Payloads = HashMap<(u64, String), Value>;

/// `sessions/<session>.json` for every session among `events`.
pub fn sessions(events: &[(u64, Event)], payloads: &Payloads) -> Vec<(String, Value)> {
    let effects = last_effects(events);
    let mut by_session: BTreeMap<String, Vec<&(u64, Event)>> = BTreeMap::new();
    for ev in events {
        let s = ev.1.session.clone().unwrap_or_else(|| "(none)".into());
        by_session.entry(s).or_default().push(ev);
    }
    by_session
        .into_iter()
        .map(|(s, evs)| {
            let doc = session_doc(&s, &evs, payloads, &effects);
            (s, doc)
        })
        .collect()
}

fn payload_of(payloads: &Payloads, idx: u64, e: &Event) -> Value {
    let mut m = serde_json::Map::new();
    for part in e.payload.keys() {
        let v = payloads
            .get(&(idx, part.clone()))
            .cloned()
            .unwrap_or_else(|| json!({"absent": "erased or not exported"}));
        m.insert(part.clone(), v);
    }
    Value::Object(m)
}

fn session_doc(
    session: &str,
    evs: &[&(u64, Event)],
    payloads: &Payloads,
    effects: &HashMap<brig_incident::questions::CallKey<'_>, Effect>,
) -> Value {
    let mut prompts = Vec::new();
    let mut outputs = Vec::new();
    let mut calls: Vec<Value> = Vec::new();
    let mut call_pos: HashMap<&str, usize> = HashMap::new();
    let mut approvals = Vec::new();
    let mut alerts = Vec::new();
    let mut other = 0u64;
    for (idx, e) in evs.iter().map(|p| (&p.0, &p.1)) {
        let base = json!({"index": idx, "ts": e.ts.to_string()});
        let with = |mut v: Value, extra: Value| {
            if let (Some(a), Some(b)) = (v.as_object_mut(), extra.as_object()) {
                a.extend(b.clone());
            }
            v
        };
        match e.kind {
            EventKind::AgentPrompt => prompts.push(with(
                base,
                json!({"attrs": e.attrs, "payload": payload_of(payloads, *idx, e)}),
            )),
            EventKind::ModelOutput => outputs.push(with(
                base,
                json!({"attrs": e.attrs, "payload": payload_of(payloads, *idx, e)}),
            )),
            EventKind::ToolCall => {
                let ran = effects
                    .get(&(e.session.as_deref(), e.call.as_deref()))
                    .is_none_or(|x| *x == Effect::Allow);
                let args = payloads.get(&(*idx, "arguments".into())).cloned();
                if let Some(c) = e.call.as_deref() {
                    call_pos.insert(c, calls.len());
                }
                calls.push(with(
                    base,
                    json!({"tool": e.tool, "call": e.call, "ran": ran,
                           "actions": e.actions.iter().map(ToString::to_string).collect::<Vec<_>>(),
                           "arguments": args, "decisions": [], "result": null}),
                ));
            }
            EventKind::PolicyDecision | EventKind::ApprovalDecision | EventKind::ToolResult => {
                let slot = e
                    .call
                    .as_deref()
                    .and_then(|c| call_pos.get(c))
                    .and_then(|&i| calls.get_mut(i));
                let item = match e.kind {
                    EventKind::ToolResult => with(
                        base,
                        json!({"status": e.attrs.get("status"), "result": payloads.get(&(*idx, "result".into()))}),
                    ),
                    _ => with(
                        base,
                        json!({"kind": e.kind.as_str(), "decision": e.decision}),
                    ),
                };
                if e.kind == EventKind::ApprovalDecision {
                    approvals.push(item.clone());
                }
                match (slot, e.kind) {
                    (Some(c), EventKind::ToolResult) => c["result"] = item,
                    (Some(c), _) => {
                        if let Some(a) = c["decisions"].as_array_mut() {
                            a.push(item)
                        }
                    }
                    (None, _) => other += 1,
                }
            }
            EventKind::ApprovalRequest => approvals.push(with(
                base,
                json!({"kind": "approval.request", "attrs": e.attrs}),
            )),
            EventKind::Alert => alerts.push(with(base, json!({"attrs": e.attrs}))),
            _ => other += 1,
        }
    }
    let first = evs.first().map(|p| &p.1);
    json!({
        "session": session,
        "agent": first.map(|e| e.agent.clone()),
        "workflow": first.and_then(|e| e.workflow.clone()),
        "events": evs.len(),
        "prompts": prompts,
        "tool_calls": calls,
        "model_outputs": outputs,
        "approvals": approvals,
        "alerts": alerts,
        "other_events": other,
    })
}

/// One file change the agent made.
pub struct Change {
    pub index: u64,
    pub n: usize,
    pub meta: Value,
    pub pre: Option<Vec<u8>>,
    pub post: Option<Vec<u8>>,
    pub diff: Option<String>,
}

fn is_file_change(k: ActionKind) -> bool {
    use ActionKind::*;
    matches!(
        k,
        FileWrite
            | FileDelete
            | FileCopy
            | FileMove
            | FileChmod
            | DirCreate
            | ArchiveCreate
            | BackupCreate
    )
}

/// Text of an MCP tool result (`content[].text` joined), if it has any.
fn result_text(v: &Value) -> Option<String> {
    let parts: Vec<&str> = v
        .get("content")?
        .as_array()?
        .iter()
        .filter_map(|c| c.get("text").and_then(Value::as_str))
        .collect();
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// A path's state from the rollback store: `Some(None)` nothing was there, `Some(Some(c))`
/// a file with content `c`; `None` not recorded (or not a file).
type Image = Option<Option<Vec<u8>>>;

fn image(
    payloads: &Payloads,
    idx: u64,
    part: &str,
    path: &str,
    objects: Option<&Objects>,
) -> Image {
    let v = payloads.get(&(idx, part.to_string()))?.get(path)?;
    if v.is_null() {
        return Some(None);
    }
    let entry: Entry = serde_json::from_value(v.clone()).ok()?;
    match entry.kind {
        Kind::File { object } => objects?.get(&object).ok().map(Some),
        _ => None,
    }
}

/// Every file change of a call that ran, in ledger order, with what is known of its before
/// and after states: from the rollback store's pre- and post-images when the gateway took
/// them (`objects`), otherwise from what the ledger shows.
pub fn changes(
    events: &[(u64, Event)],
    payloads: &Payloads,
    objects: Option<&Objects>,
) -> Vec<Change> {
    let effects = last_effects(events);
    // The last content the ledger shows for each path: read back, or written.
    let mut known: HashMap<String, Vec<u8>> = HashMap::new();
    let mut calls: HashMap<(Option<&str>, &str), &(u64, Event)> = HashMap::new();
    let mut out = Vec::new();
    for ev in events {
        let (idx, e) = (ev.0, &ev.1);
        match e.kind {
            EventKind::ToolCall => {
                if let Some(c) = e.call.as_deref() {
                    calls.insert((e.session.as_deref(), c), ev);
                }
            }
            EventKind::ToolResult
                if e.attrs.get("status").and_then(Value::as_str) == Some("ok") =>
            {
                let Some(call) = e
                    .call
                    .as_deref()
                    .and_then(|c| calls.get(&(e.session.as_deref(), c)))
                else {
                    continue;
                };
                let ran = effects
                    .get(&(call.1.session.as_deref(), call.1.call.as_deref()))
                    .is_none_or(|x| *x == Effect::Allow);
                if !ran {
                    continue;
                }
                let result = payloads.get(&(idx, "result".into()));
                note_reads(&mut known, &call.1, result);
                let images = Images {
                    payloads,
                    objects,
                    call: call.0,
                    result: idx,
                };
                changes_of(call, payloads, result, &images, &mut known, &mut out);
            }
            // Changes seen (by `brig watch`, or by the workspace snapshots around a command):
            // the images are on the event itself.
            EventKind::FileChange if e.payload.contains_key(PRE) => {
                let images = Images {
                    payloads,
                    objects,
                    call: idx,
                    result: idx,
                };
                changes_of(ev, payloads, None, &images, &mut known, &mut out);
            }
            _ => {}
        }
    }
    out
}

fn note_reads(known: &mut HashMap<String, Vec<u8>>, call: &Event, result: Option<&Value>) {
    let reads: Vec<&str> = call
        .actions
        .iter()
        .filter(|a| a.action == ActionKind::FileRead)
        .map(|a| a.target.as_str())
        .collect();
    // Only a single-file read tells which content belongs to which path.
    if let ([path], Some(text)) = (reads.as_slice(), result.and_then(result_text)) {
        known.insert(path.to_string(), text.into_bytes());
    }
}

/// Where a call's images are, if the gateway took them.
struct Images<'a> {
    payloads: &'a Payloads,
    objects: Option<&'a Objects>,
    call: u64,
    result: u64,
}

impl Images<'_> {
    fn pre(&self, path: &str) -> Image {
        image(self.payloads, self.call, PRE, path, self.objects)
    }

    fn post(&self, path: &str) -> Image {
        image(self.payloads, self.result, POST, path, self.objects)
    }
}

fn changes_of(
    call: &(u64, Event),
    payloads: &Payloads,
    result: Option<&Value>,
    images: &Images<'_>,
    known: &mut HashMap<String, Vec<u8>>,
    out: &mut Vec<Change>,
) {
    let (idx, e) = (call.0, &call.1);
    let args = payloads.get(&(idx, "arguments".into()));
    let written = args
        .and_then(|a| a.get("content"))
        .and_then(Value::as_str)
        .map(|s| s.as_bytes().to_vec());
    let result_diff = result
        .and_then(result_text)
        .filter(|t| t.contains("\n@@ ") || t.contains("--- "));
    for (n, act) in e
        .actions
        .iter()
        .filter(|a| is_file_change(a.action))
        .enumerate()
    {
        let path = act.target.clone();
        let (stored_pre, stored_post) = (images.pre(&path), images.post(&path));
        let pre_source = match &stored_pre {
            Some(None) => "the rollback store: the path did not exist",
            Some(Some(_)) => "the rollback store (taken before the call ran)",
            None if known.contains_key(&path) => "the ledger (content read or written earlier)",
            None => "not known: no pre-image was taken and the ledger holds no earlier content",
        };
        let pre = match stored_pre {
            Some(p) => Some(p.unwrap_or_default()),
            None => known.get(&path).cloned(),
        };
        let post = match (stored_post, act.action) {
            (Some(p), _) => p,
            (None, ActionKind::FileWrite) => written.clone(),
            _ => None,
        };
        let diff = match (&pre, &post) {
            (Some(a), Some(b)) => Some(unified(&path, a, b)),
            _ => result_diff.clone(),
        };
        out.push(Change {
            index: idx,
            n,
            meta: json!({
                "index": idx, "ts": e.ts.to_string(), "tool": e.tool, "call": e.call,
                "session": e.session, "action": act.action.as_str(), "path": path,
                "dest": act.dest, "found_by": act.attrs.get("found_by"),
                "pre_image": pre_source,
                "post_image": if post.is_some() { "known (rollback store or the call's arguments)" } else { "not known" },
                "diff": match (&pre, &post, &diff) { (Some(_), Some(_), _) => "computed from pre- and post-image", (_, _, Some(_)) => "as the tool reported it", _ => "none" },
            }),
            pre,
            post: post.clone(),
            diff,
        });
        match (act.action, post) {
            (ActionKind::FileWrite, Some(p)) => {
                known.insert(act.target.clone(), p);
            }
            (ActionKind::FileMove, _) => {
                if let (Some(c), Some(d)) = (known.remove(&act.target), &act.dest) {
                    known.insert(d.clone(), c);
                }
            }
            _ => {
                known.remove(&act.target);
            }
        }
    }
}

fn unified(path: &str, a: &[u8], b: &[u8]) -> String {
    let (a, b) = (String::from_utf8_lossy(a), String::from_utf8_lossy(b));
    similar::TextDiff::from_lines(a.as_ref(), b.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string()
}
