//! The watchdog: an agent cannot escape the gateway by crashing or freezing it, and a
//! gateway whose control plane goes away fails closed and says so.
//!
//! Real processes throughout: `brig serve` on a data directory (both backends), `brig
//! mcp-proxy` in front of the real MCP reference filesystem server, beating every second;
//! proxies killed with SIGKILL or frozen with SIGSTOP. Every wait is bounded.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// The watchdog's "gateway silent" alert (`brig_server::watchdog::SILENT_RULE`).
const SILENT: &str = "b7d1f0c4-5a2e-4c61-9e0b-6f3a8d2c7e15";
/// Longest any wait here may take.
const PATIENCE: Duration = Duration::from_secs(40);

/// A proxy session in front of the real filesystem server serving `ws`.
struct Proxy(common::mcp::McpSession);

impl Proxy {
    /// A local proxy on `data` (`remote`: `--server URL` with an agent token instead).
    fn start(data: &Path, agent: &str, ws: &Path, remote: Option<(&str, &str)>) -> Proxy {
        let mut cmd = brig();
        cmd.args(["mcp-proxy", "--agent", agent, "--heartbeat", "1"]);
        match remote {
            Some((url, token)) => {
                cmd.args(["--server", url]).env("BRIG_TOKEN", token);
            }
            None => {
                cmd.arg("--data").arg(data);
            }
        }
        cmd.arg("--").arg("node").arg(server_bin()).arg(ws);
        Proxy(common::mcp::McpSession::start(cmd, PATIENCE))
    }

    /// A read of `path`: its text, and whether it was refused.
    fn read(&mut self, path: &Path) -> (String, bool) {
        let r = self.0.call("read_text_file", json!({"path": path}));
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (text, r["result"]["isError"] == json!(true))
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, which stays unreaped until it is waited for.
        assert_eq!(unsafe { libc::kill(self.0.pid() as i32, sig) }, 0);
    }

    fn finish(self) {
        self.0.finish()
    }

    fn exit(&mut self) -> std::process::ExitStatus {
        self.0.exit()
    }

    fn stderr(&self) -> String {
        self.0.stderr()
    }

    fn says(&self, what: &str) -> bool {
        self.0.says(what)
    }
}

/// The ledger's events.
fn events(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].clone())
        .collect()
}

/// The "gateway silent" alerts of `agent`.
fn silent_alerts(data: &Path, agent: &str) -> Vec<Value> {
    events(data)
        .into_iter()
        .filter(|e| e["kind"] == "alert" && e["attrs"]["rule_id"] == SILENT && e["agent"] == agent)
        .collect()
}

/// Waits (bounded) until `agent` has a "gateway silent" alert; returns it.
fn wait_for_silent(data: &Path, agent: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(a) = silent_alerts(data, agent).pop() {
            return a;
        }
        assert!(
            Instant::now() < deadline,
            "no silent-gateway alert for {agent}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The session `agent`'s gateway recorded under (from its calls in the ledger).
fn session_of(data: &Path, agent: &str) -> String {
    events(data)
        .into_iter()
        .find(|e| e["agent"] == agent && e["kind"] == "tool.call")
        .and_then(|e| e["session"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no call of {agent}"))
}

/// Policies permitting everything (the control plane decides remote gateways' calls; its
/// built-in policy knows no served directory).
fn permit_all(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("policies");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("all.cedar"),
        "permit (principal, action, resource);\n",
    )
    .unwrap();
    dir
}

fn workspace(tmp: &Path) -> std::path::PathBuf {
    let ws = tmp.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "hello\n").unwrap();
    ws.canonicalize().unwrap()
}

#[test]
fn a_killed_or_frozen_proxy_raises_an_alert_a_clean_exit_does_not() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = workspace(tmp.path());
    let notes = ws.join("notes.txt");
    let server = Server::start(&data);

    let mut clean = Proxy::start(&data, "bot-clean", &ws, None);
    let mut termed = Proxy::start(&data, "bot-term", &ws, None);
    let mut killed = Proxy::start(&data, "bot-killed", &ws, None);
    let mut frozen = Proxy::start(&data, "bot-frozen", &ws, None);
    for p in [&mut clean, &mut termed, &mut killed, &mut frozen] {
        assert_eq!(p.read(&notes), ("hello\n".to_string(), false));
    }
    // The clean exits go first: they have been quiet longest when the others are reported.
    // An MCP client may end its server with SIGTERM: that is a clean exit too, and the
    // proxy still dies of the signal.
    clean.finish();
    termed.signal(libc::SIGTERM);
    assert_eq!(termed.exit().signal(), Some(libc::SIGTERM));
    killed.signal(libc::SIGKILL);
    frozen.signal(libc::SIGSTOP);

    for agent in ["bot-killed", "bot-frozen"] {
        let alert = wait_for_silent(&data, agent);
        assert_eq!(alert["attrs"]["level"], "critical", "{alert}");
        assert_eq!(alert["session"], session_of(&data, agent), "{alert}");
        assert!(
            alert["attrs"]["gateway"]["pid"].as_i64().unwrap() > 0,
            "{alert}"
        );
    }
    // Incident response took them as any alert: an incident for each agent.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let o = run(&data, &["incidents", "list", "--json"]);
        let list = stdout(&o);
        if list.contains("bot-killed") && list.contains("bot-frozen") {
            break;
        }
        assert!(Instant::now() < deadline, "no incidents: {list}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Once per gap: a few more looks of the watchdog add nothing.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(silent_alerts(&data, "bot-killed").len(), 1);
    assert_eq!(silent_alerts(&data, "bot-frozen").len(), 1);
    assert!(silent_alerts(&data, "bot-clean").is_empty());
    assert!(silent_alerts(&data, "bot-term").is_empty());

    // The frozen proxy thaws: it beats again, and its clean exit raises nothing more.
    frozen.signal(libc::SIGCONT);
    frozen.finish();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(silent_alerts(&data, "bot-frozen").len(), 1);
    drop(killed);
    assert!(server.stop().success());
    let o = run(&data, &["ledger", "verify"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
}

/// `brig serve` on a given address (to start it again on the one it had).
fn serve_on(data: &Path, addr: &str, policies: &Path) -> Server {
    let mut child = brig()
        .args(["serve", "--listen", addr, "--data"])
        .arg(data)
        .arg("--policy")
        .arg(policies)
        .env("BRIG_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut before = Vec::new();
    let base = loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "brig serve exited before listening: {before:?}"
        );
        match line.split_whitespace().find(|w| w.starts_with("http://")) {
            Some(u) => break u.to_string(),
            None => before.push(line),
        }
    };
    std::thread::spawn(move || for _ in err.lines() {});
    Server {
        child,
        base,
        otlp: None,
        before,
    }
}

#[test]
fn a_remote_gateway_fails_closed_while_its_control_plane_is_down_and_recovers() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = workspace(tmp.path());
    let notes = ws.join("notes.txt");
    let o = run(
        &data,
        &[
            "tokens", "create", "--name", "gw", "--role", "agent", "--agent", "bot-r",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = stdout(&o).trim().to_string();
    let policies = permit_all(tmp.path());
    let server = Server::start_with(&data, &policies);
    let base = server.base.clone();
    let addr = base.trim_start_matches("http://").to_string();

    let mut p = Proxy::start(&data, "bot-r", &ws, Some((&base, &token)));
    assert_eq!(p.read(&notes), ("hello\n".to_string(), false));

    // The control plane stops: the next call is refused, saying why, and so is stderr.
    assert!(server.stop().success());
    let (text, refused) = p.read(&notes);
    assert!(refused, "{text}");
    assert!(text.contains("control plane is unreachable"), "{text}");
    assert!(text.contains("fails closed"), "{text}");
    assert!(p.says("unreachable"), "{}", p.stderr());

    // It is back on the same address: calls go through again.
    let server = serve_on(&data, &addr, &policies);
    assert_eq!(server.base, base);
    let (text, refused) = p.read(&notes);
    assert_eq!((text.as_str(), refused), ("hello\n", false));
    assert!(p.says("answers again"), "{}", p.stderr());

    // Killed, the remote gateway stops beating at the control plane: alerted there.
    p.signal(libc::SIGKILL);
    let alert = wait_for_silent(&data, "bot-r");
    assert_eq!(alert["attrs"]["level"], "critical", "{alert}");
    assert_eq!(alert["session"], session_of(&data, "bot-r"), "{alert}");
    assert!(server.stop().success());
}

#[test]
fn a_remote_gateways_clean_exit_raises_nothing_and_tokens_are_checked() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = workspace(tmp.path());
    let o = run(
        &data,
        &[
            "tokens", "create", "--name", "gw", "--role", "agent", "--agent", "bot-q",
        ],
    );
    let token = stdout(&o).trim().to_string();
    let server = Server::start_with(&data, &permit_all(tmp.path()));
    let mut p = Proxy::start(&data, "bot-q", &ws, Some((&server.base, &token)));
    assert!(!p.read(&ws.join("notes.txt")).1);
    p.finish();

    // Another agent's heartbeat is refused to this token; a bad interval is a 400.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let post = |body: Value| {
        rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/v1/gateways/heartbeat", server.base))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    let beat = json!({"id": "g1", "session": "s", "pid": 1, "started": 0, "interval_ms": 1000});
    let mut other = beat.clone();
    other["agent"] = json!("bot-other");
    assert_eq!(post(other), 403);
    let mut bad = beat.clone();
    bad["interval_ms"] = json!(5);
    assert_eq!(post(bad), 400);
    let mut stop = beat.clone();
    stop["stopped"] = json!(true);
    assert_eq!(post(stop), 204);

    // Well past three intervals: nothing for the clean exits.
    std::thread::sleep(Duration::from_secs(5));
    assert!(silent_alerts(&data, "bot-q").is_empty());
    assert!(server.stop().success());
}

/// A local gateway whose store cannot be written (another process holds SQLite's write
/// lock) refuses calls, saying why to the agent and on stderr, and recovers when it can.
#[test]
fn a_local_gateway_whose_store_is_locked_fails_closed_and_says_so() {
    if sqlite_only("it holds the SQLite file's write lock") {
        return;
    }
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = workspace(tmp.path());
    let mut p = Proxy::start(&data, "bot-l", &ws, None);
    assert!(!p.read(&ws.join("notes.txt")).1);
    let lock = db(&data);
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (text, refused) = p.read(&ws.join("notes.txt"));
    assert!(refused, "{text}");
    assert!(text.contains("ledger cannot be written"), "{text}");
    assert!(p.says("fail closed"), "{}", p.stderr());
    lock.execute_batch("ROLLBACK").unwrap();
    let (text, refused) = p.read(&ws.join("notes.txt"));
    assert_eq!((text.as_str(), refused), ("hello\n", false));
    p.finish();
}

/// The Streamable HTTP proxy beats too: killed, it is reported silent.
#[test]
fn a_killed_http_proxy_raises_an_alert() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let server = Server::start(&data);
    let mut child = brig()
        .args(["mcp-proxy", "--agent", "bot-h", "--heartbeat", "1"])
        .args([
            "--listen",
            "127.0.0.1:0",
            "--upstream-url",
            "http://127.0.0.1:9/mcp",
        ])
        .arg("--data")
        .arg(&data)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("listening") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "the proxy exited");
    }
    // It beats once at start and every second; let a beat or two land.
    std::thread::sleep(Duration::from_secs(2));
    child.kill().unwrap();
    child.wait().unwrap();
    let alert = wait_for_silent(&data, "bot-h");
    assert_eq!(alert["attrs"]["level"], "critical", "{alert}");
    assert!(server.stop().success());
}
