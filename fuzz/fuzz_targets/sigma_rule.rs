//! A Sigma rule document (`rules/*.yml`, `brig detect --rules DIR`): parsed, checked and
//! compiled; a rule set that loads then evaluates one event.
#![no_main]

use brig_detect::rules::Rules;
use brig_model::{Action, ActionKind, EventKind, NewEvent};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rules) = Rules::from_sources([("fuzz.yml".to_string(), yaml.to_string())]) else {
        return;
    };
    let mut detector = rules.detector();
    let mut e = NewEvent::new("fuzz", "agent-1", EventKind::ToolCall);
    e.actions = vec![Action::new(
        ActionKind::FileRead,
        "/home/u/.aws/credentials",
    )];
    let _ = detector.observe(&e, "0");
});
