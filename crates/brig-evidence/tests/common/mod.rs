//! A data directory holding an agent's sessions, made through the ledger's own API: what the
//! gateway would have recorded for reads, writes (allowed and denied), results and alerts.
//! Shared by the bundle tests and the export/verify benchmark.
#![allow(dead_code)]

use std::path::Path;

use brig_ledger::note::NoteSigner;
use brig_ledger::Prepared;
use brig_model::NewEvent;
use brig_store::DataDir;
use serde_json::{json, Value};

pub const AGENT: &str = "notes-bot";

pub fn event(v: Value) -> Prepared {
    let mut v = v;
    let o = v.as_object_mut().unwrap();
    o.entry("source").or_insert(json!("test"));
    o.entry("agent").or_insert(json!(AGENT));
    let e: NewEvent = serde_json::from_value(v).unwrap();
    Prepared::new(e).unwrap()
}

/// One file edited the way an agent edits: read it, write it back changed (allowed, ran).
pub fn edit_cycle(
    session: &str,
    call: u64,
    path: &str,
    before: &str,
    after: &str,
) -> Vec<Prepared> {
    let (c1, c2) = (format!("{call}r"), format!("{call}w"));
    vec![
        event(
            json!({"kind":"tool.call","session":session,"tool":"read_text_file","call":c1,
            "actions":[{"action":"file.read","target":path}],"payload":{"arguments":{"path":path}}}),
        ),
        event(json!({"kind":"policy.decision","session":session,"call":c1,
            "decision":{"effect":"allow","policies":["default-read"]}})),
        event(
            json!({"kind":"tool.result","session":session,"tool":"read_text_file","call":c1,
            "attrs":{"status":"ok"},"payload":{"result":{"content":[{"type":"text","text":before}]}}}),
        ),
        event(
            json!({"kind":"tool.call","session":session,"tool":"write_file","call":c2,
            "actions":[{"action":"file.write","target":path}],
            "payload":{"arguments":{"path":path,"content":after}}}),
        ),
        event(json!({"kind":"policy.decision","session":session,"call":c2,
            "decision":{"effect":"allow","policies":["workspace-write"]}})),
        event(
            json!({"kind":"tool.result","session":session,"tool":"write_file","call":c2,
            "attrs":{"status":"ok"},"payload":{"result":{"content":[{"type":"text","text":"Successfully wrote"}]}}}),
        ),
    ]
}

/// A denied write and the alert it raised.
pub fn denied_write(session: &str, call: &str, path: &str) -> Vec<Prepared> {
    vec![
        event(
            json!({"kind":"tool.call","session":session,"tool":"write_file","call":call,
            "actions":[{"action":"file.write","target":path}],
            "payload":{"arguments":{"path":path,"content":"PASSWORD=\n"}}}),
        ),
        event(json!({"kind":"alert","session":session,"call":call,
            "attrs":{"rule_id":"brig-secret-edit","title":"Agent edited a secrets file","level":"high"}})),
        event(
            json!({"kind":"policy.decision","session":session,"call":call,
            "decision":{"effect":"deny","policies":["brig.playbook"],"reason":"contained"}}),
        ),
    ]
}

/// Initializes `root` and records: a few edits, a checkpoint, more edits and a denied write.
pub fn small_ledger(root: &Path) -> (DataDir, NoteSigner) {
    let (dir, signer) = DataDir::init(root, Some("example.org/brig-test")).unwrap();
    let mut ledger = dir.ledger().unwrap();
    ledger
        .append(&edit_cycle(
            "s1",
            1,
            "/srv/notes/a.md",
            "alpha\nbeta\n",
            "alpha\nBETA\n",
        ))
        .unwrap();
    ledger.checkpoint(&signer).unwrap();
    ledger
        .append(&edit_cycle(
            "s1",
            2,
            "/srv/notes/b.md",
            "one\n",
            "one\ntwo\n",
        ))
        .unwrap();
    // Another agent's event in between: not in the scope, still in the tree.
    let other =
        event(json!({"kind":"tool.call","agent":"other-bot","session":"x","tool":"t","call":"1"}));
    ledger.append(&[other]).unwrap();
    ledger
        .append(&denied_write("s1", "3", "/srv/notes/secrets/db.env"))
        .unwrap();
    (dir, signer)
}
