//! Fault injection (issue 12), on both backends: a disk that fills up during ingest,
//! evidence export, rollback and `brig serve`'s load; SIGKILL at random moments of checkpointing, rollback apply
//! and evidence export, repeated; PostgreSQL restarted under load; the control plane
//! restarted beside a running gateway; a slow upstream MCP server; an agent that dies with
//! a call in flight. Each fault is bounded in count and time, on loopback or local files
//! only, and stops by itself. After each: the ledger verifies, nothing acknowledged is lost,
//! no half-written file is left looking complete, and the operation completes when retried.
//!
//! Disk full uses a real tmpfs mounted by the test (it runs as root in CI); where mounting
//! is impossible the test says so, and fails under `CI`. `BRIG_FAULT_ITERATIONS` (default
//! 20) sets how many times each SIGKILL test kills; RELIABILITY.md has the commands.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use serde_json::{json, Value};

/// Longest any single step may take before the test calls it a hang.
const BOUND: Duration = Duration::from_secs(60);

/// How many SIGKILLs each random-kill test delivers.
fn iterations() -> usize {
    std::env::var("BRIG_FAULT_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// A seed from the clock, printed so that a failure can be replayed (`BRIG_FAULT_SEED`).
fn seed(test: &str) -> u64 {
    let s = std::env::var("BRIG_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: seed {s} (replay with BRIG_FAULT_SEED={s})");
    s
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

/// A tmpfs of a fixed size mounted on a directory for one test, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a `size`-byte tmpfs on `dir` (created). `None`, after saying why, when this
    /// machine will not let the test mount (not root, no CAP_SYS_ADMIN); under `CI` that
    /// fails the test instead: the disk-full faults must not be skipped silently there.
    fn mount(dir: &Path, size: u64) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={size},mode=0700"))
            .arg("tmpfs")
            .arg(dir)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs {
                dir: dir.to_path_buf(),
            }),
            other => {
                let why = match other {
                    Ok(o) => stderr(&o),
                    Err(e) => e.to_string(),
                };
                assert!(
                    !in_ci(),
                    "cannot mount a tmpfs for the disk-full faults ({why}); CI must run them as root"
                );
                eprintln!(
                    "NOT RUN: cannot mount a tmpfs here ({why}); the disk-full fault needs root"
                );
                None
            }
        }
    }

    /// Fills the file system with a filler file until only about `left` bytes are free.
    fn fill_leaving(&self, left: u64) -> PathBuf {
        let filler = self.dir.join("filler");
        let free = self.free();
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0x5au8; 64 * 1024];
        let mut want = free.saturating_sub(left);
        while want > 0 {
            let n = want.min(chunk.len() as u64) as usize;
            if f.write_all(&chunk[..n]).is_err() {
                break;
            }
            want -= n as u64;
        }
        f.sync_all().ok();
        filler
    }

    fn free(&self) -> u64 {
        let o = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&self.dir)
            .output()
            .unwrap();
        stdout(&o).lines().nth(1).unwrap().trim().parse().unwrap()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
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

/// Every event in the ledger: id → index (read through the store, whichever backend).
fn ledger_ids(data: &Path) -> BTreeMap<String, u64> {
    use brig_ledger::store::LedgerStore;
    let mut store = brig_store::DataDir::open(data).unwrap().store().unwrap();
    let mut rows = BTreeMap::new();
    store
        .scan(0, u64::MAX, &mut |r| {
            let e = brig_model::Event::from_leaf(&r.leaf).unwrap();
            rows.insert(e.id.to_string(), r.index);
            true
        })
        .unwrap();
    rows
}

fn events(data: &Path) -> Vec<Value> {
    let o = run(data, &["ledger", "show", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].take())
        .collect()
}

/// `n` events with ids of their own (so that a retried ingest skips what is already in).
fn events_with_ids(n: usize, seed: u64) -> Vec<String> {
    event_lines(n, seed)
        .into_iter()
        .map(|l| {
            let mut v: Value = serde_json::from_str(&l).unwrap();
            v["id"] = json!(brig_model::EventId::new().to_string());
            v.to_string()
        })
        .collect()
}

/// Waits (bounded) for a child to exit; kills it and fails if it does not.
fn wait_bounded(child: &mut Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {} s", BOUND.as_secs());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs `brig ARGS` and SIGKILLs it after `delay` unless it finished first. True when it
/// was killed.
fn kill_after(data: &Path, args: &[&str], delay: Duration) -> bool {
    let mut child = brig()
        .args(args)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    if killed {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    killed
}

/// Runs `brig ARGS` once to the end and returns how long it took (the window random kills
/// are drawn from).
fn timed(data: &Path, args: &[&str]) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let o = run(data, args);
    (o, t.elapsed())
}

// ---------------------------------------------------------------------------------------
// Disk full
// ---------------------------------------------------------------------------------------

/// The data directory on a 32 MiB tmpfs, filled until ~1.5 MiB are left, and events
/// streamed in: ingest stops with a clear error naming the full disk; every event it
/// acknowledged is in the ledger at its index; the ledger verifies once space is freed, and
/// the same input ingested again completes it (what was in is skipped as duplicates).
#[test]
fn disk_full_during_ingest_loses_no_acknowledged_event() {
    if backend() == "postgresql" {
        // The data directory then holds only the key: the ledger lives in the database
        // server, whose own disk is not the test's to fill. The server's faults are the
        // restart test's.
        eprintln!("NOT RUN on postgresql: the ledger is not in the data directory");
        return;
    }
    let tmp = tempdir();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("disk"), 32 << 20) else {
        return;
    };
    let data = init(&fs.dir);
    let filler = fs.fill_leaving(3 << 19);
    let lines = events_with_ids(12_000, seed("disk_full_during_ingest"));

    let mut child = brig()
        .args(["ingest", "--acks", "-", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feed = lines.clone();
    // In chunks, so that some batches are committed before the disk fills.
    let feeder = std::thread::spawn(move || {
        for chunk in feed.chunks(500) {
            if stdin
                .write_all((chunk.join("\n") + "\n").as_bytes())
                .is_err()
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let out = child.stdout.take().unwrap();
    let acks: Vec<(u64, String)> = BufReader::new(out)
        .lines()
        .map_while(Result::ok)
        .map(|l| {
            let v: Value = serde_json::from_str(&l).unwrap();
            (
                v["index"].as_u64().unwrap(),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let status = wait_bounded(&mut child, "brig ingest on a full disk");
    feeder.join().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "a full disk is an error: {err}");
    assert!(
        err.contains("disk is full") || err.contains("No space left"),
        "the error names the full disk: {err}"
    );
    assert!(
        acks.len() < lines.len(),
        "the disk never filled ({} acks): the test proved nothing",
        acks.len()
    );
    eprintln!(
        "disk full after {} of {} events acknowledged",
        acks.len(),
        lines.len()
    );

    std::fs::remove_file(filler).unwrap();
    verify(&data);
    let stored = ledger_ids(&data);
    for (index, id) in &acks {
        assert_eq!(
            stored.get(id),
            Some(index),
            "acknowledged event {id} (index {index}) lost"
        );
    }
    // Retried: the rest goes in, nothing twice.
    let file = write_jsonl(tmp.path(), "retry.jsonl", &lines);
    let o = run(&data, &["ingest", file.to_str().unwrap()]);
    assert!(o.status.success(), "the retry completes: {}", stderr(&o));
    let stored = ledger_ids(&data);
    let want: HashSet<String> = lines
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(stored.len(), want.len(), "every event exactly once");
    assert!(want.iter().all(|id| stored.contains_key(id)));
    verify(&data);
}

/// A data directory with an incident's worth of events to export: `n` agent events with
/// payloads for agent `exporter`.
fn export_fixture(tmp: &Path, n: usize) -> PathBuf {
    let data = init(tmp);
    let lines: Vec<String> = event_lines(n, 7)
        .into_iter()
        .map(|l| l.replace("repo-assistant", "exporter"))
        .collect();
    ingest(&data, tmp, "export.jsonl", &lines);
    data
}

/// What a directory holds besides `keep`, that is neither a complete, verifying bundle
/// nor absent: names of files a person could take for a bundle. Brig's own temporary
/// files (`.brig-evidence-*`) are listed separately.
fn export_debris(dir: &Path, keep: &Path) -> (Vec<String>, Vec<String>) {
    let mut other = Vec::new();
    let mut temps = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p == keep || p.file_name().unwrap() == "filler" {
            continue;
        }
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".brig-evidence-") {
            temps.push(name);
        } else {
            other.push(name);
        }
    }
    (other, temps)
}

fn verify_bundle(data: &Path, bundle: &Path) -> std::process::Output {
    run(data, &["evidence", "verify", bundle.to_str().unwrap()])
}

/// The export destination on a tmpfs too small for the bundle: a clear error, no file at
/// the destination, no temporary file left; with space freed the same command writes a
/// bundle that verifies; the ledger verifies throughout.
#[test]
fn disk_full_during_evidence_export_leaves_no_partial_bundle() {
    let tmp = tempdir();
    let data = export_fixture(tmp.path(), 3000);
    let Some(fs) = Tmpfs::mount(&tmp.path().join("usb"), 32 << 20) else {
        return;
    };
    let filler = fs.fill_leaving(256 << 10);
    let bundle = fs.dir.join("exporter.tar");
    let args = [
        "evidence",
        "export",
        "--agent",
        "exporter",
        "-o",
        bundle.to_str().unwrap(),
    ];
    let o = run(&data, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("No space left") && stderr(&o).contains("exporter.tar"),
        "the error names the full disk and the bundle: {}",
        stderr(&o)
    );
    assert!(!bundle.exists(), "a partial bundle at the destination");
    let (other, temps) = export_debris(&fs.dir, &bundle);
    assert!(
        other.is_empty() && temps.is_empty(),
        "debris: {other:?} {temps:?}"
    );
    verify(&data);

    std::fs::remove_file(filler).unwrap();
    let o = run(&data, &args);
    assert!(o.status.success(), "the retry completes: {}", stderr(&o));
    let v = verify_bundle(&data, &bundle);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    verify(&data);
}

/// Starts `brig watch` on `ws` for `agent`; returns it once it watches.
fn start_watch(data: &Path, ws: &Path, agent: &str) -> Child {
    let mut w = brig()
        .args(["watch", "--agent", agent, "--settle-ms", "100", "--data"])
        .arg(data)
        .arg(ws)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(w.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "brig watch: {line}");
    std::thread::spawn(move || for _ in err.lines() {});
    w
}

/// Distinct paths of `agent`'s recorded file changes.
fn changed_paths(data: &Path, agent: &str) -> HashSet<String> {
    events(data)
        .iter()
        .filter(|e| e["kind"] == "file.change" && e["agent"] == agent)
        .flat_map(|e| e["actions"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["target"].as_str().map(str::to_string))
        .collect()
}

/// Stops a watcher once it has recorded changes to `n` distinct paths (bounded).
fn stop_watch(data: &Path, mut w: Child, agent: &str, n: usize) {
    let deadline = Instant::now() + BOUND;
    loop {
        let seen = changed_paths(data, agent).len();
        if seen >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "brig watch recorded changes to {seen} paths of {agent}, expected {n}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(w.id() as i32, libc::SIGTERM) };
    assert!(wait_bounded(&mut w, "brig watch").success());
}

/// File `i`'s content in generation `g`: big enough that a restore takes real writes, and
/// distinct per generation so a torn file shows.
fn generation(i: usize, g: usize, size: usize) -> Vec<u8> {
    // One line: the plan shows a text diff of each file, which is not what is tested here.
    let head = format!("file {i} generation {g}; ");
    let mut v = head.clone().into_bytes();
    while v.len() < size {
        v.extend_from_slice(head.as_bytes());
    }
    v.truncate(size);
    v
}

/// Each of the `n` files is exactly its `pre` or its `post` content (never torn);
/// returns how many are `post`.
fn whole_files(
    ws: &Path,
    n: usize,
    pre: impl Fn(usize) -> Vec<u8>,
    post: impl Fn(usize) -> Vec<u8>,
) -> usize {
    (0..n)
        .filter(|&i| {
            let have = std::fs::read(ws.join(format!("f{i:03}.txt"))).unwrap();
            let is_post = have == post(i);
            assert!(
                is_post || have == pre(i),
                "f{i:03}.txt is torn: neither its state before nor after ({} bytes: {:?}…)",
                have.len(),
                String::from_utf8_lossy(&have[..have.len().min(40)])
            );
            is_post
        })
        .count()
}

/// Files whose names Brig's atomic writes use for their temporary copies, left in `dir`.
fn restore_debris(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".brig-restore-"))
        .collect()
}

/// An agent (seen by `brig watch`) shrank 24 files of 128 KiB on a 4 MiB tmpfs workspace,
/// then the disk filled: `brig rollback apply` stops with a clear error, each file is
/// whole (its pre- or post-state), no temporary copy is left, the ledger verifies; with
/// space freed a second apply completes and `rollback verify` passes.
#[test]
fn disk_full_during_rollback_apply_leaves_every_file_whole() {
    const N: usize = 24;
    const BIG: usize = 128 << 10;
    let tmp = tempdir();
    let data = init(tmp.path());
    let Some(fs) = Tmpfs::mount(&tmp.path().join("ws"), 4 << 20) else {
        return;
    };
    let ws = fs.dir.join("site");
    std::fs::create_dir(&ws).unwrap();
    for i in 0..N {
        std::fs::write(ws.join(format!("f{i:03}.txt")), generation(i, 0, BIG)).unwrap();
    }
    let w = start_watch(&data, &ws, "shrinker");
    for i in 0..N {
        std::fs::write(ws.join(format!("f{i:03}.txt")), generation(i, 1, 64)).unwrap();
    }
    stop_watch(&data, w, "shrinker", N);
    // Room for a few restores, not all of them.
    let filler = fs.fill_leaving(5 * BIG as u64);
    let args = ["rollback", "apply", "--agent", "shrinker"];
    let o = run(&data, &args);
    assert!(!o.status.success(), "apply cannot complete on a full disk");
    assert!(
        stderr(&o).contains("No space left") || stdout(&o).contains("No space left"),
        "the error names the full disk: {}{}",
        stdout(&o),
        stderr(&o)
    );
    let restored = N - whole_files(&ws, N, |i| generation(i, 0, BIG), |i| generation(i, 1, 64));
    eprintln!("{restored} of {N} files restored before the disk filled");
    assert!(restore_debris(&ws).is_empty(), "{:?}", restore_debris(&ws));
    verify(&data);

    std::fs::remove_file(filler).unwrap();
    let o = run(&data, &args);
    assert!(
        o.status.success(),
        "the second apply completes: {}",
        stderr(&o)
    );
    for i in 0..N {
        assert_eq!(
            std::fs::read(ws.join(format!("f{i:03}.txt"))).unwrap(),
            generation(i, 0, BIG)
        );
    }
    let o = run(&data, &["rollback", "verify", "--agent", "shrinker"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    verify(&data);
}

// ---------------------------------------------------------------------------------------
// SIGKILL at random moments, repeated
// ---------------------------------------------------------------------------------------

/// `brig ledger checkpoint` SIGKILLed at random moments, each time after more events went
/// in: the ledger verifies after every kill (a checkpoint is stored whole or not at all),
/// and a checkpoint made afterwards covers everything. (Checkpoints made by the appender's
/// timer while ingest is killed are `crash.rs`'s, with `--checkpoint-interval 1`.)
#[test]
fn sigkill_during_checkpoint_leaves_a_verifiable_ledger() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let mut rng = Rng::new(seed("sigkill_during_checkpoint"));
    ingest(&data, tmp.path(), "base.jsonl", &event_lines(2000, 1));
    let (o, window) = timed(&data, &["ledger", "checkpoint"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut killed = 0;
    for round in 0..iterations() {
        ingest(
            &data,
            tmp.path(),
            "more.jsonl",
            &event_lines(50, round as u64 + 2),
        );
        let delay = Duration::from_micros(rng.below(window.as_micros() as u64 + 1));
        killed += kill_after(&data, &["ledger", "checkpoint"], delay) as usize;
        verify(&data);
    }
    eprintln!(
        "{killed} of {} checkpoints killed before they finished",
        iterations()
    );
    let o = run(&data, &["ledger", "checkpoint"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let size = 2000 + 50 * iterations();
    let o = run(&data, &["ledger", "verify"]);
    assert!(
        stdout(&o).contains(&format!("latest signed checkpoint: size {size} ")),
        "the last checkpoint covers all {size} events: {}",
        stdout(&o)
    );
}

/// 48 files of 32 KiB changed by an agent (seen by `brig watch`, a new agent each round),
/// then `brig rollback apply` SIGKILLed at a random moment: every file is whole (the
/// agent's version or the restored one, never torn), the ledger verifies, and a second
/// apply completes the rollback (`rollback verify` passes) leaving no temporary copies.
#[test]
fn sigkill_during_rollback_apply_leaves_files_whole_and_a_second_apply_completes() {
    const N: usize = 48;
    const SIZE: usize = 32 << 10;
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("site");
    std::fs::create_dir(&ws).unwrap();
    for i in 0..N {
        std::fs::write(ws.join(format!("f{i:03}.txt")), generation(i, 0, SIZE)).unwrap();
    }
    let mut rng = Rng::new(seed("sigkill_during_rollback_apply"));
    let (mut before, mut during, mut after) = (0, 0, 0);
    for round in 1..=iterations() {
        let agent = format!("bot-{round}");
        let w = start_watch(&data, &ws, &agent);
        for i in 0..N {
            std::fs::write(ws.join(format!("f{i:03}.txt")), generation(i, round, SIZE)).unwrap();
        }
        stop_watch(&data, w, &agent, N);
        let scope = ["rollback", "apply", "--agent", agent.as_str()];
        let mut dry = scope.to_vec();
        dry.push("--dry-run");
        let (o, window) = timed(&data, &dry);
        assert!(o.status.success(), "{}", stderr(&o));
        // A dry run plans without writing: the real apply takes somewhat longer.
        let delay = Duration::from_micros(rng.below(2 * window.as_micros() as u64 + 1));
        let killed = kill_after(&data, &scope, delay);
        let agents = whole_files(
            &ws,
            N,
            |i| generation(i, 0, SIZE),
            |i| generation(i, round, SIZE),
        );
        match (killed, agents) {
            (false, _) => after += 1,
            (true, n) if n == N => before += 1,
            (true, _) => during += 1,
        }
        verify(&data);
        if round == 1 {
            // What a kill between a temporary copy's write and its rename leaves (the
            // random kills land there only now and then): the next apply removes it.
            std::fs::write(ws.join(".brig-restore-killed"), b"half a file").unwrap();
        }
        let o = run(&data, &scope);
        assert!(
            o.status.success(),
            "round {round}: the second apply completes: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(
            whole_files(
                &ws,
                N,
                |i| generation(i, round, SIZE),
                |i| generation(i, 0, SIZE)
            ),
            N,
            "round {round}: every file restored"
        );
        let o = run(&data, &["rollback", "verify", "--agent", agent.as_str()]);
        assert!(
            o.status.success(),
            "round {round}: {}{}",
            stdout(&o),
            stderr(&o)
        );
        assert_eq!(restore_debris(&ws), Vec::<String>::new(), "round {round}");
        verify(&data);
    }
    eprintln!(
        "rollback apply killed before restoring anything {before}, part way {during}, not at all (it had finished) {after}"
    );
}

/// `brig evidence export` SIGKILLed at random moments: at the destination there is either
/// nothing or a complete bundle that verifies; no other file appears beside it; Brig's
/// temporary files are cleared by the next export; the ledger verifies; an export run
/// afterwards to the same destination completes.
#[test]
fn sigkill_during_evidence_export_leaves_no_bundle_or_a_complete_one() {
    let tmp = tempdir();
    let data = export_fixture(tmp.path(), 3000);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let mut rng = Rng::new(seed("sigkill_during_evidence_export"));
    let export = |dest: &Path| {
        vec![
            "evidence".to_string(),
            "export".into(),
            "--agent".into(),
            "exporter".into(),
            "-o".into(),
            dest.to_str().unwrap().into(),
        ]
    };
    let first = out.join("first.tar");
    let args = export(&first);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (o, window) = timed(&data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let (mut complete, mut absent) = (0, 0);
    for round in 0..iterations() {
        let dest = out.join(format!("round-{round}.tar"));
        let args = export(&dest);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let delay = Duration::from_micros(rng.below(window.as_micros() as u64 * 3 / 2 + 1));
        kill_after(&data, &args, delay);
        if dest.exists() {
            let v = verify_bundle(&data, &dest);
            assert!(
                v.status.success(),
                "round {round}: a bundle at the destination that does not verify: {}{}",
                stdout(&v),
                stderr(&v)
            );
            complete += 1;
            std::fs::remove_file(&dest).unwrap();
        } else {
            absent += 1;
        }
        let (other, _temps) = export_debris(&out, &first);
        assert_eq!(
            other,
            Vec::<String>::new(),
            "round {round}: files beside the bundle"
        );
        verify(&data);
    }
    eprintln!("evidence export killed: {absent} left nothing, {complete} had finished");
    let (_, temps) = export_debris(&out, &first);
    eprintln!("{} temporary file(s) left by the kills", temps.len());
    // What a kill leaves, for certain (the kills above land there only now and then), and
    // the temporary bundle of an export still running (its lock held), which must stay.
    std::fs::write(out.join(".brig-evidence-killed"), b"half a tar").unwrap();
    let running = out.join(".brig-evidence-running");
    let held = std::fs::File::create(&running).unwrap();
    held.lock().unwrap();
    let o = run(&data, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = verify_bundle(&data, &first);
    assert!(v.status.success(), "{}{}", stdout(&v), stderr(&v));
    let (other, temps) = export_debris(&out, &first);
    assert_eq!(
        (other, temps),
        (vec![], vec![".brig-evidence-running".to_string()]),
        "the next export clears what killed ones left, and only that"
    );
    drop(held);
}

// ---------------------------------------------------------------------------------------
// PostgreSQL restarted, the control plane restarted
// ---------------------------------------------------------------------------------------

/// A private, throwaway PostgreSQL cluster the test owns (and so may stop and start):
/// Debian's server, run as the `postgres` user when the test runs as root (as
/// scripts/test.sh does), on a free loopback port. Stopped and removed when dropped.
struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PgCluster {
    /// `None`, after saying why, when no PostgreSQL server is installed (a failure in CI).
    fn start() -> Option<PgCluster> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            });
        let Some(bin) = bin else {
            assert!(!in_ci(), "no PostgreSQL server under /usr/lib/postgresql");
            eprintln!("NOT RUN: no PostgreSQL server installed (scripts/test.sh installs it)");
            return None;
        };
        let dir = tempdir();
        if is_root() {
            let o = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(o.status.success(), "chown postgres: {}", stderr(&o));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PgCluster { dir, bin, port };
        let db = pg.dir.path().join("db");
        pg.run(
            "initdb",
            &[
                "-D".as_ref(),
                db.as_os_str(),
                "-A".as_ref(),
                "trust".as_ref(),
                "-U".as_ref(),
                "brig".as_ref(),
            ],
        );
        pg.start_again();
        Some(pg)
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) {
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        let o = c.args(args).output().unwrap();
        assert!(o.status.success(), "{tool}: {}{}", stdout(&o), stderr(&o));
    }

    fn start_again(&self) {
        let d = self.dir.path();
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            d.display()
        );
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                d.join("db").as_os_str(),
                "-l".as_ref(),
                d.join("server.log").as_os_str(),
                "-w".as_ref(),
                "-o".as_ref(),
                opts.as_ref(),
                "start".as_ref(),
            ],
        );
    }

    /// A fast shutdown: every session is disconnected, as in a restart or failover.
    fn stop(&self) {
        let db = self.dir.path().join("db");
        self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                db.as_os_str(),
                "-m".as_ref(),
                "fast".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    fn url(&self) -> String {
        format!("postgres://brig@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let db = self.dir.path().join("db");
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = c
            .arg("-D")
            .arg(db)
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn agent_token(data: &Path, name: &str, agent: &str) -> String {
    let o = run(
        data,
        &[
            "tokens", "create", "--name", name, "--role", "agent", "--agent", agent,
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).trim().to_string()
}

/// What a client posting events saw.
#[derive(Default)]
struct Posted {
    acked: Vec<String>,
    /// Refusals: status and the error the server gave.
    refused: Vec<(u16, String)>,
    /// Acknowledged after `mark` was set (e.g. after the database came back).
    acked_after_mark: usize,
}

/// Posts batches of 20 events to `base()` (re-read before each post: a restarted server
/// listens elsewhere) until `stop`; a refused or failed post is noted and the next one
/// tried, as a client with retries would.
fn post_until(
    base: impl Fn() -> String,
    token: &str,
    agent: &str,
    stop: &std::sync::atomic::AtomicBool,
    mark: &std::sync::atomic::AtomicBool,
) -> Posted {
    use std::sync::atomic::Ordering;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut p = Posted::default();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        let events: Vec<Value> = (0..20)
            .map(|i| {
                n += 1;
                json!({"source": "load", "agent": agent, "kind": "tool.call", "tool": "bash",
                       "session": "s1", "call": format!("{n}-{i}"),
                       "payload": {"arguments": {"command": format!("echo {n}")}}})
            })
            .collect();
        let after = mark.load(Ordering::SeqCst);
        let res = rt.block_on(async {
            let r = client
                .post(format!("{}/v1/events", base()))
                .bearer_auth(token)
                .json(&json!({"events": events}))
                .send()
                .await?;
            let status = r.status().as_u16();
            Ok::<_, reqwest::Error>((status, r.text().await?))
        });
        match res {
            Ok((200, body)) => {
                let v: Value = serde_json::from_str(&body).unwrap();
                for r in v["recorded"].as_array().unwrap() {
                    p.acked.push(r["id"].as_str().unwrap().to_string());
                    p.acked_after_mark += after as usize;
                }
            }
            Ok((status, body)) => p.refused.push((status, body)),
            Err(e) => p.refused.push((0, e.to_string())),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    p
}

/// `brig serve` and `brig ingest` appending to a private PostgreSQL that is shut down
/// (fast: every session cut) for 11 s — long enough for the server's timed checkpoint to
/// fall in the outage — and started again. Every event acknowledged before, during or after
/// is in the ledger; what was refused got an error naming the database; the same server
/// process takes events again once the database is back; ingest stops with a clear error;
/// the ledger verifies.
#[test]
fn postgresql_restarted_under_load_loses_no_acknowledged_event_and_serve_recovers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if backend() != "postgresql" {
        eprintln!("NOT RUN on sqlite: this fault restarts the PostgreSQL server");
        return;
    }
    let Some(pg) = PgCluster::start() else { return };
    let tmp = tempdir();
    let url = brig_store::scratch_database(&pg.url()).unwrap();
    let data = tmp.path().join("brig-data");
    let o = run(
        &data,
        &["init", "--origin", "brig.test/ledger", "--database", &url],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let token = agent_token(&data, "loader", "loader");
    let server = Server::start(&data);
    let base = server.base.clone();

    let stop = Arc::new(AtomicBool::new(false));
    let back = Arc::new(AtomicBool::new(false));
    let poster = {
        let (stop, back) = (stop.clone(), back.clone());
        std::thread::spawn(move || post_until(|| base.clone(), &token, "loader", &stop, &back))
    };
    let mut ingest = brig()
        .args(["ingest", "--acks", "-", "--data"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = ingest.stdin.take().unwrap();
    let feeder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let lines = event_lines(20, n);
                n += 1;
                if stdin
                    .write_all((lines.join("\n") + "\n").as_bytes())
                    .is_err()
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let ingest_out = ingest.stdout.take().unwrap();
    let ingest_acks = std::thread::spawn(move || {
        BufReader::new(ingest_out)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<Value>(&l).ok())
            .map(|v| v["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    });

    std::thread::sleep(Duration::from_millis(1500));
    pg.stop();
    std::thread::sleep(Duration::from_secs(11));
    pg.start_again();
    back.store(true, Ordering::SeqCst);
    // Until the server has taken a few batches again (bounded), then a little more.
    let deadline = Instant::now() + BOUND;
    let ingest_status = wait_bounded(&mut ingest, "brig ingest with the database gone");
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
    let posted = poster.join().unwrap();
    assert!(Instant::now() < deadline);
    let ingest_acked = ingest_acks.join().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut ingest.stderr.take().unwrap(), &mut err).unwrap();

    eprintln!(
        "serve: {} acknowledged ({} after the restart), {} refused; ingest: {} acknowledged, then: {}",
        posted.acked.len(),
        posted.acked_after_mark,
        posted.refused.len(),
        ingest_acked.len(),
        err.trim()
    );
    assert!(!posted.refused.is_empty(), "the outage was never seen");
    for (status, body) in &posted.refused {
        assert!(
            *status >= 500 && body.to_lowercase().contains("postgres"),
            "a refusal names the database: {status} {body}"
        );
    }
    assert!(
        posted.acked_after_mark > 0,
        "brig serve took no event after PostgreSQL came back (it needed a restart)"
    );
    assert_eq!(ingest_status.code(), Some(1), "{err}");
    assert!(err.to_lowercase().contains("postgres"), "{err}");

    let stored = ledger_ids(&data);
    let lost: Vec<&String> = posted
        .acked
        .iter()
        .chain(&ingest_acked)
        .filter(|id| !stored.contains_key(*id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost: {lost:?}",
        lost.len()
    );
    assert!(server.stop().success());
    verify(&data);
}

/// `brig serve` SIGKILLed and started again (on a new port), three times, while a local
/// stdio gateway (`brig mcp-proxy` on the same data directory, in front of the real
/// filesystem server) keeps answering calls and a client keeps posting events: the gateway
/// never stops recording, every event the server acknowledged is in the ledger, and the
/// ledger verifies.
#[test]
fn serve_restarted_beside_a_running_gateway_loses_nothing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "hello\n").unwrap();
    let token = agent_token(&data, "poster", "poster");
    let mut server = Server::start(&data);
    let base = Arc::new(Mutex::new(server.base.clone()));
    let stop = Arc::new(AtomicBool::new(false));
    let mark = Arc::new(AtomicBool::new(false));
    let poster = {
        let (stop, mark, base) = (stop.clone(), mark.clone(), base.clone());
        std::thread::spawn(move || {
            post_until(
                || base.lock().unwrap().clone(),
                &token,
                "poster",
                &stop,
                &mark,
            )
        })
    };
    let mut gw = Mcp::start(
        &data,
        "steady",
        &[],
        &["node".into(), server_bin().into(), ws.clone().into()],
    );
    let mut calls = 0;
    for _ in 0..3 {
        for _ in 0..5 {
            let r = gw.call("read_text_file", json!({"path": ws.join("notes.txt")}));
            assert!(r.to_string().contains("hello"), "{r}");
            calls += 1;
        }
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for _ in 0..5 {
            let r = gw.call("read_text_file", json!({"path": ws.join("notes.txt")}));
            assert!(r.to_string().contains("hello"), "{r}");
            calls += 1;
        }
        server = Server::start(&data);
        *base.lock().unwrap() = server.base.clone();
    }
    mark.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::SeqCst);
    let posted = poster.join().unwrap();
    assert_eq!(gw.finish(), Some(0));
    assert!(server.stop().success());

    eprintln!(
        "{} events acknowledged by the servers, {} refused (server down), {calls} gateway calls",
        posted.acked.len(),
        posted.refused.len()
    );
    assert!(posted.acked_after_mark > 0, "the last server took events");
    let stored = ledger_ids(&data);
    assert!(posted.acked.iter().all(|id| stored.contains_key(id)));
    let results = events(&data)
        .iter()
        .filter(|e| e["kind"] == "tool.result" && e["agent"] == "steady")
        .count();
    assert_eq!(results, calls, "every gateway call's result recorded");
    verify(&data);
}

// ---------------------------------------------------------------------------------------
// A slow upstream server, an agent that dies mid-call
// ---------------------------------------------------------------------------------------

/// An MCP session through `brig mcp-proxy` over its stdio.
struct Mcp {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::mpsc::Receiver<Value>,
    next: u64,
}

impl Mcp {
    fn start(data: &Path, agent: &str, extra: &[&str], upstream: &[std::ffi::OsString]) -> Mcp {
        let mut child = brig()
            .args(["mcp-proxy", "--agent", agent])
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
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let v = serde_json::from_str(&l).expect("the proxy writes JSON lines only");
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let mut s = Mcp {
            stdin: child.stdin.take(),
            child,
            lines,
            next: 1,
        };
        let id = s.send(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "brig-faults", "version": "1"}}),
        );
        s.wait(id);
        s.write(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    fn write(&mut self, v: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next;
        self.next += 1;
        self.write(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The response to `id` (bounded); responses to other ids are dropped.
    fn wait(&mut self, id: u64) -> Value {
        let deadline = Instant::now() + BOUND;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|e| panic!("no response to request {id}: {e}"));
            if v["id"] == id {
                return v;
            }
        }
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let id = self.send("tools/call", json!({"name": tool, "arguments": arguments}));
        self.wait(id)
    }

    /// Closes the proxy's stdin (the agent is done) and waits, bounded, for it to exit.
    fn finish(mut self) -> Option<i32> {
        drop(self.stdin.take());
        wait_bounded(&mut self.child, "brig mcp-proxy after its agent left").code()
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fault_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/faults")
        .join(name)
}

fn permit_all(dir: &Path) -> String {
    let p = dir.join("permit-all");
    std::fs::create_dir_all(&p).unwrap();
    std::fs::write(
        p.join("all.cedar"),
        "permit (principal, action, resource);\n",
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

/// Is process `pid` gone (or a zombie nobody reaped yet)?
fn gone(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next())
        .is_some_and(|st| st != "Z" && st != "X")
}

fn wait_gone(pid: u32, what: &str) {
    let deadline = Instant::now() + BOUND;
    while !gone(pid) {
        assert!(
            Instant::now() < deadline,
            "{what} (pid {pid}) is still running"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn read_pid(file: &Path) -> u32 {
    let deadline = Instant::now() + BOUND;
    loop {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", file.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A slow upstream server (a test script: the reference servers cannot be slowed) in
/// front of which (1) a slow call does not hold up the agent's other calls, and its answer
/// is recorded when it comes; (2) an agent that leaves with a call the server takes 2 s to
/// answer gets it recorded and the proxy exits cleanly; (3) with a call the server would
/// answer in 10 minutes, the proxy stops the server after its grace, records the call as
/// not run, and exits — no hang. The ledger verifies.
#[test]
fn a_slow_upstream_server_neither_blocks_nor_hangs_the_proxy() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let policy = permit_all(tmp.path());
    let server = |delay_ms: u64, n: usize| -> (Vec<std::ffi::OsString>, PathBuf) {
        let pid = tmp.path().join(format!("slow-{n}.pid"));
        (
            vec![
                "node".into(),
                fault_script("slow_server.js").into(),
                pid.clone().into(),
                delay_ms.to_string().into(),
            ],
            pid,
        )
    };
    let extra = ["--policy", policy.as_str()];

    // 1. Other calls go on while one is slow.
    let (cmd, _) = server(1500, 1);
    let mut s = Mcp::start(&data, "patient", &extra, &cmd);
    let slow = s.send("tools/call", json!({"name": "slow", "arguments": {}}));
    let echo = s.call("echo", json!({}));
    assert!(echo.to_string().contains("echo"), "{echo}");
    let answer = s.wait(slow);
    assert!(answer.to_string().contains("slow answer"), "{answer}");
    assert_eq!(s.finish(), Some(0));

    // 2. The agent leaves while a 2 s call is in flight.
    let (cmd, pid) = server(2000, 2);
    let mut s = Mcp::start(&data, "leaving", &extra, &cmd);
    s.send("tools/call", json!({"name": "slow", "arguments": {}}));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(s.finish(), Some(0));
    wait_gone(read_pid(&pid), "the slow server");

    // 3. The agent leaves while a 10-minute call is in flight.
    let (cmd, pid) = server(600_000, 3);
    let mut s = Mcp::start(&data, "abandoning", &extra, &cmd);
    s.send("tools/call", json!({"name": "slow", "arguments": {}}));
    std::thread::sleep(Duration::from_millis(200));
    s.finish();
    wait_gone(read_pid(&pid), "the stuck server");

    let all = events(&data);
    let result_of = |agent: &str| {
        all.iter()
            .find(|e| e["agent"] == agent && e["kind"] == "tool.result" && e["tool"] == "slow")
            .cloned()
    };
    for agent in ["patient", "leaving", "abandoning"] {
        assert!(
            all.iter()
                .any(|e| e["agent"] == agent && e["kind"] == "tool.call" && e["tool"] == "slow"),
            "{agent}'s slow call recorded"
        );
        assert!(
            result_of(agent).is_some(),
            "what became of {agent}'s slow call is recorded"
        );
    }
    let payloads = run(&data, &["ledger", "show", "--json", "--payloads"]);
    let text = stdout(&payloads);
    assert!(
        text.contains("slow answer"),
        "the answers that came are recorded"
    );
    assert!(
        text.contains("was not run"),
        "the call never answered is recorded as not run"
    );
    verify(&data);
}

/// An agent process SIGKILLed while its call is in flight through the proxy to the real
/// filesystem server (a search over 3,000 files): the proxy sees its stdin close and its
/// stdout break, records the call and its result, stops the server and exits by itself;
/// the ledger verifies. Repeated 5 times with random delays.
#[test]
fn an_agent_killed_mid_call_leaves_the_call_recorded_and_the_proxy_exits() {
    let tmp = tempdir();
    let data = init(tmp.path());
    let ws = tmp.path().join("ws");
    for d in 0..30 {
        let dir = ws.join(format!("pkg{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("m{f}.py")), "x = 1\n").unwrap();
        }
    }
    let mut rng = Rng::new(seed("an_agent_killed_mid_call"));
    let rounds = 5;
    for round in 0..rounds {
        let pid_file = tmp.path().join(format!("proxy-{round}.pid"));
        let call = json!({"name": "search_files",
                          "arguments": {"path": ws, "pattern": "**/m9*.py"}});
        let mut agent = Command::new("node")
            .arg(fault_script("agent.js"))
            .arg(&pid_file)
            .arg(call.to_string())
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_brig"))
            .args(["mcp-proxy", "--agent", &format!("dying-{round}"), "--data"])
            .arg(&data)
            .arg("--")
            .arg("node")
            .arg(server_bin())
            .arg(&ws)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(agent.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "sent", "the agent sent its call");
        std::thread::sleep(Duration::from_millis(rng.below(30)));
        agent.kill().unwrap();
        agent.wait().unwrap();
        let proxy = read_pid(&pid_file);
        wait_gone(proxy, "brig mcp-proxy after its agent was killed");
    }
    let all = events(&data);
    for round in 0..rounds {
        let agent = format!("dying-{round}");
        let of = |kind: &str| {
            all.iter().any(|e| {
                e["agent"] == agent.as_str() && e["kind"] == kind && e["tool"] == "search_files"
            })
        };
        assert!(of("tool.call"), "round {round}: the call recorded");
        assert!(
            of("tool.result"),
            "round {round}: what became of it recorded"
        );
    }
    verify(&data);
}

/// `brig serve` with its data directory on a tmpfs that fills up under load and stays full
/// for 11 s (long enough for a timed checkpoint to fail), then is freed: events are refused
/// with an error naming the full disk while it lasts, the same server process takes them
/// again afterwards, every acknowledged event is in the ledger, and the ledger verifies.
#[test]
fn disk_full_under_serve_refuses_clearly_and_serve_recovers() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if backend() == "postgresql" {
        eprintln!("NOT RUN on postgresql: the ledger is not in the data directory");
        return;
    }
    let tmp = tempdir();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("disk"), 64 << 20) else {
        return;
    };
    let data = init(&fs.dir);
    let token = agent_token(&data, "loader", "loader");
    let server = Server::start(&data);
    let base = server.base.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let freed = Arc::new(AtomicBool::new(false));
    let poster = {
        let (stop, freed) = (stop.clone(), freed.clone());
        std::thread::spawn(move || post_until(|| base.clone(), &token, "loader", &stop, &freed))
    };
    std::thread::sleep(Duration::from_millis(1000));
    let filler = fs.fill_leaving(0);
    std::thread::sleep(Duration::from_secs(11));
    std::fs::remove_file(filler).unwrap();
    freed.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Ordering::SeqCst);
    let posted = poster.join().unwrap();
    eprintln!(
        "serve on a full disk: {} acknowledged ({} after space was freed), {} refused",
        posted.acked.len(),
        posted.acked_after_mark,
        posted.refused.len()
    );
    assert!(!posted.refused.is_empty(), "the disk never filled");
    for (status, body) in &posted.refused {
        assert!(
            *status >= 500 && body.contains("full"),
            "a refusal names the full disk: {status} {body}"
        );
    }
    assert!(
        posted.acked_after_mark > 0,
        "brig serve took no event after space was freed (it needed a restart)"
    );
    let stored = ledger_ids(&data);
    assert!(posted.acked.iter().all(|id| stored.contains_key(id)));
    assert!(server.stop().success());
    verify(&data);
}
