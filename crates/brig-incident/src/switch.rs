//! The kill switch as an operator throws it: containment set in the store, then the order
//! recorded in the ledger with who, when and why. The CLI (`brig contain|release`) and the
//! control plane's API both come here, so an order reads the same in the ledger whichever
//! way it was given.

use brig_ledger::Prepared;
use brig_model::{EventKind, NewEvent, Timestamp};
use brig_store::{Containment, DataDir, Scope};
use serde_json::json;

/// An operator's order.
#[derive(Clone, Debug)]
pub struct Order {
    pub scope: Scope,
    /// Why (recorded; must not be empty).
    pub reason: String,
    /// Who gave it: a person, or the name of the API token that carried it.
    pub actor: String,
    /// Also stop the upstream server processes of the affected proxies.
    pub kill_upstream: bool,
}

/// Why an order could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SwitchError {
    #[error("a reason is required: it is recorded in the ledger")]
    NoReason,
    #[error("path glob `{0}` must be absolute or start with `**/` (targets are absolute paths)")]
    BadPath(String),
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("recording the order in the ledger: {0}")]
    Ledger(String),
}

impl Order {
    fn check(&self) -> Result<(), SwitchError> {
        if self.reason.trim().is_empty() {
            return Err(SwitchError::NoReason);
        }
        if let Scope::Path(p) = &self.scope {
            let glob_ok = globset::Glob::new(p).is_ok();
            if !(p.starts_with('/') || p.starts_with("**/")) || !glob_ok {
                return Err(SwitchError::BadPath(p.clone()));
            }
        }
        Ok(())
    }

    /// The operator action, as a ledger event.
    fn event(&self, action: &str, changed: bool) -> NewEvent {
        let (agent, workflow) = match &self.scope {
            Scope::Agent(a) => (a.clone(), None),
            Scope::Workflow(w) => ("*".to_string(), Some(w.clone())),
            Scope::All | Scope::Path(_) => ("*".to_string(), None),
        };
        let mut e = NewEvent::new("operator", agent, EventKind::OperatorAction);
        e.workflow = workflow;
        e.attrs.insert("action".into(), json!(action));
        e.attrs
            .insert("scope".into(), json!(self.scope.to_string()));
        e.attrs.insert("actor".into(), json!(self.actor));
        e.attrs.insert("changed".into(), json!(changed));
        if self.kill_upstream {
            e.attrs.insert("kill_upstream".into(), json!(true));
        }
        e.payload.insert("reason".into(), json!(self.reason));
        e
    }
}

fn record(dir: &DataDir, e: NewEvent) -> Result<u64, SwitchError> {
    let prepared = Prepared::new(e).map_err(|e| SwitchError::Ledger(e.to_string()))?;
    let receipts = dir
        .ledger()?
        .append(&[prepared])
        .map_err(|e| SwitchError::Ledger(e.to_string()))?;
    Ok(receipts[0].index)
}

/// Contains the order's scope — every gateway sharing the store denies from its next call
/// — then records the order. Returns the ledger index of the record.
pub fn contain(dir: &DataDir, o: &Order) -> Result<u64, SwitchError> {
    o.check()?;
    // Stop first: every proxy checks this state before each call.
    dir.store()?.contain(&Containment {
        scope: o.scope.clone(),
        reason: o.reason.clone(),
        actor: o.actor.clone(),
        since_nanos: Timestamp::now().unix_nanos(),
        kill_upstream: o.kill_upstream,
    })?;
    record(dir, o.event("contain", true))
}

/// Lifts containment of the order's scope and records it (also when it was not contained).
/// Returns whether it was contained, and the ledger index.
pub fn release(dir: &DataDir, o: &Order) -> Result<(bool, u64), SwitchError> {
    o.check()?;
    let changed = dir.store()?.release(&o.scope)?;
    Ok((changed, record(dir, o.event("release", changed))?))
}
