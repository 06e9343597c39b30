//! Inline detection: every event a proxy records passes the rule pack first, and an alert
//! is recorded with the event that raised it.
//!
//! A `tools/call` is evaluated while it is being decided, before anything is forwarded
//! (see [`crate::call::decide`]): a match of a rule marked `brig.blocking: true` turns the
//! decision into a denial (policy `brig.detect`), so the call that crosses the line is the
//! one that is stopped. Every other event (results, prompts, approval decisions, protocol
//! messages) is evaluated as it is recorded ([`crate::record::Recorder::record`]), which
//! keeps the detector's memory — the declared task, what results said, refusals — whole.
//!
//! One detector serves the whole process (its memory is per session, agent and workflow),
//! behind a mutex: evaluation costs microseconds, far less than the call's fsync.
//!
//! What detection learns about an agent that should outlive a session — first use of a
//! tool, host or kind of action, the tool descriptions it was shown, its call count — is
//! kept in the store (`detect_seen`) and loaded the first time the process sees the agent,
//! so "never used before" means never, not "not in this session".

use std::sync::{mpsc, Arc, Mutex};

use brig_detect::rules::{Alert, Detector, Rules};
use brig_model::{Decision, Effect, EventId, EventKind, NewEvent, Timestamp};
use brig_store::{DataDir, Store};
use serde_json::json;

/// Longest detection waits for the database when loading what it learned of an agent, on
/// the call's decision path; past it, the facts are skipped (and said so), never the call.
const STORE_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Longest the saver, off the decision path, waits for the database; past it, the facts are
/// kept for its next write (a busy ledger writer must not cost detection its memory).
const SAVE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Facts the saver keeps for a retry at most; past it the oldest are dropped, and said so.
const PENDING_MAX: usize = 10_000;

/// The policy id a blocking rule's denial carries.
pub const DETECT_POLICY: &str = "brig.detect";

/// The rule pack, evaluating a proxy's events.
pub struct Detection {
    state: Mutex<State>,
    rules: usize,
    /// Each rule's title by id, for people reading incidents and metrics that keep ids.
    titles: std::collections::BTreeMap<String, String>,
    /// Saves learned facts off the decision path; joined on drop so nothing queued is lost.
    saver: Option<std::thread::JoinHandle<()>>,
}

struct State {
    detector: Detector,
    /// Where an agent's facts are read, the first time the process sees it.
    store: Option<Store>,
    /// Where learned facts go to be saved.
    learned: Option<mpsc::Sender<Vec<Fact>>>,
}

type Fact = (String, String, Option<i64>);

impl std::fmt::Debug for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Detection({} rules)", self.rules)
    }
}

impl Detection {
    /// A detector over `rules`, knowing the risk register when there is one and the
    /// directories the agent is given (`roots`); with a data directory, what it learns about
    /// agents is kept in its store.
    pub fn new(
        rules: &Rules,
        register: Option<Arc<brig_register::Register>>,
        roots: &[std::path::PathBuf],
        data: Option<&DataDir>,
    ) -> Result<Arc<Detection>, brig_store::DataDirError> {
        let (store, learned, saver) = match data {
            Some(d) => {
                let (tx, rx) = mpsc::channel();
                let saver = spawn_saver(waiting(d.store()?, SAVE_WAIT), rx);
                (Some(waiting(d.store()?, STORE_WAIT)), Some(tx), Some(saver))
            }
            None => (None, None, None),
        };
        Ok(Arc::new(Detection {
            state: Mutex::new(State {
                detector: {
                    let mut d = rules.detector_with(register);
                    d.set_roots(roots);
                    d
                },
                store,
                learned,
            }),
            rules: rules.len(),
            titles: rules.titles(),
            saver,
        }))
    }

    /// Each rule's title by id.
    pub fn titles(&self) -> &std::collections::BTreeMap<String, String> {
        &self.titles
    }

    /// Evaluates one event (giving it its id now, so alerts can name it).
    pub fn observe(&self, e: &mut NewEvent) -> Vec<Alert> {
        let id = *e.id.get_or_insert_with(EventId::new);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            detector,
            store,
            learned,
        } = &mut *state;
        preload(detector, store.as_mut(), &e.agent);
        let alerts = detector.observe(e, &id.to_string());
        let facts = detector.take_learned();
        if let (Some(tx), false) = (learned.as_ref(), facts.is_empty()) {
            let _ = tx.send(
                facts
                    .into_iter()
                    .map(|f| (f.agent, f.thing, f.value))
                    .collect(),
            );
        }
        alerts
    }

    /// Replays events already recorded (oldest first), so the detector remembers their
    /// session — declared task, provenance, injection marks, correlation windows — as it
    /// was: for a process that sees one event of a session, such as a coding agent's hook.
    /// Nothing is alerted or learned again.
    pub fn replay<'a>(&self, events: impl IntoIterator<Item = &'a NewEvent>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State {
            detector, store, ..
        } = &mut *state;
        for e in events {
            preload(detector, store.as_mut(), &e.agent);
            let id = e.id.map(|i| i.to_string()).unwrap_or_default();
            let _ = detector.observe(e, &id);
        }
        let _ = detector.take_learned();
    }
}

/// Loads what earlier processes learned about `agent`, the first time this one sees it.
fn preload(detector: &mut Detector, store: Option<&mut Store>, agent: &str) {
    if let Some(store) = store.filter(|_| !detector.knows(agent)) {
        match store.seen_of(agent) {
            Ok(facts) => detector.preload(agent, facts),
            Err(err) => eprintln!("brig: detection state of {agent} not loaded: {err}"),
        }
    }
}

impl Drop for Detection {
    fn drop(&mut self) {
        // Closing the channel ends the saver once it has written what is queued.
        self.state
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .learned
            .take();
        if let Some(saver) = self.saver.take() {
            let _ = saver.join();
        }
    }
}

fn waiting(mut store: Store, wait: std::time::Duration) -> Store {
    if let Err(e) = store.set_busy_timeout(wait) {
        eprintln!("brig: detection state: {e}");
    }
    store
}

/// Writes learned facts as they come, on its own thread: a first use is an SQLite commit,
/// which must not sit on a call's decision path.
/// Facts that could not be written are kept and go with the next write, and a last time when
/// the channel closes.
fn spawn_saver(mut store: Store, rx: mpsc::Receiver<Vec<Fact>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut pending: Vec<Fact> = Vec::new();
        while let Ok(facts) = rx.recv() {
            pending.extend(facts);
            // Whatever else is queued rides along in the same transaction.
            while let Ok(more) = rx.try_recv() {
                pending.extend(more);
            }
            save(&mut store, &mut pending, true);
        }
        save(&mut store, &mut pending, false);
    })
}

/// Writes `pending`; on failure keeps them when `again` (bounded by [`PENDING_MAX`]).
fn save(store: &mut Store, pending: &mut Vec<Fact>, again: bool) {
    if pending.is_empty() {
        return;
    }
    let Err(err) = store.remember_seen(pending, Timestamp::now().unix_nanos()) else {
        pending.clear();
        return;
    };
    if !again {
        eprintln!(
            "brig: detection state not saved ({} facts): {err}",
            pending.len()
        );
        return;
    }
    eprintln!(
        "brig: detection state not saved yet ({} facts, kept for the next write): {err}",
        pending.len()
    );
    if pending.len() > PENDING_MAX {
        let dropped = pending.len() - PENDING_MAX;
        pending.drain(..dropped);
        eprintln!("brig: detection state: {dropped} older facts dropped");
    }
}

/// The `alert` event for one rule hit, in the cause's session.
pub fn alert_event(cause: &NewEvent, a: &Alert) -> NewEvent {
    let mut e = NewEvent::new(cause.source.clone(), cause.agent.clone(), EventKind::Alert);
    e.ts = cause.ts;
    e.workflow = cause.workflow.clone();
    e.session = cause.session.clone();
    e.tool = cause.tool.clone();
    e.call = cause.call.clone();
    e.actions = cause.actions.clone();
    e.attrs.insert("rule_id".into(), json!(a.rule_id));
    e.attrs.insert("title".into(), json!(a.title));
    e.attrs.insert("level".into(), json!(a.level));
    e.attrs.insert("rule_kind".into(), json!(a.kind));
    e.attrs.insert("matched".into(), json!(a.events));
    e.attrs.insert("blocking".into(), json!(a.blocking));
    if !a.tags.is_empty() {
        e.attrs.insert("tags".into(), json!(a.tags));
    }
    if !a.classes.is_empty() {
        e.attrs.insert("classes".into(), json!(a.classes));
    }
    e
}

/// The decision after blocking rules: a blocking match denies a call policy allowed or
/// held; a denial stays a denial.
pub fn apply_blocking(decision: Decision, alerts: &[Alert]) -> Decision {
    let blocking: Vec<&Alert> = alerts.iter().filter(|a| a.blocking).collect();
    if blocking.is_empty() || decision.effect == Effect::Deny {
        return decision;
    }
    let mut policies = vec![DETECT_POLICY.to_string()];
    policies.extend(blocking.iter().map(|a| a.rule_id.clone()));
    let titles: Vec<&str> = blocking.iter().map(|a| a.title.as_str()).collect();
    Decision {
        effect: Effect::Deny,
        policies,
        reason: Some(format!(
            "detection rule matched this call: {}",
            titles.join("; ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brig_model::{Action, ActionKind};

    fn call(agent: &str, tool: &str) -> NewEvent {
        let mut e = NewEvent::new("test", agent, EventKind::ToolCall);
        e.session = Some("s1".into());
        e.tool = Some(tool.into());
        e.call = Some(format!("c-{tool}"));
        e.actions
            .push(Action::new(ActionKind::FileRead, "/srv/notes.md"));
        e
    }

    #[test]
    fn what_is_learned_while_the_store_is_busy_is_saved_once_it_is_free() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, _) = DataDir::init(&tmp.path().join("data"), None).unwrap();
        let detection = Detection::new(&Rules::builtin(), None, &[], Some(&dir)).unwrap();
        // Another writer holds SQLite's write lock for longer than one wait of the saver's
        // busy timeout would allow if it gave up, but less than SAVE_WAIT.
        let lock = rusqlite::Connection::open(dir.root().join("ledger.db")).unwrap();
        lock.execute_batch("BEGIN IMMEDIATE").unwrap();
        detection.observe(&mut call("agent-1", "read_text_file"));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        lock.execute_batch("ROLLBACK").unwrap();
        // Dropping it closes the channel: the saver writes what it holds and ends.
        drop(detection);
        let mut store = dir.store().unwrap();
        let seen = store.seen_of("agent-1").unwrap();
        assert!(
            seen.iter()
                .any(|(thing, _)| thing.contains("read_text_file")),
            "{seen:?}"
        );
    }
}
