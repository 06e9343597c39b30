//! OTLP/JSON traces as `brig detect --otlp` and `brig serve /v1/traces` read them: one
//! document or JSON lines, every GenAI span mapped to Brig events.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = brig_detect::otlp::read(text);
    }
});
