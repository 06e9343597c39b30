//! Precision and recall of the built-in rule pack on a labeled corpus of agent sessions
//! (OTLP/JSON GenAI traces plus a labels file), per category.
//!
//! ```text
//! cargo run --release -p brig-detect --example corpus -- \
//!     ../shared/corpus/sessions.otlp.jsonl ../shared/corpus/labels.jsonl
//! ```
//!
//! A session counts as flagged when any rule alerts on it. For a malicious category,
//! recall = flagged / sessions; for a benign one, the false-positive rate = flagged /
//! sessions. Precision is over all sessions.

use std::collections::{BTreeMap, BTreeSet};

use brig_detect::otlp;
use brig_detect::rules::Rules;
use serde_json::Value;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [traces, labels] = args.as_slice() else {
        eprintln!("usage: corpus TRACES.otlp.jsonl LABELS.jsonl");
        std::process::exit(2);
    };
    let events = otlp::read(&std::fs::read_to_string(traces).expect("traces")).expect("OTLP");
    let mut detector = Rules::builtin().detector();
    let mut flagged: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let start = std::time::Instant::now();
    for (i, e) in events.iter().enumerate() {
        for a in detector.observe(e, &i.to_string()) {
            if let Some(s) = a.session {
                flagged.entry(s).or_default().insert(a.rule_id);
            }
        }
    }
    let took = start.elapsed();
    let mut by_cat: BTreeMap<(String, String), (usize, usize)> = BTreeMap::new();
    let (mut tp, mut fp, mut all_bad) = (0, 0, 0);
    let mut misses = Vec::new();
    for line in std::fs::read_to_string(labels).expect("labels").lines() {
        let l: Value = serde_json::from_str(line).expect("label line");
        let session = l["session"].as_str().unwrap_or_default();
        let label = l["label"].as_str().unwrap_or_default().to_string();
        let cat = l["category"].as_str().unwrap_or_default().to_string();
        let hit = flagged.contains_key(session);
        let entry = by_cat.entry((label.clone(), cat)).or_default();
        entry.0 += 1;
        entry.1 += usize::from(hit);
        match (label.as_str(), hit) {
            ("malicious", true) => tp += 1,
            ("benign", true) => {
                fp += 1;
                misses.push(format!(
                    "false positive: {session} ({}) {:?}",
                    l["category"], flagged[session]
                ));
            }
            ("malicious", false) => misses.push(format!("missed: {session} ({})", l["category"])),
            _ => {}
        }
        all_bad += usize::from(label == "malicious");
    }
    println!("| label | category | sessions | flagged | rate |");
    println!("|---|---|---:|---:|---:|");
    for ((label, cat), (n, hit)) in &by_cat {
        println!(
            "| {label} | {cat} | {n} | {hit} | {:.0}% |",
            100.0 * *hit as f64 / *n as f64
        );
    }
    for m in &misses {
        println!("{m}");
    }
    let precision = if tp + fp == 0 {
        1.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    println!(
        "\nprecision {:.2}, recall {:.2} ({tp} of {all_bad} malicious sessions flagged, {fp} benign), {} events in {:.1} ms",
        precision,
        tp as f64 / all_bad as f64,
        events.len(),
        took.as_secs_f64() * 1000.0
    );
}
