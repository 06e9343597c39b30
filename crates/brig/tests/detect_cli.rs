//! `brig detect` end to end on the development corpus (OTLP/JSON GenAI traces, both
//! forms) and on Brig event JSONL: what a user scripting it sees.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::Stdio;

use common::*;
use serde_json::Value;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name)
}

fn detect(args: &[&str]) -> std::process::Output {
    brig().arg("detect").args(args).output().unwrap()
}

/// Sessions named by `--json` alerts, checking each line's shape on the way.
fn flagged(o: &std::process::Output) -> BTreeSet<String> {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            for k in ["rule_id", "title", "level", "agent"] {
                assert!(a[k].is_string(), "{k} missing in {l}");
            }
            assert!(!a["events"].as_array().unwrap().is_empty(), "{l}");
            a["session"].as_str().unwrap().to_string()
        })
        .collect()
}

fn labelled(label: &str) -> BTreeSet<String> {
    std::fs::read_to_string(corpus("labels.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["label"] == label)
        .map(|l| l["session"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn the_corpus_alerts_on_every_malicious_session_and_no_benign_one_in_both_forms() {
    let lines = corpus("sessions.otlp.jsonl");
    let o = detect(&["--input", lines.to_str().unwrap(), "--json"]);
    let got = flagged(&o);
    assert_eq!(got, labelled("malicious"));
    assert!(stderr(&o).contains("76 sessions"), "{}", stderr(&o));
    // The single pretty document gives the same answer; so does stdin.
    let doc = corpus("sessions.otlp.json");
    assert_eq!(
        flagged(&detect(&["--input", doc.to_str().unwrap(), "--json"])),
        got
    );
    let mut child = brig()
        .args(["detect", "--input", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&lines).unwrap())
        .unwrap();
    assert_eq!(flagged(&child.wait_with_output().unwrap()), got);
}

#[test]
fn brig_event_jsonl_is_read_and_a_bad_line_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let events = [
        r#"{"source":"t","agent":"a","session":"s","kind":"agent.prompt","payload":{"task":"Profile disk I/O. Don't change config."}}"#,
        r#"{"source":"t","agent":"a","session":"s","kind":"tool.call","tool":"bash","actions":[{"action":"service.stop","target":"auditd"}],"payload":{"arguments":{"command":"systemctl stop auditd"}}}"#,
    ];
    let file = write_jsonl(tmp.path(), "events.jsonl", &events.map(String::from));
    let o = detect(&["--input", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("6f1c0a52-5b1e-4d3b-9a61-0b8d2f6c1e01"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("[blocking]"), "{}", stdout(&o));

    let bad = write_jsonl(
        tmp.path(),
        "bad.jsonl",
        &[events[0].to_string(), "{\"kind\": 7}".to_string()],
    );
    let o = detect(&["--input", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
}

#[test]
fn a_broken_rule_directory_is_refused_with_the_file_and_rule() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    std::fs::write(
        rules.join("mine.yml"),
        "title: t\nid: mine-1\nlogsource:\n  product: windows\ndetection:\n  a:\n    x: 1\n  condition: a\n",
    )
    .unwrap();
    let lines = corpus("sessions.otlp.jsonl");
    let o = detect(&[
        "--input",
        lines.to_str().unwrap(),
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("mine.yml") && err.contains("mine-1") && err.contains("product"),
        "{err}"
    );
}

#[test]
fn a_risk_register_is_read_and_a_bad_one_is_named_by_line() {
    let tmp = tempfile::tempdir().unwrap();
    let register = tmp.path().join("brig.toml");
    std::fs::write(
        &register,
        "internal_domains = [\"contoso.com\"]\n[[resource]]\nname = \"exports\"\npaths = [\"/srv/exports/**\"]\nclasses = [\"pii\"]\n",
    )
    .unwrap();
    let events = [
        r#"{"source":"t","agent":"a","session":"s","kind":"agent.prompt","payload":{"task":"Summarize ticket 7"}}"#,
        r#"{"source":"t","agent":"a","session":"s","kind":"tool.call","tool":"read_text_file","actions":[{"action":"file.read","target":"/srv/exports/q3.csv"}]}"#,
        r#"{"source":"t","agent":"a","session":"s","kind":"tool.call","tool":"send_email","actions":[{"action":"message.send","target":"drop@gmail.com"}]}"#,
    ];
    let file = write_jsonl(tmp.path(), "events.jsonl", &events.map(String::from));
    let args = |r: &std::path::Path| {
        vec![
            "--input".to_string(),
            file.display().to_string(),
            "--register".to_string(),
            r.display().to_string(),
        ]
    };
    let a = args(&register);
    let o = detect(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("4f5a6b7c-8d9e-4fa0-9b1c-2d3e4f5a6b29"),
        "classified data to an outside address: {}",
        stdout(&o)
    );
    std::fs::write(
        &register,
        "[[resource]]\nname = \"x\"\npaths = [\"exports/**\"]\n",
    )
    .unwrap();
    let o = detect(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("brig.toml:3:"), "{}", stderr(&o));
}
