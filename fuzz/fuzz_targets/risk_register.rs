//! The risk register (`brig.toml`): parsed and validated, then asked about targets the way
//! detection and policy ask.
#![no_main]

use brig_register::Register;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(reg) = Register::parse(text, "brig.toml") else {
        return;
    };
    for target in [
        "/srv/project/src/main.rs",
        "https://api.example.com/v1",
        "mailto:ops@example.com",
        "db.internal",
        "",
    ] {
        let _ = reg.classes_of(target);
        let _ = reg.is_internal(target);
        let _ = reg.resources_of(target).count();
    }
});
