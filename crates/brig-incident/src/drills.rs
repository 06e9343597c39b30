//! Drill results as the ledger keeps them.
//!
//! `brig drill` plays adversarial scenarios in a sandbox of its own; what a team needs to
//! remember of each run — which scenario, for which workflow, whether it was detected,
//! contained, rolled back and its evidence verified, and how fast — is recorded in the
//! team's own ledger as an `operator.action` event with `attrs.action = "drill.result"`.
//! Metrics ("workflows with a tested rollback path") and the readiness check ("a kill switch
//! tested") read them back from there: the ledger is the one record, so a drill result
//! cannot be claimed without being in it.

use brig_ledger::Prepared;
use brig_model::{Event, EventKind, NewEvent};
use brig_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `attrs.action` of a drill result event.
pub const ACTION: &str = "drill.result";

/// One scenario's outcome, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillRecord {
    /// The scenario's name (`stealth-backup`, `benign-control`, …).
    pub scenario: String,
    /// The workflow the drill stood in for (`--workflow`; `drill` by default).
    pub workflow: String,
    /// Which tool server stood behind the gateway: `reference` (the MCP reference
    /// filesystem server) or `builtin` (Brig's sandbox server).
    pub upstream: String,
    /// Every check of the scenario held.
    pub passed: bool,
    /// An alert was raised (for the benign control: none was, as it should be).
    pub detected: bool,
    /// The agent was stopped: denied inline or contained.
    pub contained: bool,
    /// Time from the first harmful call to the first alert, in milliseconds.
    pub ttd_ms: Option<f64>,
    /// Time from the first harmful call to the agent being stopped, in milliseconds.
    pub ttc_ms: Option<f64>,
    /// Rollback applied and the workspace's hash equal to its baseline again.
    pub rollback_verified: bool,
    /// The evidence bundle exported and verified offline.
    pub evidence_verified: bool,
    /// When the drill ran (ns since the Unix epoch).
    pub at: i64,
}

impl DrillRecord {
    /// The ledger event that records it.
    pub fn event(&self, actor: &str) -> NewEvent {
        let mut e = NewEvent::new("brig-drill", "*", EventKind::OperatorAction);
        e.workflow = Some(self.workflow.clone());
        e.attrs.insert("action".into(), Value::from(ACTION));
        e.attrs.insert("actor".into(), Value::from(actor));
        if let Value::Object(fields) = serde_json::to_value(self).expect("plain data") {
            e.attrs.insert("drill".into(), Value::Object(fields));
        }
        e
    }

    /// Reads a drill result back from a ledger event; `None` for any other event.
    pub fn from_event(e: &Event) -> Option<DrillRecord> {
        if e.kind != EventKind::OperatorAction || e.attrs.get("action")?.as_str()? != ACTION {
            return None;
        }
        serde_json::from_value(e.attrs.get("drill")?.clone()).ok()
    }
}

/// Why drill results could not be recorded or read.
#[derive(Debug, thiserror::Error)]
pub enum DrillsError {
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("ledger: {0}")]
    Ledger(String),
}

/// Appends drill results to the ledger; returns their ledger indices.
pub fn record(
    ledger: &mut brig_ledger::Ledger<Store>,
    results: &[DrillRecord],
    actor: &str,
) -> Result<Vec<u64>, DrillsError> {
    let batch = results
        .iter()
        .map(|r| Prepared::new(r.event(actor)).map_err(|e| DrillsError::Ledger(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let receipts = ledger
        .append(&batch)
        .map_err(|e| DrillsError::Ledger(e.to_string()))?;
    Ok(receipts.into_iter().map(|r| r.index).collect())
}

/// Every drill result in the ledger, oldest first (at most `limit`).
pub fn load(store: &mut Store, limit: usize) -> Result<Vec<DrillRecord>, DrillsError> {
    let mut out = Vec::new();
    for idx in store.kinds_since(0, &[EventKind::OperatorAction.as_str()], limit)? {
        let Some(row) = brig_ledger::store::LedgerStore::leaf(store, idx)? else {
            continue;
        };
        if let Some(r) = Event::from_leaf(&row.leaf)
            .ok()
            .and_then(|e| DrillRecord::from_event(&e))
        {
            out.push(r);
        }
    }
    Ok(out)
}
