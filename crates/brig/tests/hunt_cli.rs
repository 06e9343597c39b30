//! `brig hunt`: exit codes (0 nothing found, 5 found) and the --json report.

mod common;
use common::*;

use std::path::Path;

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

#[test]
fn hunt_copies_exits_5_when_found_and_0_when_not() {
    let tmp = tempfile::tempdir().unwrap();
    let secret: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&tmp.path().join("protected/customers.csv"), &secret);
    let scan = tmp.path().join("scan");
    write(&scan.join("notes.txt"), b"nothing to see");

    let hunt = |json: bool| {
        let mut cmd = brig();
        cmd.args(["hunt", "copies", "--protected"])
            .arg(tmp.path().join("protected"))
            .arg("--scan")
            .arg(&scan);
        if json {
            cmd.arg("--json");
        }
        cmd.output().expect("brig runs")
    };
    let o = hunt(false);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("0 copies of 1 protected files"),
        "{}",
        stderr(&o)
    );

    write(&scan.join(".hidden/x.bin"), &secret);
    let o = hunt(false);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let line = stdout(&o);
    assert!(line.contains(".hidden/x.bin  copies "), "{line}");
    assert!(line.contains("customers.csv  50000 bytes") && line.trim_end().ends_with("renamed"));

    let o = hunt(true);
    assert_eq!(o.status.code(), Some(5));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).expect("one JSON object");
    assert_eq!(report["matches"].as_array().unwrap().len(), 1);
    let m = &report["matches"][0];
    assert!(m["path"].as_str().unwrap().ends_with(".hidden/x.bin"));
    assert_eq!(m["size"], 50_000);
    assert_eq!(m["renamed"], true);
    assert_eq!(report["files_scanned"], 2);
    assert_eq!(
        stderr(&o),
        "",
        "no progress or summary with --json off a terminal"
    );
}

/// Each copy says which agent wrote it when the ledger shows one doing so, and says so
/// when none did.
#[test]
fn hunt_copies_names_the_agent_whose_ledger_event_wrote_the_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let data = init(tmp.path());
    let secret: Vec<u8> = (0..30_000u32).map(|i| (i * 13 % 251) as u8).collect();
    let protected = tmp.path().join("protected/keys.db");
    write(&protected, &secret);
    let scan = tmp.path().join("scan");
    let by_agent = scan.join(".stash/k.bin");
    let by_nobody = scan.join("other.bin");
    write(&by_agent, &secret);
    write(&by_nobody, &secret);
    let copy = serde_json::json!({
        "source": "mcp-proxy", "agent": "sync-bot", "kind": "tool.call", "tool": "bash",
        "session": "s1", "call": "7",
        "actions": [{"action": "file.copy", "target": protected, "dest": by_agent}]
    });
    ingest(&data, tmp.path(), "copy.jsonl", &[copy.to_string()]);

    let o = brig()
        .args(["hunt", "copies", "--json", "--data"])
        .arg(&data)
        .arg("--protected")
        .arg(&protected)
        .arg("--scan")
        .arg(&scan)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let of = |p: &Path| {
        report["matches"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"] == p.to_str().unwrap())
            .unwrap()["created_by"]
            .clone()
    };
    assert_eq!(of(&by_agent)["agent"], "sync-bot", "{report:#}");
    assert_eq!(of(&by_agent)["action"], "file.copy");
    assert_eq!(of(&by_nobody), serde_json::Value::Null, "{report:#}");
}

#[test]
fn hunt_persistence_with_a_fake_root_and_home() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    let run = |since: &str| {
        brig()
            .args(["hunt", "persistence", "--json", "--since", since, "--root"])
            .arg(&root)
            .arg("--home")
            .arg(&home)
            .output()
            .expect("brig runs")
    };
    let o = run("2000-01-01T00:00:00Z");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    write(
        &home.join(".ssh/authorized_keys"),
        b"ssh-ed25519 AAAA agent\n",
    );
    let o = run("2000-01-01T00:00:00Z");
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(report["findings"][0]["place"], "authorized_keys");
    // Nothing changed after a time in the future.
    assert_eq!(run("2200-01-01T00:00:00Z").status.code(), Some(0));
    let o = run("yesterday");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("RFC 3339"));
}
