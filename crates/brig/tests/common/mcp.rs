//! An agent's MCP client over a gateway's stdio (newline-delimited JSON-RPC), for tests that
//! look at the raw answers: the handshake, requests matched by id, what the gateway said on
//! stderr, and a bounded wait for its exit. Every wait is bounded by the session's patience.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub struct McpSession {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// Everything the gateway wrote on stderr, line by line.
    said: Arc<Mutex<Vec<String>>>,
    next_id: u64,
    patience: Duration,
}

impl McpSession {
    /// Starts `cmd` (a `brig mcp-proxy …` in front of a server) with its stdio piped, and
    /// runs the MCP handshake.
    pub fn start(mut cmd: Command, patience: Duration) -> McpSession {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gateway starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line).expect("the gateway writes JSON");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let said = Arc::new(Mutex::new(Vec::new()));
        let (stderr, keep) = (child.stderr.take().unwrap(), said.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                keep.lock().unwrap().push(line);
            }
        });
        let mut s = McpSession {
            stdin: child.stdin.take(),
            child,
            lines,
            said,
            next_id: 1,
            patience,
        };
        let init = s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "brig-test", "version": "1"}}),
        );
        assert!(init["result"]["serverInfo"]["name"].is_string(), "{init}");
        s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    pub fn send(&mut self, v: &Value) {
        let stdin = self.stdin.as_mut().expect("the session is open");
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends a request and returns the whole JSON-RPC answer to it.
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + self.patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method}: {}", self.stderr()));
            if v["id"] == id {
                return v;
            }
        }
    }

    pub fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Ends the session as a client does (closes stdin) and waits for the gateway's exit.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        self.exit();
    }

    /// Waits for the gateway to exit by itself.
    pub fn exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + self.patience;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the gateway did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn stderr(&self) -> String {
        self.said.lock().unwrap().join("\n")
    }

    /// Whether the gateway says `what` on stderr (waiting for the pipe to catch up).
    pub fn says(&self, what: &str) -> bool {
        let deadline = Instant::now() + self.patience;
        while !self.stderr().contains(what) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }
}

impl Drop for McpSession {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped (SIGSTOPped) process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
