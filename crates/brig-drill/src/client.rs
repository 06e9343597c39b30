//! The scripted agent's MCP client: newline-delimited JSON-RPC over the gateway's stdio,
//! as an agent's MCP client speaks it.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::DrillError;

/// An MCP session through a gateway process.
pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    next_id: u64,
    /// The gateway's last lines of diagnostics (stderr is drained so it can never block).
    stderr: Arc<Mutex<VecDeque<String>>>,
}

/// What came back for one request.
#[derive(Debug)]
pub enum Reply {
    /// A JSON-RPC result (a tool result, possibly with `isError`).
    Result(Value),
    /// A JSON-RPC error.
    Error(Value),
    /// Nothing within the time allowed.
    Timeout,
}

impl Client {
    /// Starts the gateway command and speaks MCP to it.
    pub fn start(mut cmd: Command) -> Result<Client, DrillError> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| DrillError::Gateway(format!("cannot start the gateway: {e}")))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped");
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr.clone();
        let errout = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(errout).lines().map_while(Result::ok) {
                let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
                if t.len() == 5 {
                    t.pop_front();
                }
                t.push_back(line);
            }
        });
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // A line that is not JSON is the gateway's fault; the drill reports what it
                // did not answer instead of stopping here.
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Ok(Client {
            child,
            stdin,
            lines,
            next_id: 1,
            stderr,
        })
    }

    /// `initialize` and `notifications/initialized`.
    pub fn initialize(&mut self) -> Result<(), DrillError> {
        let params = json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "brig-drill", "version": env!("CARGO_PKG_VERSION")}
        });
        match self.request("initialize", params, Duration::from_secs(30))? {
            (_, Reply::Result(_)) => {}
            (_, other) => {
                return Err(DrillError::Gateway(format!(
                    "the gateway did not initialize: {other:?}{}",
                    self.stderr_hint()
                )))
            }
        }
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
    }

    /// Calls a tool; returns the request id and the reply.
    pub fn call_tool(
        &mut self,
        name: &str,
        args: &Value,
        timeout: Duration,
    ) -> Result<(u64, Reply), DrillError> {
        self.request(
            "tools/call",
            json!({"name": name, "arguments": args}),
            timeout,
        )
    }

    fn request(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<(u64, Reply), DrillError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) if v.get("id") == Some(&json!(id)) => {
                    let reply = match v.get("error") {
                        Some(e) => Reply::Error(e.clone()),
                        None => Reply::Result(v.get("result").cloned().unwrap_or(Value::Null)),
                    };
                    return Ok((id, reply));
                }
                Ok(_) => continue, // notifications, server requests
                Err(RecvTimeoutError::Timeout) => return Ok((id, Reply::Timeout)),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(DrillError::Gateway(format!(
                        "the gateway closed its output during `{method}`{}",
                        self.stderr_hint()
                    )))
                }
            }
        }
    }

    fn send(&mut self, msg: &Value) -> Result<(), DrillError> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| DrillError::Gateway("the session is closed".into()))?;
        writeln!(stdin, "{msg}")
            .and_then(|_| stdin.flush())
            .map_err(|e| DrillError::Gateway(format!("writing to the gateway: {e}")))
    }

    /// Ends the session as a client does (closes stdin) and waits for the gateway to
    /// finish writing its records; kills it after `grace`.
    pub fn close(mut self, grace: Duration) -> Result<(), DrillError> {
        drop(self.stdin.take());
        let deadline = Instant::now() + grace;
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) => return Ok(()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(DrillError::Gateway(format!(
                        "the gateway did not exit within {grace:?} of the session's end"
                    )));
                }
            }
        }
    }

    /// The gateway's last words.
    fn stderr_hint(&mut self) -> String {
        let t = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        if t.is_empty() {
            return String::new();
        }
        format!(
            " (gateway: {})",
            t.iter().cloned().collect::<Vec<_>>().join(" | ")
        )
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
