//! A Brig event as `brig ingest`, `brig serve /v1/events` and the gateways read it: JSON →
//! `NewEvent` → prepared (validated, sealed, canonical leaf). Invariant checked: every leaf
//! Brig prepares is one `Event::from_leaf` accepts (one event, one hash). Raw bytes are also
//! read as a leaf, as `brig ledger verify` and `brig evidence verify` read stored leaves.
#![no_main]

use brig_ledger::ledger::Prepared;
use brig_model::{Event, NewEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Event::from_leaf(data);
    let Ok(new) = serde_json::from_slice::<NewEvent>(data) else {
        return;
    };
    if let Ok(p) = Prepared::new(new) {
        let back = Event::from_leaf(&p.leaf).expect("a prepared leaf is canonical");
        assert_eq!(back.id, p.event.id);
    }
});
