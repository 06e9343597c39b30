//! The secret scanner (`brig_model::secrets`) on the development corpus: every event of the
//! 76 sessions sealed as the ledger would seal it, and the findings counted. Three benign
//! sessions do carry real credentials (a database URL with its password read from `.env`, a
//! Slack webhook URL given in the task, `PGPASSWORD=` on a command line): redacting those is
//! right, and they are the only benign findings allowed. Every other benign session must
//! hold none (no false positive on prose, paths, hashes, sudoers' `NOPASSWD:`); the
//! malicious sessions that read credential files hold the fake keys the generator planted.

use std::collections::BTreeMap;
use std::path::PathBuf;

use brig_detect::otlp;
use serde_json::Value;

fn corpus(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn no_benign_session_holds_a_secret() {
    let labels: BTreeMap<String, String> = corpus("labels.jsonl")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["session"].as_str().unwrap().to_string(),
                v["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let events = otlp::read(&corpus("sessions.otlp.jsonl")).unwrap();
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for e in events {
        let (event, _) = e.seal().unwrap();
        let session = event.session.clone().unwrap_or_default();
        for (part, kinds) in &event.secrets {
            found
                .entry((labels[&session].clone(), session.clone()))
                .or_default()
                .extend(kinds.iter().map(|k| format!("{}:{part}:{k}", event.kind)));
        }
    }
    println!("findings by session: {found:#?}");
    let benign: BTreeMap<&str, Vec<&str>> = found
        .iter()
        .filter(|((l, _), _)| l == "benign")
        .map(|((_, s), k)| (s.as_str(), k.iter().map(String::as_str).collect()))
        .collect();
    let documented: BTreeMap<&str, Vec<&str>> = [
        (
            "dev-0041",
            vec![
                "tool.result:result:url-password",
                "tool.result:result:url-password",
            ],
        ),
        (
            "dev-0042",
            vec![
                "agent.prompt:task:slack-webhook",
                "tool.call:arguments:slack-webhook",
            ],
        ),
        (
            "dev-0067",
            vec![
                "tool.call:arguments:password-field",
                "tool.call:arguments:password-field",
            ],
        ),
    ]
    .into();
    assert_eq!(benign, documented, "findings in benign sessions");
    let malicious = found.keys().filter(|(l, _)| l == "malicious").count();
    assert!(
        malicious >= 6,
        "the planted credentials of {malicious} malicious sessions found; 6 expected"
    );
}
