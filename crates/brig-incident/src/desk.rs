//! The incident desk: alerts filed into incidents, and the lifecycle people drive.
//!
//! Alerts that share a key — the agent (default), the session or the workflow, as the
//! register's `[playbook] group_by` says — join the newest open incident of that key while
//! they come within `group_minutes` of its last alert; otherwise they open a new one.
//! Filing is one `BEGIN IMMEDIATE` transaction, so two gateways raising alerts for the same
//! agent at once still make one incident.
//!
//! Every change — opened, severity raised, acknowledged, assigned, a note, a lifecycle step,
//! closed — comes back as an `incident.transition` event for the caller to write to the
//! ledger: the store holds the current state, the ledger the history.

use brig_model::{EventId, EventKind, NewEvent, Timestamp};
use brig_register::{GroupBy, Playbook, Register};
use brig_store::{IncidentRow, NoteRow, Store};
use serde_json::json;

use crate::grade::{Graded, Signal};
use crate::{Incident, Severity, State, Times};

/// Why the desk could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DeskError {
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("incident {0} not found")]
    NotFound(String),
    #[error("incident {id} has a damaged record: {reason}")]
    Damaged { id: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

/// What filing one batch of signals did to one incident.
#[derive(Clone, Debug)]
pub struct Filed {
    pub incident: Incident,
    /// What its alerts share (`agent:…`, `session:…`, `workflow:…`).
    pub key: String,
    /// Newly opened by this batch.
    pub opened: bool,
    /// The severity before this batch, when the batch raised it.
    pub raised_from: Option<Severity>,
    /// The `incident.transition` events to record.
    pub events: Vec<NewEvent>,
}

/// Files signals into incidents.
#[derive(Clone, Debug, Default)]
pub struct Desk {
    playbook: Playbook,
}

impl Desk {
    pub fn new(register: Option<&Register>) -> Desk {
        Desk {
            playbook: register.map(|r| r.playbook.clone()).unwrap_or_default(),
        }
    }

    pub fn playbook(&self) -> &Playbook {
        &self.playbook
    }

    /// What a signal's incident is keyed by.
    pub fn key(&self, s: &Signal) -> String {
        match (self.playbook.group_by, &s.session, &s.workflow) {
            (GroupBy::Session, Some(session), _) => format!("session:{session}"),
            (GroupBy::Workflow, _, Some(w)) => format!("workflow:{w}"),
            _ => format!("agent:{}", s.agent),
        }
    }

    /// Files graded signals (one transaction): each joins its key's open incident or opens
    /// one. Returns what changed, one entry per incident touched.
    pub fn file(
        &self,
        store: &mut Store,
        signals: &[(Signal, Graded)],
    ) -> Result<Vec<Filed>, DeskError> {
        let now = Timestamp::now().unix_nanos();
        let window = i64::from(self.playbook.group_minutes) * 60 * 1_000_000_000;
        store.incident_tx(|tx| {
            let mut out: Vec<Filed> = Vec::new();
            for (s, g) in signals {
                let key = self.key(s);
                let filed = match out.iter_mut().find(|f| f.key == key) {
                    Some(f) => f,
                    None => {
                        let found = tx.find_open(&key, now - window)?;
                        out.push(match found {
                            Some(row) => Filed {
                                incident: parse(&row)?,
                                key,
                                opened: false,
                                raised_from: None,
                                events: Vec::new(),
                            },
                            None => open(s, key, now),
                        });
                        out.last_mut().expect("just pushed")
                    }
                };
                join(filed, s, g);
            }
            for f in &mut out {
                tx.put(&row_of(&f.incident, &f.key, now))?;
                f.events = transitions(f);
            }
            Ok(out)
        })
    }
}

fn open(s: &Signal, key: String, now: i64) -> Filed {
    let incident = Incident {
        id: format!("INC-{}", EventId::new()),
        title: format!("{} ({})", s.title, s.agent),
        agent: s.agent.clone(),
        sessions: Default::default(),
        workflow: s.workflow.clone(),
        severity: Severity::Advisory,
        reasons: Vec::new(),
        state: State::Open,
        owner: None,
        verdict: None,
        legal_hold: false,
        classes: Default::default(),
        outcomes: Default::default(),
        resources: Default::default(),
        identities: Default::default(),
        rules: Default::default(),
        alerts: Vec::new(),
        times: Times {
            detected: Some(now),
            ..Times::default()
        },
    };
    Filed {
        incident,
        key,
        opened: true,
        raised_from: None,
        events: Vec::new(),
    }
}

/// Adds one graded signal to an incident.
fn join(f: &mut Filed, s: &Signal, g: &Graded) {
    let i = &mut f.incident;
    if g.severity > i.severity && !f.opened && f.raised_from.is_none() {
        f.raised_from = Some(i.severity);
    }
    i.severity = i.severity.max(g.severity);
    for r in &g.reasons {
        if !i.reasons.contains(r) {
            i.reasons.push(r.clone());
        }
    }
    i.classes.extend(g.classes.iter().cloned());
    i.outcomes.extend(g.outcomes.iter().copied());
    i.resources.extend(g.resources.iter().cloned());
    i.identities.insert(format!("agent:{}", s.agent));
    if let Some(w) = &s.workflow {
        i.identities.insert(format!("workflow:{w}"));
    }
    if let Some(session) = &s.session {
        i.sessions.insert(session.clone());
    }
    i.rules.insert(s.rule.clone());
    if !s.id.is_empty() && !i.alerts.contains(&s.id) {
        i.alerts.push(s.id.clone());
    }
    if s.ts_nanos > 0 {
        let first = i
            .times
            .first_harmful
            .map_or(s.ts_nanos, |t| t.min(s.ts_nanos));
        i.times.first_harmful = Some(first);
    }
}

fn transitions(f: &Filed) -> Vec<NewEvent> {
    let i = &f.incident;
    let mut v = Vec::new();
    if f.opened {
        v.push(transition(i, "opened", json!({"severity": i.severity})));
    } else if let Some(from) = f.raised_from {
        v.push(transition(
            i,
            "severity_raised",
            json!({"from": from, "severity": i.severity}),
        ));
    }
    if let Some(e) = v.last_mut() {
        e.payload.insert("reasons".into(), json!(i.reasons));
        e.payload.insert("alerts".into(), json!(i.alerts));
    }
    v
}

/// An `incident.transition` event of incident `i`.
pub fn transition(i: &Incident, what: &str, attrs: serde_json::Value) -> NewEvent {
    let mut e = NewEvent::new(
        "brig-incident",
        i.agent.clone(),
        EventKind::IncidentTransition,
    );
    e.ts = Some(Timestamp::now());
    e.workflow = i.workflow.clone();
    e.attrs.insert("incident".into(), json!(i.id));
    e.attrs.insert("transition".into(), json!(what));
    if let serde_json::Value::Object(m) = attrs {
        e.attrs.extend(m);
    }
    e
}

/// The store row of an incident.
pub fn row_of(i: &Incident, key: &str, last_alert: i64) -> IncidentRow {
    IncidentRow {
        id: i.id.clone(),
        key: key.to_string(),
        agent: i.agent.clone(),
        state: i.state.as_str().to_string(),
        severity: Severity::ALL
            .iter()
            .position(|s| *s == i.severity)
            .unwrap_or(0) as u8,
        opened_nanos: i.times.detected.unwrap_or(last_alert),
        last_alert_nanos: last_alert,
        doc: serde_json::to_string(i).expect("an incident serializes"),
    }
}

/// The incident a store row holds.
pub fn parse(row: &IncidentRow) -> Result<Incident, DeskError> {
    serde_json::from_str(&row.doc).map_err(|e| DeskError::Damaged {
        id: row.id.clone(),
        reason: e.to_string(),
    })
}

/// The incident `id` (or unique prefix of it).
pub fn load(store: &mut Store, id: &str) -> Result<(Incident, IncidentRow), DeskError> {
    let row = store
        .incident(id)?
        .ok_or_else(|| DeskError::NotFound(id.to_string()))?;
    Ok((parse(&row)?, row))
}

/// A change a person makes to an incident.
#[derive(Clone, Debug)]
pub enum Change {
    Acknowledge,
    Assign(String),
    /// A lifecycle step reached: contained, eradicated or recovered.
    Step(State),
    Close {
        verdict: String,
    },
    Reopen,
    LegalHold(bool),
}

/// Applies a person's change: the updated incident and its ledger event. The store is
/// written only by [`save`], after the event is durable.
pub fn change(
    i: &Incident,
    actor: &str,
    c: &Change,
    reason: Option<&str>,
) -> Result<(Incident, NewEvent), DeskError> {
    let now = Timestamp::now().unix_nanos();
    let mut n = i.clone();
    let (what, attrs) = match c {
        Change::Acknowledge => {
            n.times.acknowledged.get_or_insert(now);
            if n.state == State::Open {
                n.state = State::Acknowledged;
            }
            if n.owner.is_none() {
                n.owner = Some(actor.to_string());
            }
            ("acknowledged", json!({}))
        }
        Change::Assign(owner) => {
            n.owner = Some(owner.clone());
            ("assigned", json!({"owner": owner}))
        }
        Change::Step(s) => {
            let slot = match s {
                State::Contained => &mut n.times.contained,
                State::Eradicated => &mut n.times.eradicated,
                State::Recovered => &mut n.times.recovered,
                other => {
                    return Err(DeskError::Invalid(format!(
                        "`{}` is not a step (contained, eradicated, recovered)",
                        other.as_str()
                    )))
                }
            };
            *slot = Some(now);
            n.state = n.state.max(*s);
            (s.as_str(), json!({}))
        }
        Change::Close { verdict } => {
            n.times.closed = Some(now);
            n.state = State::Closed;
            n.verdict = Some(verdict.clone());
            ("closed", json!({"verdict": verdict}))
        }
        Change::Reopen => {
            n.times.closed = None;
            n.state = State::Acknowledged;
            ("reopened", json!({}))
        }
        Change::LegalHold(on) => {
            n.legal_hold = *on;
            ("legal_hold", json!({"on": on}))
        }
    };
    let mut e = transition(&n, what, attrs);
    e.attrs.insert("actor".into(), json!(actor));
    e.attrs.insert("state".into(), json!(n.state));
    if let Some(r) = reason {
        e.payload.insert("reason".into(), json!(r));
    }
    Ok((n, e))
}

/// Writes an incident back (keeping its key and last alert time).
pub fn save(store: &mut Store, i: &Incident, row: &IncidentRow) -> Result<(), DeskError> {
    store.put_incident(&row_of(i, &row.key, row.last_alert_nanos))?;
    Ok(())
}

/// A note and its ledger event. A privileged note's text goes into the event's payload
/// (which an operator can erase later), never into its attributes.
pub fn note(i: &Incident, author: &str, text: &str, privileged: bool) -> (NoteRow, NewEvent) {
    let now = Timestamp::now();
    let mut e = transition(
        i,
        "note",
        json!({"actor": author, "privileged": privileged}),
    );
    e.payload.insert("note".into(), json!(text));
    let row = NoteRow {
        seq: 0,
        incident: i.id.clone(),
        ts_nanos: now.unix_nanos(),
        author: author.to_string(),
        privileged,
        text: text.to_string(),
    };
    (row, e)
}
