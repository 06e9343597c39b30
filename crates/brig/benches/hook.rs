//! Coding-agent hook round trip: `brig hook claude-code` started with a PreToolUse event on
//! stdin, timed from process start to the decision printed and to the process' exit, beside
//! baselines measured in the same run.
//!
//! ```sh
//! cargo bench -p brig --bench hook                      # N = 200 per case
//! cargo bench -p brig --bench hook -- --runs 500
//! ```
//!
//! Cases, each N runs, one after another (no concurrency; a coding agent waits for its
//! hook):
//! - `true`: starting a process at all (`/bin/true`).
//! - `brig --version`: starting this brig (its binary loaded, nothing opened).
//! - `hook, new session`: a Read inside the project, allowed, each run a session of its own
//!   (nothing to replay).
//! - `hook, one session`: the same call N times in one session, so each run replays the
//!   session so far (up to the hook's bound of 500 events) before it decides.
//!
//! Each hook run opens the data directory and the store, loads the built-in policy and rule
//! pack, decides, writes the call and its decision durably (fsync), prints the answer, and
//! signs a checkpoint before it exits. Afterwards the ledger is verified.
//!
//! `BRIG_BENCH_DIR`: where the data directory goes (default: the current directory; a tmpfs
//! takes the disk out of the figures). `BRIG_BENCH_BRIG`: another `brig` binary (e.g. a
//! release build) to measure instead of this build's.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn brig() -> PathBuf {
    std::env::var_os("BRIG_BENCH_BRIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_brig")))
}

fn runs() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

/// One run: (time until the first line of stdout, time until exit).
fn once(cmd: &mut Command, input: Option<&str>) -> (Duration, Duration) {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the command starts");
    let mut stdin = child.stdin.take().expect("piped");
    if let Some(i) = input {
        stdin.write_all(i.as_bytes()).expect("stdin written");
    }
    drop(stdin);
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    out.read_line(&mut line).expect("stdout read");
    let printed = start.elapsed();
    let status = child.wait().expect("waited");
    let exited = start.elapsed();
    assert!(status.success(), "exit status {status}");
    if input.is_some() {
        assert!(line.contains(r#""permissionDecision":"allow""#), "{line}");
    }
    (printed, exited)
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn report(name: &str, samples: Vec<(Duration, Duration)>) {
    let mut printed: Vec<Duration> = samples.iter().map(|s| s.0).collect();
    let mut exited: Vec<Duration> = samples.iter().map(|s| s.1).collect();
    printed.sort();
    exited.sort();
    println!(
        "{name:<22} {:>5}  decision printed p50 {:>6.2} ms  p99 {:>6.2} ms   exit p50 {:>6.2} ms  p99 {:>6.2} ms",
        samples.len(),
        pct(&printed, 0.5),
        pct(&printed, 0.99),
        pct(&exited, 0.5),
        pct(&exited, 0.99),
    );
}

fn event(project: &Path, session: &str, n: usize) -> String {
    serde_json::json!({
        "session_id": session, "cwd": project, "hook_event_name": "PreToolUse",
        "permission_mode": "default", "tool_name": "Read",
        "tool_input": {"file_path": project.join("README.md")},
        "tool_use_id": format!("toolu_{n}"),
    })
    .to_string()
}

fn main() {
    let n = runs();
    let base = std::env::var_os("BRIG_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::current_dir().expect("a current directory"));
    let tmp = tempfile::Builder::new()
        .prefix("brig-hook-bench-")
        .tempdir_in(base)
        .expect("a scratch directory");
    let data = tmp.path().join("brig-data");
    let project = tmp.path().join("site");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("README.md"), "# Site\n").unwrap();
    let o = Command::new(brig())
        .args(["init", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let brig = brig();
    println!("brig: {}  runs per case: {n}", brig.display());
    let hook = || {
        let mut c = Command::new(&brig);
        c.args(["hook", "claude-code", "--data"]).arg(&data);
        c
    };
    // One run of each first, so files are in the page cache for every case alike.
    once(&mut Command::new("true"), None);
    once(&mut hook(), Some(&event(&project, "warm", 0)));

    let t: Vec<_> = (0..n)
        .map(|_| once(&mut Command::new("true"), None))
        .collect();
    report("true", t);
    let v: Vec<_> = (0..n)
        .map(|_| once(Command::new(&brig).arg("--version"), None))
        .collect();
    report("brig --version", v);
    let fresh: Vec<_> = (0..n)
        .map(|i| once(&mut hook(), Some(&event(&project, &format!("s-{i}"), i))))
        .collect();
    report("hook, new session", fresh);
    let one: Vec<_> = (0..n)
        .map(|i| once(&mut hook(), Some(&event(&project, "long", i))))
        .collect();
    report("hook, one session", one);

    let o = Command::new(&brig)
        .args(["ledger", "verify", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    println!("ledger verified ({} hook runs recorded)", 2 * n + 1);
}
