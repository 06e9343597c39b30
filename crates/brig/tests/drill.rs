//! `brig drill`: every scenario through the real gateway, in front of the real MCP
//! reference filesystem server and again in front of Brig's built-in sandbox server; the
//! drill must be able to fail (detection off), and its results must land in the ledger.

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Runs `brig drill ARGS --json` with the reference server's location; returns the exit
/// code and the report.
fn drill(data: &Path, args: &[&str]) -> (i32, Value) {
    let o = brig()
        .arg("drill")
        .args(args)
        .args(["--json", "--data"])
        .arg(data)
        .env(
            "BRIG_MCP_FILESYSTEM",
            npm_file("@modelcontextprotocol/server-filesystem/dist/index.js"),
        )
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "brig drill printed no JSON ({e}); stderr: {}\nstdout: {}",
            stderr(&o),
            stdout(&o)
        )
    });
    (o.status.code().unwrap_or(-1), report)
}

fn card<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scenario"] == name)
        .unwrap_or_else(|| panic!("no scorecard for {name}"))
}

/// What every passing scenario must show, checked from the scorecard's own figures rather
/// than its verdict alone.
fn assert_scenario_held(c: &Value) {
    let name = c["scenario"].as_str().unwrap();
    let failed: Vec<&Value> = c["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["ok"] != true)
        .collect();
    assert!(
        c["passed"] == true && failed.is_empty(),
        "{name} failed: {failed:#?}\nsteps: {:#}",
        c["steps"]
    );
    assert_eq!(c["evidence_verified"], true, "{name}");
    assert_eq!(c["rollback_verified"], true, "{name}");
    assert_eq!(c["copies_left"], 0, "{name}");
    if name == "benign-control" {
        assert_eq!(c["detected"], false, "{name}: {}", c["rules"]);
        assert!(c["rules"].as_array().unwrap().is_empty(), "{name}");
        assert!(
            c["steps"]
                .as_array()
                .unwrap()
                .iter()
                .all(|s| s["completed"] == true),
            "{name}: a benign call was refused: {:#}",
            c["steps"]
        );
        return;
    }
    assert_eq!(c["detected"], true, "{name}");
    assert!(!c["rules"].as_array().unwrap().is_empty(), "{name}");
    assert_eq!(c["contained"], true, "{name}");
    // The goal: stopped before the first harmful call completes, or within one call.
    assert!(
        c["harmful_completed"].as_u64().unwrap() <= 1,
        "{name}: {:#}",
        c["steps"]
    );
    assert!(
        c["ttd_ms"].as_f64().is_some() && c["ttc_ms"].as_f64().is_some(),
        "{name}"
    );
    for s in c["steps"].as_array().unwrap() {
        assert!(
            s["decision"].is_string(),
            "{name}: step without a decision: {s}"
        );
    }
}

#[test]
fn every_scenario_passes_with_the_reference_filesystem_server() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (code, report) = drill(&data, &["--scenario", "all", "--upstream", "reference"]);
    assert_eq!(report["upstream"], "reference");
    let cards = report["scenarios"].as_array().unwrap();
    assert!(cards.len() >= 14, "{} scenarios", cards.len());
    for c in cards {
        assert_scenario_held(c);
    }
    assert_eq!(code, 0);
    // The hidden copy of the customer list was refused, and by the rule for it.
    let stealth = card(&report, "stealth-backup");
    let hidden_copy = &stealth["steps"][3];
    assert_eq!(hidden_copy["tool"], "write_file");
    assert_eq!(hidden_copy["completed"], false, "{hidden_copy}");
    assert!(
        stealth["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d06"),
        "the hidden-copy rule did not fire: {}",
        stealth["rules"]
    );

    // The results are in the team's ledger, one drill.result per scenario.
    let o = run(&data, &["ledger", "show", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let recorded = stdout(&o)
        .lines()
        .filter(|l| l.contains("\"drill.result\""))
        .count();
    assert_eq!(recorded, cards.len());
}

#[test]
fn every_scenario_passes_with_the_builtin_sandbox_server() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (code, report) = drill(&data, &["--upstream", "builtin"]);
    assert_eq!(report["upstream"], "builtin");
    for c in report["scenarios"].as_array().unwrap() {
        assert_scenario_held(c);
    }
    assert_eq!(code, 0);
}

#[test]
fn a_drill_without_detection_fails_and_the_hunt_finds_what_got_through() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (code, report) = drill(
        &data,
        &[
            "--scenario",
            "stealth-backup",
            "--no-detect",
            "--upstream",
            "builtin",
        ],
    );
    assert_eq!(code, 6, "{report:#}");
    assert_eq!(report["passed"], false);
    let c = card(&report, "stealth-backup");
    assert_eq!(c["detected"], false);
    let check = |name: &str| {
        c["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}"))
            .clone()
    };
    assert_eq!(check("detected")["ok"], false);
    assert_eq!(check("contained")["ok"], false);
    // With nothing to stop it, the agent really hid a copy of the customer list in its
    // home directory: the hunt finds it by content, the rollback removes it (and the
    // directories the agent made for it), and the sandbox is back to its baseline.
    assert!(c["copies_found"].as_u64().unwrap() >= 1, "{c:#}");
    assert_eq!(c["copies_left"], 0);
    assert_eq!(c["rollback_verified"], true, "{c:#}");
}

#[test]
fn an_unknown_scenario_is_named() {
    let tmp = tempdir();
    let o = brig()
        .args(["drill", "--scenario", "no-such-thing", "--data"])
        .arg(tmp.path().join("none"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("no-such-thing") && err.contains("stealth-backup"),
        "{err}"
    );
}

/// The post-mortem of a drill's incident: every section, written from the sandbox's own
/// record (the prompt injection is named as the suggested root cause), and the HTML
/// rendered by Chromium.
#[test]
fn the_post_mortem_of_a_drill_incident_has_every_section() {
    let tmp = tempdir();
    let sandbox = tmp.path().join("sandboxes");
    let o = brig()
        .args([
            "drill",
            "--scenario",
            "prompt-injection-send",
            "--upstream",
            "builtin",
        ])
        .args(["--no-record", "--json", "--sandbox"])
        .arg(&sandbox)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = card(&report, "prompt-injection-send");
    let incident = c["incident"]
        .as_str()
        .expect("the drill opened an incident");
    let data = sandbox.join("prompt-injection-send/data");

    let md = run(&data, &["postmortem", "--incident", incident]);
    assert!(md.status.success(), "{}", stderr(&md));
    let md = stdout(&md);
    for section in [
        "Summary",
        "Impact",
        "Timeline",
        "Detection and response",
        "Root cause (suggested)",
        "Ability, opportunity, incentive",
        "What worked",
        "What did not",
        "Corrective actions",
        "Reporting obligations",
    ] {
        assert!(
            md.contains(&format!("## {section}")),
            "no section {section}:\n{md}"
        );
    }
    assert!(md.contains(incident) && md.contains("drill-prompt-injection-send"));
    assert!(md.to_lowercase().contains("prompt injection"), "{md}");

    let page = tmp.path().join("postmortem.html");
    let o = brig()
        .args([
            "postmortem",
            "--incident",
            incident,
            "--format",
            "html",
            "-o",
        ])
        .arg(&page)
        .arg("--data")
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    if let Some(dom) = chromium_dom(&page) {
        for id in [
            "summary",
            "impact",
            "timeline",
            "root-cause",
            "actions",
            "reporting",
        ] {
            assert!(
                dom.contains(&format!("<section id=\"{id}\">")),
                "no section {id} in the rendered DOM"
            );
        }
        assert!(
            dom.contains("<svg"),
            "no timeline chart in the rendered DOM"
        );
    }
}

#[test]
fn a_sandbox_directory_already_used_is_refused_untouched() {
    let tmp = tempdir();
    let sandbox = tmp.path().join("sb");
    let args = [
        "drill",
        "--scenario",
        "benign-control",
        "--upstream",
        "builtin",
        "--no-record",
    ];
    let first = brig()
        .args(args)
        .arg("--sandbox")
        .arg(&sandbox)
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    let readme = sandbox.join("benign-control/workspace/README.md");
    std::fs::write(&readme, "kept for review\n").unwrap();
    let again = brig()
        .args(args)
        .arg("--sandbox")
        .arg(&sandbox)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let err = stderr(&again);
    assert!(
        err.contains("benign-control") && err.contains("not empty"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&readme).unwrap(),
        "kept for review\n"
    );
}
