//! `brig mcp-proxy --listen … --upstream-url …`: the Streamable HTTP proxy, both sides HTTP.
//!
//! Real parts: the proxy binary, the MCP reference server `@modelcontextprotocol/server-everything`
//! from npm in its Streamable HTTP mode (installed pinned by scripts/test.sh), and the official
//! Rust MCP SDK's (`rmcp`) Streamable HTTP client. Nothing is mocked.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::Peer;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{json, Value};

const AGENT: &str = "helpdesk-agent";

fn everything_bin() -> PathBuf {
    npm_file("@modelcontextprotocol/server-everything/dist/index.js")
}

/// A child process killed when the test ends, however it ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts server-everything in Streamable HTTP mode; returns it and its /mcp URL once it
/// accepts connections.
fn start_upstream() -> (Reaped, String) {
    let port = free_port();
    let child = Command::new("node")
        .arg(everything_bin())
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("node must be installed (scripts/test.sh installs it)");
    let child = Reaped(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "server-everything did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, format!("http://127.0.0.1:{port}/mcp"))
}

/// Starts the proxy on a port of its choosing; returns it and the URL it says it serves.
fn start_proxy(data: &Path, policies: &Path, upstream: &str) -> (Reaped, String) {
    let mut child = brig()
        .args([
            "mcp-proxy",
            "--listen",
            "127.0.0.1:0",
            "--upstream-url",
            upstream,
        ])
        .args([
            "--agent",
            AGENT,
            "--workflow",
            "helpdesk",
            "--approval-timeout",
            "60",
        ])
        .args(["--task", "Answer the customer's question", "--policy"])
        .arg(policies)
        .arg("--data")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Reaped(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("brig mcp-proxy: listening on ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the proxy did not say where it listens");
    (child, url)
}

/// Tools are allowed except one that reads the server's environment (secrets); the adding
/// tool needs a human's approval.
fn write_policies(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("helpdesk.cedar"),
        r#"@id("helpdesk.tools")
permit (principal, action == Action::"tool.call", resource);

@id("helpdesk.no-env")
forbid (principal, action == Action::"tool.call", resource == Tool::"get-env");

@id("helpdesk.sum-needs-approval")
@approval("required")
forbid (principal, action == Action::"tool.call", resource == Tool::"get-sum");
"#,
    )
    .unwrap();
}

async fn call(client: &Peer<RoleClient>, tool: &'static str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

fn text(r: &CallToolResult) -> String {
    serde_json::to_value(&r.content).unwrap()[0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn refused(r: &CallToolResult) -> bool {
    r.is_error == Some(true)
}

/// The held approval's id, once the proxy has queued it.
fn pending_approval(data: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let o = run(data, &["approvals", "list", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let pending: Vec<Value> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if let Some(a) = pending.first() {
            return a["id"].as_str().unwrap().to_string();
        }
        assert!(Instant::now() < deadline, "no approval was queued");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn terminate(proxy: &mut Reaped) -> std::process::ExitStatus {
    let pid = proxy.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = proxy.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_proxy_records_decides_holds_and_contains_with_the_rmcp_client() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policies = tmp.path().join("policies");
    write_policies(&policies);
    let (_upstream, upstream_url) = start_upstream();
    let (mut proxy, url) = start_proxy(&data, &policies, &upstream_url);

    let client =
        ().serve(StreamableHttpClientTransport::from_uri(url))
            .await
            .expect("MCP initialize through the proxy");
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert!(
        names.contains(&"echo") && names.contains(&"get-env"),
        "{names:?}"
    );

    // Allowed: forwarded, answered by the server (over its SSE response stream).
    let r = call(&client, "echo", json!({"message": "where is my parcel?"})).await;
    assert!(!refused(&r), "{r:?}");
    assert!(text(&r).contains("where is my parcel?"), "{r:?}");

    // Denied by policy: the agent reads why; the server never sees the call.
    let r = call(&client, "get-env", json!({})).await;
    assert!(refused(&r), "{r:?}");
    assert!(
        text(&r).contains("helpdesk.no-env"),
        "names the policy: {r:?}"
    );

    // Held for approval, approved from the CLI, then run.
    let held = {
        let client = client.peer().clone();
        tokio::spawn(async move { call(&client, "get-sum", json!({"a": 2, "b": 3})).await })
    };
    let id = {
        let data = data.clone();
        tokio::task::spawn_blocking(move || pending_approval(&data))
            .await
            .unwrap()
    };
    let o = run(&data, &["approvals", "approve", &id, "--reason", "fine"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = held.await.unwrap();
    assert!(!refused(&r), "{r:?}");
    assert!(text(&r).contains('5'), "2 + 3 from the server: {r:?}");

    // Kill switch mid-session: the very next call is denied; released, allowed again.
    let o = run(&data, &["contain", "--agent", AGENT, "--reason", "drill"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = call(&client, "echo", json!({"message": "still there?"})).await;
    assert!(refused(&r) && text(&r).contains("contained"), "{r:?}");
    let o = run(
        &data,
        &["release", "--agent", AGENT, "--reason", "drill over"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r = call(&client, "echo", json!({"message": "back"})).await;
    assert!(!refused(&r) && text(&r).contains("back"), "{r:?}");

    client.cancel().await.unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let status = terminate(&mut proxy);
        drop(proxy);
        status
    })
    .await
    .unwrap();
    assert!(
        status.success(),
        "the proxy exits cleanly on SIGTERM: {status}"
    );

    // Every step is in the ledger, attributed to the agent and the MCP session.
    let o = run(&data, &["ledger", "show", "--json"]);
    let events: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect();
    let of = |kind: &str| -> Vec<&Value> { events.iter().filter(|e| e["kind"] == kind).collect() };
    let calls = of("tool.call");
    assert_eq!(calls.len(), 5, "{calls:#?}");
    assert!(calls.iter().all(|e| e["agent"] == AGENT));
    let sessions: std::collections::BTreeSet<String> = calls
        .iter()
        .map(|e| e["attrs"]["mcp_session"].to_string())
        .collect();
    assert_eq!(sessions.len(), 1, "one MCP session: {sessions:?}");
    assert!(
        sessions.iter().all(|s| s.starts_with('"')),
        "calls carry the MCP session id: {sessions:?}"
    );
    let effects: Vec<&str> = of("policy.decision")
        .iter()
        .map(|e| e["decision"]["effect"].as_str().unwrap())
        .collect();
    assert_eq!(
        effects,
        ["allow", "deny", "hold", "deny", "allow"],
        "echo, get-env, get-sum, contained echo, released echo"
    );
    assert_eq!(
        of("tool.result").len(),
        3,
        "the forwarded calls (echo, get-sum, released echo) have results"
    );
    assert!(
        of("protocol.message").len() >= 4,
        "initialize, tools/list and their answers"
    );
    assert_eq!(of("approval.decision").len(), 1);
    assert_eq!(of("operator.action").len(), 2, "contain, release");
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The ledger's events, in order.
fn ledger_events(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

#[test]
fn http_proxy_relays_progress_and_cancellation_to_the_typescript_sdk_client() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policies = tmp.path().join("policies");
    write_policies(&policies);
    let (_upstream, upstream_url) = start_upstream();
    let (mut proxy, url) = start_proxy(&data, &policies, &upstream_url);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/ts_http_client.mjs");
    let o = Command::new("node")
        .arg(script)
        .env("NODE_PATH", node_modules())
        .env("BRIG_URL", &url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let seen: Value = serde_json::from_str(stdout(&o).trim())
        .unwrap_or_else(|e| panic!("client output is not JSON ({e}): {}", stdout(&o)));

    assert!(seen["sessionId"].is_string(), "{seen}");
    let tools = seen["tools"].as_array().unwrap();
    assert!(tools.contains(&json!("echo")), "{seen}");
    assert_eq!(seen["echo"]["isError"], json!(false), "{seen}");
    assert!(seen["echo"]["text"]
        .as_str()
        .unwrap()
        .contains("hello over http"));
    assert_eq!(seen["long"]["isError"], json!(false), "{seen}");
    assert_eq!(
        seen["long"]["progress"],
        json!([1, 2, 3]),
        "every progress notification reaches the client: {seen}"
    );
    assert_eq!(seen["cancelled"], json!(true), "{seen}");
    assert_eq!(seen["denied"]["isError"], json!(true), "{seen}");
    assert!(seen["denied"]["text"]
        .as_str()
        .unwrap()
        .contains("blocked by policy"));
    assert_eq!(
        seen["after"]["isError"],
        json!(false),
        "the session survives a cancelled call: {seen}"
    );

    assert!(terminate(&mut proxy).success());
    let events = ledger_events(&data);
    let progress = events
        .iter()
        .filter(|e| e["attrs"]["method"] == "notifications/progress")
        .count();
    assert_eq!(progress, 3, "progress notifications are recorded");
    assert!(
        events
            .iter()
            .any(|e| e["attrs"]["method"] == "notifications/cancelled"),
        "the cancellation is recorded"
    );
    assert!(
        events.iter().any(|e| e["attrs"]["http"] == "DELETE"),
        "the end of the session is recorded"
    );
    let sid = json!(seen["sessionId"]);
    assert!(events
        .iter()
        .filter(|e| e["kind"] == "tool.call")
        .all(|e| e["attrs"]["mcp_session"] == sid));
    assert!(run(&data, &["ledger", "verify"]).status.success());
}

/// One raw HTTP/1.1 exchange; returns the status code and the body.
fn raw_http(addr: &str, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn post(addr: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn http_proxy_answers_malformed_and_oversize_posts_with_errors_and_keeps_serving() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policies = tmp.path().join("policies");
    write_policies(&policies);
    let (_upstream, upstream_url) = start_upstream();
    let mut child = brig()
        .args(["mcp-proxy", "--listen", "127.0.0.1:0", "--upstream-url"])
        .arg(&upstream_url)
        .args(["--agent", AGENT, "--max-message-bytes", "10000", "--policy"])
        .arg(&policies)
        .arg("--data")
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut proxy = Reaped(child);
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("brig mcp-proxy: listening on ")
        .unwrap()
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_string();

    // Not JSON: a JSON-RPC parse error.
    let (status, body) = raw_http(&addr, &post(&addr, b"{this is not json"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("-32700"), "{body}");

    // Not UTF-8 either.
    let (status, body) = raw_http(&addr, &post(&addr, b"\xff\xfe\x00garbage"));
    assert_eq!(status, 400, "{body}");

    // Over the limit: refused before it is read whole.
    let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "x".repeat(50_000)}}});
    let (status, _) = raw_http(&addr, &post(&addr, huge.to_string().as_bytes()));
    assert_eq!(status, 413);

    // A call without a tool name: an invalid-params error, never forwarded.
    let nameless = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {}});
    let (status, body) = raw_http(&addr, &post(&addr, nameless.to_string().as_bytes()));
    assert!(status == 200 || status == 400, "{status} {body}");
    assert!(body.contains("error") || body.contains("isError"), "{body}");

    // The agent side has no other path: operator functions are not served here.
    let (status, _) = raw_http(
        &addr,
        format!("POST /approvals HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
    assert_eq!(status, 404);

    // And it still serves a real client.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = ().serve(StreamableHttpClientTransport::from_uri(url.clone())).await.unwrap();
        let r = call(&client, "echo", json!({"message": "ok"})).await;
        assert!(!refused(&r), "{r:?}");
        client.cancel().await.unwrap();
    });

    assert!(terminate(&mut proxy).success());
    let events = ledger_events(&data);
    let malformed = events
        .iter()
        .filter(|e| e["attrs"]["malformed"].is_string())
        .count();
    assert!(malformed >= 3, "bad messages are recorded: {events:#?}");
    assert!(run(&data, &["ledger", "verify"]).status.success());
}
