//! The transparency-log texts an auditor is handed: C2SP signed notes, checkpoints, tlog-proofs
//! and verifier keys, parsed and opened with the key of the ledger the seeds come from
//! (`fuzz/seeds/ledger.vkey`, written by `fuzz/seeds.sh`), so that mutations of a signed seed
//! reach signature checking, the checkpoint body and the inclusion proof.
#![no_main]

use brig_ledger::checkpoint::{open_checkpoint, Checkpoint};
use brig_ledger::note::{open_note, parse_note, NoteVerifier};
use brig_ledger::tlog_proof::TlogProof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let verifier = NoteVerifier::from_vkey(include_str!("../seeds/ledger.vkey").trim())
        .expect("the seed ledger's key");
    let _ = parse_note(data);
    let _ = open_note(data, std::slice::from_ref(&verifier));
    let _ = open_checkpoint(data, &verifier);
    if let Ok(proof) = TlogProof::parse(data) {
        let _ = proof.verify(&[0; 32], &verifier);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Checkpoint::parse(text);
        let _ = NoteVerifier::from_vkey(text.trim());
    }
});
