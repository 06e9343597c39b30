//! The playbook: what Brig does on its own when an incident is grave enough.
//!
//! With no configuration at all, an incident at `security_incident` or above (any rule at
//! level `high` or `critical` reaches it) makes Brig, in this order:
//!
//! 1. **preserve** — write a snapshot of the state as evidence into the ledger (the policies
//!    and risk register in force, the containment state, the agent's held approvals and its
//!    most recent events) and sign a checkpoint covering it, so the record of what happened
//!    is fixed before anything changes;
//! 2. **contain** the agent: every further tool call of it is denied, by every gateway that
//!    shares the data directory;
//! 3. **freeze** its workflow, when the register's playbook says so;
//! 4. **cancel** its calls waiting for approval;
//! 5. **revoke** its tokens (reported as skipped: agent tokens come with `brig serve`);
//! 6. **quarantine** the register's named paths: no agent may touch them.
//!
//! Each step becomes a `response.action` event with its status (`ok`, `failed`, `skipped`)
//! and how long it took; a failed step is reported, never hidden, and the steps after it
//! still run — a failed snapshot must not leave the agent running.
//!
//! With `contain = false` in the register's `[playbook]` (monitor mode), only the first step
//! runs, once, when an incident becomes grave; the others are recorded as skipped.
//!
//! The gateway runs the playbook on its responder thread, after denying the offending call
//! itself; `brig report-incident` runs it in the CLI. Both go through [`Responder`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use brig_ledger::note::NoteSigner;
use brig_ledger::{Ledger, Prepared};
use brig_model::{EventKind, NewEvent, Timestamp};
use brig_register::Register;
use brig_store::{Containment, DataDir, Scope, Store};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::desk::{self, Desk, DeskError, Filed};
use crate::grade::{grade, Signal};
use crate::notify::{self, Notice, Notifier};
use crate::{Incident, State};

/// A signal graded as if its call ran, when that reaches the playbook's threshold: the
/// one test of "grave enough" the gateway and the responder share.
pub fn grave(
    s: &Signal,
    register: Option<&Register>,
    playbook: &brig_register::Playbook,
) -> Option<crate::grade::Graded> {
    let mut s = s.clone();
    s.prevented = false;
    Some(grade(&s, register)).filter(|g| g.severity >= playbook.contain_at)
}

/// Who the playbook acts as, in the containment table and the ledger.
pub const ACTOR: &str = "brig-playbook";

/// How many of the agent's latest events the evidence snapshot lists.
const RECENT_EVENTS: usize = 500;

/// Where the responder writes events; must return once they are durable.
pub trait Sink: Send + Sync {
    fn record(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, String>;

    /// Records without waiting: the events are written, in order, with the next batch
    /// somebody waits for (an incident's transitions ride with its evidence snapshot, so
    /// containment waits for one commit, not two). Failures are reported, not returned.
    fn record_later(&self, events: Vec<NewEvent>) {
        if let Err(e) = self.record(events) {
            eprintln!("brig: incident events not recorded: {e}");
        }
    }
}

/// A ledger opened directly (the CLI).
pub struct LedgerSink(pub Mutex<Ledger<Store>>);

/// Events made ready for the ledger (each validated and hashed), or why one is not.
pub fn prepare(events: Vec<NewEvent>) -> Result<Vec<Prepared>, String> {
    events
        .into_iter()
        .map(Prepared::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

impl Sink for LedgerSink {
    fn record(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, String> {
        let prepared = prepare(events)?;
        let mut ledger = self.0.lock().unwrap_or_else(|p| p.into_inner());
        ledger
            .append(&prepared)
            .map(|r| r.iter().map(|r| r.index).collect())
            .map_err(|e| e.to_string())
    }
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Failed,
    Skipped,
}

/// One playbook step, as reported and recorded.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub step: &'static str,
    pub status: Status,
    pub ms: f64,
    pub detail: String,
}

/// A playbook step as the ledger holds it (a `response.action` event with a status).
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    pub ledger_index: u64,
    pub ts: i64,
    pub step: String,
    pub status: String,
    pub ms: Option<f64>,
    pub detail: String,
}

/// The playbook steps among an incident's records ([`crate::questions::records_of`]), their
/// details read through the ledger's payload check (altered or erased ones say so).
pub fn recorded_steps(
    store: &mut Store,
    records: &[(u64, brig_model::Event)],
) -> Result<Vec<Recorded>, brig_ledger::store::StoreError> {
    let mut out = Vec::new();
    for (idx, e) in records {
        let text = |k: &str| e.attrs.get(k).and_then(Value::as_str).map(String::from);
        let (true, Some(status)) = (e.kind == EventKind::ResponseAction, text("status")) else {
            continue;
        };
        let payloads = crate::questions::payloads(store, *idx, e)?;
        let detail = match &payloads["detail"] {
            Value::String(t) => t.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        out.push(Recorded {
            ledger_index: *idx,
            ts: e.ts.unix_nanos(),
            step: text("step").unwrap_or_default(),
            status,
            ms: e.attrs.get("ms").and_then(Value::as_f64),
            detail,
        });
    }
    Ok(out)
}

/// What handling a batch of signals did.
#[derive(Clone, Debug)]
pub struct Handled {
    pub filed: Filed,
    /// The playbook's steps, when it ran for this incident.
    pub steps: Vec<Step>,
}

/// Files signals into incidents and runs the playbook; one per process.
pub struct Responder {
    desk: Desk,
    register: Option<Arc<Register>>,
    policies: Option<PathBuf>,
    store: Store,
    ledger: Ledger<Store>,
    signer: NoteSigner,
    sink: Arc<dyn Sink>,
    notifier: Option<Notifier>,
}

impl Responder {
    /// A responder over a data directory, writing through `sink`; `policies` is the policy
    /// directory in force (for the evidence snapshot; `None`: the built-in default).
    pub fn new(
        data: &DataDir,
        register: Option<Arc<Register>>,
        policies: Option<PathBuf>,
        sink: Arc<dyn Sink>,
    ) -> Result<Responder, brig_store::DataDirError> {
        let notifier = register
            .as_ref()
            .filter(|r| !r.notify.is_empty())
            .map(|r| start_notifier(r, sink.clone()));
        Ok(Responder {
            desk: Desk::new(register.as_deref()),
            register,
            policies,
            store: data.store()?,
            ledger: data.ledger()?,
            signer: data.signer()?,
            sink,
            notifier,
        })
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }

    /// Would these signals, graded as if their calls ran, make the playbook contain the
    /// agent? (The gateway asks before it lets the offending call through.)
    pub fn would_contain(&self, signals: &[Signal]) -> bool {
        self.desk.playbook().contain && signals.iter().any(|s| self.grave(s))
    }

    fn grave(&self, s: &Signal) -> bool {
        grave(s, self.register.as_deref(), self.desk.playbook()).is_some()
    }

    /// Grades and files signals, records the incidents' transitions, and runs the
    /// playbook for each incident a signal of this batch made grave enough and whose agent
    /// is not contained yet.
    pub fn handle(&mut self, signals: &[Signal]) -> Result<Vec<Handled>, DeskError> {
        let graded: Vec<_> = signals
            .iter()
            .map(|s| (s.clone(), grade(s, self.register.as_deref())))
            .collect();
        let filed = self.desk.file(&mut self.store, &graded)?;
        let mut out = Vec::new();
        for f in filed {
            self.sink.record_later(f.events.clone());
            self.tell(&f);
            // Containment is decided by what a call would have done had it run: the
            // gateway denies such a call as it contains, which makes it an attempt.
            let trigger = signals
                .iter()
                .filter(|s| s.agent == f.incident.agent)
                .find(|s| self.grave(s));
            let due = match trigger {
                // Monitor mode preserves evidence once, when the incident becomes grave.
                Some(_) if !self.desk.playbook().contain => {
                    let at = self.desk.playbook().contain_at;
                    f.opened || f.raised_from.is_some_and(|from| from < at)
                }
                Some(_) => !self.is_contained(&f.incident),
                None => false,
            };
            let steps = match trigger {
                Some(s) if due => self.run(&f.incident, s),
                _ => Vec::new(),
            };
            out.push(Handled { filed: f, steps });
        }
        Ok(out)
    }

    fn is_contained(&mut self, i: &Incident) -> bool {
        // Unreadable state: run the playbook again rather than assume it is contained.
        matches!(
            self.store.containment_of(&i.agent, i.workflow.as_deref()),
            Ok(Some(_))
        )
    }

    fn record_or_say(&self, events: Vec<NewEvent>) {
        if events.is_empty() {
            return;
        }
        if let Err(e) = self.sink.record(events) {
            eprintln!("brig: incident events not recorded: {e}");
        }
    }

    fn tell(&self, f: &Filed) {
        let event = if f.opened {
            notify::Event::Opened
        } else if f.raised_from.is_some() {
            notify::Event::SeverityRaised
        } else {
            return;
        };
        if let Some(n) = &self.notifier {
            n.notify(Notice::new(event, f.incident.clone()));
        }
    }

    /// Runs the playbook for an incident: evidence first, then containment. Updates the
    /// incident (contained, with its time) and records every step.
    pub fn run(&mut self, incident: &Incident, trigger: &Signal) -> Vec<Step> {
        let mut steps = vec![self.preserve(incident, trigger)];
        if self.desk.playbook().contain {
            steps.push(self.contain(incident));
            steps.push(self.freeze(incident));
            steps.push(self.cancel_approvals(incident));
            steps.push(skipped(
                "revoke_tokens",
                "no agent tokens exist in this deployment (tokens come with brig serve)",
            ));
            steps.push(self.quarantine(incident));
        } else {
            let off = "automatic containment is off (playbook.contain = false): contain by hand with brig contain";
            for step in [
                "contain",
                "freeze_workflow",
                "cancel_approvals",
                "revoke_tokens",
                "quarantine",
            ] {
                steps.push(skipped(step, off));
            }
        }
        let contained = steps
            .iter()
            .any(|s| s.step == "contain" && s.status == Status::Ok);
        let mut events: Vec<NewEvent> = steps.iter().map(|s| step_event(incident, s)).collect();
        if contained {
            if let Some((updated, e)) = self.mark_contained(incident) {
                events.push(e);
                if let Some(n) = &self.notifier {
                    n.notify(Notice::new(notify::Event::Contained, updated));
                }
            }
        }
        self.record_or_say(events);
        steps
    }

    fn preserve(&mut self, i: &Incident, trigger: &Signal) -> Step {
        timed("preserve", || {
            let snapshot = self.snapshot(i, trigger)?;
            let mut e = NewEvent::new("brig-playbook", i.agent.clone(), EventKind::ResponseAction);
            e.ts = Some(Timestamp::now());
            e.workflow = i.workflow.clone();
            e.attrs.insert("incident".into(), json!(i.id));
            e.attrs.insert("step".into(), json!("evidence_snapshot"));
            e.payload.insert("snapshot".into(), snapshot);
            let at = self.sink.record(vec![e])?;
            let cp = self.ledger.checkpoint(&self.signer).map_err(|e| {
                format!("snapshot recorded at {at:?}, but the checkpoint failed: {e}")
            })?;
            Ok(format!(
                "state snapshot at ledger index {}, checkpoint of size {} signed",
                at.first().copied().unwrap_or_default(),
                cp.size
            ))
        })
    }

    fn snapshot(&mut self, i: &Incident, trigger: &Signal) -> Result<Value, String> {
        let recent = self
            .store
            .recent_agent_events(&i.agent, RECENT_EVENTS)
            .map_err(|e| e.to_string())?;
        let containment: Vec<Value> = self
            .store
            .containments()
            .map_err(|e| e.to_string())?
            .iter()
            .map(|c| json!({"scope": c.scope.to_string(), "actor": c.actor, "reason": c.reason, "since": c.since_nanos}))
            .collect();
        let approvals: Vec<Value> = self
            .store
            .approvals(false)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|a| a.agent == i.agent)
            .map(|a| json!({"id": a.id, "tool": a.tool, "summary": a.summary, "event_index": a.event_index}))
            .collect();
        Ok(json!({
            "taken_at": Timestamp::now().unix_nanos(),
            "incident": i,
            "trigger": {"alert": trigger.id, "rule": trigger.rule, "level": trigger.level},
            "policies": policies_snapshot(self.policies.as_deref()),
            "register": register_snapshot(self.register.as_deref()),
            "containment": containment,
            "held_approvals": approvals,
            "recent_events": recent,
        }))
    }

    fn contain(&mut self, i: &Incident) -> Step {
        let reason = format!(
            "playbook: incident {} reached {}: {}",
            i.id,
            i.severity,
            i.reasons.last().map_or("", String::as_str)
        );
        timed("contain", || {
            self.store
                .contain(&Containment {
                    scope: Scope::Agent(i.agent.clone()),
                    reason,
                    actor: ACTOR.into(),
                    since_nanos: Timestamp::now().unix_nanos(),
                    kill_upstream: false,
                })
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "agent {} contained: every further tool call is denied",
                i.agent
            ))
        })
    }

    fn freeze(&mut self, i: &Incident) -> Step {
        let Some(w) = i
            .workflow
            .clone()
            .filter(|_| self.desk.playbook().freeze_workflow)
        else {
            return skipped(
                "freeze_workflow",
                "not asked for (playbook.freeze_workflow)",
            );
        };
        let reason = format!("playbook: incident {} of agent {}", i.id, i.agent);
        timed("freeze_workflow", || {
            self.store
                .contain(&Containment {
                    scope: Scope::Workflow(w.clone()),
                    reason,
                    actor: ACTOR.into(),
                    since_nanos: Timestamp::now().unix_nanos(),
                    kill_upstream: false,
                })
                .map_err(|e| e.to_string())?;
            Ok(format!("workflow {w} frozen"))
        })
    }

    fn cancel_approvals(&mut self, i: &Incident) -> Step {
        if !self.desk.playbook().cancel_approvals {
            return skipped(
                "cancel_approvals",
                "not asked for (playbook.cancel_approvals)",
            );
        }
        let why = format!("cancelled by the playbook of incident {}", i.id);
        timed("cancel_approvals", || {
            let pending = self.store.approvals(false).map_err(|e| e.to_string())?;
            let mut n = 0;
            for a in pending.iter().filter(|a| a.agent == i.agent) {
                let now = Timestamp::now().unix_nanos();
                if self
                    .store
                    .settle_approval(&a.id, "cancelled", ACTOR, &why, now)
                    .map_err(|e| e.to_string())?
                {
                    n += 1;
                }
            }
            Ok(format!("{n} held call(s) cancelled"))
        })
    }

    fn quarantine(&mut self, i: &Incident) -> Step {
        let globs = self.desk.playbook().quarantine.clone();
        if globs.is_empty() {
            return skipped("quarantine", "no paths named (playbook.quarantine)");
        }
        let reason = format!("playbook: incident {}", i.id);
        timed("quarantine", || {
            for g in &globs {
                self.store
                    .contain(&Containment {
                        scope: Scope::Path(g.clone()),
                        reason: reason.clone(),
                        actor: ACTOR.into(),
                        since_nanos: Timestamp::now().unix_nanos(),
                        kill_upstream: false,
                    })
                    .map_err(|e| e.to_string())?;
            }
            Ok(format!("quarantined: {}", globs.join(", ")))
        })
    }

    fn mark_contained(&mut self, i: &Incident) -> Option<(Incident, NewEvent)> {
        let result = desk::load(&mut self.store, &i.id).and_then(|(current, row)| {
            let (updated, e) =
                desk::change(&current, ACTOR, &desk::Change::Step(State::Contained), None)?;
            desk::save(&mut self.store, &updated, &row)?;
            Ok((updated, e))
        });
        match result {
            Ok(x) => Some(x),
            Err(e) => {
                eprintln!("brig: incident {} not marked contained: {e}", i.id);
                None
            }
        }
    }

    /// Waits for queued notifications (bounded); for short-lived processes.
    pub fn finish(self) {
        if let Some(n) = self.notifier {
            n.finish();
        }
    }
}

fn start_notifier(r: &Register, sink: Arc<dyn Sink>) -> Notifier {
    Notifier::start(&r.notify, move |d| {
        let mut e = NewEvent::new("brig-notify", "*".to_string(), EventKind::ResponseAction);
        e.ts = Some(Timestamp::now());
        e.attrs.insert("step".into(), json!("notify"));
        e.attrs.insert("incident".into(), json!(d.incident));
        e.attrs
            .insert("status".into(), json!(if d.ok { "ok" } else { "failed" }));
        e.attrs.insert("target".into(), json!(d.target));
        e.attrs.insert("attempts".into(), json!(d.attempts));
        if let Some(err) = &d.error {
            e.payload.insert("error".into(), json!(err));
        }
        if let Err(err) = sink.record(vec![e]) {
            eprintln!("brig: notification result not recorded: {err}");
        }
    })
}

fn timed(step: &'static str, f: impl FnOnce() -> Result<String, String>) -> Step {
    let t = Instant::now();
    let r = f();
    let ms = t.elapsed().as_secs_f64() * 1e3;
    match r {
        Ok(detail) => Step {
            step,
            status: Status::Ok,
            ms,
            detail,
        },
        Err(detail) => Step {
            step,
            status: Status::Failed,
            ms,
            detail,
        },
    }
}

fn skipped(step: &'static str, why: &str) -> Step {
    Step {
        step,
        status: Status::Skipped,
        ms: 0.0,
        detail: why.into(),
    }
}

fn step_event(i: &Incident, s: &Step) -> NewEvent {
    let mut e = NewEvent::new("brig-playbook", i.agent.clone(), EventKind::ResponseAction);
    e.ts = Some(Timestamp::now());
    e.workflow = i.workflow.clone();
    e.attrs.insert("incident".into(), json!(i.id));
    e.attrs.insert("step".into(), json!(s.step));
    e.attrs.insert("status".into(), json!(s.status));
    e.attrs
        .insert("ms".into(), json!((s.ms * 1000.0).round() / 1000.0));
    e.attrs.insert("actor".into(), json!(ACTOR));
    e.payload.insert("detail".into(), json!(s.detail));
    e
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The policy files in force, with their text and digests.
fn policies_snapshot(dir: Option<&std::path::Path>) -> Value {
    let Some(dir) = dir else {
        return json!({"source": "built-in default policy"});
    };
    let mut files = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut paths: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
        {
            match std::fs::read(&p) {
                Ok(b) => files.push(json!({"file": p.display().to_string(), "sha256": sha256_hex(&b), "text": String::from_utf8_lossy(&b)})),
                Err(e) => files.push(json!({"file": p.display().to_string(), "error": e.to_string()})),
            }
        }
    }
    json!({"source": dir.display().to_string(), "files": files})
}

fn register_snapshot(r: Option<&Register>) -> Value {
    let Some(r) = r else {
        return json!(null);
    };
    match std::fs::read(&r.file) {
        Ok(b) => {
            json!({"file": r.file, "sha256": sha256_hex(&b), "text": String::from_utf8_lossy(&b)})
        }
        Err(e) => json!({"file": r.file, "error": e.to_string()}),
    }
}
