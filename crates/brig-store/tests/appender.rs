//! The group-commit writer (`brig_ledger::appender`) over the SQLite store: a deferred
//! batch rides along with the next waited-for commit, keeps its place, and is never lost.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use brig_ledger::appender::{Appender, DEFER_AT_MOST};
use brig_ledger::{Ledger, Prepared};
use brig_model::{EventKind, NewEvent};
use brig_store::SqliteStore;

fn event(n: u64) -> Prepared {
    let mut e = NewEvent::new("test", "agent", EventKind::Alert);
    e.attrs.insert("n".into(), serde_json::json!(n));
    Prepared::new(e).unwrap()
}

fn appender(dir: &tempfile::TempDir) -> Appender {
    let path = dir.path().join("ledger.db");
    std::fs::write(&path, "").unwrap();
    Appender::start(Ledger::new(SqliteStore::open(&path, false).unwrap()), None)
}

#[test]
fn a_deferred_batch_joins_the_next_waited_for_commit_in_order() {
    // Timing-dependent only in one direction: a stall longer than DEFER_AT_MOST between the
    // two submissions commits the deferred batch alone, so one of a few tries must share.
    let mut shared = false;
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let a = appender(&dir);
        let (tx, deferred) = mpsc::channel();
        a.submit_deferred(vec![event(0)], move |r| tx.send(r).unwrap());
        let waited = a.append(vec![event(1)]).unwrap();
        let deferred = deferred.recv().unwrap().unwrap();
        assert_eq!(deferred[0].index, 0, "the deferred batch keeps its place");
        assert_eq!(waited[0].index, 1);
        let stats = a.finish().unwrap();
        assert_eq!(stats.appended, 2);
        if stats.commits == 1 {
            shared = true;
            break;
        }
    }
    assert!(
        shared,
        "the deferred batch never shared the waited-for commit"
    );
}

#[test]
fn a_deferred_batch_alone_is_committed_after_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let a = appender(&dir);
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    a.submit_deferred(vec![event(0)], move |r| tx.send(r).unwrap());
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(r[0].index, 0);
    assert!(start.elapsed() >= DEFER_AT_MOST);
    assert_eq!(a.finish().unwrap().commits, 1);
}

#[test]
fn deferred_batches_are_committed_when_the_appender_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let a = appender(&dir);
    let (tx, rx) = mpsc::channel();
    for n in 0..3 {
        let tx = tx.clone();
        a.submit_deferred(vec![event(n)], move |r| tx.send(r).unwrap());
    }
    let stats = a.finish().unwrap();
    assert_eq!(stats.appended, 3);
    let indices: Vec<u64> = rx.try_iter().map(|r| r.unwrap()[0].index).collect();
    assert_eq!(indices, [0, 1, 2]);
}
