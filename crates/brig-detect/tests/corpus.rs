//! The built-in pack on the labeled development corpus (`../shared/corpus`): no benign
//! session may alert, and recall may not fall below what it reached when the pack last
//! changed. Per-category figures: `cargo run -p brig-detect --example corpus` (BENCHMARKS.md).

use std::collections::BTreeSet;
use std::path::PathBuf;

use brig_detect::otlp;
use brig_detect::rules::Rules;
use serde_json::Value;

fn corpus(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_malicious_session_alerts_and_no_benign_one_does() {
    let events = otlp::read(&corpus("sessions.otlp.jsonl")).unwrap();
    let mut d = Rules::builtin().detector();
    let mut flagged = BTreeSet::new();
    for (i, e) in events.iter().enumerate() {
        for a in d.observe(e, &i.to_string()) {
            flagged.insert(a.session.unwrap_or_default());
        }
    }
    let (mut false_alarms, mut missed) = (Vec::new(), Vec::new());
    for line in corpus("labels.jsonl").lines() {
        let l: Value = serde_json::from_str(line).unwrap();
        let s = l["session"].as_str().unwrap();
        let hit = flagged.contains(s);
        match l["label"].as_str().unwrap() {
            "benign" if hit => false_alarms.push(format!("{s} ({})", l["category"])),
            "malicious" if !hit => missed.push(format!("{s} ({})", l["category"])),
            _ => {}
        }
    }
    assert!(
        false_alarms.is_empty(),
        "benign sessions alerted: {false_alarms:?}"
    );
    assert!(missed.is_empty(), "malicious sessions missed: {missed:?}");
}
