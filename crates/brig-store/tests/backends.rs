//! One suite, both backends: the embedded SQLite file and PostgreSQL answer every question
//! the same way, and several writers on one database still make one consistent Merkle log.
//!
//! PostgreSQL runs when `BRIG_TEST_DATABASE` names a server (an admin URL: each test makes
//! a scratch database on it). `scripts/test.sh` starts one and sets it; a bare `cargo test`
//! without it runs the SQLite half and says that PostgreSQL was not tested.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use brig_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion};
use brig_ledger::note::NoteSigner;
use brig_ledger::store::LedgerStore;
use brig_ledger::verify::{verify, VerifyOptions};
use brig_ledger::{Ledger, Prepared};
use brig_model::{EventKind, NewEvent};
use brig_store::{Approval, Containment, IncidentRow, NoteRow, Scope, Store, TokenRow};
use serde_json::json;

/// A way to open a store, any number of times, on the same state.
struct Backend {
    name: &'static str,
    open: Box<dyn Fn() -> Store>,
    _dir: Option<tempfile::TempDir>,
}

fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    std::fs::write(&path, "").unwrap();
    let mut out = vec![Backend {
        name: "sqlite",
        open: Box::new(move || Store::sqlite(&path, false).unwrap()),
        _dir: Some(dir),
    }];
    match std::env::var("BRIG_TEST_DATABASE") {
        Ok(admin) => {
            let url = brig_store::scratch_database(&admin).unwrap();
            out.push(Backend {
                name: "postgresql",
                open: Box::new(move || Store::postgres(&url).unwrap()),
                _dir: None,
            });
        }
        Err(_) => eprintln!("BRIG_TEST_DATABASE is not set: PostgreSQL NOT tested"),
    }
    out
}

fn event(agent: &str, session: &str, kind: EventKind, n: u64) -> Prepared {
    let mut e = NewEvent::new("test", agent, kind);
    e.session = Some(session.into());
    if matches!(kind, EventKind::ToolCall | EventKind::ToolResult) {
        e.tool = Some("read_file".into());
    }
    e.attrs.insert("n".into(), json!(n));
    e.payload.insert(
        "body".into(),
        json!({ "n": n, "text": "x".repeat(n as usize % 50) }),
    );
    Prepared::new(e).unwrap()
}

#[test]
fn the_ledger_appends_proves_and_verifies_the_same_on_both() {
    let signer = NoteSigner::generate("brig.test/backends").unwrap();
    for b in backends() {
        let mut ledger = Ledger::new((b.open)());
        let mut indices = Vec::new();
        for batch in 0..20u64 {
            let events: Vec<Prepared> = (0..37)
                .map(|i| {
                    event(
                        "a1",
                        &format!("s{}", batch % 3),
                        EventKind::ToolCall,
                        batch * 37 + i,
                    )
                })
                .collect();
            let receipts = ledger.append(&events).unwrap();
            indices.extend(receipts.iter().map(|r| r.index));
            if batch == 9 {
                ledger.checkpoint(&signer).unwrap();
            }
        }
        assert_eq!(
            indices,
            (0..740).collect::<Vec<_>>(),
            "{}: gapless, in order",
            b.name
        );
        let cp = ledger.checkpoint(&signer).unwrap();
        assert_eq!(cp.size, 740);

        // Proofs from this backend check against the signed root.
        let row = ledger.store().leaf(123).unwrap().unwrap();
        let proof = ledger.prove(123, &cp, false).unwrap();
        verify_inclusion(123, 740, &leaf_hash(&row.leaf), &proof.proof, &cp.root).unwrap();
        let first = ledger.store().checkpoints().unwrap()[0].clone();
        let cons = ledger.consistency_proof(first.size, 740).unwrap();
        verify_consistency(first.size, 740, &cons, &first.root, &cp.root).unwrap();

        // A fresh connection sees the same tree, payloads and all.
        let mut store = (b.open)();
        assert_eq!(store.size().unwrap(), 740);
        let blob = store.blob(5, "body").unwrap().expect("payload kept");
        assert!(blob.is_intact(), "{}", b.name);
        let mut blobs = 0;
        store
            .scan_blobs(&mut |_| {
                blobs += 1;
                true
            })
            .unwrap();
        assert_eq!(blobs, 740);
        let mut scanned = Vec::new();
        store
            .scan(700, 800, &mut |r| {
                scanned.push(r.index);
                true
            })
            .unwrap();
        assert_eq!(scanned, (700..740).collect::<Vec<_>>());
        let report = verify(
            &mut store,
            &signer.verifier(),
            "brig.test/backends",
            &VerifyOptions {
                deep: true,
                progress: None,
                trusted: &[],
            },
        )
        .unwrap();
        assert!(report.is_intact(), "{}: {:?}", b.name, report.problems);
        assert_eq!(
            (report.events, report.blobs, report.checkpoints),
            (740, 740, 2)
        );

        // The indexes people read incidents with.
        assert_eq!(store.session_events("s1", 1000).unwrap().len(), 7 * 37);
        assert_eq!(
            store.recent_agent_events("a1", 3).unwrap(),
            vec![737, 738, 739]
        );
        let at = |i: u64| {
            let e = brig_model::Event::from_leaf(&store_leaf(&b, i)).unwrap();
            e.ts
        };
        let (t0, t1) = (at(100), at(110));
        let within = store
            .agent_events("a1", None, t0.unix_nanos(), t1.unix_nanos(), 1000)
            .unwrap();
        assert!(within.contains(&100) && within.contains(&110), "{}", b.name);
        assert!(store.kinds_since(0, &["alert"], 10).unwrap().is_empty());
        assert_eq!(
            store.kinds_since(730, &["tool.call"], 100).unwrap().len(),
            10
        );
    }
}

fn store_leaf(b: &Backend, i: u64) -> Vec<u8> {
    (b.open)().leaf(i).unwrap().unwrap().leaf
}

#[test]
fn writers_on_separate_connections_make_one_log() {
    let signer = NoteSigner::generate("brig.test/writers").unwrap();
    for b in backends() {
        let open = &b.open;
        std::thread::scope(|s| {
            for w in 0..4 {
                let mut ledger = Ledger::new(open());
                ledger
                    .store()
                    .set_busy_timeout(Duration::from_secs(30))
                    .unwrap();
                s.spawn(move || {
                    for batch in 0..25u64 {
                        let events: Vec<Prepared> = (0..8)
                            .map(|i| {
                                event(&format!("w{w}"), "s", EventKind::ToolResult, batch * 8 + i)
                            })
                            .collect();
                        ledger.append(&events).unwrap();
                    }
                });
            }
        });
        let mut ledger = Ledger::new(open());
        ledger.checkpoint(&signer).unwrap();
        let mut store = ledger.into_store();
        let report = verify(
            &mut store,
            &signer.verifier(),
            "brig.test/writers",
            &VerifyOptions {
                deep: true,
                progress: None,
                trusted: &[],
            },
        )
        .unwrap();
        assert!(report.is_intact(), "{}: {:?}", b.name, report.problems);
        assert_eq!(report.events, 4 * 25 * 8, "{}: no event lost", b.name);
    }
}

#[test]
fn an_event_id_is_recorded_once() {
    for b in backends() {
        let mut ledger = Ledger::new((b.open)());
        let mut e = NewEvent::new("test", "a", EventKind::Alert);
        e.id = Some(brig_model::EventId::new());
        let p = Prepared::new(e.clone()).unwrap();
        let first = ledger.append(std::slice::from_ref(&p)).unwrap();
        let again = ledger.append(&[Prepared::new(e).unwrap()]).unwrap();
        assert!(!first[0].duplicate);
        assert!(again[0].duplicate, "{}", b.name);
        assert_eq!(again[0].index, first[0].index);
        assert_eq!(ledger.size().unwrap(), 1);

        // A batch of known, new and repeated ids is checked in one lookup: each known id
        // answers with its first index, each new one is recorded once.
        let with_id = |id| {
            let mut e = NewEvent::new("test", "a", EventKind::Alert);
            e.id = Some(id);
            Prepared::new(e).unwrap()
        };
        let (new1, new2) = (brig_model::EventId::new(), brig_model::EventId::new());
        let known = e_id(&p);
        let batch = [with_id(new1), with_id(known), with_id(new2), with_id(new1)];
        let r = ledger.append(&batch).unwrap();
        let dup: Vec<bool> = r.iter().map(|x| x.duplicate).collect();
        assert_eq!(dup, [false, true, false, true], "{}", b.name);
        assert_eq!(
            (r[1].index, r[3].index),
            (first[0].index, r[0].index),
            "{}",
            b.name
        );
        assert_eq!(ledger.size().unwrap(), 3, "{}", b.name);
    }
}

fn e_id(p: &Prepared) -> brig_model::EventId {
    p.event.id
}

#[test]
fn containment_approvals_facts_and_tokens_agree() {
    for b in backends() {
        let mut s = (b.open)();
        let c = |scope: Scope, since| Containment {
            scope,
            reason: "test".into(),
            actor: "alice".into(),
            since_nanos: since,
            kill_upstream: false,
        };
        assert_eq!(s.containment_of("a1", Some("w")).unwrap(), None);
        s.contain(&c(Scope::Workflow("w".into()), 2)).unwrap();
        s.contain(&c(Scope::Agent("a1".into()), 1)).unwrap();
        s.contain(&c(Scope::Path("/etc/**".into()), 3)).unwrap();
        let got = s.containment_of("a1", Some("w")).unwrap().unwrap();
        assert_eq!(
            got.scope,
            Scope::Agent("a1".into()),
            "{}: oldest first",
            b.name
        );
        assert_eq!(
            s.containment_of("a2", Some("w")).unwrap().unwrap().scope,
            Scope::Workflow("w".into())
        );
        assert_eq!(s.containment_of("a2", None).unwrap(), None);
        assert_eq!(s.quarantines().unwrap().len(), 1);
        assert_eq!(s.containments().unwrap().len(), 3);
        assert!(s.release(&Scope::Agent("a1".into())).unwrap());
        assert!(!s.release(&Scope::Agent("a1".into())).unwrap());

        let a = Approval {
            id: "ap1".into(),
            event_index: 7,
            agent: "a1".into(),
            workflow: None,
            tool: "write_file".into(),
            summary: "file.write /x".into(),
            policies: "p1".into(),
            status: "pending".into(),
            created_nanos: 10,
            decided_nanos: None,
            decided_by: None,
            reason: None,
        };
        s.add_approval(&a).unwrap();
        assert_eq!(s.approval("ap1").unwrap().unwrap(), a);
        assert!(s
            .settle_approval("ap1", "approved", "bob", "ok", 11)
            .unwrap());
        assert!(
            !s.settle_approval("ap1", "denied", "eve", "late", 12)
                .unwrap(),
            "{}",
            b.name
        );
        assert!(s.approvals(false).unwrap().is_empty());
        assert_eq!(
            s.approvals(true).unwrap()[0].decided_by.as_deref(),
            Some("bob")
        );

        s.remember_seen(&[("a1".into(), "tool:x".into(), Some(3))], 5)
            .unwrap();
        s.remember_seen(&[("a1".into(), "tool:x".into(), Some(4))], 6)
            .unwrap();
        assert_eq!(
            s.seen_of("a1").unwrap(),
            vec![("tool:x".to_string(), Some(4))]
        );

        let t = TokenRow {
            name: "ops".into(),
            role: "operator".into(),
            agent: None,
            created_nanos: 1,
            created_by: "root".into(),
            revoked_nanos: None,
            rate: Some(50),
            max_body: Some(65536),
        };
        s.add_token(&t, &[7; 32]).unwrap();
        let dup = s.add_token(&t, &[8; 32]).unwrap_err().to_string();
        assert!(dup.contains("exists already"), "{}: {dup}", b.name);
        assert_eq!(s.token_by_hash(&[7; 32]).unwrap().unwrap(), t);
        assert!(s.revoke_token("ops", 2).unwrap());
        assert_eq!(s.token_by_hash(&[7; 32]).unwrap(), None);
        assert_eq!(s.tokens().unwrap()[0].revoked_nanos, Some(2));
    }
}

#[test]
fn incidents_group_in_one_transaction_and_resolve_by_prefix() {
    for b in backends() {
        let mut s = (b.open)();
        let row = |id: &str, key: &str, last: i64| IncidentRow {
            id: id.into(),
            key: key.into(),
            agent: "a1".into(),
            state: "open".into(),
            severity: 2,
            opened_nanos: last,
            last_alert_nanos: last,
            doc: json!({"id": id}).to_string(),
        };
        s.incident_tx(|tx| -> Result<(), brig_ledger::store::StoreError> {
            assert_eq!(tx.find_open("agent:a1", 0)?, None);
            tx.put(&row("inc-aaa1", "agent:a1", 100))?;
            assert_eq!(tx.get("inc-aaa1")?.unwrap().severity, 2);
            Ok(())
        })
        .unwrap();
        // A failed transaction leaves nothing behind.
        let failed = s.incident_tx(|tx| {
            tx.put(&row("inc-bbb1", "agent:a1", 200))?;
            Err::<(), _>(brig_ledger::store::StoreError::Backend("abandoned".into()))
        });
        assert!(failed.is_err());
        assert_eq!(
            s.incident("inc-bbb1").unwrap(),
            None,
            "{}: rolled back",
            b.name
        );
        s.put_incident(&row("inc-aab2", "agent:a1", 300)).unwrap();
        let open = s
            .incident_tx(|tx| tx.find_open("agent:a1", 150))
            .unwrap()
            .unwrap();
        assert_eq!(open.id, "inc-aab2");
        assert_eq!(s.incident("inc-aaa").unwrap().unwrap().id, "inc-aaa1");
        let amb = s.incident("inc-aa").unwrap_err().to_string();
        assert!(amb.contains("ambiguous"), "{}: {amb}", b.name);
        assert_eq!(s.incidents(false, 10).unwrap().len(), 2);
        let n = NoteRow {
            seq: 0,
            incident: "inc-aaa1".into(),
            ts_nanos: 5,
            author: "alice".into(),
            privileged: true,
            text: "called legal".into(),
        };
        let seq = s.add_incident_note(&n).unwrap();
        let notes = s.incident_notes("inc-aaa1").unwrap();
        assert_eq!(notes, vec![NoteRow { seq, ..n }]);
    }
}

#[test]
fn another_process_hears_of_appends_and_containment() {
    for b in backends() {
        let listener_store = (b.open)();
        let mut changes = listener_store.changes().unwrap();
        let writer = std::thread::spawn({
            let mut ledger = Ledger::new((b.open)());
            let mut s = (b.open)();
            move || {
                std::thread::sleep(Duration::from_millis(300));
                ledger
                    .append(&[event("a", "s", EventKind::Alert, 1)])
                    .unwrap();
                s.contain(&Containment {
                    scope: Scope::All,
                    reason: "drill".into(),
                    actor: "t".into(),
                    since_nanos: 1,
                    kill_upstream: false,
                })
                .unwrap();
            }
        });
        let start = Instant::now();
        let mut heard = false;
        while start.elapsed() < Duration::from_secs(10) && !heard {
            heard = changes.wait(Duration::from_secs(2)).unwrap();
            if b.name == "sqlite" {
                break; // no cross-process signal: it polls.
            }
        }
        writer.join().unwrap();
        match b.name {
            "postgresql" => assert!(heard, "LISTEN/NOTIFY delivered the change"),
            _ => assert!(!heard, "SQLite says `look again`, never that it heard"),
        }
    }
}

#[test]
fn the_two_backends_store_the_same_leaf_bytes() {
    // The same prepared events appended to both give the same tree: same root, same rows.
    let backends = backends();
    if backends.len() < 2 {
        return;
    }
    let events: Vec<Prepared> = (0..100)
        .map(|i| event("a", "s", EventKind::ToolCall, i))
        .collect();
    let mut roots = BTreeMap::new();
    for b in &backends {
        let mut ledger = Ledger::new((b.open)());
        ledger.append(&events).unwrap();
        roots.insert(b.name, ledger.root_at(100).unwrap());
    }
    assert_eq!(roots["sqlite"], roots["postgresql"]);
}

#[test]
fn incident_events_are_paged_and_bucketed_and_agents_listed_the_same_on_both() {
    use brig_store::{Page, Span};
    for b in backends() {
        let mut ledger = Ledger::new((b.open)());
        // 500 events of session s1 one second apart, 100 of s2, 30 of another agent.
        let t0: i64 = 1_700_000_000_000_000_000;
        let at = |agent: &str, session: &str, n: i64| {
            let mut e = NewEvent::new("test", agent, EventKind::ToolCall);
            e.session = Some(session.into());
            e.workflow = Some(format!("wf-{agent}"));
            e.tool = Some("read_file".into());
            e.ts = Some(brig_model::Timestamp::from_unix_nanos(
                t0 + n * 1_000_000_000,
            ));
            Prepared::new(e).unwrap()
        };
        let mut batch: Vec<Prepared> = (0..500).map(|n| at("a1", "s1", n)).collect();
        batch.extend((0..100).map(|n| at("a1", "s2", n)));
        batch.extend((0..30).map(|n| at("b2", "s3", n)));
        // The kill switch's record of a1, in no session and no workflow, comes last.
        let mut order = NewEvent::new("operator", "a1", EventKind::OperatorAction);
        order.ts = Some(brig_model::Timestamp::from_unix_nanos(t0 + 600_000_000_000));
        batch.push(Prepared::new(order).unwrap());
        ledger.append(&batch).unwrap();
        let mut s = (b.open)();
        let span = Span {
            sessions: vec!["s1".into(), "s2".into()],
            agent: "a1".into(),
            from_nanos: i64::MIN,
            to_nanos: i64::MAX,
        };
        let extent = s.span_extent(&span).unwrap();
        assert_eq!(extent.events, 600, "{}", b.name);
        assert_eq!(extent.first_nanos, Some(t0));
        assert_eq!(extent.last_nanos, Some(t0 + 499_000_000_000));
        // Pages: the latest 200, then the 200 before them, then forward again.
        let latest = s.span_page(&span, Page::Latest, 200).unwrap();
        assert_eq!(latest.len(), 200);
        assert_eq!(latest.first(), Some(&400));
        assert_eq!(latest.last(), Some(&599));
        let older = s.span_page(&span, Page::Before(400), 200).unwrap();
        assert_eq!((older[0], older[199]), (200, 399), "{}", b.name);
        let newer = s.span_page(&span, Page::After(199), 200).unwrap();
        assert_eq!(newer, older);
        let oldest = s.span_page(&span, Page::Before(100), 200).unwrap();
        assert_eq!(oldest, (0..100).collect::<Vec<u64>>());
        // Buckets over the whole extent: every event counted once.
        let whole = Span {
            from_nanos: t0,
            to_nanos: t0 + 499_000_000_000,
            ..span.clone()
        };
        let counts = s.span_buckets(&whole, 50).unwrap();
        assert_eq!(counts.len(), 50);
        assert_eq!(counts.iter().sum::<u64>(), 600, "{}", b.name);
        // The first 10 seconds hold 10 events of each session.
        assert_eq!(counts[0], 20, "{}: {counts:?}", b.name);
        assert_eq!(counts[49], 10);
        // A zoomed span: seconds 100..=109 only.
        let zoom = Span {
            from_nanos: t0 + 100_000_000_000,
            to_nanos: t0 + 109_000_000_000,
            ..span.clone()
        };
        assert_eq!(s.span_extent(&zoom).unwrap().events, 10);
        assert_eq!(
            s.span_page(&zoom, Page::Latest, 200).unwrap(),
            (100..110).collect::<Vec<u64>>()
        );
        // Without sessions: the agent's events.
        let by_agent = Span {
            sessions: Vec::new(),
            agent: "b2".into(),
            ..span.clone()
        };
        assert_eq!(s.span_extent(&by_agent).unwrap().events, 30);
        let agents = s.agents_seen(100).unwrap();
        let names: Vec<(&str, u64, Option<&str>)> = agents
            .iter()
            .map(|a| (a.agent.as_str(), a.last_index, a.workflow.as_deref()))
            .collect();
        assert_eq!(
            names,
            vec![("a1", 630, Some("wf-a1")), ("b2", 629, Some("wf-b2"))],
            "{}",
            b.name
        );
        assert_eq!(agents[1].last_nanos, t0 + 29_000_000_000);
    }
}

#[test]
fn gateways_beat_go_silent_once_per_gap_and_stop_the_same_on_both() {
    const S: i64 = 1_000_000_000;
    for b in backends() {
        let mut s = (b.open)();
        let mut g = brig_store::GatewayRow {
            id: "gw-1".into(),
            agent: "bot".into(),
            session: "s1".into(),
            pid: 42,
            host: "h".into(),
            started_nanos: 100 * S,
            last_seen_nanos: 100 * S,
            interval_ms: 1000,
            stopped_nanos: None,
            silent_nanos: None,
        };
        s.gateway_beat(&g).unwrap();
        let mut quiet = g.clone();
        quiet.id = "gw-2".into();
        s.gateway_beat(&quiet).unwrap();
        s.gateway_stopped("gw-2", 101 * S).unwrap();
        // Within three intervals: nothing; past them: the one that did not stop.
        assert!(
            s.silent_gateways(103 * S, 3).unwrap().is_empty(),
            "{}",
            b.name
        );
        let silent = s.silent_gateways(104 * S, 3).unwrap();
        let ids: Vec<&str> = silent.iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["gw-1"], "{}", b.name);
        assert_eq!(silent[0].pid, 42);
        // Claimed once; not listed again while the gap lasts.
        assert!(s.gateway_silent("gw-1", 104 * S).unwrap(), "{}", b.name);
        assert!(!s.gateway_silent("gw-1", 105 * S).unwrap(), "{}", b.name);
        assert!(
            s.silent_gateways(110 * S, 3).unwrap().is_empty(),
            "{}",
            b.name
        );
        // A beat closes the gap; a new one is reported again.
        g.last_seen_nanos = 111 * S;
        s.gateway_beat(&g).unwrap();
        assert_eq!(s.gateway("gw-1").unwrap().unwrap().silent_nanos, None);
        assert_eq!(
            s.silent_gateways(115 * S, 3).unwrap().len(),
            1,
            "{}",
            b.name
        );
        // A stopped gateway's late beat does not bring it back.
        quiet.last_seen_nanos = 120 * S;
        s.gateway_beat(&quiet).unwrap();
        let row = s.gateway("gw-2").unwrap().unwrap();
        assert_eq!(
            (row.last_seen_nanos, row.stopped_nanos),
            (100 * S, Some(101 * S))
        );
        assert_eq!(s.gateways().unwrap().len(), 2, "{}", b.name);
    }
}
