//! Pre-image cost per mutating call, incremental snapshot of a large workspace, restore
//! throughput — each beside a baseline measured in the same run.
//!
//!     cargo bench -p brig-rollback --bench images [-- FILES]
//!
//! Default: 100,000 files of ~4 KiB in a 100-directory workspace, 10 of them changed.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use brig_rollback::images::capture;
use brig_rollback::objects::Objects;
use brig_rollback::plan::restore;
use brig_rollback::snapshot::take;

fn main() {
    let files: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let tmp = tempfile::Builder::new()
        .prefix("brig-rollback-bench")
        .tempdir_in(".")
        .unwrap();
    let objects = Objects::open(&tmp.path().join("objects")).unwrap();
    preimage_cost(tmp.path(), &objects);
    let ws = tmp.path().join("ws");
    let t = Instant::now();
    for i in 0..files {
        let d = ws.join(format!("d{:03}", i % 100));
        if i < 100 {
            std::fs::create_dir_all(&d).unwrap();
        }
        std::fs::write(d.join(format!("f{i}.txt")), body(i, "v1")).unwrap();
    }
    eprintln!("setup: {files} files written in {:.1?}", t.elapsed());
    snapshots(&ws, &objects);
    restores(tmp.path(), &ws, &objects);
}

fn body(i: usize, tag: &str) -> String {
    format!("{tag} {i}\n{}", "lorem ipsum dolor sit amet ".repeat(150))
}

fn pct(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// One 4 KiB file changed by each call: its pre-image (read, hash, compress, store durably)
/// beside the baseline of the write itself, synced, as a careful tool does it.
fn preimage_cost(dir: &Path, objects: &Objects) {
    let f = dir.join("target.txt");
    std::fs::write(&f, body(0, "v0")).unwrap();
    let paths = vec![f.to_string_lossy().into_owned()];
    let (mut pre, mut write) = (Vec::new(), Vec::new());
    for i in 0..1_000 {
        let t = Instant::now();
        capture(&paths, objects).unwrap();
        pre.push(t.elapsed());
        let t = Instant::now();
        let mut h = std::fs::File::create(&f).unwrap();
        h.write_all(body(i, "vN").as_bytes()).unwrap();
        h.sync_all().unwrap();
        write.push(t.elapsed());
    }
    println!(
        "pre-image of a 4 KiB file (1,000 calls): p50 {:.2?} p99 {:.2?}; baseline, the synced write itself: p50 {:.2?} p99 {:.2?}",
        pct(pre.clone(), 0.5), pct(pre, 0.99), pct(write.clone(), 0.5), pct(write, 0.99)
    );
}

fn snapshots(ws: &Path, objects: &Objects) {
    let t = Instant::now();
    let (first, s) = take(ws, None, objects).unwrap();
    let full = t.elapsed();
    std::thread::sleep(Duration::from_millis(200)); // past the racy window
    for i in 0..10 {
        let p = ws.join(format!(
            "d{:03}/f{}.txt",
            (i * 997) % 100,
            (i * 997) % 100 + 100 * (i + 1)
        ));
        if p.exists() {
            std::fs::write(&p, body(i, "changed")).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    let (_, inc) = take(ws, Some(&first), objects).unwrap();
    let incremental = t.elapsed();
    let t = Instant::now();
    let o = Command::new("find")
        .arg(ws)
        .args(["-printf", ""])
        .output()
        .unwrap();
    let find = t.elapsed();
    assert!(o.status.success());
    println!(
        "snapshot of {} paths: full {:.2?} ({} hashed); incremental with 10 changes {:.2?} ({} hashed); baseline `find -printf ''` (stat every path) {:.2?}",
        s.paths, full, s.hashed, incremental, inc.hashed, find
    );
}

/// 1,000 files restored from the store beside `cp -a` of the same files.
fn restores(dir: &Path, ws: &Path, objects: &Objects) {
    let src = ws.join("d000");
    let (snap, _) = take(&src, None, objects).unwrap();
    let out = dir.join("restored");
    std::fs::create_dir_all(&out).unwrap();
    let t = Instant::now();
    let mut bytes = 0u64;
    for (rel, e) in &snap.entries {
        let p = out.join(rel).to_string_lossy().into_owned();
        restore(&p, &Some(e.clone()), objects).unwrap();
        bytes += e.size;
    }
    let ours = t.elapsed();
    let t = Instant::now();
    let o = Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(dir.join("copied"))
        .output()
        .unwrap();
    let cp = t.elapsed();
    assert!(o.status.success());
    let n = snap.entries.len();
    println!(
        "restore {n} files ({:.1} MB), each synced and renamed into place: {:.2?} ({:.0} files/s); baseline `cp -a` (no sync): {:.2?} ({:.0} files/s)",
        bytes as f64 / 1e6, ours, n as f64 / ours.as_secs_f64(), cp, n as f64 / cp.as_secs_f64()
    );
}
