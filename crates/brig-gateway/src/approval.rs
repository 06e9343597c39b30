//! A call held for a human: queued in the store, then watched until an operator approves
//! or denies it (`brig approvals …`), the agent is contained, or it times out (deny).
//!
//! Blocking by design: each held call waits on a thread of its own (stdio) or a blocking
//! task (HTTP), polling the store, which any `brig` process may write.

use std::time::{Duration, Instant};

use brig_model::{Decision, Effect, EventKind, Timestamp};
use brig_store::{Approval, DataDir, Store};
use serde_json::json;

use crate::record::Recorder;
use crate::Identity;

/// How often a held call looks at the approval queue.
const POLL: Duration = Duration::from_millis(100);

/// Queues `approval` for the call `call` and waits. `Ok(())`: approved, forward it.
/// `Err(text)`: the tool error to answer the agent with.
pub fn hold_and_wait(
    data: &DataDir,
    who: &Identity,
    rec: &Recorder,
    approval: &Approval,
    call: &str,
    timeout: Duration,
) -> Result<(), String> {
    let held = |why: &str| format!("This tool call was held for approval and not run: {why}");
    let mut store = data
        .store()
        .map_err(|e| held(&format!("the approval queue cannot be read ({e})")))?;
    queue(&mut store, rec, approval, call)?;

    let watch = Watch {
        rec,
        approval,
        call,
    };
    let deadline = Instant::now() + timeout;
    loop {
        match store.containment_of(&who.agent, who.workflow.as_deref()) {
            Ok(None) => {}
            Ok(Some(c)) => {
                let why = format!("cancelled: {} is contained ({})", c.scope, c.reason);
                return Err(held(&watch.close(&mut store, "cancelled", &why)));
            }
            Err(e) => {
                let why = format!("containment state cannot be read ({e})");
                return Err(held(&watch.close(&mut store, "cancelled", &why)));
            }
        }
        match store.approval(&approval.id) {
            Ok(Some(a)) if a.status == "approved" => return Ok(()),
            Ok(Some(a)) if a.status != "pending" => {
                let by = a.decided_by.unwrap_or_else(|| "?".into());
                let why = a.reason.unwrap_or_default();
                return Err(held(&format!("{} by {by}: {why}", a.status)));
            }
            Ok(_) => {}
            Err(e) => return Err(held(&format!("the approval queue cannot be read ({e})"))),
        }
        if Instant::now() >= deadline {
            let why = format!(
                "no decision within {} s (the default is to deny)",
                timeout.as_secs()
            );
            return Err(held(&watch.close(&mut store, "expired", &why)));
        }
        std::thread::sleep(POLL);
    }
}

/// Records the approval request of the call `call` durably, then queues `approval`.
/// `Err(text)`: the tool error to answer the agent with (nothing queued, fail closed).
pub fn queue(
    store: &mut Store,
    rec: &Recorder,
    approval: &Approval,
    call: &str,
) -> Result<(), String> {
    // The request is durable before the queue shows it, so the ledger never holds an
    // operator's decision ahead of the request it decides.
    let mut e = rec.event(EventKind::ApprovalRequest);
    e.tool = Some(approval.tool.clone());
    e.call = Some(call.to_string());
    e.attrs.insert("approval".into(), json!(approval.id));
    e.attrs
        .insert("event_index".into(), json!(approval.event_index));
    rec.record_durably(vec![e])
        .and_then(|()| store.add_approval(approval).map_err(|e| e.to_string()))
        .map_err(|e| format!(
            "This tool call needs approval, but it cannot be queued ({e}); Brig fails closed and did not run it"
        ))
}

/// Why an approval is cancelled when the session that held it ends.
pub const SESSION_ENDED: &str = "the agent's session ended";
/// Why an approval is cancelled when the agent cancels the request it answers.
pub const AGENT_CANCELLED: &str = "the agent cancelled the request";

/// Calls held for a human, by the request they answer, so that an agent cancelling the
/// request (`notifications/cancelled`) cancels the approval too: an operator must never
/// approve a call nobody is waiting for.
#[derive(Default)]
pub struct Held(std::sync::Mutex<std::collections::HashMap<String, String>>);

impl Held {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn insert(&self, request: String, approval: String) {
        self.map().insert(request, approval);
    }

    pub fn remove(&self, request: &str) -> Option<String> {
        self.map().remove(request)
    }

    pub fn all(&self) -> Vec<String> {
        self.map().values().cloned().collect()
    }
}

/// The request a `notifications/cancelled` message cancels.
pub fn cancelled_request(message: &serde_json::Value) -> Option<&serde_json::Value> {
    (message.get("method")?.as_str()? == "notifications/cancelled")
        .then(|| message.pointer("/params/requestId"))
        .flatten()
}

/// Settles approvals whose calls can no longer be answered (the session ended, the agent
/// cancelled) and records each as an `approval.decision`; their waiters see the status on
/// their next look.
pub fn cancel_pending(data: &DataDir, rec: &Recorder, ids: &[String], why: &str) {
    let Ok(mut store) = data.store() else { return };
    for id in ids {
        cancel(&mut store, rec, id, None, why);
    }
}

/// Cancels the approval of the call the agent cancelled (`request`: its JSON-RPC id), and
/// records it against that call, so that what remembers the call (detection) knows it no
/// longer waits.
pub fn cancel_call(data: &DataDir, rec: &Recorder, approval: &str, request: &serde_json::Value) {
    if let Ok(mut store) = data.store() {
        let call = crate::call::call_id(request);
        cancel(&mut store, rec, approval, Some(call), AGENT_CANCELLED);
    }
}

fn cancel(store: &mut Store, rec: &Recorder, id: &str, call: Option<String>, why: &str) {
    let now = Timestamp::now().unix_nanos();
    if let Ok(true) = store.settle_approval(id, "cancelled", "brig", why, now) {
        let mut e = rec.event(EventKind::ApprovalDecision);
        e.call = call;
        e.attrs.insert("approval".into(), json!(id));
        e.attrs.insert("status".into(), json!("cancelled"));
        if let Ok(Some(a)) = store.approval(id) {
            e.tool = Some(a.tool);
            e.attrs.insert("event_index".into(), json!(a.event_index));
        }
        e.decision = Some(Decision {
            effect: Effect::Deny,
            policies: vec!["brig.approvals".into()],
            reason: Some(why.to_string()),
        });
        rec.record(e);
    }
}

struct Watch<'a> {
    rec: &'a Recorder,
    approval: &'a Approval,
    call: &'a str,
}

impl Watch<'_> {
    /// Settles the approval as Brig (timeout, containment) and records that; returns `why`.
    fn close(&self, store: &mut Store, status: &str, why: &str) -> String {
        let now = Timestamp::now().unix_nanos();
        if let Ok(true) = store.settle_approval(&self.approval.id, status, "brig", why, now) {
            let mut e = self.rec.event(EventKind::ApprovalDecision);
            e.tool = Some(self.approval.tool.clone());
            e.call = Some(self.call.to_string());
            e.attrs.insert("approval".into(), json!(self.approval.id));
            e.attrs.insert("status".into(), json!(status));
            e.decision = Some(Decision {
                effect: Effect::Deny,
                policies: vec!["brig.approvals".into()],
                reason: Some(why.to_string()),
            });
            self.rec.record(e);
        }
        why.to_string()
    }
}

/// Why an operator's decision on an approval was not taken.
#[derive(Debug, thiserror::Error)]
pub enum SettleError {
    #[error(
        "a reason is required (it is recorded in the ledger, and the agent reads it on a deny)"
    )]
    NoReason,
    #[error("no approval with id {0}")]
    NotFound(String),
    #[error("approval {id} is no longer pending (it was {status} by {by})")]
    NotPending {
        id: String,
        status: String,
        by: String,
    },
    #[error(transparent)]
    Store(#[from] brig_ledger::store::StoreError),
}

/// A person's decision on a held call: settles the approval (if still pending) and returns
/// it with the `approval.decision` event the caller must record. The waiting gateway, in
/// whatever process, sees the status on its next look.
pub fn settle_by_operator(
    store: &mut Store,
    id: &str,
    approve: bool,
    actor: &str,
    reason: &str,
) -> Result<(Approval, brig_model::NewEvent), SettleError> {
    if reason.trim().is_empty() {
        return Err(SettleError::NoReason);
    }
    let approval = store
        .approval(id)?
        .ok_or_else(|| SettleError::NotFound(id.to_string()))?;
    let status = if approve { "approved" } else { "denied" };
    let now = Timestamp::now().unix_nanos();
    if !store.settle_approval(id, status, actor, reason, now)? {
        let now = store.approval(id)?.unwrap_or(approval);
        return Err(SettleError::NotPending {
            id: id.to_string(),
            status: now.status,
            by: now.decided_by.unwrap_or_else(|| "?".into()),
        });
    }
    let mut e = brig_model::NewEvent::new(
        "operator",
        approval.agent.clone(),
        EventKind::ApprovalDecision,
    );
    e.workflow = approval.workflow.clone();
    e.tool = Some(approval.tool.clone());
    e.decision = Some(Decision {
        effect: if approve { Effect::Allow } else { Effect::Deny },
        policies: vec![],
        reason: Some(reason.to_string()),
    });
    e.attrs.insert("approval".into(), json!(id));
    e.attrs
        .insert("event_index".into(), json!(approval.event_index));
    e.attrs.insert("actor".into(), json!(actor));
    Ok((approval, e))
}
