//! Inputs the fuzz targets (`fuzz/`, `scripts/fuzz.sh`) found breaking the bundle reader,
//! saved in `tests/fuzz_inputs/`, each now answered with a clean error. RELIABILITY.md
//! ("Fuzzing") lists them.

use std::path::{Path, PathBuf};

use brig_evidence::bundle;

fn input(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz_inputs")
        .join(name)
}

/// 2.6 KB of zstd whose tar entry claims 80 MiB of zeros (the fuzzer's was 100 KB claiming
/// 3 GiB, and took the reader past 2 GB of memory): refused once it unpacks past the bound,
/// read from a file (as `brig evidence verify` reads) and from bytes alike.
#[test]
fn evidence_bundle_zstd_bomb_is_refused_as_one() {
    let path = input("evidence_bundle-zstd-bomb.tar.zst");
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() < 4096);
    let err = bundle::read(&path)
        .err()
        .expect("a bomb is refused")
        .to_string();
    assert!(err.contains("decompression bomb"), "{err}");
    assert!(err.contains("ledger/events/big"), "names the entry: {err}");
    let err = bundle::read_bytes(&bytes, Path::new("bomb.tar.zst"))
        .err()
        .expect("a bomb is refused")
        .to_string();
    assert!(err.contains("decompression bomb"), "{err}");
}

/// The bound leaves honest compressed bundles alone: one written with zstd reads back whole.
#[test]
fn a_compressed_bundle_within_the_bound_reads_back() {
    // Not a hidden name: detection flags hidden locations.
    let dir = tempfile::Builder::new()
        .prefix("fuzz-regressions")
        .tempdir()
        .unwrap();
    let mut files = bundle::Files::default();
    // 4 MiB of repetitive text: compresses far beyond 100 to 1, but stays under the floor.
    files.add("sessions/a.txt", "same line again\n".repeat(1 << 18));
    files.add("manifest.json", "{}");
    let path = dir.path().join("b.tar.zst");
    bundle::write(&path, &files, true).unwrap();
    let back = bundle::read(&path).unwrap();
    assert_eq!(back.entries, files.entries);
}
