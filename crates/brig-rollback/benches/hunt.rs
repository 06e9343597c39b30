//! The hunt for stealth copies on a generated tree, against `fclones group` when installed.
//!
//!   cargo bench -p brig-rollback --bench hunt -- [FILES] [MEGABYTES]
//!
//! Defaults: 20,000 files, ~2,000 MB. Half of the bytes are 20 protected files copied five
//! times each (some renamed, some in hidden directories); the other half are filler files,
//! among which 40 decoys have a protected file's size and first and last 4 KiB but a
//! different middle. Both tools run with the page cache warm (the tree was just written).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use brig_rollback::hunt::{self, Options};

const PROTECTED: usize = 20;
const COPIES: usize = 5;
const DECOYS: usize = 40;

/// Fast deterministic filler bytes (xorshift64*, 8 bytes a step).
fn fill(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write(path: &Path, content: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Writes the tree; returns the protected dir, the scan dir and the expected copies.
fn generate(dir: &Path, files: usize, bytes: u64) -> (PathBuf, PathBuf, BTreeSet<PathBuf>) {
    let prot = dir.join("protected");
    let scan = dir.join("scan");
    let big = (bytes / 2 / (PROTECTED * (COPIES + 1)) as u64) as usize;
    let mut expected = BTreeSet::new();
    let mut contents = Vec::new();
    for p in 0..PROTECTED {
        let content = fill(p as u64 + 1, big + p * 4099);
        write(&prot.join(format!("data-{p}.bin")), &content);
        for c in 0..COPIES {
            let path = match c {
                0 => scan.join(format!("u{p}/data-{p}.bin")),
                1 => scan.join(format!("u{p}/.cache/{p}.tmp")),
                _ => scan.join(format!("d{}/x{p}-{c}", (p * 7 + c) % 50)),
            };
            write(&path, &content);
            expected.insert(path);
        }
        contents.push(content);
    }
    for d in 0..DECOYS {
        let mut near = contents[d % PROTECTED].clone();
        let mid = near.len() / 2;
        near[mid] ^= 0x5a;
        write(&scan.join(format!("decoy/{d}")), &near);
    }
    let filler = files.saturating_sub(PROTECTED * COPIES + DECOYS).max(1);
    let each = ((bytes / 2) / filler as u64).max(1) as usize;
    for f in 0..filler {
        let len = each / 2 + (f * 7919) % each.max(1);
        write(
            &scan.join(format!("f{}/{}/{f}", f % 64, f % 7)),
            &fill(10_000 + f as u64, len),
        );
    }
    (prot, scan, expected)
}

fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let md = e.metadata().unwrap();
        total += if md.is_dir() {
            disk_bytes(&e.path())
        } else {
            md.len()
        };
    }
    total
}

/// Copies fclones finds of the protected files: the other members of their groups.
fn fclones(prot: &Path, scan: &Path) -> Option<(f64, BTreeSet<PathBuf>)> {
    let t = Instant::now();
    let out = std::process::Command::new("fclones")
        .args(["group", "--hidden", "--no-ignore", "--format", "json"])
        .arg(prot)
        .arg(scan)
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let secs = t.elapsed().as_secs_f64();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let mut found = BTreeSet::new();
    for g in report["groups"].as_array()? {
        let files: Vec<PathBuf> = g["files"]
            .as_array()?
            .iter()
            .filter_map(|f| f.as_str().map(PathBuf::from))
            .collect();
        if files.iter().any(|f| f.starts_with(prot)) {
            found.extend(files.into_iter().filter(|f| !f.starts_with(prot)));
        }
    }
    Some((secs, found))
}

fn main() {
    // `cargo bench` passes --bench; numbers are ours.
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let files = args.first().copied().unwrap_or(20_000) as usize;
    let megabytes = args.get(1).copied().unwrap_or(2_000);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::fs::canonicalize(tmp.path()).unwrap();
    let t = Instant::now();
    let (prot, scan, expected) = generate(&dir, files, megabytes * 1_000_000);
    println!(
        "tree: {} files, {:.0} MB under {} (+ {} protected files, {:.0} MB), written in {:.1} s",
        files,
        disk_bytes(&scan) as f64 / 1e6,
        dir.display(),
        PROTECTED,
        disk_bytes(&prot) as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let report = hunt::copies(
        std::slice::from_ref(&prot),
        std::slice::from_ref(&scan),
        &Options::default(),
    )
    .unwrap();
    let ours_secs = t.elapsed().as_secs_f64();
    let ours: BTreeSet<PathBuf> = report.matches.iter().map(|m| m.path.clone()).collect();
    println!(
        "brig hunt::copies: {:.2} s, {} copies ({} expected, {}), {} files scanned, {:.0} MB hashed",
        ours_secs,
        ours.len(),
        expected.len(),
        if ours == expected { "all and only those" } else { "MISMATCH" },
        report.files_scanned,
        report.bytes_hashed as f64 / 1e6
    );
    match fclones(&prot, &scan) {
        Some((secs, theirs)) => println!(
            "fclones group:     {:.2} s, {} copies of protected files; same set as brig: {}",
            secs,
            theirs.len(),
            theirs == ours
        ),
        None => println!("fclones: not on PATH (cargo install fclones --locked); skipped"),
    }
}
