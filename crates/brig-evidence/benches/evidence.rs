//! Export and verify of a large incident, and verify throughput beside `sha256sum` over the
//! same bundle file in the same run.
//!
//!     cargo bench -p brig-evidence --bench evidence [-- EVENTS CHANGED_FILES]
//!
//! Default: 100,000 events of one agent, 1,000 of them file edits (read, then write back
//! changed, ~4 KiB files), the rest reads with their decisions and results.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use brig_evidence::export::{self, Options, Scope};
use brig_ledger::Prepared;
use common::*;
use serde_json::json;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let events = args.first().copied().unwrap_or(100_000);
    let changed = args.get(1).copied().unwrap_or(1_000);
    let tmp = tempfile::Builder::new()
        .prefix("brig-evidence-bench")
        .tempdir()
        .unwrap();
    let t = Instant::now();
    let (dir, signer) =
        brig_store::DataDir::init(&tmp.path().join("data"), Some("bench.example/brig")).unwrap();
    let mut ledger = dir.ledger().unwrap();
    let mut batch: Vec<Prepared> = Vec::new();
    let mut n = 0usize;
    let mut edits = 0usize;
    let every = (events / 6).max(1) / changed.max(1);
    let mut cycle = 0usize;
    while n < events {
        let session = format!("s{}", cycle / 5_000);
        if edits < changed && cycle.is_multiple_of(every.max(1)) {
            let path = format!("/srv/app/src/file{edits:04}.rs");
            let before = body(edits, "old");
            let after = body(edits, "new");
            batch.extend(edit_cycle(&session, cycle as u64, &path, &before, &after));
            n += 6;
            edits += 1;
        } else {
            let c = format!("{cycle}");
            let path = format!("/srv/app/docs/page{}.md", cycle % 500);
            batch.push(event(json!({"kind":"tool.call","session":session,"tool":"read_text_file","call":c,
                "actions":[{"action":"file.read","target":path}],"payload":{"arguments":{"path":path}}})));
            batch.push(event(
                json!({"kind":"policy.decision","session":session,"call":c,
                "decision":{"effect":"allow","policies":["default-read"]}}),
            ));
            batch.push(event(json!({"kind":"tool.result","session":session,"tool":"read_text_file","call":c,
                "attrs":{"status":"ok"},"payload":{"result":{"content":[{"type":"text","text":"# Page\nSome documentation text.\n"}]}}})));
            n += 3;
        }
        cycle += 1;
        if batch.len() >= 2_000 {
            ledger.append(&batch).unwrap();
            batch.clear();
        }
    }
    ledger.append(&batch).unwrap();
    ledger.checkpoint(&signer).unwrap();
    drop(ledger);
    eprintln!(
        "setup: {n} events ({edits} file edits) recorded in {:.1?}",
        t.elapsed()
    );

    let out = tmp.path().join("incident.tar");
    let scope = Scope::Agent {
        agent: AGENT.into(),
        session: None,
        from: None,
        to: None,
    };
    let opts = Options {
        by: "bench".into(),
        compress: false,
        note: None,
        include_secrets: false,
    };
    let t = Instant::now();
    let s = export::export(&dir, &scope, &out, &opts).unwrap();
    let export_time = t.elapsed();
    let mb = s.bytes as f64 / 1e6;
    println!(
        "export: {} events, {} files, {} changes, {:.1} MB in {:.2?} ({:.0} events/s, {:.0} MB/s)",
        s.events,
        s.files,
        s.changes,
        mb,
        export_time,
        s.events as f64 / export_time.as_secs_f64(),
        mb / export_time.as_secs_f64()
    );

    // Baseline for export: writing as many bytes to the same disk, synced.
    let t = Instant::now();
    {
        use std::io::Write;
        let mut f = std::fs::File::create(tmp.path().join("baseline.bin")).unwrap();
        let chunk = vec![0x5au8; 1 << 20];
        for _ in 0..(s.bytes >> 20) {
            f.write_all(&chunk).unwrap();
        }
        f.sync_all().unwrap();
    }
    let disk = t.elapsed();
    println!(
        "disk (baseline): {mb:.1} MB written and synced in {disk:.2?} ({:.0} MB/s); export / disk time: {:.1}",
        mb / disk.as_secs_f64(),
        export_time.as_secs_f64() / disk.as_secs_f64()
    );

    // Warm the page cache for both readers alike.
    let _ = std::fs::read(&out).unwrap();
    let key = signer.verifier();
    let mut best_verify = Duration::MAX;
    let mut best_sha = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let r = brig_evidence::verify::verify_file(&out, Some(&key));
        best_verify = best_verify.min(t.elapsed());
        assert!(r.ok, "{:?}", r.problems);
        let t = Instant::now();
        let o = Command::new("sha256sum")
            .arg(&out)
            .output()
            .expect("sha256sum runs");
        best_sha = best_sha.min(t.elapsed());
        assert!(o.status.success());
    }
    let v = mb / best_verify.as_secs_f64();
    let b = mb / best_sha.as_secs_f64();
    println!("verify: {:.2?} ({v:.0} MB/s, {:.0} events/s); sha256sum (baseline, same file): {:.2?} ({b:.0} MB/s)",
        best_verify, s.events as f64 / best_verify.as_secs_f64(), best_sha);
    println!("verify / sha256sum throughput: {:.2} (goal ≥ 0.70)", v / b);
}

fn body(i: usize, tag: &str) -> String {
    let mut s = String::with_capacity(4096);
    let mut line = 0;
    while s.len() < 4000 {
        s.push_str(&format!(
            "fn f{i}_{line}() -> u32 {{ {line} }} // {}\n",
            if line == 40 { tag } else { "same" }
        ));
        line += 1;
    }
    s
}
