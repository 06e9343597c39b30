//! The web console end to end in real headless Chromium (issue 9).
//!
//! What is real: `brig serve` (the console is served by it), Debian's Chromium driven by
//! `playwright-core` (pinned in scripts/test.sh, installed under `target/npm`), the agents —
//! `brig mcp-proxy` processes on the server's data directory in front of the MCP reference
//! filesystem server and `mcp-server-commands`, driven by the official TypeScript MCP SDK
//! client —, the tokens (made with `brig tokens create`), the files on disk. The script
//! `tests/console/e2e.mjs` plays what a responder does in the pages; this test prepares the
//! data directory, starts the server, runs the script, then checks what a user would check
//! afterwards: the files, the downloaded evidence bundle (`brig evidence verify`), and the
//! ledger (every console write recorded with the signed-in token's name; the auditor's only
//! record is the evidence it exported).
//!
//! Skipped, with the reason, only when Chromium or the npm packages are missing and `CI` is
//! not set; in CI a missing prerequisite fails.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The e2e script's run is bounded by this (it has a watchdog of its own, shorter).
const LIMIT: Duration = Duration::from_secs(360);
/// The benchmark's (a debug build's 100,000-event pages take seconds each).
const BENCH_LIMIT: Duration = Duration::from_secs(900);

const NOTES: &str = "# Notes\nbuy milk\n";
const SECRET: &str = "PASSWORD=hunter2\n";
const OLD: &str = "stale\n";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chromium() -> PathBuf {
    std::env::var_os("BRIG_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/usr/bin/chromium".into())
}

/// The things the browser tests need; `false` (after saying what is missing) when one is
/// absent outside CI. In CI (`CI` set) a missing one fails the test.
pub fn prerequisites() -> bool {
    let mut missing = Vec::new();
    if !chromium().exists() {
        missing.push(format!("Chromium ({})", chromium().display()));
    }
    for pkg in [
        "playwright-core/index.mjs",
        "@modelcontextprotocol/sdk/dist/esm/client/index.js",
        "@modelcontextprotocol/server-filesystem/dist/index.js",
        "mcp-server-commands/build/index.js",
    ] {
        if !node_modules().join(pkg).exists() {
            missing.push(format!("{} (npm)", pkg.split("/dist").next().unwrap()));
        }
    }
    if Command::new("node").arg("--version").output().is_err() {
        missing.push("node".into());
    }
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    assert!(
        std::env::var_os("CI").is_none(),
        "missing for the console test: {what}; scripts/test.sh installs them"
    );
    eprintln!("SKIPPED the console browser test: missing {what} (scripts/test.sh installs them)");
    false
}

fn token(data: &Path, name: &str, role: &str, agent: Option<&str>) -> String {
    let mut args = vec!["tokens", "create", "--name", name, "--role", role];
    if let Some(a) = agent {
        args.extend(["--agent", a]);
    }
    let o = run(data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// Runs `node SCRIPT` with `envs`, bounded by `limit`; its stdout lines as JSON, or a
/// failure that shows everything it printed.
pub fn node(script: &Path, envs: &[(&str, &std::ffi::OsStr)], limit: Duration) -> Vec<Value> {
    let mut child = Command::new("node")
        .arg(script)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .env("BRIG_CHROMIUM", chromium())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    let (out, err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(out)), read(Box::new(err)));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish within {limit:?}", script.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "{} failed ({status}):\n--- stdout\n{out}\n--- stderr\n{err}",
        script.display()
    );
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn step<'a>(steps: &'a [Value], name: &str) -> &'a Value {
    steps
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {steps:#?}"))
}

/// The ledger's events (the `event` objects of `brig ledger show --json`).
fn ledger(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json", "--payloads"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

/// Issue 9's end-to-end case; see the module docs and `tests/console/e2e.mjs`.
#[test]
fn a_responder_works_an_incident_in_the_console_in_headless_chromium() {
    if !prerequisites() {
        return;
    }
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("workspace");
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    std::fs::write(ws.join("notes.md"), NOTES).unwrap();
    std::fs::write(ws.join("secrets/db.env"), SECRET).unwrap();
    let shell_ws = tmp.path().join("shell-workspace");
    std::fs::create_dir_all(&shell_ws).unwrap();
    std::fs::write(shell_ws.join("old.txt"), OLD).unwrap();
    // The register classifies the secrets; containment is left to the responder (the
    // default playbook would contain at once, and the test contains from the page).
    let register = tmp.path().join("brig.toml");
    std::fs::write(
        &register,
        format!(
            "[playbook]\ncontain_at = \"reportable_breach\"\n\n[[resource]]\nname = \"vault\"\n\
             paths = [\"{}/secrets/**\"]\nclasses = [\"secrets\"]\n",
            ws.display()
        ),
    )
    .unwrap();
    // The shell agent's policy: Brig's built-in set (whose approval gate holds deletes) and
    // one rule letting it run programs, which the built-in set never does.
    let shell_policy = tmp.path().join("shell-policy");
    std::fs::create_dir_all(&shell_policy).unwrap();
    let builtin = std::fs::read_to_string(repo().join("crates/brig-policy/src/builtin.cedar"))
        .expect("the built-in policy set");
    std::fs::write(
        shell_policy.join("policy.cedar"),
        format!(
            "{builtin}\n@id(\"e2e.run-programs\")\npermit (principal, action == Action::\"proc.exec\", resource);\n"
        ),
    )
    .unwrap();

    let operator = token(&data, "alice", "operator", None);
    let auditor = token(&data, "audit-firm", "auditor", None);
    let agent = token(&data, "gw-notes", "agent", Some("notes-agent"));
    let server = Server::spawn(&data, &["--register".as_ref(), register.as_os_str()]);
    let downloads = tmp.path().join("downloads");
    let artifacts = repo().join("target/artifacts");
    let brig_bin = PathBuf::from(env!("CARGO_BIN_EXE_brig"));
    let steps = node(
        &repo().join("crates/brig/tests/console/e2e.mjs"),
        &[
            ("BRIG", brig_bin.as_os_str()),
            ("BRIG_DATA", data.as_os_str()),
            ("BASE", server.base.as_ref()),
            ("OPERATOR_TOKEN", operator.as_ref()),
            ("AUDITOR_TOKEN", auditor.as_ref()),
            ("AGENT_TOKEN", agent.as_ref()),
            ("WORKSPACE", ws.as_os_str()),
            ("SHELL_WORKSPACE", shell_ws.as_os_str()),
            ("REGISTER", register.as_os_str()),
            ("SHELL_POLICY", shell_policy.as_os_str()),
            ("NPM_DIR", repo().join("target/npm").as_os_str()),
            ("DOWNLOADS", downloads.as_os_str()),
            ("ARTIFACTS", artifacts.as_os_str()),
        ],
        LIMIT,
    );
    assert!(server.stop().success());
    let done = step(&steps, "done");
    let incident = done["incident"].as_str().unwrap();

    // The files: the rollback put the workspace back; the approved delete ran.
    assert_eq!(std::fs::read_to_string(ws.join("notes.md")).unwrap(), NOTES);
    assert_eq!(
        std::fs::read_to_string(ws.join("secrets/db.env")).unwrap(),
        SECRET
    );
    assert!(!shell_ws.join("old.txt").exists(), "the approved rm ran");
    // The auditor's forged writes (release, rollback apply) were all 403.
    let forged = step(&steps, "auditor")["forged"]
        .as_object()
        .unwrap()
        .clone();
    assert!(forged.len() >= 2, "{forged:?}");
    assert!(forged.values().all(|s| s == 403), "{forged:?}");
    // The contained agent's next call was refused by the kill switch.
    let next = &step(&steps, "contained")["next_call"];
    assert_eq!(next["is_error"], true, "{next}");

    // The downloaded bundle is a real one: it verifies offline against the ledger's key.
    let bundle = PathBuf::from(done["bundle"].as_str().unwrap());
    let vkey = data.join("keys/ledger.vkey");
    let o = brig()
        .args(["evidence", "verify"])
        .arg(&bundle)
        .arg("--key")
        .arg(&vkey)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "the downloaded bundle does not verify: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let o = brig()
        .args(["evidence", "show", "--json"])
        .arg(&bundle)
        .output()
        .unwrap();
    let shown: Value = serde_json::from_str(&stdout(&o)).unwrap_or(Value::Null);
    assert_eq!(
        shown["manifest"]["scope"]["incident"],
        incident,
        "the bundle is the incident's: {}",
        stdout(&o)
    );

    // The ledger: every console write recorded with the operator token's name as actor, the
    // auditor's export alone recorded with its own, and the whole ledger verifies.
    let events = ledger(&data);
    let by = |actor: &str| -> Vec<&Value> {
        events
            .iter()
            .filter(|e| e.to_string().contains(actor))
            .collect()
    };
    let alice = by("token:alice");
    let text = |v: &[&Value]| {
        v.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let alice_text = text(&alice);
    for what in [
        "the agent changed secrets outside its task",
        "removing the stale file is the task",
    ] {
        assert!(
            alice_text.contains(what),
            "no `{what}` by alice:\n{alice_text}"
        );
    }
    assert!(
        alice_text.contains("rollback"),
        "rollback by alice:\n{alice_text}"
    );
    let audit: Vec<&str> = by("token:audit-firm")
        .iter()
        .map(|e| e["attrs"]["action"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(audit, ["evidence.export"], "the auditor changed something");
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The agent is still contained: the auditor's forged release did nothing.
    let switch: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["kind"] == "operator.action"
                && e["agent"] == "notes-agent"
                && ["contain", "release"].contains(&e["attrs"]["action"].as_str().unwrap_or(""))
        })
        .collect();
    let last = switch.last().unwrap_or_else(|| {
        let ops: Vec<&Value> = events
            .iter()
            .filter(|e| e["kind"] == "operator.action")
            .collect();
        panic!("no containment of notes-agent in the ledger: {ops:#?}")
    });
    assert_eq!(last["attrs"]["action"], "contain", "{switch:#?}");
    assert!(
        last["attrs"]["actor"].as_str().unwrap().contains("alice"),
        "{last:#}"
    );
}

/// `n` events of one agent's session as JSONL: tool calls with their decisions and results,
/// reads and writes in turn (what a busy agent's session looks like in the ledger).
fn session_lines(path: &Path, agent: &str, session: &str, n: usize) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        let call = (i / 3).to_string();
        let file = format!("/srv/repos/billing/src/mod_{}.py", (i / 3) % 500);
        let (tool, action) = if (i / 3) % 10 == 9 {
            ("write_file", "file.write")
        } else {
            ("read_text_file", "file.read")
        };
        let base = serde_json::json!({"source": "mcp-proxy", "agent": agent, "workflow": "billing",
                                      "session": session, "tool": tool, "call": call});
        let mut e = base.as_object().unwrap().clone();
        let extra = match i % 3 {
            0 => serde_json::json!({"kind": "tool.call",
                "actions": [{"action": action, "target": file}],
                "payload": {"arguments": {"path": file}}}),
            1 => serde_json::json!({"kind": "policy.decision",
                "decision": {"effect": "allow", "policies": ["builtin.served-read"]}}),
            _ => serde_json::json!({"kind": "tool.result", "attrs": {"status": "ok"},
                "payload": {"result": format!("{} lines of output", i % 300)}}),
        };
        e.extend(extra.as_object().unwrap().clone());
        writeln!(f, "{}", Value::Object(e)).unwrap();
    }
    f.flush().unwrap();
}

/// A data directory holding two incidents, each opened by a person's report on one session:
/// `big` events and `small` events. Returns (tmp, data, big incident, small incident).
fn bench_incidents(big: usize, small: usize) -> (tempfile::TempDir, PathBuf, String, String) {
    let tmp = tempdir();
    let data = init(tmp.path());
    let mut ids = Vec::new();
    for (agent, n) in [("bench-agent", big), ("baseline-agent", small)] {
        let file = tmp.path().join(format!("{agent}.jsonl"));
        let session = format!("{agent}-session");
        session_lines(&file, agent, &session, n);
        let start = Instant::now();
        let o = run(&data, &["ingest", file.to_str().unwrap()]);
        assert!(o.status.success(), "ingest: {}", stderr(&o));
        eprintln!("ingested {n} events of {agent} in {:?}", start.elapsed());
        let o = run(
            &data,
            &[
                "report-incident",
                "--agent",
                agent,
                "--session",
                &session,
                "--summary",
                "the agent rewrote billing modules it was not asked to touch",
                "--json",
            ],
        );
        assert!(o.status.success(), "report-incident: {}", stderr(&o));
        let list = stdout(&run(&data, &["incidents", "list", "--json"]));
        let id = list
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|i| i["agent"] == agent)
            .unwrap_or_else(|| panic!("no incident for {agent}: {list}"))["id"]
            .as_str()
            .unwrap()
            .to_string();
        ids.push(id);
    }
    let small_id = ids.pop().unwrap();
    (tmp, data, ids.pop().unwrap(), small_id)
}

/// Runs `tests/console/bench.mjs` on the two incidents; its figures.
fn bench(big: usize, small: usize, runs: usize) -> Value {
    let (_tmp, data, big_id, small_id) = bench_incidents(big, small);
    let operator = token(&data, "bench", "operator", None);
    let server = Server::start(&data);
    let incidents = serde_json::json!({
        format!("{big}_events"): big_id,
        format!("{small}_events"): small_id,
    })
    .to_string();
    let artifacts = repo().join("target/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    let out = node(
        &repo().join("crates/brig/tests/console/bench.mjs"),
        &[
            ("BASE", server.base.as_ref()),
            ("OPERATOR_TOKEN", operator.as_ref()),
            ("INCIDENTS", incidents.as_ref()),
            ("RUNS", runs.to_string().as_ref()),
            ("NPM_DIR", repo().join("target/npm").as_os_str()),
            ("ARTIFACTS", artifacts.as_os_str()),
        ],
        BENCH_LIMIT,
    );
    assert!(server.stop().success());
    let figures = out.last().expect("bench.mjs printed its figures").clone();
    std::fs::write(
        artifacts.join(format!("console-bench-{big}.json")),
        serde_json::to_string_pretty(&figures).unwrap(),
    )
    .unwrap();
    figures
}

/// The benchmark of BENCHMARKS.md: an incident of 100,000 events (`BRIG_CONSOLE_BENCH_EVENTS`
/// to change it) beside one of 100, 5 loads each. Prints the figures (and writes them to
/// target/artifacts/console-bench-N.json). Run:
/// `cargo test --release -p brig --test console -- --ignored --nocapture console_benchmark`
#[test]
#[ignore = "a benchmark: run it with --ignored (see BENCHMARKS.md)"]
fn console_benchmark() {
    if !prerequisites() {
        return;
    }
    let n = std::env::var("BRIG_CONSOLE_BENCH_EVENTS")
        .ok()
        .map(|v| v.parse().expect("BRIG_CONSOLE_BENCH_EVENTS is a number"))
        .unwrap_or(100_000);
    let figures = bench(n, 100, 5);
    println!("{}", serde_json::to_string_pretty(&figures).unwrap());
}

/// The benchmark's harness at a small size, so CI keeps it working: both incident pages
/// render their first page of the timeline (200 rows, or all of a smaller one), page and zoom,
/// and every figure is measured. No timing is asserted.
#[test]
fn console_benchmark_harness_measures_both_incidents() {
    if !prerequisites() {
        return;
    }
    let figures = bench(1_000, 100, 1);
    let inc = &figures["incidents"];
    let first = |label: &str| inc[label]["first_render"]["median"].clone();
    assert_eq!(first("1000_events")["rows"], 200, "{figures:#}");
    // The 100 events and the person's report, which joined the session.
    assert_eq!(first("100_events")["rows"], 101, "{figures:#}");
    for label in ["1000_events", "100_events"] {
        let m = first(label);
        for k in [
            "table_ms",
            "painted_ms",
            "ttfb_ms",
            "load_ms",
            "js_heap_used",
            "nodes",
        ] {
            assert!(
                m[k].as_f64().is_some_and(|v| v > 0.0),
                "{label}: {k} not measured: {figures:#}"
            );
        }
    }
    assert!(
        inc["1000_events"]["next_page"].is_object(),
        "the second page of a 1,000-event timeline: {figures:#}"
    );
}
