//! Filing alerts into incidents: grouping by key and window, severity that only rises,
//! lifecycle changes; and the playbook against a real data directory.

use std::sync::{Arc, Mutex};

use brig_incident::desk::{self, Change, Desk};
use brig_incident::grade::{grade, Signal};
use brig_incident::playbook::{LedgerSink, Responder, Status};
use brig_incident::{Severity, State};
use brig_ledger::store::LedgerStore;
use brig_model::{Action, ActionKind, Timestamp};
use brig_register::Register;
use brig_store::{DataDir, Scope};

fn signal(agent: &str, session: &str, level: &str, id: &str) -> Signal {
    Signal {
        id: id.into(),
        rule: format!("rule-{level}"),
        title: format!("a {level} thing"),
        level: level.into(),
        agent: agent.into(),
        session: Some(session.into()),
        ts_nanos: Timestamp::now().unix_nanos(),
        ..Signal::default()
    }
}

fn graded(s: Signal) -> (Signal, brig_incident::grade::Graded) {
    let g = grade(&s, None);
    (s, g)
}

fn data() -> (tempfile::TempDir, DataDir) {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, _) = DataDir::init(&tmp.path().join("data"), None).unwrap();
    (tmp, dir)
}

#[test]
fn alerts_of_one_agent_join_one_incident_and_severity_only_rises() {
    let (_tmp, dir) = data();
    let mut store = dir.store().unwrap();
    let desk = Desk::new(None);
    let f = desk
        .file(&mut store, &[graded(signal("a1", "s1", "medium", "e1"))])
        .unwrap();
    assert!(f[0].opened);
    assert_eq!(f[0].incident.severity, Severity::PolicyViolation);
    assert_eq!(f[0].events[0].attrs["transition"], "opened");
    let id = f[0].incident.id.clone();

    // Another session of the same agent, graver: the same incident, raised.
    let f = desk
        .file(&mut store, &[graded(signal("a1", "s2", "high", "e2"))])
        .unwrap();
    assert!(!f[0].opened);
    assert_eq!(f[0].incident.id, id);
    assert_eq!(f[0].raised_from, Some(Severity::PolicyViolation));
    assert_eq!(f[0].incident.severity, Severity::SecurityIncident);
    assert_eq!(f[0].events[0].attrs["transition"], "severity_raised");
    assert_eq!(
        f[0].incident.alerts,
        vec!["e1".to_string(), "e2".to_string()]
    );
    assert_eq!(f[0].incident.sessions.len(), 2);

    // A low alert later does not lower it, and records no transition.
    let f = desk
        .file(&mut store, &[graded(signal("a1", "s2", "low", "e3"))])
        .unwrap();
    assert_eq!(f[0].incident.severity, Severity::SecurityIncident);
    assert!(f[0].events.is_empty());

    // Another agent: its own incident.
    let f = desk
        .file(&mut store, &[graded(signal("a2", "s9", "low", "e4"))])
        .unwrap();
    assert!(f[0].opened);
    assert_ne!(f[0].incident.id, id);
    assert_eq!(store.incidents(false, 10).unwrap().len(), 2);
}

#[test]
fn grouping_by_session_and_closed_incidents_take_no_more_alerts() {
    let (_tmp, dir) = data();
    let mut store = dir.store().unwrap();
    let register = Register::parse("[playbook]\ngroup_by = \"session\"\n", "brig.toml").unwrap();
    let desk = Desk::new(Some(&register));
    let a = desk
        .file(&mut store, &[graded(signal("a1", "s1", "medium", "e1"))])
        .unwrap();
    let b = desk
        .file(&mut store, &[graded(signal("a1", "s2", "medium", "e2"))])
        .unwrap();
    assert_ne!(
        a[0].incident.id, b[0].incident.id,
        "one incident per session"
    );

    // Closed: the next alert of that session opens a new incident.
    let (i, row) = desk::load(&mut store, &a[0].incident.id).unwrap();
    let (closed, e) = desk::change(
        &i,
        "alice",
        &Change::Close {
            verdict: "true_positive".into(),
        },
        None,
    )
    .unwrap();
    assert_eq!(e.attrs["transition"], "closed");
    desk::save(&mut store, &closed, &row).unwrap();
    let c = desk
        .file(&mut store, &[graded(signal("a1", "s1", "medium", "e3"))])
        .unwrap();
    assert!(c[0].opened);
    assert_ne!(c[0].incident.id, a[0].incident.id);
}

#[test]
fn lifecycle_steps_are_timestamped_and_bad_steps_refused() {
    let i = Desk::new(None)
        .file(
            &mut data().1.store().unwrap(),
            &[graded(signal("a1", "s1", "high", "e1"))],
        )
        .unwrap()
        .remove(0)
        .incident;
    let (i, _) = desk::change(&i, "bob", &Change::Acknowledge, None).unwrap();
    assert_eq!(i.owner.as_deref(), Some("bob"));
    assert_eq!(i.state, State::Acknowledged);
    let (i, _) = desk::change(
        &i,
        "bob",
        &Change::Step(State::Eradicated),
        Some("removed the cron job"),
    )
    .unwrap();
    assert!(i.times.eradicated.is_some());
    assert_eq!(i.state, State::Eradicated);
    assert!(desk::change(&i, "bob", &Change::Step(State::Closed), None).is_err());
}

#[test]
fn the_playbook_preserves_evidence_then_contains_cancels_and_quarantines() {
    let (_tmp, dir) = data();
    let register = Register::parse(
        "[playbook]\nquarantine = [\"/srv/exports/**\"]\nfreeze_workflow = true\n[[resource]]\nname = \"vault\"\npaths = [\"/srv/secrets/**\"]\nclasses = [\"secrets\"]\n",
        "brig.toml",
    )
    .unwrap();
    let mut store = dir.store().unwrap();
    store
        .add_approval(&brig_store::Approval {
            id: "ap-1".into(),
            event_index: 0,
            agent: "a1".into(),
            workflow: Some("billing".into()),
            tool: "write_file".into(),
            summary: "file.write /x".into(),
            policies: "p".into(),
            status: "pending".into(),
            created_nanos: 1,
            decided_nanos: None,
            decided_by: None,
            reason: None,
        })
        .unwrap();
    let sink = Arc::new(LedgerSink(Mutex::new(dir.ledger().unwrap())));
    let mut r = Responder::new(&dir, Some(Arc::new(register)), None, sink).unwrap();
    let mut s = signal("a1", "s1", "low", "e1");
    s.workflow = Some("billing".into());
    s.actions = vec![Action::new(ActionKind::FileWrite, "/srv/secrets/db.env")];
    assert!(r.would_contain(std::slice::from_ref(&s)));
    let h = r.handle(&[s]).unwrap();
    let steps: Vec<(&str, Status)> = h[0].steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(
        steps,
        vec![
            ("preserve", Status::Ok),
            ("contain", Status::Ok),
            ("freeze_workflow", Status::Ok),
            ("cancel_approvals", Status::Ok),
            ("revoke_tokens", Status::Skipped),
            ("quarantine", Status::Ok),
        ]
    );
    assert!(
        h[0].steps[3].detail.starts_with("1 "),
        "{:?}",
        h[0].steps[3]
    );
    let scopes: Vec<Scope> = store
        .containments()
        .unwrap()
        .into_iter()
        .map(|c| c.scope)
        .collect();
    assert!(scopes.contains(&Scope::Agent("a1".into())));
    assert!(scopes.contains(&Scope::Workflow("billing".into())));
    assert!(scopes.contains(&Scope::Path("/srv/exports/**".into())));
    assert_eq!(store.approval("ap-1").unwrap().unwrap().status, "cancelled");
    let (i, _) = desk::load(&mut store, &h[0].filed.incident.id).unwrap();
    assert_eq!(i.state, State::Contained);
    assert!(i.times.contained.is_some());
    // A checkpoint covers the snapshot.
    let cp = dir
        .ledger()
        .unwrap()
        .store()
        .latest_checkpoint()
        .unwrap()
        .unwrap();
    assert!(cp.size >= 2, "{}", cp.size);

    // Already contained: a second grave alert files, but the playbook does not run again.
    let mut s = signal("a1", "s1", "critical", "e2");
    s.workflow = Some("billing".into());
    let h = r.handle(&[s]).unwrap();
    assert!(h[0].steps.is_empty());
}

#[test]
fn monitor_mode_preserves_evidence_once_and_stops_nothing() {
    let (_tmp, dir) = data();
    let register = Register::parse("[playbook]\ncontain = false\n", "brig.toml").unwrap();
    let sink = Arc::new(LedgerSink(Mutex::new(dir.ledger().unwrap())));
    let mut r = Responder::new(&dir, Some(Arc::new(register)), None, sink).unwrap();
    let s = signal("a1", "s1", "high", "e1");
    assert!(!r.would_contain(std::slice::from_ref(&s)));
    let h = r.handle(&[s]).unwrap();
    let steps: Vec<(&str, Status)> = h[0].steps.iter().map(|s| (s.step, s.status)).collect();
    assert_eq!(steps[0], ("preserve", Status::Ok));
    assert!(
        steps[1..].iter().all(|(_, st)| *st == Status::Skipped),
        "{steps:?}"
    );
    assert!(dir.store().unwrap().containments().unwrap().is_empty());
    // The next grave alert of the same incident does not snapshot again.
    let h = r.handle(&[signal("a1", "s1", "critical", "e2")]).unwrap();
    assert!(h[0].steps.is_empty());
    assert_eq!(h[0].filed.incident.state, State::Open);
}
