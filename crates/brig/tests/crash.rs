//! Crash safety: `brig ingest --acks -` appending in a loop is killed with SIGKILL at random
//! moments, 20 times. After each kill, every event it had acknowledged is in the ledger at
//! the index it was acknowledged with, and `brig ledger verify` passes.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::*;

const KILLS: usize = 20;

#[test]
fn acknowledged_events_survive_sigkill() {
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    eprintln!("crash test seed: {seed}");
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let data = init(tmp.path());
    // index -> event id, for every acknowledged event over all runs.
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();

    for round in 0..KILLS {
        let mut child = brig()
            .args([
                "ingest",
                "--acks",
                "--checkpoint-interval",
                "1",
                "-",
                "--data",
            ])
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let feeder = {
            let stop = stop.clone();
            let seed = rng.next();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let lines = event_lines(64, seed.wrapping_add(n));
                    n += 1;
                    if stdin
                        .write_all((lines.join("\n") + "\n").as_bytes())
                        .is_err()
                    {
                        break; // the child is gone
                    }
                }
            })
        };
        let child_out = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            for line in BufReader::new(child_out).lines() {
                let Ok(line) = line else { break };
                // A line cut by the kill is not an acknowledgement.
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    got.push((
                        v["index"].as_u64().unwrap(),
                        v["id"].as_str().unwrap().to_string(),
                    ));
                }
            }
            got
        });
        std::thread::sleep(Duration::from_millis(30 + rng.below(400)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        feeder.join().unwrap();
        let got = reader.join().unwrap();
        for (index, id) in got {
            if let Some(prev) = acked.insert(index, id.clone()) {
                panic!("round {round}: index {index} acknowledged twice ({prev}, {id})");
            }
        }

        // Everything acknowledged so far is there, where it was acknowledged.
        // Read back through the store, whichever backend holds it.
        let stored: BTreeMap<u64, String> = {
            use brig_ledger::store::LedgerStore;
            let mut store = brig_store::DataDir::open(&data).unwrap().store().unwrap();
            let mut rows = BTreeMap::new();
            store
                .scan(0, u64::MAX, &mut |r| {
                    let e = brig_model::Event::from_leaf(&r.leaf).unwrap();
                    rows.insert(r.index, e.id.to_string());
                    true
                })
                .unwrap();
            rows
        };
        for (index, id) in &acked {
            assert_eq!(
                stored.get(index),
                Some(id),
                "round {round} (seed {seed}): acknowledged event {id} at index {index} is missing"
            );
        }
        let o = run(&data, &["ledger", "verify"]);
        assert!(
            o.status.success(),
            "round {round} (seed {seed}): verify failed after SIGKILL: {}",
            stderr(&o)
        );
    }
    assert!(
        acked.len() > 100,
        "the appender barely ran ({} acks); the test proved little",
        acked.len()
    );
}
