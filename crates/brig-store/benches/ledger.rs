//! Ledger benchmarks: a program that prints figures beside a baseline measured in the same run.
//!
//! ```sh
//! cargo bench -p brig-store --bench ledger                       # the full run (1 M / 10 M)
//! cargo bench -p brig-store --bench ledger -- --events 100000 --proof-leaves 1000000
//! ```
//!
//! 1. Durable append: N realistic events, from `NewEvent` (JSON not yet canonical, payloads
//!    inline) to acknowledged-durable ledger entries, through the group-commit appender into
//!    SQLite on disk. Baseline: the very same rows (same leaf and blob bytes, already
//!    serialized) inserted into the same schema, in the same batch sizes, with the same
//!    durability, and no JSON work and no hashing at all.
//! 2. Verify: `brig_ledger::verify::verify` over that ledger, against plain SHA-256 over the
//!    same leaf and blob bytes read with the same scans.
//! 3. Proofs: inclusion and consistency proofs on a ledger of `--proof-leaves` leaves, counting
//!    the store reads each one takes.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use brig_ledger::appender::{Appender, Checkpointing};
use brig_ledger::merkle::{self, Hash};
use brig_ledger::note::{NoteSigner, NoteVerifier};
use brig_ledger::store::{
    AppendTx, LeafRow, LedgerStore, StoreError, StoreNodes, StoredBlob, StoredCheckpoint,
};
use brig_ledger::verify::{verify, VerifyOptions};
use brig_ledger::{Ledger, Prepared};
use brig_model::{Action, ActionKind, Blob, Decision, Effect, EventId, EventKind, NewEvent};
use brig_store::SqliteStore;
use rusqlite::params;
use serde_json::json;
use sha2::{Digest, Sha256};

const BATCH: usize = 2048;

struct Args {
    events: usize,
    proof_leaves: u64,
}

fn parse_args() -> Args {
    let mut args = Args {
        events: 1_000_000,
        proof_leaves: 10_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--events" => args.events = it.next().and_then(|v| v.parse().ok()).expect("--events N"),
            "--proof-leaves" => {
                args.proof_leaves = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--proof-leaves N")
            }
            "--bench" => {} // passed by `cargo bench`
            other => panic!("unknown argument {other}; use --events N --proof-leaves N"),
        }
    }
    args
}

fn main() {
    let args = parse_args();
    let tmp = tempfile::tempdir_in(std::env::var("BRIG_BENCH_DIR").unwrap_or_else(|_| ".".into()))
        .expect("temp dir");
    println!(
        "# brig ledger benchmark ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("# temp dir: {}", tmp.path().display());
    let ledger_db = tmp.path().join("ledger.db");
    let (rows, verifier) = bench_append(&ledger_db, &tmp.path().join("baseline.db"), args.events);
    bench_verify(&ledger_db, rows, &verifier);
    bench_proofs(&tmp.path().join("proofs.db"), args.proof_leaves);
}

/// A realistic mix: tool calls with arguments, decisions, results with output, file changes,
/// prompts. Deterministic in `i`.
fn event(i: usize) -> NewEvent {
    let session = format!("sess-{:06}", i / 40);
    let tools = [
        "bash",
        "read_text_file",
        "write_file",
        "http_request",
        "send_email",
        "edit_file",
    ];
    let tool = tools[i % tools.len()];
    let path = format!(
        "/srv/repos/billing/src/module_{}/file_{}.py",
        i % 97,
        i % 1009
    );
    let mut e = match i % 8 {
        0 | 3 | 6 => {
            let mut e = NewEvent::new("mcp-proxy", "repo-assistant", EventKind::ToolCall);
            e.actions.push(Action::new(
                if tool == "write_file" {
                    ActionKind::FileWrite
                } else {
                    ActionKind::FileRead
                },
                path.clone(),
            ));
            e.payload.insert(
                "arguments".into(),
                json!({"path": path, "command": format!("cd /srv/repos/billing && pytest -q tests/test_{i}.py --maxfail=1"), "n": i}),
            );
            e
        }
        1 | 4 | 7 => {
            let mut e = NewEvent::new("mcp-proxy", "repo-assistant", EventKind::PolicyDecision);
            e.decision = Some(Decision {
                effect: if i % 50 == 1 {
                    Effect::Deny
                } else {
                    Effect::Allow
                },
                policies: vec!["least-privilege".into()],
                reason: None,
            });
            e
        }
        2 | 5 => {
            let mut e = NewEvent::new("mcp-proxy", "repo-assistant", EventKind::ToolResult);
            e.attrs.insert("status".into(), json!("ok"));
            let out: String = (0..(i % 7 + 3))
                .map(|k| format!("tests/test_{i}_{k}.py::test_case PASSED [{k:>3}%]\n"))
                .collect();
            e.payload.insert("result".into(), json!(out));
            e
        }
        _ => unreachable!(),
    };
    if i.is_multiple_of(400) {
        e.kind = EventKind::AgentPrompt;
        e.tool = None;
        e.actions.clear();
        e.decision = None;
        e.payload.clear();
        e.payload.insert("user".into(), json!("Fix the failing rounding test in billing/ and do not touch anything else. The CI run is at https://ci.example.com/run/123."));
    }
    e.workflow = Some("billing-maintenance".into());
    e.session = Some(session);
    if e.tool.is_none() && e.kind != EventKind::AgentPrompt {
        e.tool = Some(tool.into());
    }
    if matches!(
        e.kind,
        EventKind::ToolCall | EventKind::ToolResult | EventKind::PolicyDecision
    ) {
        e.call = Some((i / 3).to_string());
    }
    e
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Returns how many events were appended, and the key their checkpoints verify with.
fn bench_append(ledger_db: &Path, baseline_db: &Path, n: usize) -> (u64, NoteVerifier) {
    println!("\n## durable append: {n} events (SQLite WAL, synchronous=FULL, group commit)");

    // Ledger: producer threads prepare events, the appender commits them.
    let signer = NoteSigner::generate("brig.bench/ledger").unwrap();
    let verifier = signer.verifier();
    let store = SqliteStore::open(&create_file(ledger_db), false).unwrap();
    let appender = Appender::start(
        Ledger::new(store),
        Some(Checkpointing {
            signer,
            interval: Duration::from_secs(10),
        }),
    );
    // Preparing (validation, JSON, salting, hashing) needs no lock, so two producer threads
    // build and prepare events (building one stands in for parsing its JSON line) while the
    // single writer commits.
    let (tx, rx) = mpsc::sync_channel::<Vec<Prepared>>(8);
    let chunks: Vec<Vec<usize>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|c| c.to_vec())
        .collect();
    let mut halves: [Vec<Vec<usize>>; 2] = [Vec::new(), Vec::new()];
    for (k, chunk) in chunks.into_iter().enumerate() {
        halves[k % 2].push(chunk);
    }
    let start = Instant::now();
    let producers: Vec<_> = halves
        .into_iter()
        .map(|half| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for chunk in half {
                    let batch: Vec<Prepared> = chunk
                        .into_iter()
                        .map(|i| Prepared::new(event(i)).unwrap())
                        .collect();
                    tx.send(batch).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let mut pending = std::collections::VecDeque::new();
    let mut appended = 0u64;
    for batch in rx {
        pending.push_back(appender.submit(batch));
        while pending.len() > 4 {
            appended += pending.pop_front().unwrap().recv().unwrap().unwrap().len() as u64;
        }
    }
    for p in pending {
        appended += p.recv().unwrap().unwrap().len() as u64;
    }
    for p in producers {
        p.join().unwrap();
    }
    let stats = appender.finish().unwrap();
    let ledger_time = start.elapsed();
    assert_eq!(appended, n as u64);

    // Baseline: the same rows, pre-serialized, no hashing, committed in as many transactions
    // as the ledger's group commit used, so both pay the same number of fsyncs.
    let per_commit = n.div_ceil(stats.commits.max(1) as usize);
    let prepared: Vec<Vec<Prepared>> = (0..n)
        .collect::<Vec<_>>()
        .chunks(per_commit)
        .map(|c| {
            c.iter()
                .map(|&i| Prepared::new(event(i)).unwrap())
                .collect()
        })
        .collect();
    let base = SqliteStore::open(&create_file(baseline_db), false).unwrap();
    let conn = base.connection();
    let start = Instant::now();
    let mut idx = 0i64;
    for batch in &prepared {
        let tx = conn.unchecked_transaction().unwrap();
        {
            let mut ins = tx
                .prepare_cached("INSERT INTO events (idx, id, ts, kind, agent, session, workflow, leaf, hashes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .unwrap();
            let mut blob = tx
                .prepare_cached(
                    "INSERT INTO blobs (idx, part, digest, salt, data) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .unwrap();
            for p in batch {
                let e = &p.event;
                let zero_hashes = [0u8; 64];
                let len = 32 * (1 + (idx as u64).trailing_ones() as usize);
                ins.execute(params![
                    idx,
                    &e.id.as_bytes()[..],
                    e.ts.unix_nanos(),
                    e.kind.as_str(),
                    e.agent,
                    e.session,
                    e.workflow,
                    p.leaf,
                    &zero_hashes[..len.min(64)]
                ])
                .unwrap();
                for (part, b) in &p.blobs {
                    blob.execute(params![idx, part, &b.digest[..], &b.salt[..], &b.data])
                        .unwrap();
                }
                idx += 1;
            }
        }
        tx.commit().unwrap();
    }
    let base_time = start.elapsed();
    let leaf_bytes: usize = prepared.iter().flatten().map(|p| p.leaf.len()).sum();
    let blob_bytes: usize = prepared
        .iter()
        .flatten()
        .flat_map(|p| &p.blobs)
        .map(|(_, b)| b.data.len())
        .sum();
    drop(prepared);

    let l = rate(n as u64, ledger_time);
    let b = rate(n as u64, base_time);
    println!(
        "rows: {n} events, avg leaf {} B, payload blobs {:.1} MB in all; {} commits, last checkpoint size {}",
        leaf_bytes / n.max(1),
        blob_bytes as f64 / 1e6,
        stats.commits,
        stats.last_checkpoint.map_or(0, |c| c.size)
    );
    println!("ledger   (JSON + salting + hashing + Merkle + durable commit): {l:>10.0} events/s  ({:.2} s)", ledger_time.as_secs_f64());
    println!("baseline (same rows, same schema, same commits, no hashing): {b:>10.0} events/s  ({:.2} s)", base_time.as_secs_f64());
    println!("ratio ledger/baseline: {:.2}", l / b);
    println!(
        "(the ledger writer was busy {:.2} s of the {:.2} s)",
        stats.busy.as_secs_f64(),
        ledger_time.as_secs_f64()
    );
    (n as u64, verifier)
}

fn create_file(p: &Path) -> std::path::PathBuf {
    std::fs::File::create(p).unwrap();
    p.to_path_buf()
}

fn bench_verify(ledger_db: &Path, n: u64, verifier: &NoteVerifier) {
    println!("\n## verify: {n} events");
    let mut store = SqliteStore::open(ledger_db, false).unwrap();
    // Warm the page cache the same way for both runs.
    plain_sha256(&mut store);
    let start = Instant::now();
    let report = verify(
        &mut store,
        verifier,
        verifier.name(),
        &VerifyOptions::default(),
    )
    .unwrap();
    let vt = start.elapsed();
    assert!(report.is_intact(), "{:?}", report.problems);
    let start = Instant::now();
    let bytes = plain_sha256(&mut store);
    let bt = start.elapsed();
    let mb = bytes as f64 / 1e6;
    println!("verify (leaf hashes, tree, checkpoints, blobs): {:>8.1} MB/s  {:>10.0} events/s  ({:.2} s)", mb / vt.as_secs_f64(), rate(n, vt), vt.as_secs_f64());
    println!("baseline: plain SHA-256 over the same bytes:     {:>8.1} MB/s  {:>10.0} events/s  ({:.2} s)", mb / bt.as_secs_f64(), rate(n, bt), bt.as_secs_f64());
    println!(
        "ratio verify/baseline: {:.2}",
        bt.as_secs_f64() / vt.as_secs_f64()
    );
    let start = Instant::now();
    let report = verify(
        &mut store,
        verifier,
        verifier.name(),
        &VerifyOptions {
            deep: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(report.is_intact());
    let dt = start.elapsed();
    println!("verify --deep (also parses every leaf, looks up every payload): {:>10.0} events/s  ({:.2} s)", rate(n, dt), dt.as_secs_f64());
}

/// SHA-256 of every leaf and every blob, read with the same scans verify uses.
fn plain_sha256(store: &mut SqliteStore) -> u64 {
    let mut bytes = 0u64;
    let mut sink = 0u8;
    store
        .scan(0, u64::MAX, &mut |row: LeafRow| {
            bytes += row.leaf.len() as u64;
            sink ^= Sha256::digest(&row.leaf)[0];
            true
        })
        .unwrap();
    store
        .scan_blobs(&mut |s: StoredBlob| {
            bytes += s.blob.data.len() as u64;
            sink ^= Sha256::digest(&s.blob.data)[0];
            true
        })
        .unwrap();
    std::hint::black_box(sink);
    bytes
}

/// Counts the node and leaf reads the proof code makes.
struct Counting<'a> {
    inner: &'a mut SqliteStore,
    reads: u64,
}

impl LedgerStore for Counting<'_> {
    fn begin_append(&mut self) -> Result<Box<dyn AppendTx + '_>, StoreError> {
        self.inner.begin_append()
    }
    fn size(&mut self) -> Result<u64, StoreError> {
        self.inner.size()
    }
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.reads += 1;
        self.inner.node(level, index)
    }
    fn leaf(&mut self, index: u64) -> Result<Option<LeafRow>, StoreError> {
        self.reads += 1;
        self.inner.leaf(index)
    }
    fn scan(
        &mut self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(LeafRow) -> bool,
    ) -> Result<(), StoreError> {
        self.inner.scan(from, to, f)
    }
    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError> {
        self.inner.find_event(id)
    }
    fn blob(&mut self, index: u64, part: &str) -> Result<Option<Blob>, StoreError> {
        self.inner.blob(index, part)
    }
    fn scan_blobs(&mut self, f: &mut dyn FnMut(StoredBlob) -> bool) -> Result<(), StoreError> {
        self.inner.scan_blobs(f)
    }
    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<u64, StoreError> {
        self.inner.add_checkpoint(cp)
    }
    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.inner.checkpoints()
    }
    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.inner.latest_checkpoint()
    }
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.meta(key)
    }
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.inner.set_meta(key, value)
    }
}

fn bench_proofs(db: &Path, leaves: u64) {
    println!("\n## proofs on a ledger of {leaves} leaves");
    let store = SqliteStore::open(&create_file(db), false).unwrap();
    let mut ledger = Ledger::new(store);
    let start = Instant::now();
    let mut i = 0u64;
    while i < leaves {
        let batch: Vec<Prepared> = (i..(i + 65_536).min(leaves))
            .map(|k| {
                let mut e = NewEvent::new("bench", "agent", EventKind::Alert);
                e.attrs.insert("n".into(), json!(k));
                Prepared::new(e).unwrap()
            })
            .collect();
        i += batch.len() as u64;
        ledger.append(&batch).unwrap();
    }
    println!(
        "built in {:.1} s ({:.0} events/s)",
        start.elapsed().as_secs_f64(),
        rate(leaves, start.elapsed())
    );
    let signer = NoteSigner::generate("brig.bench/proofs").unwrap();
    let cp = ledger.checkpoint(&signer).unwrap();
    let mut store = ledger.into_store();
    let log2 = 64 - (leaves - 1).leading_zeros();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut worst = 0;
    let mut total_reads = 0;
    let mut total_time = Duration::ZERO;
    let samples = 1000;
    for s in 0..samples {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let index = match s {
            0 => 0,
            1 => leaves - 1,
            _ => seed % leaves,
        };
        let mut counting = Counting {
            inner: &mut store,
            reads: 0,
        };
        let t = Instant::now();
        let proof =
            merkle::inclusion_proof(index, cp.size, &mut StoreNodes(&mut counting)).unwrap();
        total_time += t.elapsed();
        let reads = counting.reads;
        let leaf = store.leaf(index).unwrap().unwrap();
        merkle::verify_inclusion(
            index,
            cp.size,
            &merkle::leaf_hash(&leaf.leaf),
            &proof,
            &cp.root,
        )
        .unwrap();
        worst = worst.max(reads);
        total_reads += reads;
    }
    println!(
        "inclusion proof: {samples} random indices (incl. first and last): mean {:.1} reads, worst {worst} reads (log2 n = {log2}), mean {:.0} µs per proof",
        total_reads as f64 / samples as f64,
        total_time.as_secs_f64() * 1e6 / samples as f64
    );
    let mut counting = Counting {
        inner: &mut store,
        reads: 0,
    };
    let t = Instant::now();
    let proof =
        merkle::consistency_proof(leaves / 3 + 1, leaves, &mut StoreNodes(&mut counting)).unwrap();
    println!(
        "consistency proof {} -> {leaves}: {} hashes, {} reads, {:.0} µs",
        leaves / 3 + 1,
        proof.len(),
        counting.reads,
        t.elapsed().as_secs_f64() * 1e6
    );
}
