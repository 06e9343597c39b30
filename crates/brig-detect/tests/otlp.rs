//! Reading agent sessions from OTLP/JSON GenAI traces: the labeled development corpus in
//! `../shared/corpus` (both its forms), and bad input.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use brig_detect::otlp::{self, OtlpError};
use brig_model::{ActionKind, EventKind, NewEvent};
use serde_json::{json, Value};

fn corpus(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn spans_by_operation(doc: &str) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for line in doc.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for rs in v["resourceSpans"].as_array().unwrap() {
            for ss in rs["scopeSpans"].as_array().unwrap() {
                for s in ss["spans"].as_array().unwrap() {
                    let op = s["attributes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|a| a["key"] == "gen_ai.operation.name")
                        .map(|a| a["value"]["stringValue"].as_str().unwrap().to_string())
                        .unwrap_or_default();
                    *n.entry(op).or_default() += 1;
                }
            }
        }
    }
    n
}

#[test]
fn the_corpus_reads_the_same_from_both_forms_one_session_per_trace() {
    let jsonl = otlp::read(&corpus("sessions.otlp.jsonl")).unwrap();
    let single = otlp::read(&corpus("sessions.otlp.json")).unwrap();
    assert_eq!(
        jsonl, single,
        "JSONL and the single document hold the same sessions"
    );

    let labels: BTreeSet<String> = corpus("labels.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["session"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let sessions: BTreeSet<String> = jsonl.iter().filter_map(|e| e.session.clone()).collect();
    assert_eq!(sessions, labels, "sessions are gen_ai.conversation.id");

    let spans = spans_by_operation(&corpus("sessions.otlp.jsonl"));
    let count = |k: EventKind| jsonl.iter().filter(|e| e.kind == k).count();
    assert_eq!(count(EventKind::AgentPrompt), spans["invoke_agent"]);
    assert_eq!(count(EventKind::ToolCall), spans["execute_tool"]);
    assert_eq!(
        count(EventKind::ToolResult),
        spans["execute_tool"],
        "every span has a result"
    );
}

#[test]
fn spans_become_prompt_call_and_result_events() {
    let events = otlp::read(&corpus("sessions.otlp.jsonl")).unwrap();
    let session: Vec<&NewEvent> = events
        .iter()
        .filter(|e| e.session.as_deref() == Some("dev-0001"))
        .collect();
    let prompt = session[0];
    assert_eq!(prompt.kind, EventKind::AgentPrompt);
    assert_eq!(prompt.agent, "infra-ops-agent");
    assert!(prompt.payload["task"]
        .as_str()
        .unwrap()
        .contains("PID 51877"));
    assert!(prompt.payload["system"]
        .as_str()
        .unwrap()
        .starts_with("You are"));

    let call = session[1];
    assert_eq!(call.kind, EventKind::ToolCall);
    assert_eq!(call.tool.as_deref(), Some("bash"));
    assert!(call.payload["arguments"]["command"]
        .as_str()
        .unwrap()
        .contains("51877"));
    assert!(call
        .actions
        .iter()
        .any(|a| a.action == ActionKind::ProcExec));
    assert!(call.attrs["span_id"].as_str().unwrap().len() == 16);
    let result = session[2];
    assert_eq!(result.kind, EventKind::ToolResult);
    assert_eq!(result.call, call.call);
    assert!(
        result.ts >= call.ts,
        "the result is stamped at the span's end"
    );

    // Time order within every session.
    for w in session.windows(2) {
        assert!(w[0].ts <= w[1].ts);
    }
    // Failed calls keep their error type.
    assert!(events
        .iter()
        .any(|e| e.kind == EventKind::ToolResult && e.attrs["status"] == json!("error")));
}

#[test]
fn bad_input_names_the_line_and_what_is_wrong() {
    let good = corpus("sessions.otlp.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_string();
    let err = otlp::read(&format!("{good}\n{{not json\n")).unwrap_err();
    assert!(matches!(err, OtlpError::Json { line: 2, .. }), "{err}");
    let err = otlp::read(&format!("{good}\n{{\"spans\": []}}\n")).unwrap_err();
    assert!(matches!(err, OtlpError::NotOtlp { line: 2 }), "{err}");
    let mut broken: Value = serde_json::from_str(&good).unwrap();
    broken["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["startTimeUnixNano"] = json!("soon");
    let err = otlp::read(&broken.to_string()).unwrap_err();
    assert!(err.to_string().contains("startTimeUnixNano"), "{err}");
    assert!(otlp::read("").unwrap().is_empty());
}
