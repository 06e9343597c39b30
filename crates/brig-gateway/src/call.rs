//! One `tools/call`: normalized, decided, written ahead, then settled into what the
//! transport must do with it. Shared by every transport.

use brig_model::{Action, Decision, Effect, EventId, EventKind, NewEvent, Timestamp};
use brig_store::Approval;
use serde_json::{json, Value};

use crate::detection::apply_blocking;
use crate::guard::{refusal_text, Call, Guard};
use crate::record::{alert_events, Recorder, TO_SERVER};
use crate::response::{Response, PLAYBOOK_POLICY};
use crate::Identity;
use std::sync::Arc;

/// What the transport does with a call once its record is durable.
#[derive(Debug)]
pub enum Verdict {
    /// Send it to the server.
    Forward,
    /// Answer the agent with this tool error text; the server never sees the call.
    Refuse(String),
    /// Queue it for a human (see [`crate::approval`]) and forward only if approved.
    Hold(Box<Approval>),
}

/// A decided call whose events are on their way to the ledger.
#[derive(Debug)]
pub struct Decided {
    decision: Decision,
    who: Identity,
    tool: String,
    /// Only a held call needs a summary for people (the approval queue).
    summary: Option<String>,
    /// The call's alerts, filed into incidents once they are durable.
    alerts: Vec<NewEvent>,
    response: Option<Arc<Response>>,
}

/// The `call` correlation id of a JSON-RPC id (strings without their quotes).
pub fn call_id(id: &Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_string)
}

/// Normalizes and decides a call; returns the events to write ahead (the call, its
/// decision, and the alerts either raised) and what settles it once they are durable.
pub fn decide(
    guard: &mut Guard,
    who: &Identity,
    rec: &Recorder,
    id: &Value,
    tool: &str,
    arguments: &Value,
) -> (Vec<NewEvent>, Decided) {
    let actions = guard.normalize(tool, arguments);
    let decision = guard.decide(&Call {
        agent: &who.agent,
        workflow: who.workflow.as_deref(),
        task: who.task.as_deref(),
        tool,
        arguments,
        actions: &actions,
    });
    let mut call = rec.event(EventKind::ToolCall);
    call.tool = Some(tool.to_string());
    call.call = Some(call_id(id));
    call.actions = actions.clone();
    call.attrs.insert("direction".into(), json!(TO_SERVER));
    call.payload.insert("arguments".into(), arguments.clone());
    // Rules see the call before it can run; a blocking rule denies it.
    let alerts = rec.observe(&mut call);
    let decision = apply_blocking(decision, &alerts);
    let mut raised = alert_events(&call, &alerts);
    // A call whose alerts make the playbook contain the agent is the first one stopped.
    let decision = respond(rec, &who.agent, decision, &mut raised);
    if let (true, Some(images)) = (decision.effect != Effect::Deny, rec.images()) {
        images.before(rec.session(), &call_id(id), &actions, &mut call);
    }
    let summary = (decision.effect == Effect::Hold).then(|| summarize(&actions, tool));
    let mut decided = rec.event(EventKind::PolicyDecision);
    decided.tool = call.tool.clone();
    decided.call = call.call.clone();
    decided.actions = actions;
    decided.decision = Some(decision.clone());
    let more = rec.observe(&mut decided);
    let mut on_decision = alert_events(&decided, &more);
    // Alerts on the decision itself (Brig's guard refusing a call on its own files) hold
    // the agent at once, as the call's own alerts do; the call is refused either way.
    respond(rec, &who.agent, decision.clone(), &mut on_decision);
    raised.extend(on_decision);
    let prevented = decision.effect != Effect::Allow;
    for a in &mut raised {
        a.id = Some(EventId::new());
        a.attrs.insert("prevented".into(), json!(prevented));
    }
    let pending = Decided {
        decision,
        who: who.clone(),
        tool: tool.to_string(),
        summary,
        alerts: if rec.response().is_some() {
            raised.clone()
        } else {
            Vec::new()
        },
        response: rec.response().cloned(),
    };
    let events = [vec![call, decided], raised].concat();
    (events, pending)
}

/// The decision once incident response has seen the call's alerts: a held agent, or one
/// these alerts make the playbook contain, is denied.
fn respond(rec: &Recorder, agent: &str, decision: Decision, alerts: &mut [NewEvent]) -> Decision {
    let Some(r) = rec.response() else {
        return decision;
    };
    let why = r.holding(agent).or_else(|| {
        let signals: Vec<_> = alerts
            .iter()
            .map(brig_incident::grade::Signal::from_new)
            .collect();
        r.contain_now(agent, &signals)
    });
    match why {
        Some(reason) if decision.effect != Effect::Deny => Decision {
            effect: Effect::Deny,
            policies: vec![PLAYBOOK_POLICY.to_string()],
            reason: Some(reason),
        },
        _ => decision,
    }
}

impl Decided {
    /// What to do, given whether the call's events became durable (write-ahead: a call
    /// whose record is not durable is refused, whatever the policy said).
    pub fn settle(self, durable: Result<Vec<u64>, String>) -> Verdict {
        if let (Ok(_), Some(r)) = (&durable, &self.response) {
            r.file(&self.alerts);
        }
        let indices = match durable {
            Ok(i) => i,
            Err(e) => {
                eprintln!(
                    "brig: the ledger cannot be written ({e}); the call is refused (fail closed)"
                );
                return Verdict::Refuse(format!(
                    "This tool call was blocked by Brig and not run: the ledger cannot be written ({e}), and Brig fails closed"
                ));
            }
        };
        match self.decision.effect {
            Effect::Allow => Verdict::Forward,
            Effect::Deny => Verdict::Refuse(refusal_text(&self.decision)),
            Effect::Hold => Verdict::Hold(Box::new(Approval {
                id: EventId::new().to_string(),
                event_index: indices.first().copied().unwrap_or_default(),
                agent: self.who.agent,
                workflow: self.who.workflow,
                tool: self.tool,
                summary: self.summary.unwrap_or_default(),
                policies: self.decision.policies.join(","),
                status: "pending".into(),
                created_nanos: Timestamp::now().unix_nanos(),
                decided_nanos: None,
                decided_by: None,
                reason: self.decision.reason,
            })),
        }
    }
}

/// One line a person can read: what the call does.
fn summarize(actions: &[Action], tool: &str) -> String {
    if actions.is_empty() {
        return tool.to_string();
    }
    actions
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
