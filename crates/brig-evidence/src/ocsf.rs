// Placeholder until the timeline branch merges.
use brig_model::Event;
pub fn to_ocsf(_e: &[(u64, Event)], _i: &[brig_incident::Incident]) -> Vec<serde_json::Value> {
    Vec::new()
}
