//! Fault tests for `brig mcp-proxy`: a ledger that cannot be written, a server that writes
//! garbage or dies mid-call, an agent that sends garbage. The proxy must fail closed (a call
//! whose record is not durable is never forwarded), never crash, keep serving, and keep the
//! ledger verifiable.
//!
//! Every wait is bounded: a hung proxy fails the test instead of hanging the suite.

mod common;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Longest any single answer may take (generous: CI machines are slow, the proxy's own
/// ledger wait is 2 s).
const ANSWER: Duration = Duration::from_secs(20);

/// The real reference filesystem server serving `ws`.
fn real_server(ws: &Path) -> Vec<OsString> {
    vec!["node".into(), server_bin().into(), ws.into()]
}

/// A misbehaving MCP server, written by the test. It stands in for a broken server because
/// the real reference server cannot be made to misbehave. It writes its pid to `pid_file`
/// and answers `initialize`, `tools/list` and `tools/call`:
///
/// - `misbehave`: before its (valid) result, writes a line that is not JSON, a line of
///   invalid UTF-8, a line over the 4096-byte limit the tests set, JSON nested too deep to
///   parse, `42`, `{"jsonrpc":"2.0"}`, and a response to an id nobody asked for;
/// - `die`: exits without answering;
/// - anything else: a valid result saying `echo`.
const BROKEN_SERVER: &str = r#"
const fs = require('fs');
const readline = require('readline');
fs.writeFileSync(process.argv[2], String(process.pid));
const out = (s) => fs.writeSync(1, s + '\n');
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  let m;
  try { m = JSON.parse(line); } catch (e) { return; }
  if (m === null || typeof m !== 'object' || m.id === undefined) return;
  const ok = (result) => out(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }));
  const text = (t) => ok({ content: [{ type: 'text', text: t }] });
  if (m.method === 'initialize') {
    return ok({ protocolVersion: '2025-06-18', capabilities: { tools: {} },
                serverInfo: { name: 'broken-server', version: '0' } });
  }
  if (m.method === 'tools/list') {
    return ok({ tools: ['misbehave', 'die', 'echo'].map((name) =>
      ({ name, inputSchema: { type: 'object' } })) });
  }
  if (m.method !== 'tools/call') return;
  const name = m.params && m.params.name;
  if (name === 'misbehave') {
    out('this line is not JSON {');
    fs.writeSync(1, Buffer.from([0xff, 0xfe, 0x7b, 0x7d, 0x0a]));
    out(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message',
                         params: { level: 'info', data: 'x'.repeat(10000) } }));
    out('['.repeat(2000) + ']'.repeat(2000));
    out('42');
    out('{"jsonrpc":"2.0"}');
    out(JSON.stringify({ jsonrpc: '2.0', id: 'nobody-asked', result: {} }));
    return text('survived');
  }
  if (name === 'die') process.exit(3);
  return text('echo');
});
"#;

/// A policy directory that permits every call (the built-in policy knows nothing of the
/// broken server's tools).
fn permit_all(dir: &Path) -> String {
    let policies = dir.join("permit-all");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("all.cedar"),
        "permit (principal, action, resource);\n",
    )
    .unwrap();
    policies.to_str().unwrap().to_string()
}

/// Writes the broken server into `dir`; returns its command line and its pid file.
fn broken_server(dir: &Path) -> (Vec<OsString>, PathBuf) {
    let script = dir.join("broken-server.js");
    std::fs::write(&script, BROKEN_SERVER).unwrap();
    let pid_file = dir.join("broken-server.pid");
    (
        vec!["node".into(), script.into(), pid_file.clone().into()],
        pid_file,
    )
}

/// One line the proxy wrote to the agent.
#[derive(Debug)]
enum Line {
    Json(Value),
    /// Not JSON: the proxy must never write this.
    Garbage(String),
}

/// An MCP client session through `brig mcp-proxy`, speaking raw bytes when it needs to.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Line>,
    /// Everything received so far that was not the answer waited for.
    seen: Vec<Line>,
    next_id: u64,
}

impl Session {
    fn start(data: &Path, agent: &str, extra: &[&str], upstream: &[OsString]) -> Session {
        let mut child = brig()
            .args(["mcp-proxy", "--agent", agent, "--workflow", "faults"])
            .args(extra)
            .arg("--data")
            .arg(data)
            .arg("--")
            .args(upstream)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = match serde_json::from_slice(&buf) {
                    Ok(v) => Line::Json(v),
                    Err(_) => Line::Garbage(String::from_utf8_lossy(&buf).into_owned()),
                };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = Session {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            next_id: 1,
        };
        let init = s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "brig-fault-test", "version": "1"}}),
        );
        assert!(init["result"]["serverInfo"]["name"].is_string(), "{init}");
        s.send_raw(
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
                .to_string()
                .as_bytes(),
        );
        s
    }

    /// Writes `bytes` and a newline.
    fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(bytes).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    /// The next line, `None` at end of output; panics after `ANSWER`.
    fn next_line(&mut self, what: &str) -> Option<Line> {
        match self.lines.recv_timeout(ANSWER) {
            Ok(l) => Some(l),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no answer within {} s: {what}", ANSWER.as_secs())
            }
        }
    }

    /// Waits for the response with this id (other lines are kept in `seen`).
    fn wait_for(&mut self, id: &Value) -> Value {
        loop {
            match self.next_line(&format!("waiting for the response to {id}")) {
                None => panic!("the proxy closed its output before answering {id}"),
                Some(Line::Json(v)) if &v["id"] == id && v.get("method").is_none() => return v,
                Some(other) => self.seen.push(other),
            }
        }
    }

    /// Sends a request without waiting; returns its id.
    fn send(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send_raw(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
                .to_string()
                .as_bytes(),
        );
        id
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send(method, params);
        self.wait_for(&id)
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
    }

    /// Sends a bad line and returns the JSON-RPC error the proxy answers it with (id null
    /// unless `id` says otherwise).
    fn rejected(&mut self, bad: &[u8], id: &Value) -> Value {
        self.send_raw(bad);
        let err = self.wait_for(id);
        assert!(err.get("result").is_none(), "{err}");
        err
    }

    /// Closes stdin and waits (bounded) for the proxy to exit; returns its exit code.
    fn finish(mut self) -> Option<i32> {
        drop(self.stdin.take());
        let deadline = Instant::now() + ANSWER;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "the proxy did not exit after the agent closed its stdin"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Session {
    /// A failed test must not leave a proxy running (its server gets EOF and exits too).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn text(response: &Value) -> String {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn refused(response: &Value) -> bool {
    response["result"]["isError"] == json!(true)
}

fn error_code(response: &Value) -> Option<i64> {
    response["error"]["code"].as_i64()
}

/// Every event in the ledger, with payloads.
fn events(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json", "--payloads"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| {
            let mut v = serde_json::from_str::<Value>(l).unwrap();
            let mut event = v["event"].take();
            if v["payloads"].is_object() {
                event["payload"] = v["payloads"].take();
            }
            event
        })
        .collect()
}

fn verify(data: &Path) {
    let o = run(data, &["ledger", "verify"]);
    assert!(
        o.status.success(),
        "ledger verify failed: {}{}",
        stdout(&o),
        stderr(&o)
    );
}

/// Every leaf stored so far, by index, exactly as hashed (read through the store,
/// whichever backend holds it).
fn leaves(data: &Path) -> Vec<(i64, Vec<u8>)> {
    use brig_ledger::store::LedgerStore;
    let mut store = brig_store::DataDir::open(data).unwrap().store().unwrap();
    let mut rows = Vec::new();
    store
        .scan(0, u64::MAX, &mut |r| {
            rows.push((r.index as i64, r.leaf));
            true
        })
        .unwrap();
    rows
}

/// Waits (bounded) until the ledger holds a `tool.result` for call `call`.
fn wait_for_result(data: &Path, call: &str) {
    let deadline = Instant::now() + ANSWER;
    while !events(data)
        .iter()
        .any(|e| e["kind"] == "tool.result" && e["call"] == call)
    {
        assert!(
            Instant::now() < deadline,
            "the result of call {call} was never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Another process holding the ledger's write lock: the realistic way to make the store
/// unwritable without root (a long `brig` maintenance command, a backup tool, a stuck
/// writer). SQLite in WAL mode: `BEGIN IMMEDIATE` takes the write lock while readers go
/// on. PostgreSQL: the sequencer's advisory lock, which every append takes.
enum WriteLock {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl WriteLock {
    fn take(data: &Path) -> WriteLock {
        let dir = brig_store::DataDir::open(data).unwrap();
        match dir.database() {
            None => {
                let c = db(data);
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                WriteLock::Sqlite(c)
            }
            Some(url) => {
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.execute(
                    "SELECT pg_advisory_lock($1)",
                    &[&brig_store::SEQUENCER_LOCK],
                )
                .unwrap();
                WriteLock::Postgres(c)
            }
        }
    }

    fn release(self) {
        match self {
            WriteLock::Sqlite(c) => c.execute_batch("ROLLBACK").unwrap(),
            WriteLock::Postgres(mut c) => {
                c.execute(
                    "SELECT pg_advisory_unlock($1)",
                    &[&brig_store::SEQUENCER_LOCK],
                )
                .unwrap();
            }
        }
    }
}

/// Is process `pid` gone (or a zombie nobody reaped yet)?
fn not_running(pid: u32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !state
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|st| st != "Z" && st != "X")
}

fn read_pid(pid_file: &Path) -> u32 {
    let deadline = Instant::now() + ANSWER;
    loop {
        if let Ok(s) = std::fs::read_to_string(pid_file) {
            if let Ok(pid) = s.trim().parse() {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "the server wrote no pid file");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_locked_ledger_denies_calls_until_it_is_writable_again() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("workspace");
    std::fs::create_dir_all(&ws).unwrap();
    let mut s = Session::start(&data, "locked-out", &[], &real_server(&ws));

    // Before the fault: a write goes through.
    let r = s.call(
        "write_file",
        json!({"path": ws.join("before.txt"), "content": "before\n"}),
    );
    assert!(!refused(&r), "{r}");
    assert_eq!(
        std::fs::read_to_string(ws.join("before.txt")).unwrap(),
        "before\n"
    );
    wait_for_result(&data, &r["id"].to_string());
    let before = leaves(&data);

    // Another process holds the write lock: the call cannot be recorded, so it is refused
    // with a tool error and never reaches the server.
    let lock = WriteLock::take(&data);
    let during = ws.join("during.txt");
    let r = s.call("write_file", json!({"path": during, "content": "during\n"}));
    assert!(
        refused(&r),
        "a call that cannot be recorded must be refused: {r}"
    );
    assert!(
        text(&r).contains("the ledger cannot be written") && text(&r).contains("fails closed"),
        "{r}"
    );
    // A read is refused the same way: every call needs its record.
    let r = s.call("list_allowed_directories", json!({}));
    assert!(refused(&r), "{r}");
    assert!(text(&r).contains("the ledger cannot be written"), "{r}");
    lock.release();
    assert!(
        !during.exists(),
        "the server ran a call whose record was never written"
    );

    // The lock is gone: calls are allowed and run again.
    let r = s.call(
        "write_file",
        json!({"path": ws.join("after.txt"), "content": "after\n"}),
    );
    assert!(!refused(&r), "{r}");
    assert_eq!(
        std::fs::read_to_string(ws.join("after.txt")).unwrap(),
        "after\n"
    );
    assert_eq!(s.finish(), Some(0));

    // Nothing recorded before the fault was lost or changed, and the ledger verifies.
    verify(&data);
    let after = leaves(&data);
    assert!(
        after.len() > before.len() && after[..before.len()] == before[..],
        "events recorded before the fault changed"
    );
    let all = events(&data);
    let calls: Vec<&Value> = all.iter().filter(|e| e["kind"] == "tool.call").collect();
    assert_eq!(
        calls.len(),
        2,
        "the refused calls were never recorded: {all:#?}"
    );
    assert!(calls
        .iter()
        .all(|c| c["payload"]["arguments"]["path"] != json!(during)));
    assert_eq!(
        all.iter().filter(|e| e["kind"] == "tool.result").count(),
        2,
        "the calls before and after the fault ran"
    );
}

#[test]
fn a_misbehaving_server_is_recorded_and_the_session_goes_on() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (server, _) = broken_server(tmp.path());
    let policy = permit_all(tmp.path());
    let mut s = Session::start(
        &data,
        "garbled",
        &["--max-message-bytes", "4096", "--policy", &policy],
        &server,
    );

    let r = s.call("misbehave", json!({}));
    assert!(!refused(&r) && text(&r) == "survived", "{r}");
    // What reached the agent before the answer: never a line that is not JSON, never the
    // oversize one; the JSON values are relayed as the server wrote them.
    let relayed = std::mem::take(&mut s.seen);
    let relayed: Vec<Value> = relayed
        .into_iter()
        .map(|l| match l {
            Line::Json(v) => v,
            Line::Garbage(g) => panic!("the proxy relayed a line that is not JSON: {g:?}"),
        })
        .collect();
    assert!(
        relayed.iter().all(|v| v.to_string().len() <= 4096),
        "an oversize line reached the agent"
    );
    assert!(relayed.contains(&json!(42)), "{relayed:?}");
    assert!(relayed.contains(&json!({"jsonrpc": "2.0"})), "{relayed:?}");
    assert!(
        relayed.iter().any(|v| v["id"] == "nobody-asked"),
        "{relayed:?}"
    );

    // The session goes on.
    let r = s.call("echo", json!({}));
    assert!(!refused(&r) && text(&r) == "echo", "{r}");
    let r = s.request("tools/list", json!({}));
    assert_eq!(
        r["result"]["tools"].as_array().map(Vec::len),
        Some(3),
        "{r}"
    );
    assert_eq!(s.finish(), Some(0));

    // Every bad line is in the ledger, and the ledger verifies.
    verify(&data);
    let all = events(&data);
    let from_server: Vec<&Value> = all
        .iter()
        .filter(|e| e["kind"] == "protocol.message" && e["attrs"]["direction"] == "server_to_agent")
        .collect();
    let malformed = |reason: &str| -> Vec<&Value> {
        from_server
            .iter()
            .copied()
            .filter(|e| e["attrs"]["malformed"] == reason)
            .collect()
    };
    let not_json = malformed("not JSON");
    assert_eq!(
        not_json.len(),
        3,
        "plain text, invalid UTF-8, nesting too deep: {from_server:#?}"
    );
    assert!(not_json
        .iter()
        .any(|e| e["payload"]["raw"] == "this line is not JSON {"));
    assert!(not_json
        .iter()
        .any(|e| e["payload"]["raw"].as_str().unwrap().contains('\u{fffd}')));
    assert_eq!(malformed("too large").len(), 1, "{from_server:#?}");
    let message = |v: Value| from_server.iter().any(|e| e["payload"]["message"] == v);
    assert!(message(json!(42)), "{from_server:#?}");
    assert!(message(json!({"jsonrpc": "2.0"})), "{from_server:#?}");
    assert!(
        from_server
            .iter()
            .any(|e| e["payload"]["message"]["id"] == "nobody-asked"),
        "{from_server:#?}"
    );
    let results: Vec<&Value> = all.iter().filter(|e| e["kind"] == "tool.result").collect();
    assert_eq!(results.len(), 2, "misbehave and echo: {all:#?}");
    assert!(results.iter().all(|e| e["attrs"]["status"] == "ok"));
}

#[test]
fn a_server_that_dies_leaves_later_calls_answered_and_the_ledger_intact() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (server, pid_file) = broken_server(tmp.path());
    let policy = permit_all(tmp.path());
    let mut s = Session::start(&data, "orphaned", &["--policy", &policy], &server);
    let pid = read_pid(&pid_file);
    let r = s.call("echo", json!({}));
    assert!(!refused(&r), "{r}");

    // The server exits in the middle of a call.
    let died = s.send("tools/call", json!({"name": "die", "arguments": {}}));
    let deadline = Instant::now() + ANSWER;
    while !not_running(pid) {
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The call in flight and a later one are answered with a tool error, not left hanging.
    for id in [
        died,
        s.send("tools/call", json!({"name": "echo", "arguments": {}})),
    ] {
        let r = s.wait_for(&id);
        assert!(refused(&r), "{r}");
        assert!(text(&r).contains("upstream server is gone"), "{r}");
    }
    // The proxy exits when the agent leaves, reporting the server's failure (exit 1).
    assert_eq!(s.finish(), Some(1));

    verify(&data);
    let all = events(&data);
    let calls = all.iter().filter(|e| e["kind"] == "tool.call").count();
    assert_eq!(
        calls, 3,
        "every call is recorded, answered or not: {all:#?}"
    );
}

/// A call in flight when the server exits is answered (the agent does not wait forever).
#[test]
fn a_call_in_flight_when_the_server_dies_is_answered() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (server, _) = broken_server(tmp.path());
    let policy = permit_all(tmp.path());
    let mut s = Session::start(&data, "orphaned", &["--policy", &policy], &server);
    let id = s.send("tools/call", json!({"name": "die", "arguments": {}}));
    loop {
        match s.next_line("the call in flight when the server died") {
            None => break, // the proxy ended the session: acceptable
            Some(Line::Json(v)) if v["id"] == id => {
                assert!(v.get("error").is_some() || refused(&v), "{v}");
                break;
            }
            Some(_) => {}
        }
    }
    s.finish();
    verify(&data);
}

/// Once the server is gone, a request other than tools/call (here tools/list) gets a
/// JSON-RPC error too.
#[test]
fn a_request_after_the_server_died_is_answered() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let (server, pid_file) = broken_server(tmp.path());
    let policy = permit_all(tmp.path());
    let mut s = Session::start(&data, "orphaned", &["--policy", &policy], &server);
    let pid = read_pid(&pid_file);
    s.send("tools/call", json!({"name": "die", "arguments": {}}));
    let deadline = Instant::now() + ANSWER;
    while !not_running(pid) {
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
    let r = s.request("tools/list", json!({}));
    assert!(r.get("error").is_some(), "{r}");
    s.finish();
    verify(&data);
}

#[test]
fn malformed_agent_messages_get_json_rpc_errors_and_the_session_goes_on() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("workspace");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.txt"), "a\n").unwrap();
    let mut s = Session::start(&data, "sloppy", &[], &real_server(&ws));
    let no_id = Value::Null;
    let still_serving = |s: &mut Session| {
        let r = s.call("read_text_file", json!({"path": ws.join("a.txt")}));
        assert!(!refused(&r) && text(&r) == "a\n", "{r}");
    };

    // Invalid UTF-8, alone and inside a JSON string: parse errors.
    let err = s.rejected(b"\xff\xfe\xfd\x80 not utf-8", &no_id);
    assert_eq!(error_code(&err), Some(-32700), "{err}");
    still_serving(&mut s);
    let mut bad = br#"{"jsonrpc":"2.0","id":"u","method":"tools/call","params":{"name":"write_file","arguments":{"path":"x","content":""#.to_vec();
    bad.extend_from_slice(b"\xc3\x28\xff\"}}}");
    let err = s.rejected(&bad, &no_id);
    assert_eq!(error_code(&err), Some(-32700), "{err}");
    assert!(!ws.join("x").exists());
    still_serving(&mut s);

    // Valid JSON that is not a JSON-RPC message: invalid request.
    for bad in [
        "42",
        "null",
        "\"tools/call\"",
        "true",
        "{}",
        r#"{"jsonrpc":"2.0"}"#,
    ] {
        let err = s.rejected(bad.as_bytes(), &no_id);
        assert_eq!(error_code(&err), Some(-32600), "{bad}: {err}");
        still_serving(&mut s);
    }

    // tools/call without a usable tool name: invalid request, answered with its id, and
    // nothing runs.
    let target = ws.join("nameless.txt");
    for (n, params) in [
        json!({"arguments": {"path": target, "content": "x"}}),
        json!({"name": 7, "arguments": {"path": target, "content": "x"}}),
        json!({"name": null}),
        json!("write_file"),
        Value::Null,
    ]
    .into_iter()
    .enumerate()
    {
        let id = json!(format!("nameless-{n}"));
        let mut call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call"});
        if !params.is_null() {
            call["params"] = params;
        }
        let err = s.rejected(call.to_string().as_bytes(), &id);
        assert_eq!(error_code(&err), Some(-32600), "{call}: {err}");
        still_serving(&mut s);
    }
    assert!(
        !target.exists(),
        "a call without a tool name reached the server"
    );

    // Nesting far beyond what any parser should follow: a parse error, not a stack overflow.
    for bad in [
        "[".repeat(100_000),
        "{\"a\":".repeat(50_000),
        format!(
            r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"write_file","arguments":{}}}}}"#,
            "[".repeat(100_000)
        ),
    ] {
        let err = s.rejected(bad.as_bytes(), &no_id);
        assert_eq!(error_code(&err), Some(-32700), "{err}");
        still_serving(&mut s);
    }

    // A line with only whitespace is skipped silently; the next request is answered.
    s.send_raw(b"   \t ");
    still_serving(&mut s);
    assert!(
        s.seen.is_empty(),
        "unexpected lines from the proxy: {:?}",
        s.seen
    );
    assert_eq!(s.finish(), Some(0));

    verify(&data);
    let all = events(&data);
    let malformed = all
        .iter()
        .filter(|e| {
            e["attrs"]["direction"] == "agent_to_server" && e["attrs"]["malformed"] == "not JSON"
        })
        .count();
    assert_eq!(malformed, 5, "utf-8 twice, nesting three times");
    let results = all.iter().filter(|e| e["kind"] == "tool.result").count();
    assert_eq!(results, 17, "only the valid reads ran: {all:#?}");
}

/// JSON-RPC 2.0: an empty array is answered with a single invalid-request error (it is not
/// forwarded: the server, speaking MCP 2025-06-18, would drop it without an answer).
#[test]
fn an_empty_batch_is_an_invalid_request() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("workspace");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("a.txt"), "a\n").unwrap();
    let mut s = Session::start(&data, "sloppy", &[], &real_server(&ws));
    let err = s.rejected(b"[]", &Value::Null);
    assert_eq!(error_code(&err), Some(-32600), "{err}");
    let r = s.call("read_text_file", json!({"path": ws.join("a.txt")}));
    assert!(!refused(&r), "{r}");
    s.finish();
    verify(&data);
}
