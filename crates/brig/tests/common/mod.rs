//! Shared helpers for the `brig` command-line tests: run the real binary on a real data
//! directory.
#![allow(dead_code)]

pub mod mcp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn brig() -> Command {
    Command::new(env!("CARGO_BIN_EXE_brig"))
}

/// Runs `brig ARGS… --data DIR` and returns its output.
pub fn run(data: &Path, args: &[&str]) -> Output {
    let out = brig()
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .expect("brig runs");
    out
}

/// Runs `cmd` with `input` on its stdin; its whole output.
pub fn with_stdin(mut cmd: Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("brig runs");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The backend this run of the suite tests: `sqlite` (default) or `postgresql`
/// (`BRIG_TEST_BACKEND=postgresql`, with `BRIG_TEST_DATABASE` naming the server).
pub fn backend() -> &'static str {
    match std::env::var("BRIG_TEST_BACKEND").as_deref() {
        Ok("postgresql") => "postgresql",
        _ => "sqlite",
    }
}

/// True (after saying why) when this test only means something on SQLite: it reaches into
/// the `ledger.db` file itself.
pub fn sqlite_only(why: &str) -> bool {
    if backend() == "sqlite" {
        return false;
    }
    eprintln!("not run on {}: {why}", backend());
    true
}

/// A fresh data directory inside `tmp`, its state on the backend under test (PostgreSQL:
/// a scratch database of its own).
pub fn init(tmp: &Path) -> PathBuf {
    let data = tmp.join("brig-data");
    let mut args = vec!["init", "--origin", "brig.test/ledger"];
    let url;
    if backend() == "postgresql" {
        let admin = std::env::var("BRIG_TEST_DATABASE")
            .expect("BRIG_TEST_BACKEND=postgresql needs BRIG_TEST_DATABASE (a server's URL)");
        url = brig_store::scratch_database(&admin).expect("a scratch database");
        args.extend(["--database", url.as_str()]);
    }
    let o = run(&data, &args);
    assert!(o.status.success(), "init failed: {}", stderr(&o));
    data
}

/// A small deterministic PRNG (xorshift64*), so failures can be replayed from the seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` realistic agent events (tool calls with arguments, decisions, results), as JSONL lines.
pub fn event_lines(n: usize, seed: u64) -> Vec<String> {
    let mut rng = Rng::new(seed);
    let tools = [
        "read_text_file",
        "write_file",
        "bash",
        "http_request",
        "send_email",
    ];
    (0..n)
        .map(|i| {
            let tool = tools[rng.below(tools.len() as u64) as usize];
            let session = format!("sess-{}", i / 50);
            match i % 3 {
                0 => serde_json::json!({
                    "source": "mcp-proxy", "agent": "repo-assistant", "workflow": "billing",
                    "session": session, "kind": "tool.call", "tool": tool, "call": i.to_string(),
                    "actions": [{"action": "file.read", "target": format!("/srv/repos/billing/src/mod_{}.py", rng.below(500))}],
                    "payload": {"arguments": {"path": format!("/srv/repos/billing/src/mod_{}.py", rng.below(500)), "seed": rng.next()}}
                }),
                1 => serde_json::json!({
                    "source": "mcp-proxy", "agent": "repo-assistant", "workflow": "billing",
                    "session": session, "kind": "policy.decision", "tool": tool, "call": (i - 1).to_string(),
                    "decision": {"effect": if rng.below(10) == 0 { "deny" } else { "allow" }, "policies": ["least-privilege"]}
                }),
                _ => serde_json::json!({
                    "source": "mcp-proxy", "agent": "repo-assistant", "workflow": "billing",
                    "session": session, "kind": "tool.result", "tool": tool, "call": (i - 2).to_string(),
                    "attrs": {"status": "ok"},
                    "payload": {"result": format!("{} lines of output, checksum {:x}", rng.below(300), rng.next())}
                }),
            }
            .to_string()
        })
        .collect()
}

/// Writes lines to a JSONL file in `dir` and returns its path.
pub fn write_jsonl(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Ingests `lines` into `data`, asserting success.
pub fn ingest(data: &Path, tmp: &Path, name: &str, lines: &[String]) {
    let file = write_jsonl(tmp, name, lines);
    let o = run(data, &["ingest", file.to_str().unwrap()]);
    assert!(o.status.success(), "ingest failed: {}", stderr(&o));
}

pub fn db(data: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data.join("ledger.db")).unwrap()
}

/// `target/npm/node_modules`, where scripts/test.sh installs the pinned MCP servers and
/// the TypeScript SDK.
pub fn node_modules() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/npm/node_modules")
}

/// A file of an installed npm package, or a clear failure naming the install step.
pub fn npm_file(rel: &str) -> PathBuf {
    let p = node_modules().join(rel);
    assert!(
        p.exists(),
        "{} is missing: run ./scripts/test.sh, which installs the pinned MCP reference servers",
        p.display()
    );
    p
}

/// The MCP reference filesystem server's entry point.
pub fn server_bin() -> PathBuf {
    npm_file(".bin/mcp-server-filesystem")
}

/// A temporary directory whose own name is not hidden (`tempfile`'s default `.tmpXXXX`
/// would put every workspace inside a dot-directory, which detection reads as a stealth
/// location, and the default playbook contains an agent for that).
#[allow(dead_code)]
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("brig-test-")
        .tempdir()
        .unwrap()
}

/// The DOM of a local page as headless Chromium renders it (`$BRIG_CHROMIUM`, default
/// `/usr/bin/chromium`, which scripts/test.sh installs). `None`, after saying why, when
/// Chromium is missing outside CI; in CI (`CI=true`) a missing Chromium fails the test.
pub fn chromium_dom(page: &Path) -> Option<String> {
    let bin = std::env::var("BRIG_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&bin).exists() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "Chromium ({bin}) is missing; scripts/test.sh installs it"
        );
        eprintln!("skipped the Chromium check: {bin} is missing (scripts/test.sh installs it)");
        return None;
    }
    let profile = tempdir();
    let o = Command::new(&bin)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "chromium: {}", stderr(&o));
    Some(stdout(&o))
}

/// A running `brig serve` on free loopback ports, killed when dropped (`stop` for a
/// graceful SIGTERM).
pub struct Server {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The OTLP listener's base URL, when `--otlp-listen` was given.
    pub otlp: Option<String>,
    /// What the server printed before it listened (warnings).
    pub before: Vec<String>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Self::spawn(data, &[])
    }

    /// A server deciding with the Cedar policies in `policies`.
    pub fn start_with(data: &Path, policies: &Path) -> Server {
        Self::spawn(data, &["--policy".as_ref(), policies.as_os_str()])
    }

    pub fn spawn(data: &Path, extra: &[&std::ffi::OsStr]) -> Server {
        use std::io::{BufRead, BufReader};
        let mut child = brig()
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env("BRIG_LOG", "warn")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut before = Vec::new();
        let mut url = || loop {
            let mut line = String::new();
            assert!(
                err.read_line(&mut line).unwrap() > 0,
                "brig serve exited before listening: {before:?}"
            );
            match line.split_whitespace().find(|w| w.starts_with("http://")) {
                Some(u) => return u.trim_end_matches("/v1/traces").to_string(),
                None => before.push(line),
            }
        };
        let base = url();
        let otlp = extra.iter().any(|a| *a == "--otlp-listen").then(&mut url);
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in err.lines() {});
        Server {
            child,
            base,
            otlp,
            before,
        }
    }

    /// SIGTERM, then its exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        // SAFETY: std can only SIGKILL a child; kill(2) on the child's pid, which `self.child`
        // keeps unreaped until wait, so the pid cannot name another process.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
