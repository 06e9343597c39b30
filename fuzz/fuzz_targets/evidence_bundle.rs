//! An evidence bundle as `brig evidence verify` reads it from an untrusted party: a tar
//! archive (plain or zstd) read, then verified offline against its own key (manifest and its
//! signature, file digests, events, tlog-proofs, checkpoints, consistency proofs, custody).
#![no_main]

use brig_evidence::{bundle, verify};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(files) = bundle::read_bytes(data, std::path::Path::new("fuzz.tar")) else {
        return;
    };
    let report = verify::verify(&files, None);
    assert!(report.ok == report.problems.is_empty());
});
