//! Timesketch timelines: every row has Timesketch's four fields, `timestamp` and `datetime`
//! name the same microsecond, and CSV reads back exactly, awkward text included.

use brig_evidence::timeline::{timesketch_rows, write_csv, write_jsonl, CSV_COLUMNS};
use brig_model::{Action, ActionKind, Decision, Effect, Event, EventKind, NewEvent, Timestamp};
use chrono::DateTime;
use serde_json::{json, Value};

/// A sealed event of the agent `repo-assistant` in session `s-1`, at `nanos`.
fn event(kind: EventKind, nanos: i64, f: impl FnOnce(&mut NewEvent)) -> Event {
    let mut e = NewEvent::new("mcp-proxy", "repo-assistant", kind);
    e.ts = Some(Timestamp::from_unix_nanos(nanos));
    e.session = Some("s-1".into());
    f(&mut e);
    e.seal().unwrap().0
}

/// 2026-12-05T01:02:03.123456789Z
const T: i64 = 1_796_432_523_123_456_789;

/// A call, its denial, an alert with an awkward title, a result, and an event before 1970.
fn events() -> Vec<(u64, Event)> {
    let call = event(EventKind::ToolCall, T, |e| {
        e.tool = Some("bash".into());
        e.call = Some("7".into());
        e.workflow = Some("release".into());
        e.actions = vec![
            Action::new(ActionKind::FileCopy, "/srv/data, \"all\"").with_dest("/dev/shm/.x"),
            Action::new(ActionKind::FileDelete, "/srv/app/config.yaml"),
        ];
        e.payload
            .insert("arguments".into(), json!({"command": "…"}));
    });
    let denied = event(EventKind::PolicyDecision, T + 1_000, |e| {
        e.call = Some("7".into());
        e.decision = Some(Decision {
            effect: Effect::Deny,
            policies: vec!["no-shm".into()],
            reason: Some("copies to /dev/shm, a hiding place".into()),
        });
    });
    let alert = event(EventKind::Alert, T + 2_000, |e| {
        e.tool = Some("bash".into());
        e.call = Some("7".into());
        e.attrs.insert("rule_id".into(), json!("brig-hidden-copy"));
        e.attrs.insert(
            "title".into(),
            json!("Copy to a \"hidden\", volatile place,\nthen delete"),
        );
        e.attrs.insert("level".into(), json!("high"));
    });
    let result = event(EventKind::ToolResult, T + 3_999, |e| {
        e.tool = Some("bash".into());
        e.call = Some("7".into());
        e.attrs.insert("status".into(), json!("error"));
    });
    let ancient = event(EventKind::AgentPrompt, -1, |e| e.session = None);
    vec![
        (10, call),
        (11, denied),
        (12, alert),
        (13, result),
        (14, ancient),
    ]
}

fn jsonl_lines(events: &[(u64, Event)]) -> Vec<Value> {
    let mut out = Vec::new();
    write_jsonl(events, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.ends_with('\n'));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_line_has_timesketchs_fields_and_one_time() {
    let events = events();
    let lines = jsonl_lines(&events);
    assert_eq!(
        lines.len(),
        events.len(),
        "one line per event, newlines escaped"
    );
    for (line, (_, e)) in lines.iter().zip(&events) {
        for f in ["message", "datetime", "timestamp_desc"] {
            let s = line[f].as_str().unwrap_or_else(|| panic!("{f} in {line}"));
            assert!(!s.is_empty(), "{f} empty in {line}");
        }
        let ts = line["timestamp"].as_i64().expect("integer timestamp");
        assert_eq!(ts, e.ts.unix_nanos().div_euclid(1_000), "floored µs");
        let dt = DateTime::parse_from_rfc3339(line["datetime"].as_str().unwrap()).unwrap();
        assert_eq!(
            dt.timestamp_micros(),
            ts,
            "datetime and timestamp agree: {line}"
        );
        assert!(line["datetime"].as_str().unwrap().ends_with('Z'), "UTC");
    }
    assert_eq!(lines[0]["datetime"], "2026-12-05T01:02:03.123456Z");
    assert_eq!(lines[0]["timestamp"], 1_796_432_523_123_456_i64);
    // One nanosecond before the epoch floors to the microsecond before it.
    assert_eq!(lines[4]["timestamp"], -1);
    assert_eq!(lines[4]["datetime"], "1969-12-31T23:59:59.999999Z");
}

#[test]
fn rows_carry_brigs_fields() {
    let events = events();
    let lines = jsonl_lines(&events);
    let call = &lines[0];
    assert_eq!(call["timestamp_desc"], "Tool Called");
    assert_eq!(
        call["message"],
        "tool.call: bash: file.copy /srv/data, \"all\" -> /dev/shm/.x; file.delete /srv/app/config.yaml"
    );
    assert_eq!(call["brig_index"], 10);
    assert_eq!(call["brig_id"], events[0].1.id.to_string());
    assert_eq!(call["kind"], "tool.call");
    assert_eq!(call["agent"], "repo-assistant");
    assert_eq!(call["session"], "s-1");
    assert_eq!(call["workflow"], "release");
    assert_eq!(call["tool"], "bash");
    assert_eq!(call["call"], "7");
    assert_eq!(
        call["actions"],
        json!([
            "file.copy /srv/data, \"all\" -> /dev/shm/.x",
            "file.delete /srv/app/config.yaml"
        ])
    );
    assert_eq!(call["source"], "mcp-proxy");
    assert!(call.get("rule_id").is_none() && call.get("decision").is_none());

    assert_eq!(lines[1]["decision"], "deny");
    assert_eq!(lines[1]["timestamp_desc"], "Policy Decided");
    let alert = &lines[2];
    assert_eq!(alert["timestamp_desc"], "Alert Raised");
    assert_eq!(alert["rule_id"], "brig-hidden-copy");
    assert_eq!(alert["level"], "high");
    assert_eq!(
        alert["message"],
        "alert: [high] Copy to a \"hidden\", volatile place,\nthen delete (brig-hidden-copy)"
    );
    // Nothing to describe: the kind still makes a message.
    assert_eq!(lines[4]["message"], "agent.prompt");
    assert!(lines[4].get("session").is_none());
}

#[test]
fn csv_reads_back_the_same_rows() {
    let events = events();
    let mut out = Vec::new();
    write_csv(&events, &mut out).unwrap();
    let mut r = csv::Reader::from_reader(out.as_slice());
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, CSV_COLUMNS);
    let back: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect();
    let rows = timesketch_rows(&events);
    assert_eq!(back.len(), rows.len());
    for (b, row) in back.iter().zip(&rows) {
        assert_eq!(b, &row.csv_record().to_vec());
    }
    // Commas, quotes and a line break survived in one cell.
    let col = |name: &str| CSV_COLUMNS.iter().position(|c| *c == name).unwrap();
    assert!(back[2][col("message")].contains("a \"hidden\", volatile place,\nthen"));
    assert_eq!(
        back[0][col("actions")],
        "file.copy /srv/data, \"all\" -> /dev/shm/.x; file.delete /srv/app/config.yaml"
    );
    assert_eq!(back[0][col("decision")], "", "none: an empty cell");
    assert_eq!(back[1][col("decision")], "deny");
    // The CSV's times agree too.
    for b in &back {
        let dt = DateTime::parse_from_rfc3339(&b[col("datetime")]).unwrap();
        assert_eq!(
            dt.timestamp_micros().to_string(),
            b[col("timestamp")],
            "{b:?}"
        );
    }
}

#[test]
fn no_events_no_rows() {
    let mut out = Vec::new();
    write_jsonl(&[], &mut out).unwrap();
    assert!(out.is_empty());
    let mut out = Vec::new();
    write_csv(&[], &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        CSV_COLUMNS.join(",") + "\n"
    );
}
