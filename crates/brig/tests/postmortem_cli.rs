//! `brig postmortem` on a real incident: an agent behind `brig mcp-proxy`, in front of the
//! MCP reference filesystem server, edits a file the risk register marks `secrets`; the
//! playbook contains it. The post-mortem is then written as Markdown, JSON and HTML, and the
//! HTML is rendered by a real Chromium.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use brig_drill::client::{Client, Reply};

use common::*;
use serde_json::{json, Value};

/// The rule that fires on the edit of classified data outside the task.
const RULE: &str = "5a6b7c8d-9e0f-4ab1-8c2d-3e4f5a6b7c30";
const AGENT: &str = "notes-agent";
/// The declared task, as an agent's framework could send it: markup included.
const TASK: &str = "Tidy the notes <script>alert('pm')</script> & nothing else";

/// Every section the report must have, in order.
const SECTIONS: [&str; 11] = [
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
    "About this report",
];

/// An MCP client session through the proxy, over stdio (the drill's agent client).
fn session(data: &Path, ws: &Path, register: &Path) -> Client {
    let mut cmd = brig();
    cmd.args([
        "mcp-proxy",
        "--agent",
        AGENT,
        "--workflow",
        "repo-maintenance",
    ])
    .args(["--task", TASK, "--register"])
    .arg(register)
    .arg("--data")
    .arg(data)
    .arg("--")
    .arg("node")
    .arg(server_bin())
    .arg(ws);
    let mut c = Client::start(cmd).expect("the proxy starts");
    c.initialize().expect("the proxy initializes");
    c
}

/// Calls a tool; true when it ran without error.
fn call(c: &mut Client, tool: &str, arguments: Value) -> bool {
    match c
        .call_tool(tool, &arguments, Duration::from_secs(20))
        .unwrap()
        .1
    {
        Reply::Result(r) => r["isError"] != json!(true),
        other => panic!("{tool}: {other:?}"),
    }
}

/// A contained incident: a read that runs, the edit of the secrets file (stopped by the
/// playbook), and a read after containment. Returns the data dir, the register and the id.
fn incident(tmp: &Path) -> (PathBuf, PathBuf, String) {
    let data = init(tmp);
    let ws = tmp.join("workspace");
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    std::fs::write(ws.join("notes.md"), "notes\n").unwrap();
    std::fs::write(ws.join("secrets/db.env"), "PASSWORD=hunter2\n").unwrap();
    let register = tmp.join("brig.toml");
    std::fs::write(
        &register,
        format!(
            "[[workflow]]\nname = \"repo-maintenance\"\nagents = [\"{AGENT}\"]\n\
             tools = [\"read_text_file\", \"write_file\"]\nowner = \"docs-team@example.com\"\n\n\
             [[resource]]\nname = \"vault\"\npaths = [\"{}/secrets/**\"]\n\
             classes = [\"secrets\"]\nrollback = \"manual\"\n",
            ws.display()
        ),
    )
    .unwrap();
    let mut s = session(&data, &ws, &register);
    assert!(call(
        &mut s,
        "read_text_file",
        json!({"path": ws.join("notes.md")})
    ));
    assert!(!call(
        &mut s,
        "write_file",
        json!({"path": ws.join("secrets/db.env"), "content": "PASSWORD=\n"})
    ));
    assert!(!call(
        &mut s,
        "read_text_file",
        json!({"path": ws.join("notes.md")})
    ));
    s.close(Duration::from_secs(10)).expect("the proxy exits");
    let o = run(&data, &["incidents", "list", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(list.len(), 1, "{list:#?}");
    let id = list[0]["id"].as_str().unwrap().to_string();
    (data, register, id)
}

fn postmortem(data: &Path, args: &[&str]) -> String {
    let o = run(data, &[&["postmortem"], args].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

#[test]
fn a_contained_incidents_postmortem_has_every_section_from_the_record() {
    let tmp = tempdir();
    let (data, register, id) = incident(tmp.path());
    let reg = register.to_str().unwrap();

    let md = postmortem(&data, &["--incident", &id[..12], "--register", reg]);
    let mut at = 0;
    for s in SECTIONS {
        let h = format!("\n## {s}\n");
        let pos = md[at..]
            .find(&h)
            .unwrap_or_else(|| panic!("no section {s} after byte {at}:\n{md}"));
        at += pos + h.len();
    }
    // Real facts from the record: the agent, the rule that fired, the tools, the playbook,
    // the workflow as the register declares it, the task as recorded (escaped).
    for fact in [
        AGENT,
        RULE,
        "write\\_file",
        "read\\_text\\_file",
        "secrets",
        "evidence snapshot taken",
        "docs-team@example.com",
        "model behavior across a policy boundary",
        "contained before any harmful call completed",
        "&lt;script&gt;alert('pm')&lt;/script&gt; &amp; nothing else",
    ] {
        assert!(md.contains(fact), "no {fact:?} in:\n{md}");
    }
    assert!(!md.contains("<script>"), "{md}");

    // The same content as JSON, for scripts.
    let j: Value = serde_json::from_str(&postmortem(
        &data,
        &["--incident", &id, "--register", reg, "--json"],
    ))
    .unwrap();
    assert_eq!(j["incident"]["id"], id.as_str());
    assert_eq!(j["root_cause"]["suggested"], "model_behavior", "{j:#}");
    assert!(j["root_cause"]["status"]
        .as_str()
        .unwrap()
        .contains("review confirms"));
    assert_eq!(j["answers"]["did"]["calls"], 3);
    assert_eq!(j["impact"]["classes"], json!(["secrets"]));
    assert!(j["impact"]["offline"]["still_contained"] == json!(true));
    let steps = j["timings"]["playbook"].as_array().unwrap();
    assert_eq!(steps[0]["step"], "preserve");
    assert_eq!(steps[1]["step"], "contain");
    assert!(j["timings"]["contain_ms"].as_f64().unwrap() >= 0.0);
    let actions = j["actions"].as_array().unwrap();
    assert!(!actions.is_empty());
    assert!(actions
        .iter()
        .all(|a| a["owner"].is_null() && a["due"].is_null()));
    assert!(
        j["reporting"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["regime"] == "nis2-art23-early-warning"),
        "{:#}",
        j["reporting"]
    );
    let charted = j["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["lane"].is_null())
        .count();
    let denied = j["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["lane"].is_null() && e["denied"] == json!(true))
        .count();

    // HTML to a file: every section, the SVG chart with one mark per charted event, the
    // stopped calls marked, the lifecycle marks, the record's markup escaped.
    let out = tmp.path().join("pm.html");
    let o = run(
        &data,
        &[
            "postmortem",
            "--incident",
            &id,
            "--register",
            reg,
            "--format",
            "html",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for s in SECTIONS {
        assert!(html.contains(&format!("<h2>{s}</h2>")), "no {s}");
    }
    for (open, close) in [
        ("<section", "</section>"),
        ("<table", "</table>"),
        ("<svg", "</svg>"),
        ("<ul", "</ul>"),
        ("<g ", "</g>"),
    ] {
        assert_eq!(
            html.matches(open).count(),
            html.matches(close).count(),
            "{open} is not balanced"
        );
    }
    assert_eq!(html.matches("<svg").count(), 1);
    assert_eq!(html.matches("<g class=\"event").count(), charted);
    assert_eq!(html.matches("<g class=\"event denied\"").count(), denied);
    assert!(
        denied >= 2,
        "the stopped edit and the read after containment"
    );
    for mark in ["first harmful", "detected", "contained"] {
        assert!(html.contains(&format!(">{mark}</text>")), "no {mark} mark");
    }
    for lane in [
        "tool calls",
        "decisions",
        "alerts",
        "response",
        "file changes",
    ] {
        assert!(html.contains(&format!(">{lane}</text>")), "no {lane} lane");
    }
    assert!(
        !html.contains("<script"),
        "markup from the record came through"
    );
    assert!(html.contains("&lt;script&gt;alert(&#39;pm&#39;)&lt;/script&gt;"));
    assert!(html.contains(RULE) && html.contains(AGENT));

    rendered_in_chromium(&out);
}

/// The page as Chromium renders it: the sections and the chart are in the DOM, no script
/// element came from the record; and a screenshot for a person to look at.
fn rendered_in_chromium(page: &Path) {
    let bin = std::env::var("BRIG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&bin).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Chromium ({bin}) is missing; scripts/test.sh installs it"
        );
        eprintln!("skipped the Chromium check: {bin} is missing (scripts/test.sh installs it)");
        return;
    }
    let url = format!("file://{}", page.display());
    let profile = tempdir();
    let chromium = |extra: &[&str]| {
        std::process::Command::new(&bin)
            .args(["--headless", "--disable-gpu", "--no-sandbox"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium runs")
    };
    let o = chromium(&["--dump-dom"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dom = stdout(&o);
    for id in [
        "summary",
        "impact",
        "timeline",
        "detection",
        "root-cause",
        "analysis",
        "worked",
        "did-not",
        "actions",
        "reporting",
    ] {
        assert!(
            dom.contains(&format!("<section id=\"{id}\">")),
            "no section {id} in the rendered DOM"
        );
    }
    assert!(dom.contains("<svg") && dom.contains("class=\"timeline-chart\""));
    assert!(dom.contains("class=\"event denied\""));
    assert!(!dom.contains("<script"), "a script element was rendered");

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    // The page beside its screenshot, for a person to open.
    std::fs::copy(page, artifacts.join("postmortem.html")).unwrap();
    let png = artifacts.join("postmortem.png");
    let _ = std::fs::remove_file(&png);
    let o = chromium(&[
        &format!("--screenshot={}", png.display()),
        "--window-size=1200,2400",
        "--hide-scrollbars",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
}

#[test]
fn an_unknown_incident_is_a_clear_error() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let o = run(&data, &["postmortem", "--incident", "INC-nope"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("incident INC-nope not found"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}
