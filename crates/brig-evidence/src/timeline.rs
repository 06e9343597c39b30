// Placeholder until the timeline branch merges.
use brig_model::Event;
pub fn write_jsonl(_e: &[(u64, Event)], _w: impl std::io::Write) -> std::io::Result<()> {
    Ok(())
}
pub fn write_csv(_e: &[(u64, Event)], _w: impl std::io::Write) -> Result<(), csv::Error> {
    Ok(())
}
