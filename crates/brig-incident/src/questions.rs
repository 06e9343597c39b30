//! The incident commander's first questions, answered from the ledger.
//!
//! For the sessions an incident's alerts came from (or, without sessions, the agent's
//! latest events), read every recorded event and answer:
//!
//! 1. **What did the agent do?** Its calls by tool, and how many ran, were denied or held.
//! 2. **Which systems and resources did it reach?** Every target and destination of a call
//!    that ran, with the register's resource name and data classes.
//! 3. **Which permissions did it hold?** The tools its workflow may use (register), the
//!    policies that let its calls through, the approvals people granted it.
//! 4. **Was sensitive data exposed, altered or copied?** Per data class, from calls that ran;
//!    attempts that were stopped are listed apart.
//! 5. **Can it be reversed automatically?** For each change, how the register says the
//!    resource is restored — or that a person must restore it.
//!
//! A call "ran" when its last decision (policy, blocking rule, containment, approval) let
//! it through; the ledger holds each of them, correlated by session and call id.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use brig_ledger::store::LedgerStore;
use brig_model::{Action, ActionKind, Effect, Event, EventKind};
use brig_register::{Register, Rollback};
use brig_store::Store;
use serde::Serialize;

use crate::Incident;

/// Most events read per session (the first ones; a longer session is said to be cut).
const MAX_EVENTS: usize = 100_000;

/// The events an incident covers, in ledger order, with their indices.
pub fn events_of(
    store: &mut Store,
    i: &Incident,
) -> Result<(Vec<(u64, Event)>, bool), brig_ledger::store::StoreError> {
    let mut indices: Vec<u64> = Vec::new();
    let mut cut = false;
    for s in &i.sessions {
        let v = store.session_events(s, MAX_EVENTS)?;
        cut |= v.len() == MAX_EVENTS;
        indices.extend(v);
    }
    if i.sessions.is_empty() {
        indices = store.recent_agent_events(&i.agent, MAX_EVENTS)?;
    }
    indices.sort_unstable();
    indices.dedup();
    let mut out = Vec::with_capacity(indices.len());
    for idx in indices {
        if let Some(row) = store.leaf(idx)? {
            match Event::from_leaf(&row.leaf) {
                Ok(e) => out.push((idx, e)),
                Err(err) => {
                    return Err(brig_ledger::store::StoreError::Damaged(format!(
                        "event {idx} does not parse: {err}"
                    )))
                }
            }
        }
    }
    Ok((out, cut))
}

/// How many of the agent's latest events are searched for an incident's own records.
const RECORDS_SCAN: usize = 5_000;

/// The events that name incident `i` in their `incident` attribute — its transitions and
/// playbook steps, written for its agent outside any session — oldest first, among the
/// agent's latest events.
pub fn records_of(
    store: &mut Store,
    i: &Incident,
) -> Result<Vec<(u64, Event)>, brig_ledger::store::StoreError> {
    let mut out = Vec::new();
    for idx in store.recent_agent_events(&i.agent, RECORDS_SCAN)? {
        let Some(row) = store.leaf(idx)? else {
            continue;
        };
        let e = Event::from_leaf(&row.leaf).map_err(|err| {
            brig_ledger::store::StoreError::Damaged(format!("event {idx} does not parse: {err}"))
        })?;
        if e.attrs.get("incident").and_then(|v| v.as_str()) == Some(i.id.as_str()) {
            out.push((idx, e));
        }
    }
    Ok(out)
}

/// An event's payloads read from the blob store, by part name, each checked against the
/// digest its leaf records: an altered or missing one says so instead of its content.
/// Secrets in them are redacted (`[REDACTED kind]`, [`brig_model::secrets`]): this is what
/// people read. [`raw_payloads`] is for Brig's own use of the content (detection replay).
pub fn payloads(
    store: &mut impl LedgerStore,
    index: u64,
    e: &Event,
) -> Result<serde_json::Value, brig_ledger::store::StoreError> {
    let mut v = raw_payloads(store, index, e)?;
    brig_model::secrets::redact_in_place(&mut v);
    Ok(v)
}

/// [`payloads`] without the redaction: secrets as recorded.
pub fn raw_payloads(
    store: &mut impl LedgerStore,
    index: u64,
    e: &Event,
) -> Result<serde_json::Value, brig_ledger::store::StoreError> {
    use serde_json::{json, Value};
    let mut out = serde_json::Map::new();
    for (name, r) in &e.payload {
        let v = match store.blob(index, name)? {
            Some(b) if b.is_intact() && b.digest == r.salted_sha256 => {
                serde_json::from_slice(&b.data).unwrap_or_else(|_| json!({"unreadable": true}))
            }
            Some(_) => json!({"altered": "content does not match its digest"}),
            None => json!({"missing": "not in the blob store (erased, or see brig ledger verify)"}),
        };
        out.insert(name.clone(), v);
    }
    Ok(Value::Object(out))
}

/// What the agent did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Did {
    pub events: usize,
    pub calls: usize,
    pub ran: usize,
    pub denied: usize,
    pub held: usize,
    /// Calls per tool.
    pub by_tool: BTreeMap<String, usize>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// The session was longer than Brig reads for one answer.
    pub cut: bool,
}

/// A target a call reached.
#[derive(Clone, Debug, Serialize)]
pub struct Reached {
    pub target: String,
    pub actions: BTreeSet<String>,
    /// Register resources it lies in.
    pub resources: BTreeSet<String>,
    pub classes: BTreeSet<String>,
}

/// What the agent was allowed to do.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Permissions {
    /// The agent's workflow in the register and the tools it may use (`None`: not declared).
    pub workflow: Option<String>,
    pub workflow_tools: Option<Vec<String>>,
    /// Policies that let calls through, with how many.
    pub allowed_by: BTreeMap<String, usize>,
    /// Approvals people granted (approval id → who).
    pub approvals_granted: BTreeMap<String, String>,
}

/// Sensitive data, per class.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DataImpact {
    pub exposed: BTreeSet<String>,
    pub altered: BTreeSet<String>,
    pub copied: BTreeSet<String>,
    /// Stopped before they ran.
    pub attempted: BTreeSet<String>,
}

/// How one change can be undone.
#[derive(Clone, Debug, Serialize)]
pub struct Reversal {
    pub target: String,
    pub change: String,
    pub automatic: bool,
    pub how: String,
}

/// The answers.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Answers {
    pub did: Did,
    pub reached: Vec<Reached>,
    pub permissions: Permissions,
    pub data: BTreeMap<String, DataImpact>,
    pub reversal: Vec<Reversal>,
    /// Every change can be undone automatically (and there was at least one).
    pub all_reversible: bool,
}

/// Answers the questions from an incident's events.
pub fn answer(i: &Incident, events: &[(u64, Event)], register: Option<&Register>) -> Answers {
    let effects = last_effects(events);
    let mut a = Answers::default();
    let mut reached: BTreeMap<String, Reached> = BTreeMap::new();
    a.did.events = events.len();
    a.did.first_ts = events.first().map(|(_, e)| e.ts.unix_nanos());
    a.did.last_ts = events.last().map(|(_, e)| e.ts.unix_nanos());
    a.permissions.workflow = register
        .and_then(|r| r.workflow_of(&i.agent))
        .map(|w| w.name.clone());
    a.permissions.workflow_tools = register
        .and_then(|r| r.workflow_of(&i.agent))
        .map(|w| w.tools.clone());
    let mut session_classes: HashMap<Option<&str>, BTreeSet<String>> = HashMap::new();
    for (_, e) in events {
        match e.kind {
            EventKind::ToolCall => {
                let effect = effects
                    .get(&(e.session.as_deref(), e.call.as_deref()))
                    .copied();
                let ran = effect.is_none_or(|x| x == Effect::Allow);
                count_call(&mut a, e, effect);
                let classes = session_classes.entry(e.session.as_deref()).or_default();
                for act in &e.actions {
                    let c = register
                        .map(|r| r.classes_of(&act.target))
                        .unwrap_or_default();
                    if ran {
                        classes.extend(c.iter().cloned());
                        note_reached(&mut reached, act, register, &c);
                        note_reversal(&mut a, act, register);
                    }
                    note_data(&mut a.data, act, &c, classes, register, ran);
                }
            }
            EventKind::PolicyDecision | EventKind::ApprovalDecision => note_permission(&mut a, e),
            _ => {}
        }
    }
    a.reached = reached.into_values().collect();
    a.all_reversible = !a.reversal.is_empty() && a.reversal.iter().all(|r| r.automatic);
    a
}

/// A call as decisions name it: (session, call id).
pub type CallKey<'a> = (Option<&'a str>, Option<&'a str>);

/// The last decision on each call, by (session, call id): whether the call ran.
pub fn last_effects(events: &[(u64, Event)]) -> HashMap<CallKey<'_>, Effect> {
    let mut m = HashMap::new();
    for (_, e) in events {
        if matches!(
            e.kind,
            EventKind::PolicyDecision | EventKind::ApprovalDecision
        ) {
            if let Some(d) = &e.decision {
                m.insert((e.session.as_deref(), e.call.as_deref()), d.effect);
            }
        }
    }
    m
}

fn count_call(a: &mut Answers, e: &Event, effect: Option<Effect>) {
    a.did.calls += 1;
    *a.did
        .by_tool
        .entry(e.tool.clone().unwrap_or_else(|| "?".into()))
        .or_default() += 1;
    match effect {
        Some(Effect::Deny) => a.did.denied += 1,
        Some(Effect::Hold) => a.did.held += 1,
        _ => a.did.ran += 1,
    }
}

fn note_permission(a: &mut Answers, e: &Event) {
    let Some(d) = &e.decision else { return };
    if d.effect != Effect::Allow {
        return;
    }
    if e.kind == EventKind::ApprovalDecision {
        let id = e
            .attrs
            .get("approval")
            .and_then(|v| v.as_str())
            .unwrap_or("?");
        let by = e
            .attrs
            .get("by")
            .and_then(|v| v.as_str())
            .unwrap_or("a person");
        a.permissions
            .approvals_granted
            .insert(id.to_string(), by.to_string());
        return;
    }
    let policies = if d.policies.is_empty() {
        vec!["(default allow)".to_string()]
    } else {
        d.policies.clone()
    };
    for p in policies {
        *a.permissions.allowed_by.entry(p).or_default() += 1;
    }
}

fn note_reached(
    reached: &mut BTreeMap<String, Reached>,
    act: &Action,
    register: Option<&Register>,
    classes: &BTreeSet<String>,
) {
    for t in std::iter::once(&act.target).chain(act.dest.as_ref()) {
        let r = reached.entry(t.clone()).or_insert_with(|| Reached {
            target: t.clone(),
            actions: BTreeSet::new(),
            resources: register
                .map(|r| r.resources_of(t).map(|x| x.name.clone()).collect())
                .unwrap_or_default(),
            classes: BTreeSet::new(),
        });
        r.actions.insert(act.action.as_str().to_string());
        if t == &act.target {
            r.classes.extend(classes.iter().cloned());
        }
    }
}

/// Which set of a class's impact an action goes into.
type Slot = fn(&mut DataImpact) -> &mut BTreeSet<String>;

fn note_data(
    data: &mut BTreeMap<String, DataImpact>,
    act: &Action,
    target_classes: &BTreeSet<String>,
    session_classes: &BTreeSet<String>,
    register: Option<&Register>,
    ran: bool,
) {
    let outward = matches!(
        act.action,
        ActionKind::NetEgress | ActionKind::MessageSend | ActionKind::DataExport
    );
    let dest = act.dest.as_deref().unwrap_or(&act.target);
    let outside = outward && register.is_none_or(|r| !r.is_internal(dest));
    let (classes, slot): (&BTreeSet<String>, Slot) = if outside {
        (session_classes, |d| &mut d.copied)
    } else if act.action.mutates() && !matches!(act.action, ActionKind::FileCopy) {
        (target_classes, |d| &mut d.altered)
    } else {
        (target_classes, |d| &mut d.exposed)
    };
    for c in classes {
        let d = data.entry(c.clone()).or_default();
        if ran {
            slot(d).insert(if outside {
                dest.to_string()
            } else {
                act.target.clone()
            });
        } else {
            d.attempted.insert(act.to_string());
        }
    }
}

fn note_reversal(a: &mut Answers, act: &Action, register: Option<&Register>) {
    if !act.action.mutates() {
        return;
    }
    let resource = register.and_then(|r| r.resources_of(&act.target).next());
    let (automatic, how) = match resource {
        Some(r) => match (r.reversible, r.rollback) {
            (false, _) => (
                false,
                format!("not reversible ({}): manual restore", r.name),
            ),
            (true, Some(Rollback::Git)) => (true, format!("revert from git history ({})", r.name)),
            (true, Some(Rollback::Backup)) => (
                false,
                format!(
                    "restore from backups ({}){}",
                    r.name,
                    r.rollback_note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
            ),
            (true, Some(Rollback::Snapshot)) => (
                false,
                format!(
                    "Brig snapshot rollback ({}); pre-images are not taken yet: manual restore",
                    r.name
                ),
            ),
            (true, Some(Rollback::Manual)) | (true, None) => (
                false,
                format!(
                    "manual restore ({}){}",
                    r.name,
                    r.rollback_note
                        .as_deref()
                        .map(|n| format!(": {n}"))
                        .unwrap_or_default()
                ),
            ),
        },
        None => (
            false,
            "not in the risk register and no pre-image kept: manual restore".to_string(),
        ),
    };
    a.reversal.push(Reversal {
        target: act.target.clone(),
        change: act.action.as_str().to_string(),
        automatic,
        how,
    });
}

/// One line of an incident's timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Line {
    pub index: u64,
    pub ts: i64,
    pub kind: String,
    pub session: Option<String>,
    pub what: String,
}

/// The incident's events as a timeline a person reads.
pub fn timeline(events: &[(u64, Event)]) -> Vec<Line> {
    events
        .iter()
        .map(|(idx, e)| Line {
            index: *idx,
            ts: e.ts.unix_nanos(),
            kind: e.kind.as_str().to_string(),
            session: e.session.clone(),
            what: describe(e),
        })
        .collect()
}

fn describe(e: &Event) -> String {
    let attr = |k: &str| e.attrs.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let actions = e
        .actions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let tool = e.tool.as_deref().unwrap_or("");
    match e.kind {
        EventKind::ToolCall => format!("{tool}: {actions}"),
        EventKind::ToolResult => format!("{tool} returned ({})", attr("status")),
        EventKind::PolicyDecision | EventKind::ApprovalDecision => match &e.decision {
            Some(d) => format!(
                "{:?} by {}{}",
                d.effect,
                d.policies.join(","),
                d.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
            .to_lowercase(),
            None => String::new(),
        },
        EventKind::Alert => format!(
            "[{}] {} ({})",
            attr("level"),
            attr("title"),
            attr("rule_id")
        ),
        EventKind::ResponseAction => format!("{} {}", attr("step"), attr("status")),
        EventKind::IncidentTransition => format!("{} {}", attr("incident"), attr("transition")),
        EventKind::ProtocolMessage => attr("method").to_string(),
        _ => actions,
    }
}
