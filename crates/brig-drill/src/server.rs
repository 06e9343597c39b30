//! Brig's built-in sandbox MCP server (`brig drill sandbox-server`), for machines without
//! Node.js and the reference filesystem server.
//!
//! It speaks MCP over stdio (newline-delimited JSON-RPC) and offers the reference
//! server's file tools under the same names and arguments, confined to the directories it
//! is given, plus the tools an adversarial scenario needs that a filesystem server lacks:
//! `run_command` (bash in the workspace, with the commands that would reach outside the
//! sandbox — services, schedulers, network, privilege, process signals — replaced by shims
//! that only log), `send_email` and `http_request` (written to the outbox, never sent).
//! Nothing it does leaves the sandbox.

use std::fs;
use std::io::{self, BufRead, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// Commands that would act outside the sandbox; the shell finds a logging shim first.
const SHIMMED: &[&str] = &[
    "systemctl",
    "service",
    "crontab",
    "at",
    "curl",
    "wget",
    "ssh",
    "scp",
    "rsync",
    "nc",
    "sudo",
    "su",
    "shutdown",
    "reboot",
    "auditctl",
    "kill",
    "pkill",
    "killall",
    "iptables",
    "mail",
    "sendmail",
];

/// Longest a `run_command` may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's configuration: the directories it serves (the first is the workspace, the
/// commands' working directory) and the outbox.
pub struct SandboxServer {
    roots: Vec<PathBuf>,
    outbox: PathBuf,
    shims: PathBuf,
}

impl SandboxServer {
    pub fn new(roots: Vec<PathBuf>, outbox: PathBuf) -> io::Result<Self> {
        if roots.is_empty() {
            return Err(io::Error::other(
                "the sandbox server needs a directory to serve",
            ));
        }
        let roots = roots
            .into_iter()
            .map(|r| r.canonicalize())
            .collect::<io::Result<Vec<_>>>()?;
        fs::create_dir_all(&outbox)?;
        let shims = outbox.join(".shims");
        write_shims(&shims, &outbox)?;
        Ok(SandboxServer {
            roots,
            outbox,
            shims,
        })
    }

    /// Serves MCP on stdin/stdout until stdin closes.
    pub fn serve(&self) -> io::Result<()> {
        let stdin = io::stdin().lock();
        let mut out = io::stdout().lock();
        for line in stdin.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            if let Some(reply) = self.handle(&line) {
                writeln!(out, "{reply}")?;
                out.flush()?;
            }
        }
        Ok(())
    }

    /// One JSON-RPC message in, at most one out.
    fn handle(&self, line: &str) -> Option<Value> {
        let msg: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => return Some(rpc_error(Value::Null, -32700, &format!("parse error: {e}"))),
        };
        let id = msg.get("id").cloned()?; // notifications get no answer
        let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let result = match method {
            "initialize" => json!({
                "protocolVersion": params.get("protocolVersion").cloned()
                    .unwrap_or(json!("2025-06-18")),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "brig-sandbox", "version": env!("CARGO_PKG_VERSION")},
                "instructions": "Brig's drill sandbox: file tools, a shell and simulated outbound tools."
            }),
            "ping" => json!({}),
            "tools/list" => json!({"tools": tools()}),
            "tools/call" => {
                let name = params.get("name").and_then(Value::as_str).unwrap_or("");
                let args = params.get("arguments").cloned().unwrap_or(json!({}));
                match self.call(name, &args) {
                    Ok(text) => json!({"content": [{"type": "text", "text": text}]}),
                    Err(e) => json!({"content": [{"type": "text", "text": format!("Error: {e}")}],
                                     "isError": true}),
                }
            }
            _ => {
                return Some(rpc_error(
                    id,
                    -32601,
                    &format!("method not found: {method}"),
                ))
            }
        };
        Some(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }

    fn call(&self, name: &str, args: &Value) -> Result<String, String> {
        let s = |k: &str| -> Result<&str, String> {
            args.get(k)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("argument `{k}` (a string) is required"))
        };
        match name {
            "read_file" | "read_text_file" => {
                fs::read_to_string(self.path(s("path")?)?).map_err(|e| e.to_string())
            }
            "write_file" => {
                let p = self.path(s("path")?)?;
                fs::write(&p, s("content")?).map_err(|e| e.to_string())?;
                Ok(format!("Successfully wrote to {}", p.display()))
            }
            "edit_file" => self.edit(self.path(s("path")?)?, args),
            "create_directory" => {
                let p = self.path(s("path")?)?;
                fs::create_dir_all(&p).map_err(|e| e.to_string())?;
                Ok(format!("Successfully created directory {}", p.display()))
            }
            "list_directory" => list(&self.path(s("path")?)?),
            "move_file" => {
                let (from, to) = (self.path(s("source")?)?, self.path(s("destination")?)?);
                fs::rename(&from, &to).map_err(|e| e.to_string())?;
                Ok(format!(
                    "Successfully moved {} to {}",
                    from.display(),
                    to.display()
                ))
            }
            "list_allowed_directories" => Ok(format!(
                "Allowed directories:\n{}",
                self.roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )),
            "run_command" => self.run(s("command")?),
            "send_email" => {
                self.post("mail.jsonl", args)?;
                Ok(format!(
                    "Queued for {} (simulated: the sandbox sends nothing)",
                    s("to")?
                ))
            }
            "http_request" => {
                self.post("http.jsonl", args)?;
                Ok(format!(
                    "200 OK from {} (simulated: the sandbox has no network)",
                    s("url")?
                ))
            }
            other => Err(format!("Unknown tool: {other}")),
        }
    }

    /// `path` resolved inside one of the served directories, or refused as the reference
    /// server refuses it.
    fn path(&self, path: &str) -> Result<PathBuf, String> {
        let p = Path::new(path);
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.roots[0].join(p)
        };
        let lexical = normalize(&joined);
        // Resolve symlinks of the part that exists, so a link cannot lead outside.
        let resolved = match lexical.canonicalize() {
            Ok(c) => c,
            Err(_) => match (lexical.parent(), lexical.file_name()) {
                (Some(parent), Some(name)) => parent
                    .canonicalize()
                    .map(|d| d.join(name))
                    .unwrap_or(lexical.clone()),
                _ => lexical.clone(),
            },
        };
        if self.roots.iter().any(|r| resolved.starts_with(r)) {
            Ok(resolved)
        } else {
            Err(format!(
                "Access denied - path outside allowed directories: {path}"
            ))
        }
    }

    fn edit(&self, p: PathBuf, args: &Value) -> Result<String, String> {
        let mut text = fs::read_to_string(&p).map_err(|e| e.to_string())?;
        let edits = args
            .get("edits")
            .and_then(Value::as_array)
            .ok_or("argument `edits` (an array) is required")?;
        for e in edits {
            let old = e.get("oldText").and_then(Value::as_str).unwrap_or("");
            let new = e.get("newText").and_then(Value::as_str).unwrap_or("");
            if old.is_empty() || !text.contains(old) {
                return Err(format!("Could not find exact match for edit: {old}"));
            }
            text = text.replacen(old, new, 1);
        }
        fs::write(&p, text).map_err(|e| e.to_string())?;
        Ok(format!("Edited {}", p.display()))
    }

    /// bash in the workspace, with the shims first on PATH; output and exit status.
    fn run(&self, command: &str) -> Result<String, String> {
        let home = self.roots.get(1).unwrap_or(&self.roots[0]);
        let mut child = Command::new("bash")
            .arg("-c")
            .arg(command)
            .current_dir(&self.roots[0])
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", self.shims.display()))
            .env("HOME", home)
            .env("LANG", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start bash: {e}"))?;
        let deadline = std::time::Instant::now() + COMMAND_TIMEOUT;
        while child.try_wait().map_err(|e| e.to_string())?.is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                return Err(format!("timed out after {COMMAND_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        Ok(format!(
            "exit status {}\n{}{}",
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    fn post(&self, file: &str, args: &Value) -> Result<(), String> {
        let mut f = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.outbox.join(file))
            .map_err(|e| e.to_string())?;
        writeln!(f, "{args}").map_err(|e| e.to_string())
    }
}

fn rpc_error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn list(dir: &Path) -> Result<String, String> {
    let mut names = fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| {
            let kind = if e.path().is_dir() { "[DIR]" } else { "[FILE]" };
            format!("{kind} {}", e.file_name().to_string_lossy())
        })
        .collect::<Vec<_>>();
    names.sort();
    Ok(names.join("\n"))
}

/// `a/./b/../c` → `a/c`, without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn write_shims(dir: &Path, outbox: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let log = outbox.join("commands.log");
    for name in SHIMMED {
        let p = dir.join(name);
        fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"{name} $*\" >> '{}'\necho \"[sandbox] {name}: not run (the drill sandbox only records it)\"\n",
                log.display()
            ),
        )?;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}

/// The tools, with input schemas as the reference server declares them.
fn tools() -> Value {
    let path = json!({"type": "object", "properties": {"path": {"type": "string"}},
                      "required": ["path"]});
    json!([
        {"name": "read_text_file", "description": "Read a file's contents as text.", "inputSchema": path},
        {"name": "read_file", "description": "Read a file's contents (deprecated: use read_text_file).", "inputSchema": path},
        {"name": "write_file", "description": "Create or overwrite a file with new content.",
         "inputSchema": {"type": "object", "properties": {"path": {"type": "string"},
                         "content": {"type": "string"}}, "required": ["path", "content"]}},
        {"name": "edit_file", "description": "Replace exact text in a file.",
         "inputSchema": {"type": "object", "properties": {"path": {"type": "string"},
                         "edits": {"type": "array", "items": {"type": "object", "properties": {
                             "oldText": {"type": "string"}, "newText": {"type": "string"}}}}},
                         "required": ["path", "edits"]}},
        {"name": "create_directory", "description": "Create a directory (and its parents).", "inputSchema": path},
        {"name": "list_directory", "description": "List a directory's entries.", "inputSchema": path},
        {"name": "move_file", "description": "Move or rename a file.",
         "inputSchema": {"type": "object", "properties": {"source": {"type": "string"},
                         "destination": {"type": "string"}}, "required": ["source", "destination"]}},
        {"name": "list_allowed_directories", "description": "The directories this server may access.",
         "inputSchema": {"type": "object", "properties": {}}},
        {"name": "run_command", "description": "Run a shell command in the workspace (bash).",
         "inputSchema": {"type": "object", "properties": {"command": {"type": "string"}},
                         "required": ["command"]}},
        {"name": "send_email", "description": "Send an email.",
         "inputSchema": {"type": "object", "properties": {"to": {"type": "string"},
                         "subject": {"type": "string"}, "body": {"type": "string"}},
                         "required": ["to", "body"]}},
        {"name": "http_request", "description": "Make an HTTP request.",
         "inputSchema": {"type": "object", "properties": {"method": {"type": "string"},
                         "url": {"type": "string"}, "body": {"type": "string"}},
                         "required": ["url"]}}
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> (tempfile::TempDir, SandboxServer) {
        let t = tempfile::tempdir().unwrap();
        let ws = t.path().join("ws");
        fs::create_dir_all(&ws).unwrap();
        fs::write(ws.join("a.txt"), "alpha").unwrap();
        let s = SandboxServer::new(vec![ws], t.path().join("outbox")).unwrap();
        (t, s)
    }

    #[test]
    fn file_tools_stay_inside_the_served_directories() {
        let (_t, s) = server();
        assert_eq!(
            s.call("read_text_file", &json!({"path": "a.txt"})).unwrap(),
            "alpha"
        );
        let err = s
            .call("read_text_file", &json!({"path": "../../../../etc/passwd"}))
            .unwrap_err();
        assert!(err.contains("outside allowed directories"), "{err}");
        s.call("write_file", &json!({"path": "b/../c.txt", "content": "x"}))
            .unwrap();
        assert_eq!(s.call("read_file", &json!({"path": "c.txt"})).unwrap(), "x");
    }

    #[test]
    fn commands_that_reach_outside_are_only_logged() {
        let (t, s) = server();
        let out = s
            .call(
                "run_command",
                &json!({"command": "systemctl stop auditd; echo done"}),
            )
            .unwrap();
        assert!(out.contains("not run") && out.contains("done"), "{out}");
        let log = fs::read_to_string(t.path().join("outbox/commands.log")).unwrap();
        assert_eq!(log.trim(), "systemctl stop auditd");
    }

    #[test]
    fn outbound_tools_write_to_the_outbox() {
        let (t, s) = server();
        s.call("send_email", &json!({"to": "x@y.z", "body": "hi"}))
            .unwrap();
        let mail = fs::read_to_string(t.path().join("outbox/mail.jsonl")).unwrap();
        assert!(mail.contains("x@y.z"));
        let unknown = s
            .handle(r#"{"jsonrpc":"2.0","id":1,"method":"nope"}"#)
            .unwrap();
        assert_eq!(unknown["error"]["code"], -32601);
    }
}
