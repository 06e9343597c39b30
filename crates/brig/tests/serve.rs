//! `brig serve`: the real server process over loopback, called with each role's token.

mod common;
use common::*;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::{json, Value};

/// A Cedar policy directory under `tmp` holding `text`.
fn policies(tmp: &Path, text: &str) -> std::path::PathBuf {
    let dir = tmp.join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("p.cedar"), text).unwrap();
    dir
}

/// Permits everything: the tests exercise what comes after policy.
const PERMIT_ALL: &str = "permit (principal, action, resource);\n";

fn token(data: &Path, name: &str, role: &str, agent: Option<&str>) -> String {
    let mut args = vec!["tokens", "create", "--name", name, "--role", role];
    if let Some(a) = agent {
        args.extend(["--agent", a]);
    }
    let o = run(data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// One request: status and JSON body (Null when the body is not JSON).
fn call(
    rt: &tokio::runtime::Runtime,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut req = match method {
            "GET" => client.get(url),
            _ => client.post(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    })
}

fn event(agent: &str) -> Value {
    json!({"source": "sdk", "agent": agent, "kind": "tool.call", "tool": "read_file",
           "session": "s1", "actions": [{"action": "file.read", "target": "/srv/a.txt"}]})
}

/// Every endpoint with every role: agents reach only their own ingest and decide; auditors
/// read; operators do everything; no token or a revoked one is 401 at once. Containment set
/// through the API denies the agent's next decision, and the ledger names the token.
#[test]
fn each_role_reaches_only_its_endpoints_and_containment_takes_effect() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let agent = token(&data, "gw-host1", "agent", Some("bot-a"));
    let operator = token(&data, "alice", "operator", None);
    let auditor = token(&data, "audit-firm", "auditor", None);
    let server = Server::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);

    // Unauthenticated endpoints.
    assert_eq!(call(&rt, "GET", &url("/healthz"), None, None).0, 200);
    let (s, ready) = call(&rt, "GET", &url("/readyz"), None, None);
    assert_eq!((s, ready["ready"].clone()), (200, json!(true)));
    let (s, doc) = call(&rt, "GET", &url("/v1/openapi.json"), None, None);
    assert_eq!(s, 200);
    for p in [
        "/v1/events",
        "/v1/decide",
        "/v1/traces",
        "/v1/containment",
        "/v1/containment/release",
        "/v1/incidents",
        "/v1/ledger/checkpoint",
    ] {
        assert!(
            doc["paths"][p].is_object(),
            "{p} missing from the OpenAPI document"
        );
    }

    let ingest_own = json!({"events": [event("bot-a")]});
    let ingest_other = json!({"events": [event("bot-b")]});
    // An agent forging the operators' word (an erasure record is an operator action) or an
    // incident's lifecycle is refused even under its own name.
    let forged = |kind: &str| {
        json!({"events": [{"source": "sdk", "agent": "bot-a", "kind": kind, "session": "s1",
                           "attrs": {"action": "erase", "scope": "agent:bot-a"}}]})
    };
    let decide_own =
        json!({"agent": "bot-a", "tool": "read_file", "arguments": {"path": "/srv/a.txt"}});
    let decide_other =
        json!({"agent": "bot-b", "tool": "read_file", "arguments": {"path": "/srv/a.txt"}});
    let contain_b = json!({"scope": "agent:bot-b", "reason": "role test"});
    let otlp_own = json!({"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "00f067aa0ba902b7",
        "startTimeUnixNano": "1765000000000000000", "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
            {"key": "gen_ai.agent.name", "value": {"stringValue": "bot-a"}}]}]}]}]});
    type Case<'a> = (&'a str, &'a str, Option<Value>, [u16; 3]);
    // Expected status for [agent, operator, auditor].
    let cases: Vec<Case> = vec![
        (
            "POST",
            "/v1/events",
            Some(ingest_own.clone()),
            [200, 200, 403],
        ),
        (
            "POST",
            "/v1/events",
            Some(ingest_other.clone()),
            [403, 200, 403],
        ),
        (
            "POST",
            "/v1/events",
            Some(forged("operator.action")),
            [403, 200, 403],
        ),
        (
            "POST",
            "/v1/events",
            Some(forged("incident.transition")),
            [403, 200, 403],
        ),
        (
            "POST",
            "/v1/events",
            Some(forged("response.action")),
            [403, 200, 403],
        ),
        (
            "POST",
            "/v1/decide",
            Some(decide_own.clone()),
            [200, 200, 403],
        ),
        (
            "POST",
            "/v1/decide",
            Some(decide_other.clone()),
            [403, 200, 403],
        ),
        // OTLP/JSON spans of bot-a (an agent token's own; another agent's are refused in the
        // answer's partialSuccess, see tests/otlp.rs).
        (
            "POST",
            "/v1/traces",
            Some(otlp_own.clone()),
            [200, 200, 403],
        ),
        ("GET", "/v1/containment", None, [403, 200, 200]),
        (
            "POST",
            "/v1/containment",
            Some(contain_b.clone()),
            [403, 200, 403],
        ),
        (
            "POST",
            "/v1/containment/release",
            Some(contain_b.clone()),
            [403, 200, 403],
        ),
        ("GET", "/v1/incidents", None, [403, 200, 200]),
        ("GET", "/v1/ledger/checkpoint", None, [403, 200, 200]),
        ("GET", "/v1/whoami", None, [200, 200, 200]),
        ("GET", "/v1/alerts", None, [403, 200, 200]),
        ("GET", "/v1/approvals", None, [403, 200, 200]),
        ("GET", "/v1/approvals/nope", None, [404, 404, 404]),
        (
            "POST",
            "/v1/approvals/nope/approve",
            Some(json!({"reason": "r"})),
            [403, 404, 403],
        ),
        (
            "POST",
            "/v1/evidence/export",
            Some(json!({"agent": "bot-a"})),
            [403, 200, 200],
        ),
        (
            "POST",
            "/v1/rollback/plan",
            Some(json!({"agent": "bot-a"})),
            [403, 200, 200],
        ),
        (
            "POST",
            "/v1/rollback/verify",
            Some(json!({"agent": "bot-a"})),
            [403, 200, 200],
        ),
        (
            "POST",
            "/v1/rollback/apply",
            Some(json!({"agent": "bot-a", "dry_run": true})),
            [403, 200, 403],
        ),
    ];
    // A checkpoint exists for the checkpoint endpoint to return.
    assert!(run(&data, &["ledger", "checkpoint"]).status.success());
    for (method, path, body, want) in &cases {
        for (tok, (role, want)) in [&agent, &operator, &auditor]
            .iter()
            .zip(["agent", "operator", "auditor"].iter().zip(want))
        {
            let (s, b) = call(&rt, method, &url(path), Some(tok), body.clone());
            assert_eq!(s, *want, "{method} {path} as {role}: {b}");
        }
        let (s, _) = call(&rt, method, &url(path), None, body.clone());
        assert_eq!(s, 401, "{method} {path} without a token");
        let (s, _) = call(
            &rt,
            method,
            &url(path),
            Some("brig_not-a-token"),
            body.clone(),
        );
        assert_eq!(s, 401, "{method} {path} with an unknown token");
    }

    // The kill switch through the API: the agent's next decision is a denial, and the agent
    // cannot lift it.
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/containment"),
        Some(&operator),
        Some(json!({"scope": "agent:bot-a", "reason": "exfiltration suspected"})),
    );
    assert_eq!(s, 200);
    let (s, d) = call(
        &rt,
        "POST",
        &url("/v1/decide"),
        Some(&agent),
        Some(decide_own.clone()),
    );
    assert_eq!((s, d["effect"].clone()), (200, json!("deny")), "{d}");
    assert!(d["reason"].as_str().unwrap().contains("token:alice"), "{d}");
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/containment/release"),
        Some(&agent),
        Some(json!({"scope": "agent:bot-a", "reason": "let me out"})),
    );
    assert_eq!(s, 403);
    // Bad input names what was wrong.
    let (s, b) = call(
        &rt,
        "POST",
        &url("/v1/containment"),
        Some(&operator),
        Some(json!({"scope": "robot:x", "reason": "r"})),
    );
    assert_eq!(s, 400);
    assert!(b["error"].as_str().unwrap().contains("robot:x"), "{b}");
    let (s, b) = call(
        &rt,
        "POST",
        &url("/v1/events"),
        Some(&operator),
        Some(json!({"events": [event("bot-a"), {"agent": "x"}]})),
    );
    assert_eq!(s, 400);
    assert!(b["error"].as_str().unwrap().starts_with("events[1]"), "{b}");

    // Revoked: refused from the next request on.
    assert!(run(&data, &["tokens", "revoke", "gw-host1"])
        .status
        .success());
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/events"),
        Some(&agent),
        Some(ingest_own),
    );
    assert_eq!(s, 401);

    assert!(server.stop().success(), "SIGTERM stops the server cleanly");
    // Everything it recorded verifies; the operator's order names the token.
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = run(&data, &["ledger", "show", "--json"]);
    let ledger = stdout(&o);
    assert!(
        ledger.lines().any(|l| l.contains("\"action\":\"contain\"")
            && l.contains("token:alice")
            && l.contains("agent bot-a\"")),
        "{ledger}"
    );
    let o = run(&data, &["tokens", "list", "--json"]);
    let list: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let revoked = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "gw-host1")
        .unwrap();
    assert!(revoked["revoked_nanos"].is_i64(), "{list}");
    assert!(!stdout(&o).contains("brig_"), "secrets are never listed");
}

#[test]
fn tokens_refuse_bad_names_and_agent_tokens_without_an_agent() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let o = run(
        &data,
        &["tokens", "create", "--name", "a b", "--role", "operator"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("token name `a b`"), "{}", stderr(&o));
    let o = run(
        &data,
        &["tokens", "create", "--name", "gw", "--role", "agent"],
    );
    assert!(stderr(&o).contains("--agent"), "{}", stderr(&o));
    token(&data, "gw", "agent", Some("bot"));
    let o = run(
        &data,
        &["tokens", "create", "--name", "gw", "--role", "auditor"],
    );
    assert!(stderr(&o).contains("exists already"), "{}", stderr(&o));
}

/// Schemathesis (from PyPI; scripts/test.sh installs it and sets BRIG_SCHEMATHESIS) generates
/// requests from the OpenAPI document — valid, invalid and edge cases — with an operator's
/// token: the server never answers with a 5xx.
#[test]
fn schemathesis_finds_no_server_error() {
    let st = std::env::var("BRIG_SCHEMATHESIS")
        .expect("BRIG_SCHEMATHESIS is not set: run ./scripts/test.sh, which installs schemathesis");
    let tmp = tempdir();
    let data = init(tmp.path());
    let operator = token(&data, "fuzz", "operator", None);
    assert!(run(&data, &["ledger", "checkpoint"]).status.success());
    let server = Server::start(&data);
    let o = std::process::Command::new(st)
        .arg("run")
        .arg(format!("{}/v1/openapi.json", server.base))
        .args(["--checks", "not_a_server_error", "--max-examples", "40"])
        .args(["--generation-deterministic", "--workers", "1"])
        // The SSE stream never ends by design (it has its own test).
        .args(["--exclude-path", "/v1/stream"])
        .arg("--header")
        .arg(format!("Authorization: Bearer {operator}"))
        .env("NO_COLOR", "1")
        // Its cache goes into the working directory: keep it out of the checkout.
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Every operation the document lists (but the stream) was exercised.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (_, doc) = call(
        &rt,
        "GET",
        &format!("{}/v1/openapi.json", server.base),
        None,
        None,
    );
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(p, _)| p.as_str() != "/v1/stream")
        .map(|(_, ops)| ops.as_object().unwrap().len())
        .sum();
    assert!(operations >= 13, "{doc}");
    assert!(
        out.contains(&format!("Tested: {operations}")),
        "every one of the {operations} operations was exercised: {out}"
    );
    assert!(server.stop().success());
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}", stdout(&o));
}

/// 16 agents, each with its own token, post `per_agent` events in batches; returns the ids
/// the server acknowledged. Stops early (without failing) once the server is gone.
fn load(base: &str, tokens: &[String], per_agent: usize, batch: usize) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let mut tasks = Vec::new();
        for (a, tok) in tokens.iter().enumerate() {
            let (client, tok, url) = (client.clone(), tok.clone(), format!("{base}/v1/events"));
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for b in 0..per_agent / batch {
                    let events: Vec<Value> = (0..batch)
                        .map(|i| {
                            json!({"source": "load", "agent": format!("agent-{a}"), "kind": "tool.call",
                                   "tool": "bash", "session": format!("s{a}"), "call": format!("{b}-{i}"),
                                   "payload": {"arguments": {"command": format!("echo {a} {b} {i}")}}})
                        })
                        .collect();
                    let res = client
                        .post(&url)
                        .bearer_auth(&tok)
                        .json(&json!({"events": events}))
                        .send()
                        .await;
                    let Ok(res) = res else { break };
                    if !res.status().is_success() {
                        break;
                    }
                    let Ok(body) = res.json::<Value>().await else { break };
                    for r in body["recorded"].as_array().unwrap() {
                        acked.push(r["id"].as_str().unwrap().to_string());
                    }
                }
                acked
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    })
}

fn ledger_ids(data: &Path) -> std::collections::HashSet<String> {
    let o = run(data, &["ledger", "show", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["event"]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn agent_tokens(data: &Path) -> Vec<String> {
    (0..16)
        .map(|a| {
            token(
                data,
                &format!("gw-{a}"),
                "agent",
                Some(&format!("agent-{a}")),
            )
        })
        .collect()
}

/// 16 concurrent agents, 200,000 events over loopback: every one acknowledged is recorded
/// exactly once and the ledger verifies.
#[test]
fn a_loopback_load_loses_no_event() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let tokens = agent_tokens(&data);
    let server = Server::start(&data);
    let acked = load(&server.base, &tokens, 12_500, 500);
    assert_eq!(acked.len(), 200_000);
    assert!(server.stop().success());
    let ids = ledger_ids(&data);
    assert_eq!(ids.len(), 200_000);
    assert!(acked.iter().all(|id| ids.contains(id)));
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}", stdout(&o));
}

/// SIGKILL in the middle of the load: after it, every event the server had acknowledged is
/// in the ledger, the ledger verifies, and a restarted server takes events again.
#[test]
fn a_server_killed_under_load_keeps_every_acknowledged_event() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let tokens = agent_tokens(&data);
    let mut server = Server::start(&data);
    let base = server.base.clone();
    let pid = server.child.id() as i32;
    let killer = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // SAFETY: kill(2) from another thread, which cannot borrow the `Child` the server
        // holds; the pid stays the server's until the main thread waits for it.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    });
    let acked = load(&base, &tokens, 12_500, 250);
    killer.join().unwrap();
    server.child.wait().unwrap();
    assert!(
        !acked.is_empty() && acked.len() < 200_000,
        "killed mid-load: {} acked",
        acked.len()
    );
    let ids = ledger_ids(&data);
    let lost: Vec<&String> = acked.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost", lost.len());
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}", stdout(&o));
    // Back up: it takes events again.
    let server = Server::start(&data);
    let more = load(&server.base, &tokens[..1], 500, 500);
    assert_eq!(more.len(), 500);
    assert!(server.stop().success());
}

/// Reads an SSE response until `want` appears in the text (or 10 s pass); returns the text.
fn read_until(rt: &tokio::runtime::Runtime, res: &mut reqwest::Response, want: &str) -> String {
    rt.block_on(async {
        let mut text = String::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
        while !text.contains(want) {
            match tokio::time::timeout_at(deadline, res.chunk()).await {
                Ok(Ok(Some(c))) => text.push_str(&String::from_utf8_lossy(&c)),
                _ => break,
            }
        }
        text
    })
}

/// `/v1/stream` follows the ledger live: a containment order made through the API reaches a
/// follower as a `containment` event; an agent's stream carries its own events only.
#[test]
fn the_stream_carries_containment_and_only_an_agents_own_events() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let agent = token(&data, "gw", "agent", Some("bot-a"));
    let operator = token(&data, "alice", "operator", None);
    let auditor = token(&data, "audit", "auditor", None);
    let server = Server::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    let open = |tok: &str| {
        rt.block_on(
            reqwest::Client::new()
                .get(url("/v1/stream"))
                .bearer_auth(tok)
                .send(),
        )
        .unwrap()
    };
    let mut follower = open(&auditor);
    assert_eq!(follower.status().as_u16(), 200);
    let mut own = open(&agent);
    assert_eq!(call(&rt, "GET", &url("/v1/stream"), None, None).0, 401);

    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/events"),
        Some(&operator),
        Some(json!({"events": [event("bot-b"), event("bot-a")]})),
    );
    assert_eq!(s, 200);
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/containment"),
        Some(&operator),
        Some(json!({"scope": "agent:bot-a", "reason": "stream test"})),
    );
    assert_eq!(s, 200);

    let seen = read_until(&rt, &mut follower, "event: containment");
    assert!(
        seen.contains("event: containment") && seen.contains("agent bot-a"),
        "{seen}"
    );
    assert!(
        seen.contains("\"agent\":\"bot-b\""),
        "the auditor sees every agent: {seen}"
    );
    let mine = read_until(&rt, &mut own, "event: containment");
    assert!(mine.contains("\"agent\":\"bot-a\""), "{mine}");
    assert!(
        !mine.contains("\"agent\":\"bot-b\""),
        "another agent's event leaked: {mine}"
    );
    drop((follower, own));
    assert!(server.stop().success());
}

/// Two `brig serve` processes on one PostgreSQL database, each the gateway of agents on its
/// own host (`/v1/decide`): containment ordered through server A stops the agent at server
/// B on its very next call, and both servers' records make one ledger that verifies.
#[test]
fn containment_through_one_server_stops_the_agent_at_the_other() {
    if backend() != "postgresql" {
        eprintln!("not run on {}: needs servers sharing PostgreSQL", backend());
        return;
    }
    let tmp = tempdir();
    let data_a = init(tmp.path());
    let url = brig_store::DataDir::open(&data_a)
        .unwrap()
        .database()
        .unwrap()
        .to_string();
    // Host B joins the same database with the ledger's signing key.
    let data_b = tmp.path().join("host-b");
    let key = data_a.join("keys/ledger.key");
    let o = run(&data_b, &["init", "--database", &url]);
    assert!(!o.status.success(), "joining without the key is refused");
    assert!(stderr(&o).contains("--signing-key"), "{}", stderr(&o));
    let o = run(
        &data_b,
        &[
            "init",
            "--database",
            &url,
            "--signing-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));

    let policies = policies(tmp.path(), PERMIT_ALL);
    let operator = token(&data_a, "alice", "operator", None);
    let agent = token(&data_b, "gw-host-b", "agent", Some("bot-a"));
    let a = Server::start_with(&data_a, &policies);
    let b = Server::start_with(&data_b, &policies);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let decide =
        json!({"agent": "bot-a", "tool": "read_file", "arguments": {"path": "/srv/a.txt"}});
    let (s, d) = call(
        &rt,
        "POST",
        &format!("{}/v1/decide", b.base),
        Some(&agent),
        Some(decide.clone()),
    );
    assert_eq!((s, d["effect"].clone()), (200, json!("allow")), "{d}");
    // Two gateways: one on each server, remote (`mcp-proxy --server`), in front of the
    // real filesystem server, for the same agent.
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.txt"), "a\n").unwrap();
    let agent_a = token(&data_a, "gw-host-a", "agent", Some("bot-a"));
    let mut gw_a = Remote::start(&a.base, &agent_a, "bot-a", &[], &ws).unwrap();
    let mut gw_b = Remote::start(&b.base, &agent, "bot-a", &[], &ws).unwrap();
    let read = json!({"path": ws.join("a.txt")});
    assert_eq!(
        gw_a.call("read_text_file", read.clone()),
        ("a\n".into(), false)
    );
    assert_eq!(
        gw_b.call("read_text_file", read.clone()),
        ("a\n".into(), false)
    );

    let (s, _) = call(
        &rt,
        "POST",
        &format!("{}/v1/containment", a.base),
        Some(&operator),
        Some(json!({"scope": "agent:bot-a", "reason": "exfiltration suspected"})),
    );
    assert_eq!(s, 200);
    // The very next call through the gateway on B is refused; the time from A's answer to
    // the refusal is printed (measured, not asserted: the machines are shared).
    let ordered = std::time::Instant::now();
    let (text, refused) = gw_b.call("read_text_file", read.clone());
    let took = ordered.elapsed();
    assert!(refused && text.contains("contained"), "{text}");
    assert!(text.contains("token:alice"), "{text}");
    eprintln!(
        "containment through A: the gateway on B refused the next call {took:?} after A answered"
    );
    let (s, d) = call(
        &rt,
        "POST",
        &format!("{}/v1/decide", b.base),
        Some(&agent),
        Some(decide.clone()),
    );
    assert_eq!((s, d["effect"].clone()), (200, json!("deny")), "{d}");
    let (_, refused) = gw_a.call("read_text_file", read);
    assert!(refused);
    gw_a.finish();
    gw_b.finish();

    assert!(a.stop().success());
    assert!(b.stop().success());
    let o = run(&data_b, &["ledger", "verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// A token's own limits: past its rate the server answers 429 with `Retry-After`, and a
/// body over its size is refused with 413 naming the limit; other tokens are not slowed.
#[test]
fn a_tokens_rate_and_body_limits_are_enforced() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let o = run(
        &data,
        &[
            "tokens", "create", "--name", "slow", "--role", "operator", "--rate", "5",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let slow = stdout(&o).trim().to_string();
    let o = run(
        &data,
        &[
            "tokens",
            "create",
            "--name",
            "small",
            "--role",
            "agent",
            "--agent",
            "bot-a",
            "--max-body",
            "2000",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let small = stdout(&o).trim().to_string();
    let free = token(&data, "free", "operator", None);
    let o = run(&data, &["tokens", "list"]);
    assert!(stdout(&o).contains("rate 5/s"), "{}", stdout(&o));
    let o = run(
        &data,
        &[
            "tokens", "create", "--name", "z", "--role", "auditor", "--rate", "0",
        ],
    );
    assert!(!o.status.success() && stderr(&o).contains("limit of 0"));

    let server = Server::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = format!("{}/v1/containment", server.base);
    let (mut ok, mut limited, mut retry_after) = (0, 0, None);
    rt.block_on(async {
        let client = reqwest::Client::new();
        for _ in 0..30 {
            let res = client.get(&url).bearer_auth(&slow).send().await.unwrap();
            match res.status().as_u16() {
                200 => ok += 1,
                429 => {
                    limited += 1;
                    retry_after = res.headers().get("retry-after").cloned();
                    let body: Value = res.json().await.unwrap();
                    assert!(body["error"]
                        .as_str()
                        .unwrap()
                        .contains("5 requests per second"));
                }
                s => panic!("unexpected status {s}"),
            }
        }
    });
    assert!(ok >= 5, "the burst of one second's worth is allowed ({ok})");
    assert!(limited > 0, "30 requests at once exceed 5 per second");
    assert_eq!(retry_after.unwrap(), "1");
    for _ in 0..10 {
        assert_eq!(call(&rt, "GET", &url, Some(&free), None).0, 200);
    }

    let events = |n: usize| json!({"events": (0..n).map(|_| event("bot-a")).collect::<Vec<_>>()});
    let ingest = format!("{}/v1/events", server.base);
    let (s, b) = call(&rt, "POST", &ingest, Some(&small), Some(events(20)));
    assert_eq!(s, 413, "{b}");
    assert!(
        b["error"].as_str().unwrap().contains("at most 2000 bytes"),
        "{b}"
    );
    let (s, b) = call(&rt, "POST", &ingest, Some(&small), Some(events(1)));
    assert_eq!(s, 200, "{b}");
    assert!(server.stop().success());
}

/// A call `/v1/decide` holds is decided over HTTP: the agent reads its own approval (and no
/// other agent's), only operators decide, an empty reason and a second decision are
/// refused, and the decision is a ledger event naming the token.
#[test]
fn held_calls_are_decided_over_http() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policies = policies(
        tmp.path(),
        r#"@id("everything")
permit (principal, action, resource);

@id("deletes-need-approval")
@approval("required")
forbid (principal, action == Action::"file.delete", resource);
"#,
    );
    let agent = token(&data, "gw-a", "agent", Some("bot-a"));
    let other = token(&data, "gw-b", "agent", Some("bot-b"));
    let operator = token(&data, "alice", "operator", None);
    let auditor = token(&data, "audit", "auditor", None);
    let server = Server::start_with(&data, &policies);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);

    let (s, d) = call(
        &rt,
        "POST",
        &url("/v1/decide"),
        Some(&agent),
        Some(json!({"tool": "delete_file", "arguments": {"path": "/srv/old.log"}})),
    );
    assert_eq!((s, d["effect"].clone()), (200, json!("hold")), "{d}");
    let id = d["approval"].as_str().unwrap().to_string();
    let one = url(&format!("/v1/approvals/{id}"));
    let (s, a) = call(&rt, "GET", &one, Some(&agent), None);
    assert_eq!((s, a["status"].clone()), (200, json!("pending")), "{a}");
    assert_eq!(call(&rt, "GET", &one, Some(&other), None).0, 404);
    let (s, list) = call(&rt, "GET", &url("/v1/approvals"), Some(&auditor), None);
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        call(&rt, "GET", &url("/v1/approvals"), Some(&agent), None).0,
        403
    );

    let approve = format!("{one}/approve");
    let why = |r: &str| Some(json!({ "reason": r }));
    for t in [&agent, &auditor] {
        assert_eq!(call(&rt, "POST", &approve, Some(t), why("me")).0, 403);
    }
    assert_eq!(
        call(&rt, "POST", &approve, Some(&operator), why(" ")).0,
        400
    );
    let (s, r) = call(
        &rt,
        "POST",
        &approve,
        Some(&operator),
        why("old logs, fine"),
    );
    assert_eq!((s, r["status"].clone()), (200, json!("approved")), "{r}");
    let (s, r) = call(
        &rt,
        "POST",
        &format!("{one}/deny"),
        Some(&operator),
        why("late"),
    );
    assert_eq!(s, 409, "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("no longer pending"),
        "{r}"
    );
    let (s, a) = call(&rt, "GET", &one, Some(&agent), None);
    assert_eq!(s, 200);
    assert_eq!(
        (a["status"].clone(), a["decided_by"].clone()),
        (json!("approved"), json!("token:alice"))
    );
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/approvals/nope/approve"),
        Some(&operator),
        why("x"),
    );
    assert_eq!(s, 404);
    assert!(server.stop().success());

    let o = run(&data, &["ledger", "show", "--json"]);
    let decision = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .find(|e| e["kind"] == "approval.decision")
        .expect("the decision is in the ledger");
    assert_eq!(decision["attrs"]["actor"], "token:alice", "{decision}");
    assert_eq!(decision["decision"]["effect"], "allow");
}

/// An auditor exports a session's evidence over HTTP; the bundle verifies offline with the
/// ledger's public key alone, and its custody log names the token. Agents may not export;
/// a request without a scope, with a bad time, or for an unknown incident says so.
#[test]
fn evidence_is_exported_over_http_and_verifies_offline() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let agent = token(&data, "gw-a", "agent", Some("bot-a"));
    let auditor = token(&data, "audit-firm", "auditor", None);
    let server = Server::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/events"),
        Some(&agent),
        Some(json!({"events": [event("bot-a"), event("bot-a"), event("bot-a")]})),
    );
    assert_eq!(s, 200);

    let export = url("/v1/evidence/export");
    let bundle = tmp.path().join("s1.tar");
    let (status, manifest) = rt.block_on(async {
        let res = reqwest::Client::new()
            .post(&export)
            .bearer_auth(&auditor)
            .json(&json!({"session": "s1", "note": "case 42"}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let manifest = res
            .headers()
            .get("x-brig-manifest-sha256")
            .map(|v| v.to_str().unwrap().to_string());
        std::fs::write(&bundle, res.bytes().await.unwrap()).unwrap();
        (status, manifest)
    });
    assert_eq!(status, 200);
    let vkey = data.join("keys/ledger.vkey");
    let o = brig()
        .args(["evidence", "verify", "--json", "--key"])
        .arg(&vkey)
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let o = brig()
        .args(["evidence", "custody", "show", "--json"])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(stdout(&o).contains("token:audit-firm"), "{}", stdout(&o));
    assert!(stdout(&o).contains(&manifest.unwrap()), "{}", stdout(&o));

    let scope = |v: Value| call(&rt, "POST", &export, Some(&auditor), Some(v));
    assert_eq!(
        call(
            &rt,
            "POST",
            &export,
            Some(&agent),
            Some(json!({"session": "s1"}))
        )
        .0,
        403
    );
    let (s, b) = scope(json!({}));
    assert_eq!(s, 400, "{b}");
    let (s, b) = scope(json!({"agent": "bot-a", "from": "yesterday"}));
    assert_eq!(s, 400);
    assert!(b["error"].as_str().unwrap().contains("yesterday"), "{b}");
    assert_eq!(scope(json!({"incident": "no-such-incident"})).0, 404);
    assert!(server.stop().success());
    let o = run(&data, &["ledger", "show", "--json"]);
    assert!(
        stdout(&o)
            .lines()
            .any(|l| l.contains("evidence.export") && l.contains("token:audit-firm")),
        "the export is an operator action in the ledger"
    );

    // One event's proof, fetched over HTTP, checks offline with the key alone.
    let server = Server::start(&data);
    let (status, text) = rt.block_on(async {
        let res = reqwest::Client::new()
            .get(format!("{}/v1/ledger/proof?index=1", server.base))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    });
    assert_eq!(status, 200, "{text}");
    let proof = tmp.path().join("1.proof");
    std::fs::write(&proof, &text).unwrap();
    let o = brig()
        .args(["ledger", "verify-proof"])
        .arg(&proof)
        .arg("--key")
        .arg(&vkey)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let (s, _) = call(
        &rt,
        "GET",
        &format!("{}/v1/ledger/proof?index=999999", server.base),
        Some(&auditor),
        None,
    );
    assert_eq!(s, 404);
    assert!(server.stop().success());
}

/// Rollback over HTTP, on the server's host: an agent's changes recorded by `brig watch`
/// are planned (auditors may look), applied by an operator (each step a ledger event
/// naming the token), and verified; a second apply changes nothing.
#[test]
fn an_agents_changes_are_rolled_back_over_http() {
    use std::io::BufRead;
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("site");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("index.html"), "<h1>Hello</h1>\n").unwrap();
    std::fs::write(ws.join("README.md"), "the site\n").unwrap();
    let mut watcher = brig()
        .args([
            "watch",
            "--agent",
            "site-bot",
            "--settle-ms",
            "100",
            "--data",
        ])
        .arg(&data)
        .arg(&ws)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(watcher.stderr.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert!(ready.contains("watching"), "{ready}");
    std::fs::write(ws.join("index.html"), "<h1>Pwned</h1>\n").unwrap();
    std::fs::remove_file(ws.join("README.md")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: std can only SIGKILL a child; kill(2) on the pid of `watcher`, which is not
    // reaped before its wait below, so the pid cannot name another process.
    unsafe { libc::kill(watcher.id() as i32, libc::SIGTERM) };
    assert!(watcher.wait().unwrap().success());

    let operator = token(&data, "alice", "operator", None);
    let auditor = token(&data, "audit", "auditor", None);
    let server = Server::start(&data);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    let scope = json!({"agent": "site-bot"});

    let (s, plan) = call(
        &rt,
        "POST",
        &url("/v1/rollback/plan"),
        Some(&auditor),
        Some(scope.clone()),
    );
    assert_eq!(s, 200, "{plan}");
    let mut planned: Vec<(String, String)> = plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let p = i["path"].as_str().unwrap();
            (
                p.rsplit('/').next().unwrap().to_string(),
                i["action"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    planned.sort();
    assert_eq!(
        planned,
        vec![
            ("README.md".into(), "restore".into()),
            ("index.html".into(), "restore".into())
        ],
        "{plan}"
    );
    let (s, v) = call(
        &rt,
        "POST",
        &url("/v1/rollback/verify"),
        Some(&auditor),
        Some(scope.clone()),
    );
    assert_eq!((s, v["matches"].clone()), (200, json!(false)), "{v}");
    assert_eq!(
        call(
            &rt,
            "POST",
            &url("/v1/rollback/apply"),
            Some(&auditor),
            Some(scope.clone())
        )
        .0,
        403
    );

    let (s, applied) = call(
        &rt,
        "POST",
        &url("/v1/rollback/apply"),
        Some(&operator),
        Some(scope.clone()),
    );
    assert_eq!(s, 200, "{applied}");
    assert_eq!(
        std::fs::read_to_string(ws.join("index.html")).unwrap(),
        "<h1>Hello</h1>\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("README.md")).unwrap(),
        "the site\n"
    );
    let (s, v) = call(
        &rt,
        "POST",
        &url("/v1/rollback/verify"),
        Some(&operator),
        Some(scope.clone()),
    );
    assert_eq!((s, v["matches"].clone()), (200, json!(true)), "{v}");
    let (_, again) = call(
        &rt,
        "POST",
        &url("/v1/rollback/apply"),
        Some(&operator),
        Some(scope.clone()),
    );
    assert!(
        again["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["result"] != "restored"),
        "{again}"
    );
    let (s, _) = call(
        &rt,
        "POST",
        &url("/v1/rollback/plan"),
        Some(&operator),
        Some(json!({"include": ["["], "agent": "site-bot"})),
    );
    assert_eq!(s, 422, "a bad glob is named, not a server error");
    assert!(server.stop().success());

    let o = run(&data, &["ledger", "show", "--json"]);
    let steps = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["attrs"]["action"] == "rollback" && e["attrs"]["actor"] == "token:alice")
        .count();
    assert!(steps >= 2, "every step recorded with the token's name");
}

/// An MCP session through `brig mcp-proxy --server`: JSON-RPC lines over the proxy's stdio.
struct Remote {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<Value>,
    next: u64,
}

impl Remote {
    /// Starts the proxy; `None` with its stderr when it refuses to start.
    fn start(
        base: &str,
        token: &str,
        agent: &str,
        extra: &[&str],
        ws: &Path,
    ) -> Result<Remote, String> {
        let mut child = brig()
            .args(["mcp-proxy", "--server", base, "--agent", agent])
            .args(extra)
            .arg("--")
            .arg("node")
            .arg(server_bin())
            .arg(ws)
            .env("BRIG_TOKEN", token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        let out = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&l) {
                    let _ = tx.send(v);
                }
            }
        });
        let stdin = child.stdin.take();
        let mut s = Remote {
            child,
            stdin,
            lines,
            next: 1,
        };
        let init = s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "remote-test", "version": "1"}}),
        );
        if init.is_null() {
            let _ = s.child.wait();
            let mut err = String::new();
            use std::io::Read;
            s.child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return Err(err);
        }
        s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        Ok(s)
    }

    fn send(&mut self, v: Value) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().unwrap();
        let _ = writeln!(stdin, "{v}");
        let _ = stdin.flush();
    }

    /// The response to a request (Null when the proxy closed its output first).
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            match self.lines.recv_timeout(std::time::Duration::from_secs(30)) {
                Ok(v) if v["id"] == id => return v,
                Ok(_) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Value::Null,
                Err(e) => panic!("no answer to {method}: {e}"),
            }
        }
    }

    /// The text of a tool call's answer, and whether it is an error.
    fn call(&mut self, tool: &str, arguments: Value) -> (String, bool) {
        let r = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (text, r["result"]["isError"] == true)
    }

    fn finish(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().unwrap()
    }
}

/// A remote gateway (`brig mcp-proxy --server`, an agent token, no data directory) in
/// front of the real filesystem server: the control plane decides each call and records
/// it; the gateway uploads the rest of the session; a containment ordered at the control
/// plane with `kill_upstream` stops the upstream server; with the control plane gone, it
/// fails closed, save for reads within `--offline-grace-reads`.
#[test]
fn a_remote_gateway_is_decided_recorded_and_contained_by_the_control_plane() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "hello\n").unwrap();
    let policies = policies(tmp.path(), PERMIT_ALL);
    let agent = token(&data, "gw-host-b", "agent", Some("bot-a"));
    let operator = token(&data, "alice", "operator", None);
    let server = Server::start_with(&data, &policies);
    let rt = tokio::runtime::Runtime::new().unwrap();

    // A token that is not this agent's is refused at start.
    let err = Remote::start(&server.base, &agent, "bot-b", &[], &ws)
        .err()
        .expect("refused");
    assert!(err.contains("agent token for --agent bot-b"), "{err}");

    let mut s = Remote::start(&server.base, &agent, "bot-a", &[], &ws).unwrap();
    let notes = ws.join("notes.txt");
    let (text, is_err) = s.call("read_text_file", json!({"path": notes}));
    assert_eq!((text.as_str(), is_err), ("hello\n", false));
    let (_, is_err) = s.call(
        "write_file",
        json!({"path": ws.join("new.txt"), "content": "x"}),
    );
    assert!(!is_err);
    assert_eq!(std::fs::read_to_string(ws.join("new.txt")).unwrap(), "x");

    let (st, _) = call(
        &rt,
        "POST",
        &format!("{}/v1/containment", server.base),
        Some(&operator),
        Some(json!({"scope": "agent:bot-a", "reason": "drill", "kill_upstream": true})),
    );
    assert_eq!(st, 200);
    let (text, is_err) = s.call("read_text_file", json!({"path": notes}));
    assert!(is_err && text.contains("contained"), "{text}");
    // The order reaches the gateway over the stream; it stops the server and says so
    // (bounded wait, no timing assertion).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let stopped = |data: &Path| {
        stdout(&run(data, &["ledger", "show", "--json"])).contains(r#""kind":"response.action""#)
    };
    while !stopped(&data) {
        assert!(
            std::time::Instant::now() < deadline,
            "the upstream was not stopped"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.finish();

    // Everything is in the control plane's ledger: the calls and decisions it recorded,
    // the results the gateway uploaded, and the upstream server stopped on the order.
    let o = run(&data, &["ledger", "show", "--json"]);
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["agent"] == "bot-a")
        .collect();
    let kinds = |k: &str| events.iter().filter(|e| e["kind"] == k).count();
    assert!(kinds("tool.call") >= 3, "{events:#?}");
    assert!(kinds("tool.result") >= 2, "{events:#?}");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "response.action" && e["attrs"]["action"] == "kill_upstream"),
        "{events:#?}"
    );

    // Released, then the control plane goes away: fail closed, but for reads in grace.
    let (st, _) = call(
        &rt,
        "POST",
        &format!("{}/v1/containment/release", server.base),
        Some(&operator),
        Some(json!({"scope": "agent:bot-a", "reason": "drill over"})),
    );
    assert_eq!(st, 200);
    let mut s = Remote::start(
        &server.base,
        &agent,
        "bot-a",
        &["--offline-grace-reads", "600"],
        &ws,
    )
    .unwrap();
    let (_, is_err) = s.call("read_text_file", json!({"path": notes}));
    assert!(!is_err);
    assert!(server.stop().success());
    let (text, is_err) = s.call("read_text_file", json!({"path": notes}));
    assert_eq!(
        (text.as_str(), is_err),
        ("hello\n", false),
        "a read in grace goes on"
    );
    let (text, is_err) = s.call(
        "write_file",
        json!({"path": ws.join("late.txt"), "content": "x"}),
    );
    assert!(is_err && text.contains("unreachable"), "{text}");
    assert!(
        !ws.join("late.txt").exists(),
        "no write while the control plane is away"
    );
    s.finish();
}

/// `/v1/decide` runs the rule pack: a call that blinds monitoring is denied by the blocking
/// rule even where policy permits it, the alert is recorded, and incident response files
/// it (the agent is contained for the next call).
#[test]
fn decide_runs_the_rules_and_incident_response() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policies = policies(tmp.path(), PERMIT_ALL);
    let agent = token(&data, "gw-a", "agent", Some("bot-a"));
    let operator = token(&data, "alice", "operator", None);
    let server = Server::start_with(&data, &policies);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let url = |p: &str| format!("{}{p}", server.base);
    let decide = |cmd: &str| {
        call(
            &rt,
            "POST",
            &url("/v1/decide"),
            Some(&agent),
            Some(json!({"tool": "bash", "session": "s9", "arguments": {"command": cmd}})),
        )
    };
    let (s, d) = decide("ls /srv");
    assert_eq!((s, d["effect"].clone()), (200, json!("allow")), "{d}");
    let (s, d) = decide("systemctl stop auditd");
    assert_eq!((s, d["effect"].clone()), (200, json!("deny")), "{d}");
    // Incident response runs off the request path: wait (bounded) for the incident.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let (_, list) = call(&rt, "GET", &url("/v1/incidents"), Some(&operator), None);
        if list
            .as_array()
            .is_some_and(|l| l.iter().any(|i| i["agent"] == "bot-a"))
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no incident: {list}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (s, list) = call(&rt, "GET", &url("/v1/alerts"), Some(&operator), None);
    assert_eq!(s, 200);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|a| a["event"]["agent"] == "bot-a"),
        "{list}"
    );
    assert_eq!(
        call(&rt, "GET", &url("/v1/alerts"), Some(&agent), None).0,
        403
    );
    assert!(server.stop().success());
    let o = run(&data, &["ledger", "show", "--json"]);
    let alerts = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .filter(|e| e["kind"] == "alert")
        .count();
    assert!(alerts >= 1);
}

#[test]
fn serve_warns_when_its_data_directory_is_open_to_others() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempdir();
    let data = init(tmp.path());
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = Server::start(&data);
    let warned = server.before.concat();
    assert!(
        warned.contains("warning") && warned.contains(&format!("chmod 700 {}", data.display())),
        "{warned}"
    );
    assert!(!warned.contains("ledger.key"), "the key is 0600: {warned}");
}
