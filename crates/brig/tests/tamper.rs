//! Tampering with a stored ledger of a few thousand events is detected by
//! `brig ledger verify`, which exits 4 and names the first bad index and what is wrong.

mod common;

use std::path::{Path, PathBuf};

use brig_ledger::checkpoint::{sign_checkpoint, Checkpoint};
use brig_ledger::note::NoteSigner;
use common::*;
use rusqlite::params;

const EVENTS: usize = 3000;

/// A ledger of 3000 events, checkpointed at 1000, 2000 and 3000.
fn ledger(tmp: &Path) -> PathBuf {
    let data = init(tmp);
    let lines = event_lines(EVENTS, 42);
    for (n, chunk) in lines.chunks(1000).enumerate() {
        ingest(&data, tmp, &format!("part{n}.jsonl"), chunk);
    }
    data
}

struct Verdict {
    code: i32,
    first_bad: Option<u64>,
    text: String,
}

fn verify(data: &Path) -> Verdict {
    let o = run(data, &["ledger", "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}): {}", stderr(&o)));
    Verdict {
        code: o.status.code().unwrap(),
        first_bad: v["first_bad_index"].as_u64(),
        text: v["problems"].to_string(),
    }
}

fn assert_damaged(data: &Path, first_bad: u64, says: &str) {
    let v = verify(data);
    assert_eq!(v.code, 4, "verify must fail: {}", v.text);
    assert_eq!(v.first_bad, Some(first_bad), "{}", v.text);
    assert!(v.text.contains(says), "expected `{says}` in {}", v.text);
    // The human form names the index too.
    let o = run(data, &["ledger", "verify"]);
    assert!(
        stderr(&o).contains(&format!("first bad index: {first_bad}")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn intact_ledger_verifies() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    let v = verify(&data);
    assert_eq!(v.code, 0, "{}", v.text);
    let o = run(&data, &["ledger", "verify", "--deep"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3000 events, 3 checkpoints"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn one_byte_of_one_leaf_changed() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    let db = db(&data);
    let mut leaf: Vec<u8> = db
        .query_row("SELECT leaf FROM events WHERE idx = 1234", [], |r| r.get(0))
        .unwrap();
    let pos = leaf.iter().position(|&b| b == b'r').unwrap();
    leaf[pos] = b's';
    db.execute(
        "UPDATE events SET leaf = ?1 WHERE idx = 1234",
        params![leaf],
    )
    .unwrap();
    assert_damaged(&data, 1234, "leaf altered");
}

#[test]
fn a_row_deleted() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    db(&data)
        .execute("DELETE FROM events WHERE idx = 777", [])
        .unwrap();
    assert_damaged(&data, 777, "missing");
}

#[test]
fn a_row_deleted_and_the_rest_renumbered() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    let db = db(&data);
    db.execute("DELETE FROM events WHERE idx = 500", [])
        .unwrap();
    // Close the gap the way a careful attacker would.
    db.execute("UPDATE events SET idx = -(idx - 1) WHERE idx > 500", [])
        .unwrap();
    db.execute("UPDATE events SET idx = -idx WHERE idx < 0", [])
        .unwrap();
    let v = verify(&data);
    assert_eq!(v.code, 4, "{}", v.text);
    assert!(v.first_bad.unwrap() <= 500, "{}", v.text);
    assert!(
        v.text.contains("tail truncated") || v.text.contains("differs"),
        "{}",
        v.text
    );
}

#[test]
fn two_rows_swapped() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    let db = db(&data);
    db.execute("UPDATE events SET idx = -1 WHERE idx = 100", [])
        .unwrap();
    db.execute("UPDATE events SET idx = 100 WHERE idx = 2000", [])
        .unwrap();
    db.execute("UPDATE events SET idx = 2000 WHERE idx = -1", [])
        .unwrap();
    assert_damaged(&data, 100, "reordered");
}

#[test]
fn tail_truncated_below_a_signed_checkpoint() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    db(&data)
        .execute("DELETE FROM events WHERE idx >= 2500", [])
        .unwrap();
    assert_damaged(&data, 2500, "tail truncated");
}

#[test]
fn checkpoint_re_signed_with_another_key() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    let db = db(&data);
    let (size, root): (i64, Vec<u8>) = db
        .query_row(
            "SELECT size, root FROM checkpoints WHERE seq = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // Same name as the real key, so only the key itself tells them apart.
    let forger = NoteSigner::generate("brig.test/ledger").unwrap();
    let note = sign_checkpoint(
        &Checkpoint {
            origin: "brig.test/ledger".into(),
            size: size as u64,
            root: root.try_into().unwrap(),
            extensions: vec![],
        },
        &forger,
    )
    .unwrap();
    db.execute(
        "UPDATE checkpoints SET note = ?1 WHERE seq = 2",
        params![note],
    )
    .unwrap();
    let v = verify(&data);
    assert_eq!(v.code, 4, "{}", v.text);
    assert!(v.text.contains("checkpoint #2"), "{}", v.text);
    assert!(v.text.contains("does not verify"), "{}", v.text);
}

#[test]
fn forked_history() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    // A second copy of the same ledger (same key) that goes its own way after event 3000.
    let fork = tmp.path().join("fork");
    copy_dir(&data, &fork);
    ingest(&data, tmp.path(), "a.jsonl", &event_lines(200, 1));
    ingest(&fork, tmp.path(), "b.jsonl", &event_lines(300, 2));
    // The fork's checkpoint (validly signed by the ledger key) shows up in the original.
    let (size, root, note): (i64, Vec<u8>, String) = db(&fork)
        .query_row(
            "SELECT size, root, note FROM checkpoints ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(size, 3300);
    ingest(&data, tmp.path(), "c.jsonl", &event_lines(200, 3));
    db(&data)
        .execute(
            "INSERT INTO checkpoints (size, root, note, created) VALUES (?1, ?2, ?3, 0)",
            params![size, root, note],
        )
        .unwrap();
    let v = verify(&data);
    assert_eq!(v.code, 4, "{}", v.text);
    assert_eq!(v.first_bad, Some(3200), "{}", v.text);
    assert!(v.text.contains("forked"), "{}", v.text);
}

#[test]
fn payload_blob_altered() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    db(&data)
        .execute(
            "UPDATE blobs SET data = CAST('{\"path\":\"/etc/shadow\"}' AS BLOB) WHERE idx = 9 AND part = 'arguments'",
            [],
        )
        .unwrap();
    let v = verify(&data);
    assert_eq!(v.code, 4, "{}", v.text);
    assert!(
        v.text.contains("no longer matches its salted digest"),
        "{}",
        v.text
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

#[test]
fn history_rewritten_with_every_stored_checkpoint_replaced() {
    if sqlite_only("tampers with ledger.db through SQLite") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let data = ledger(tmp.path());
    // An auditor saved the checkpoint of the first 3000 events outside the data directory.
    let saved = tmp.path().join("saved.checkpoint");
    std::fs::write(&saved, run(&data, &["ledger", "checkpoint"]).stdout).unwrap();
    // Someone with the signing key rewrites the history: the same key, other events, and
    // fresh, validly signed checkpoints in place of the old ones.
    std::fs::remove_file(data.join("ledger.db")).unwrap();
    let _ = std::fs::remove_file(data.join("ledger.db-wal"));
    let _ = std::fs::remove_file(data.join("ledger.db-shm"));
    std::fs::File::create(data.join("ledger.db")).unwrap();
    ingest(&data, tmp.path(), "other.jsonl", &event_lines(3000, 99));
    // On its own, the rewritten ledger is self-consistent...
    assert_eq!(verify(&data).code, 0);
    // ...but not against the checkpoint kept outside.
    let o = run(
        &data,
        &[
            "ledger",
            "verify",
            "--json",
            "--trusted",
            saved.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("trusted checkpoint of size 3000"),
        "{}",
        stdout(&o)
    );
}
