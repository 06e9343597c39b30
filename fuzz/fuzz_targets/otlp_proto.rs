//! OTLP/HTTP protobuf (`application/x-protobuf` on `/v1/traces`): an
//! `ExportTraceServiceRequest` decoded, then mapped to Brig events like the JSON form.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(resources) = brig_detect::otlp::proto::decode(data) {
        let mapped = brig_detect::otlp::map(&resources);
        let _ = mapped.events().count();
    }
});
