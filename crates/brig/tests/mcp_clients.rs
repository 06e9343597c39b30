//! Real MCP clients in front of `brig mcp-proxy`, end to end.
//!
//! What is real here: the `brig` binary this crate builds (proxy and operator CLI), the
//! reference filesystem server from npm (`@modelcontextprotocol/server-filesystem`, pinned
//! and installed under `target/npm` by `scripts/test.sh`), and two official MCP SDK clients
//! speaking stdio to the proxy: the Rust SDK (`rmcp`) in this process, and the TypeScript
//! SDK (`@modelcontextprotocol/sdk`, same install) in `node tests/clients/ts_client.mjs`.
//! Nothing is mocked; the operator acts through the CLI, as a person would.
//!
//! Both clients play one scenario with the shipped `policies/coding-agent` set (the built-in
//! policy holds deletes, chmods, egress and messages, none of which the filesystem server
//! offers; this set holds writes to CI configuration): initialize and list the tools; read
//! a file; write a secret (`.env`, a policy denial) and Brig's signing key (the fixed guard),
//! neither of which reaches the disk; write CI configuration, held until `brig approvals
//! approve`; `brig contain` and the very next call is refused; `brig release` and the next
//! call works; a last held call left pending when the client closes the session, which
//! Brig cancels. Then the files on disk, every step in the ledger, and `brig ledger verify`.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};

/// Every wait in these tests is bounded by this (a held call, a client's whole run).
const LIMIT: Duration = Duration::from_secs(60);

const NOTES: &str = "hello from the workspace\n";
const CI: &str = "on: push\n";
const CI_ABANDONED: &str = "on: []\n";
const AFTER: &str = "back at work\n";
const APPROVE_REASON: &str = "reviewed the CI change";
const CONTAIN_REASON: &str = "incident drill: stop the agent";
const RELEASE_REASON: &str = "drill over";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn npm_dir() -> PathBuf {
    repo().join("target/npm")
}

fn policy_dir() -> PathBuf {
    repo().join("policies/coding-agent")
}

/// One client's run: its own data directory, workspace and agent id.
struct Scenario {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    ws: PathBuf,
    agent: &'static str,
}

impl Scenario {
    fn new(agent: &'static str) -> Scenario {
        let tmp = tempdir();
        let data = init(tmp.path());
        let ws = tmp.path().join("repo");
        std::fs::create_dir_all(ws.join(".github/workflows")).unwrap();
        std::fs::write(ws.join("notes.md"), NOTES).unwrap();
        Scenario {
            _tmp: tmp,
            data,
            ws,
            agent,
        }
    }

    fn notes(&self) -> PathBuf {
        self.ws.join("notes.md")
    }
    fn secret(&self) -> PathBuf {
        self.ws.join(".env")
    }
    fn brig_key(&self) -> PathBuf {
        self.data.join("keys/ledger.key")
    }
    fn ci(&self) -> PathBuf {
        self.ws.join(".github/workflows/ci.yml")
    }
    fn after(&self) -> PathBuf {
        self.ws.join("after-release.md")
    }

    /// The `tools/call`s of the scenario, in order, exactly as both clients send them.
    fn calls(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("read_text_file", json!({"path": self.notes()})),
            (
                "write_file",
                json!({"path": self.secret(), "content": "TOKEN=stolen\n"}),
            ),
            (
                "write_file",
                json!({"path": self.brig_key(), "content": "x"}),
            ),
            ("write_file", json!({"path": self.ci(), "content": CI})),
            ("read_text_file", json!({"path": self.notes()})),
            (
                "write_file",
                json!({"path": self.after(), "content": AFTER}),
            ),
            (
                "write_file",
                json!({"path": self.ci(), "content": CI_ABANDONED}),
            ),
        ]
    }

    /// The proxy's command line after `brig`.
    fn proxy_args(&self) -> Vec<String> {
        let p = |p: &Path| p.to_str().unwrap().to_string();
        let mut args: Vec<String> = [
            "mcp-proxy",
            "--agent",
            self.agent,
            "--workflow",
            "repo-maintenance",
            "--task",
            "Tidy the notes in the workspace",
            "--approval-timeout",
            "30",
        ]
        .map(String::from)
        .to_vec();
        args.extend([
            "--data".into(),
            p(&self.data),
            "--policy".into(),
            p(&policy_dir()),
            "--".into(),
            "node".into(),
            p(&server_bin()),
            p(&self.ws),
        ]);
        args
    }
}

/// `brig ARGS… --data D`, asserting success, off the async runtime's worker threads.
async fn operator(data: &Path, args: &[&str]) -> Output {
    let (data, args) = (
        data.to_path_buf(),
        args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    );
    let o = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&data, &args)
    })
    .await
    .unwrap();
    assert!(o.status.success(), "brig failed: {}", stderr(&o));
    o
}

/// Why the operator releases the agent the tampering alert contained.
const KEY_RELEASE_REASON: &str = "the key write was part of the test";

/// Waits until an incident of `agent` shows it contained (`brig incidents list --json`).
async fn contained_by_playbook(data: &Path, agent: &str) {
    let deadline = Instant::now() + LIMIT;
    loop {
        let o = operator(data, &["incidents", "list", "--json"]).await;
        if stdout(&o)
            .lines()
            .any(|l| l.contains(agent) && l.contains("contained"))
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the playbook did not contain {agent}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The one pending approval, once it shows in `brig approvals list --json`.
async fn pending_approval(data: &Path) -> Value {
    let deadline = Instant::now() + LIMIT;
    loop {
        let o = operator(data, &["approvals", "list", "--json"]).await;
        let pending: Vec<Value> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|a| a["status"] == "pending")
            .collect();
        if let [one] = pending.as_slice() {
            return one.clone();
        }
        assert!(
            pending.len() < 2,
            "one call held, several pending: {pending:?}"
        );
        assert!(Instant::now() < deadline, "no pending approval appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A tool result as the steps report it (the shape `ts_client.mjs` prints too).
fn outcome(r: &CallToolResult) -> Value {
    let text: Vec<&str> = r
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.as_str()))
        .collect();
    json!({"is_error": r.is_error == Some(true), "text": text.join("\n")})
}

fn params(tool: &'static str, arguments: &Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool).with_arguments(arguments.as_object().unwrap().clone())
}

/// Bounds a future by [`LIMIT`].
async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {LIMIT:?}"))
}

/// The rmcp client plays the scenario; returns one JSON object per step.
async fn rmcp_scenario(sc: &Scenario) -> Vec<Value> {
    let mut steps = Vec::new();
    let step = |name: &str, fields: Value| {
        let mut v = json!({"step": name});
        v.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        v
    };
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_brig"));
    cmd.args(sc.proxy_args()).kill_on_drop(true);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proxy_pid = transport.id().unwrap();
    let client = bounded("initialize", ().serve(transport))
        .await
        .expect("initialize through the proxy");
    let server = client.peer_info().unwrap().server_info.clone().unwrap();
    steps.push(step("initialize", json!({"server": server.name})));

    let tools = bounded("tools/list", client.list_tools(None))
        .await
        .unwrap()
        .tools;
    let tools: Vec<Value> = tools
        .iter()
        .map(|t| json!({"name": t.name, "description": t.description.as_deref().unwrap_or("")}))
        .collect();
    steps.push(step("tools/list", json!({"tools": tools})));

    let calls = sc.calls();
    let call = |i: usize| {
        let (tool, args) = &calls[i];
        let p = params(tool, args);
        let client = &client;
        async move { outcome(&bounded(tool, client.call_tool(p)).await.unwrap()) }
    };
    steps.push(step("read", call(0).await));
    let mut r = call(1).await;
    r["on_disk"] = json!(sc.secret().exists());
    steps.push(step("write_secret", r));
    steps.push(step("write_brig_key", call(2).await));
    // Going for Brig's own key is a critical tampering alert: the playbook contains the
    // agent. The operator has looked, and releases it.
    contained_by_playbook(&sc.data, sc.agent).await;
    operator(
        &sc.data,
        &[
            "release",
            "--agent",
            sc.agent,
            "--reason",
            KEY_RELEASE_REASON,
        ],
    )
    .await;

    // Held for a human: the call is in flight while the operator approves it.
    let held = {
        let (tool, args) = &calls[3];
        let (peer, p) = (client.peer().clone(), params(tool, args));
        tokio::spawn(async move { peer.call_tool(p).await })
    };
    let approval = pending_approval(&sc.data).await;
    let ran_before_approval = sc.ci().exists();
    let id = approval["id"].as_str().unwrap();
    operator(
        &sc.data,
        &["approvals", "approve", id, "--reason", APPROVE_REASON],
    )
    .await;
    let r = bounded("held call", held).await.unwrap().unwrap();
    let mut r = outcome(&r);
    r["approval"] = approval;
    r["ran_before_approval"] = json!(ran_before_approval);
    steps.push(step("held", r));

    // Kill switch: the call made right after `brig contain` exits is refused.
    operator(
        &sc.data,
        &["contain", "--agent", sc.agent, "--reason", CONTAIN_REASON],
    )
    .await;
    let contained = Instant::now();
    let mut r = call(4).await;
    r["latency_ms"] = json!(contained.elapsed().as_secs_f64() * 1000.0);
    steps.push(step("contained", r));

    operator(
        &sc.data,
        &["release", "--agent", sc.agent, "--reason", RELEASE_REASON],
    )
    .await;
    steps.push(step("released", call(5).await));

    // A held call the agent leaves behind: it closes the session while the call waits.
    // Closing stdin ends the session; the proxy flushes the ledger and exits.
    let abandoned = {
        let (tool, args) = &calls[6];
        let (peer, p) = (client.peer().clone(), params(tool, args));
        tokio::spawn(async move { peer.call_tool(p).await })
    };
    let left = pending_approval(&sc.data).await;
    bounded("shutdown", client.cancel()).await.unwrap();
    wait_gone(proxy_pid);
    abandoned.abort();
    steps.push(step("abandoned", json!({"approval": left})));
    steps
}

/// Waits until process `pid` has exited (rmcp reaps its child on shutdown).
fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{pid}")).exists() {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
        {
            return;
        }
        assert!(Instant::now() < deadline, "the proxy {pid} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A child killed if the test gives up on it.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs the TypeScript SDK client; returns its steps (one JSON object per stdout line).
fn ts_scenario(sc: &Scenario) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/ts_client.mjs");
    let sdk = npm_dir().join("node_modules/@modelcontextprotocol/sdk/package.json");
    assert!(
        sdk.exists(),
        "{} is missing: run ./scripts/test.sh, which installs the pinned TypeScript SDK",
        sdk.display()
    );
    let mut child = Reaped(
        Command::new("node")
            .arg(&script)
            .env("BRIG", env!("CARGO_BIN_EXE_brig"))
            .env("BRIG_DATA", &sc.data)
            .env("WORKSPACE", &sc.ws)
            .env("SERVER_BIN", server_bin())
            .env("POLICY", policy_dir())
            .env("AGENT", sc.agent)
            .env("NPM_DIR", npm_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("node runs"),
    );
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.0.stdout.take().unwrap()));
    let err = drain(Box::new(child.0.stderr.take().unwrap()));
    let deadline = Instant::now() + LIMIT + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "ts_client.mjs did not finish in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap(), err.join().unwrap());
    assert!(
        status.success(),
        "ts_client.mjs failed ({status}):\n{out}\n{err}"
    );
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// What the agent saw, step by step (the same for every client).
fn assert_steps(sc: &Scenario, client: &str, steps: &[Value]) {
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "initialize",
            "tools/list",
            "read",
            "write_secret",
            "write_brig_key",
            "held",
            "contained",
            "released",
            "abandoned"
        ],
        "{client}: {steps:#?}"
    );
    let s = |name: &str| steps.iter().find(|s| s["step"] == name).unwrap();
    let refused = |v: &Value| v["is_error"] == json!(true);
    let text = |v: &Value| v["text"].as_str().unwrap_or_default().to_string();

    assert_eq!(s("initialize")["server"], "secure-filesystem-server");

    let tools = s("tools/list")["tools"].as_array().unwrap();
    for name in [
        "read_text_file",
        "write_file",
        "list_directory",
        "move_file",
    ] {
        let t = tools
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{client}: no {name} tool in {tools:#?}"));
        assert!(
            t["description"].as_str().unwrap().len() > 20,
            "{client}: {name} has no description: {t}"
        );
    }

    let r = s("read");
    assert!(!refused(r), "{client}: {r}");
    assert_eq!(text(r), std::fs::read_to_string(sc.notes()).unwrap());
    assert_eq!(text(r), NOTES);

    let r = s("write_secret");
    assert!(refused(r), "{client}: {r}");
    assert!(
        text(r).contains("blocked by policy coding.no-secrets"),
        "{client}: {r}"
    );
    assert_eq!(
        r["on_disk"], false,
        "{client}: the denied write reached the disk"
    );

    let r = s("write_brig_key");
    assert!(refused(r), "{client}: {r}");
    assert!(
        text(r).contains("blocked by policy brig.guard.brig-owned"),
        "{client}: {r}"
    );

    let r = s("held");
    assert_eq!(
        r["ran_before_approval"], false,
        "{client}: ran before approval"
    );
    let a = &r["approval"];
    assert_eq!(a["status"], "pending", "{client}: {a}");
    assert_eq!(a["agent"], sc.agent);
    assert_eq!(a["tool"], "write_file");
    assert_eq!(a["policies"], "coding.ci-config-needs-approval");
    assert!(
        a["actions"]
            .as_str()
            .unwrap()
            .contains(sc.ci().to_str().unwrap()),
        "the operator sees what the call would do: {a}"
    );
    assert!(!refused(r), "{client}: {r}");
    assert!(text(r).contains("Successfully wrote"), "{client}: {r}");

    let r = s("contained");
    assert!(refused(r), "{client}: {r}");
    assert!(
        text(r).contains(&format!("{} is contained", sc.agent))
            && text(r).contains(CONTAIN_REASON)
            && text(r).contains("blocked by policy brig.containment"),
        "{client}: {r}"
    );
    // Reported, not asserted: the machines are noisy; the check is that the very next call
    // was refused.
    println!(
        "{client}: brig contain exited → next call denied in {:.1} ms",
        r["latency_ms"].as_f64().unwrap()
    );

    let r = s("released");
    assert!(!refused(r), "{client}: {r}");
    assert!(text(r).contains("Successfully wrote"), "{client}: {r}");

    let a = &s("abandoned")["approval"];
    assert_eq!(a["status"], "pending", "{client}: {a}");
    assert_ne!(a["id"], s("held")["approval"]["id"]);
}

/// The disk: what was allowed happened, what was refused did not.
fn assert_disk(sc: &Scenario) {
    assert_eq!(std::fs::read_to_string(sc.notes()).unwrap(), NOTES);
    assert!(
        !sc.secret().exists(),
        "the denied secret write reached the disk"
    );
    assert!(
        std::fs::read_to_string(sc.brig_key())
            .unwrap()
            .starts_with("PRIVATE+KEY"),
        "Brig's signing key was overwritten"
    );
    assert_eq!(
        std::fs::read_to_string(sc.ci()).unwrap(),
        CI,
        "the approved write ran, the abandoned one did not"
    );
    assert_eq!(std::fs::read_to_string(sc.after()).unwrap(), AFTER);
}

/// The ledger (and the approval queue): every step, in order, with its arguments and
/// decision; and it verifies.
fn assert_ledger(sc: &Scenario, steps: &[Value]) {
    let approval = |step: &str| {
        let s = steps.iter().find(|s| s["step"] == step).unwrap();
        s["approval"]["id"].as_str().unwrap().to_string()
    };
    let (approved, abandoned) = (approval("held"), approval("abandoned"));
    let o = run(&sc.data, &["approvals", "list", "--all", "--json"]);
    let queue: Vec<(String, String, String)> = stdout(&o)
        .lines()
        .map(|l| {
            let a: Value = serde_json::from_str(l).unwrap();
            let s = |k: &str| a[k].as_str().unwrap_or_default().to_string();
            (s("id"), s("status"), s("reason"))
        })
        .collect();
    assert_eq!(
        queue,
        [
            (approved.clone(), "approved".into(), APPROVE_REASON.into()),
            (
                abandoned.clone(),
                "cancelled".into(),
                "the agent's session ended".into()
            ),
        ]
    );

    let o = run(&sc.data, &["ledger", "show", "--json", "--payloads"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |kind: &str| -> Vec<&Value> {
        rows.iter().filter(|r| r["event"]["kind"] == kind).collect()
    };
    let index = |r: &Value| r["index"].as_u64().unwrap();

    // The session's protocol: initialize and tools/list, and the server's tool list.
    let methods: Vec<&str> = of("protocol.message")
        .iter()
        .filter_map(|r| r["event"]["attrs"]["method"].as_str())
        .collect();
    assert!(
        methods.contains(&"initialize") && methods.contains(&"tools/list"),
        "{methods:?}"
    );
    assert!(
        of("protocol.message")
            .iter()
            .any(|r| r["event"]["attrs"]["direction"] == "server_to_agent"
                && r["payloads"]["message"]["result"]["tools"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["name"] == "write_file"))),
        "the tool list the agent got is recorded"
    );
    assert_eq!(of("agent.prompt").len(), 1);

    // Every call with its arguments, and its decision.
    let calls = of("tool.call");
    let sent: Vec<(&str, &Value)> = calls
        .iter()
        .map(|r| {
            (
                r["event"]["tool"].as_str().unwrap(),
                &r["payloads"]["arguments"],
            )
        })
        .collect();
    let expected = sc.calls();
    let expected: Vec<(&str, &Value)> = expected.iter().map(|(t, a)| (*t, a)).collect();
    assert_eq!(sent, expected, "the calls and their arguments, in order");
    assert_eq!(
        calls[1]["event"]["actions"][0],
        json!({"action": "file.write", "target": sc.secret()}),
        "normalized action of the denied write"
    );
    let decisions = of("policy.decision");
    let effects: Vec<(&str, &str)> = decisions
        .iter()
        .map(|r| {
            (
                r["event"]["decision"]["effect"].as_str().unwrap(),
                r["event"]["decision"]["policies"][0].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        effects,
        [
            ("allow", "coding.repo-read"),
            ("deny", "coding.no-secrets"),
            ("deny", "brig.guard.brig-owned"),
            ("hold", "coding.ci-config-needs-approval"),
            ("deny", "brig.containment"),
            ("allow", "coding.repo-write"),
            ("hold", "coding.ci-config-needs-approval"),
        ]
    );
    for (c, d) in calls.iter().zip(&decisions) {
        assert_eq!(c["event"]["call"], d["event"]["call"], "{c} / {d}");
        assert!(
            index(c) < index(d),
            "the call is recorded before its decision"
        );
    }

    // Only the calls that ran have results, all successful.
    let results: Vec<&Value> = of("tool.result")
        .iter()
        .map(|r| &r["event"]["call"])
        .collect();
    let ran: Vec<&Value> = [0, 3, 5]
        .iter()
        .map(|&i| &calls[i]["event"]["call"])
        .collect();
    assert_eq!(results, ran);
    assert!(of("tool.result")
        .iter()
        .all(|r| r["event"]["attrs"]["status"] == "ok"));

    // The held call: requested, approved by the operator, then run.
    let (req, dec) = (of("approval.request"), of("approval.decision"));
    assert_eq!((req.len(), dec.len()), (2, 2), "{req:#?}\n{dec:#?}");
    assert_eq!(req[0]["event"]["attrs"]["approval"], approved.as_str());
    assert_eq!(req[0]["event"]["attrs"]["event_index"], calls[3]["index"]);
    assert_eq!(dec[0]["event"]["attrs"]["approval"], approved.as_str());
    assert_eq!(dec[0]["event"]["decision"]["effect"], "allow");
    assert_eq!(dec[0]["event"]["decision"]["reason"], APPROVE_REASON);
    let held_result = of("tool.result")[1];
    assert!(index(req[0]) < index(dec[0]) && index(dec[0]) < index(held_result));

    // The abandoned one: requested, then cancelled by Brig when the session ended.
    assert_eq!(req[1]["event"]["attrs"]["approval"], abandoned.as_str());
    assert_eq!(req[1]["event"]["attrs"]["event_index"], calls[6]["index"]);
    assert_eq!(dec[1]["event"]["attrs"]["approval"], abandoned.as_str());
    assert_eq!(dec[1]["event"]["attrs"]["event_index"], calls[6]["index"]);
    assert_eq!(dec[1]["event"]["attrs"]["status"], "cancelled");
    assert_eq!(dec[1]["event"]["decision"]["effect"], "deny");
    assert_eq!(
        dec[1]["event"]["decision"]["reason"],
        "the agent's session ended"
    );
    assert!(index(req[1]) < index(dec[1]));

    // Containment and release, with their reasons, around the refused call.
    let ops = of("operator.action");
    let ops_seen: Vec<(&str, &str, &str)> = ops
        .iter()
        .map(|r| {
            (
                r["event"]["attrs"]["action"].as_str().unwrap(),
                r["event"]["attrs"]["scope"].as_str().unwrap(),
                r["payloads"]["reason"].as_str().unwrap(),
            )
        })
        .collect();
    let scope = format!("agent {}", sc.agent);
    assert_eq!(
        ops_seen,
        [
            ("release", scope.as_str(), KEY_RELEASE_REASON),
            ("contain", scope.as_str(), CONTAIN_REASON),
            ("release", scope.as_str(), RELEASE_REASON)
        ]
    );
    assert!(index(ops[1]) < index(calls[4]) && index(calls[4]) < index(ops[2]));
    assert!(index(ops[2]) < index(calls[5]));

    let o = run(&sc.data, &["ledger", "verify"]);
    assert!(o.status.success(), "ledger verify: {}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_sdk_client_through_the_proxy() {
    let sc = Scenario::new("rmcp-agent");
    let t = Instant::now();
    let steps = bounded("the rmcp scenario", rmcp_scenario(&sc)).await;
    assert_steps(&sc, "rmcp", &steps);
    assert_disk(&sc);
    assert_ledger(&sc, &steps);
    println!("rmcp: scenario and checks in {:.2?}", t.elapsed());
}

#[test]
fn typescript_sdk_client_through_the_proxy() {
    let sc = Scenario::new("ts-agent");
    let t = Instant::now();
    let steps = ts_scenario(&sc);
    assert_steps(&sc, "typescript", &steps);
    assert_disk(&sc);
    assert_ledger(&sc, &steps);
    println!("typescript: scenario and checks in {:.2?}", t.elapsed());
}
