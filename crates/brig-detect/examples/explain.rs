//! Shows what rules see: for each event of the chosen sessions, the documents
//! [`brig_detect::rules::view`] builds (key fields only) and the alerts raised.
//!
//! ```text
//! cargo run -p brig-detect --example explain -- TRACES.otlp.jsonl [SESSION…]
//! ```
//!
//! A tool for writing rules: it answers "why did (or didn't) this session alert?".

use brig_detect::otlp;
use brig_detect::rules::{view, Rules};
use serde_json::Value;

const SHOWN: &[&str] = &[
    "category",
    "action",
    "target",
    "dest",
    "host",
    "in_task",
    "in_scope",
    "provenance",
    "after_injection",
    "new_host",
    "refused_before",
    "refused",
    "injection",
    "uploads",
    "decision",
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((traces, sessions)) = args.split_first() else {
        eprintln!("usage: explain TRACES.otlp.jsonl [SESSION…]");
        std::process::exit(2);
    };
    let events = otlp::read(&std::fs::read_to_string(traces).expect("traces")).expect("OTLP");
    let mut detector = Rules::builtin().detector();
    let mut memory = brig_detect::rules::session::Memory::default();
    for (i, e) in events.iter().enumerate() {
        let id = i.to_string();
        let wanted =
            sessions.is_empty() || e.session.as_ref().is_some_and(|s| sessions.contains(s));
        let docs = view::documents(e, &id, &mut memory);
        let alerts = detector.observe(e, &id);
        if !wanted {
            continue;
        }
        for d in docs {
            let line: Vec<String> = SHOWN
                .iter()
                .filter_map(|k| d.get(*k).map(|v| format!("{k}={}", short(v))))
                .collect();
            println!(
                "{} {} {}",
                e.session.as_deref().unwrap_or("-"),
                id,
                line.join(" ")
            );
        }
        for a in alerts {
            println!("    ALERT {} [{}] {}", a.rule_id, a.level, a.title);
        }
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.len() > 90 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(90).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}
