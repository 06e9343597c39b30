//! A batch of ledger events → the records a sink sends: OCSF objects from
//! `brig_evidence::ocsf` (the one mapping), each tied back to the ledger event it came from.

use std::collections::BTreeMap;

use brig_ledger::store::LedgerStore;
use brig_model::{Event, EventKind};
use brig_store::Store;
use serde_json::Value;

use crate::SiemError;

/// Which events are forwarded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Alerts, and the current state of incidents that changed (transitions, response
    /// actions).
    Alerts,
    /// Every event with an OCSF class (calls, their file activities, alerts, incidents).
    All,
}

/// One OCSF object to send, with where it comes from.
#[derive(Clone, Debug)]
pub struct Record {
    /// The ledger index of the event it stands for.
    pub index: u64,
    /// That event's id.
    pub event_id: String,
    /// That event's kind (`alert`, `incident.transition`, …): syslog's MSGID.
    pub kind: &'static str,
    /// The event's time, nanoseconds since the Unix epoch.
    pub ts_nanos: i64,
    pub ocsf: Value,
}

impl Record {
    /// OCSF `severity_id` (1 informational … 5 critical, 6 fatal; 0 unknown).
    pub fn severity_id(&self) -> u64 {
        self.ocsf
            .get("severity_id")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }
}

/// Reads ledger events `from..to` (as stored, in order).
pub fn read(store: &mut Store, from: u64, to: u64) -> Result<Vec<(u64, Event)>, SiemError> {
    let mut out = Vec::with_capacity((to - from) as usize);
    let mut bad = None;
    store.scan(from, to, &mut |row| match Event::from_leaf(&row.leaf) {
        Ok(e) => {
            out.push((row.index, e));
            true
        }
        Err(e) => {
            bad = Some((row.index, e.to_string()));
            false
        }
    })?;
    if let Some((index, reason)) = bad {
        return Err(SiemError::Damaged { index, reason });
    }
    Ok(out)
}

/// The records of a batch, in ledger order. Incidents touched by the batch are read in their
/// current state from the store.
pub fn records(
    store: &mut Store,
    events: &[(u64, Event)],
    selection: Selection,
) -> Result<Vec<Record>, SiemError> {
    // The last event of each incident that changed in this batch: its state is sent once.
    let mut touched: BTreeMap<String, usize> = BTreeMap::new();
    for (pos, (_, e)) in events.iter().enumerate() {
        if matches!(
            e.kind,
            EventKind::IncidentTransition | EventKind::ResponseAction
        ) {
            if let Some(id) = e.attrs.get("incident").and_then(Value::as_str) {
                touched.insert(id.to_string(), pos);
            }
        }
    }
    let mut incidents = Vec::new();
    let mut by_incident = BTreeMap::new();
    for (id, pos) in &touched {
        if let Some(row) = store.incident(id)? {
            if let Ok(i) = brig_incident::desk::parse(&row) {
                by_incident.insert(i.id.clone(), *pos);
                incidents.push(i);
            }
        }
    }
    let by_index: BTreeMap<u64, usize> = events
        .iter()
        .enumerate()
        .map(|(pos, (i, _))| (*i, pos))
        .collect();
    let mut out = Vec::new();
    // The whole batch goes in, so a call's decision and result in it set the call's outcome.
    // For alerts alone, only what a finding reads: the calls' own mapping is skipped.
    let relevant: Vec<(u64, Event)>;
    let mapped = match selection {
        Selection::All => events,
        Selection::Alerts => {
            relevant = events
                .iter()
                .filter(|(_, e)| finding_reads(e.kind))
                .cloned()
                .collect();
            &relevant
        }
    };
    for o in brig_evidence::ocsf::to_ocsf(mapped, &incidents) {
        let class = o.get("class_uid").and_then(Value::as_u64).unwrap_or(0);
        let pos = if class == 2005 {
            o.pointer("/metadata/correlation_uid")
                .and_then(Value::as_str)
                .and_then(|id| by_incident.get(id).copied())
        } else {
            o.pointer("/metadata/sequence")
                .and_then(Value::as_u64)
                .and_then(|i| by_index.get(&i).copied())
        };
        let Some(pos) = pos else { continue };
        if selection == Selection::Alerts && !matches!(class, 2004 | 2005) {
            continue;
        }
        let (index, e) = &events[pos];
        let mut o = o;
        if class == 2005 && o.pointer("/metadata/sequence").is_none() {
            // An incident's state is sent with a change to it; the change's place in the
            // ledger tells one sending from the next.
            if let Some(m) = o.get_mut("metadata").and_then(Value::as_object_mut) {
                m.insert("sequence".into(), (*index).into());
            }
        }
        out.push(Record {
            index: *index,
            event_id: e.id.to_string(),
            kind: e.kind.as_str(),
            ts_nanos: e.ts.unix_nanos(),
            ocsf: o,
        });
    }
    // Incidents come last from the mapping; a stable sort puts them at their event.
    out.sort_by_key(|r| r.index);
    Ok(out)
}

/// The kinds `brig_evidence::ocsf` reads for a Detection or Incident Finding: the signals
/// themselves, and the decisions and results that give an alert's call its outcome.
fn finding_reads(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Alert
            | EventKind::HumanReport
            | EventKind::PolicyDecision
            | EventKind::ApprovalDecision
            | EventKind::ToolResult
    )
}
