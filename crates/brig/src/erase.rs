//! `brig ledger erase`: delete a payload's bytes (a GDPR erasure, a leaked secret), recorded.
//!
//! Order matters: the erasure is appended to the ledger (durably) *before* the blob is
//! deleted, so a crash in between leaves a record whose bytes are still there — `brig
//! ledger verify` lists it as pending, and running the same command again finishes it —
//! never a missing blob without a record, which verify reports as damage.

use anyhow::{bail, Context};
use brig_ledger::store::LedgerStore;
use brig_ledger::Prepared;
use brig_model::erasure::Erasure;
use brig_model::{Event, EventId, EventKind};
use clap::Args;
use serde::Serialize;
use serde_json::json;

use crate::exit::Exit;
use crate::util::actor;
use crate::DataArgs;

#[derive(Args)]
pub struct EraseArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The id of the event whose payload to erase (as in `brig ledger show --json`).
    #[arg(long, value_name = "ID")]
    event: String,
    /// Only this payload part (e.g. `arguments`, `result`); default: every part of the event.
    #[arg(long, value_name = "NAME")]
    part: Option<String>,
    /// Why (a request number, "leaked secret"…): recorded in the ledger, required.
    #[arg(long)]
    reason: String,
    /// Who is erasing [default: $USER].
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    json: bool,
}

/// What became of one part.
#[derive(Serialize)]
struct Outcome {
    part: String,
    /// `erased`, `already erased`, or `completed` (an interrupted erase finished).
    result: &'static str,
    digest: String,
    /// Ledger index of the erasure's record.
    record: u64,
}

pub fn run(a: EraseArgs) -> anyhow::Result<Exit> {
    let reason = a.reason.trim();
    if reason.is_empty() {
        bail!("--reason must say why the payload is erased (it is recorded in the ledger)");
    }
    if !brig_model::secrets::find(reason).is_empty() {
        bail!("--reason holds what looks like a secret; the reason is kept in the ledger for good, so leave the value out");
    }
    let id: EventId = a
        .event
        .parse()
        .map_err(|e| anyhow::anyhow!("--event {:?} is not an event id: {e}", a.event))?;
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let Some(index) = store.find_event(&id)? else {
        bail!(
            "no event with id {id} in this ledger (it holds {} events); find ids with `brig ledger show --json`",
            store.size()?
        );
    };
    let row = store
        .leaf(index)?
        .with_context(|| format!("event {id} is indexed at {index} but its row is missing"))?;
    let target = Event::from_leaf(&row.leaf).map_err(|e| {
        anyhow::anyhow!("event {index} does not parse: {e} (run `brig ledger verify`)")
    })?;
    let parts: Vec<String> = match &a.part {
        Some(p) if target.payload.contains_key(p) => vec![p.clone()],
        Some(p) => bail!(
            "event {id} has no payload part {p:?}; its parts: {}",
            names(&target)
        ),
        None if target.payload.is_empty() => bail!("event {id} has no payload to erase"),
        None => target.payload.keys().cloned().collect(),
    };
    let recorded = erasures_of(&mut store, index)?;
    let who = actor(&a.actor);
    let mut out = Vec::new();
    for part in parts {
        let digest = target.payload[&part].salted_sha256;
        let present = store.blob(index, &part)?.is_some();
        let earlier = recorded
            .iter()
            .find(|(_, e)| e.covers(index, &part, &digest))
            .map(|(at, _)| *at);
        let (result, record) = match (earlier, present) {
            (Some(at), false) => ("already erased", at),
            (Some(at), true) => ("completed", at),
            (None, false) => bail!(
                "payload {part:?} of event {id} is missing from the store with no erasure recorded: the store is damaged (run `brig ledger verify --deep`)"
            ),
            (None, true) => {
                let er = Erasure::of(&target, index, &part, reason, &who)
                    .expect("the part is in the event");
                let prepared = Prepared::new(er.to_event(&target))?;
                let receipts = dir.ledger()?.append(&[prepared])?;
                ("erased", receipts[0].index)
            }
        };
        if present {
            store.erase_blob(index, &part)?;
        }
        out.push(Outcome {
            part,
            result,
            digest: hex::encode(digest),
            record,
        });
    }
    if a.json {
        println!(
            "{}",
            json!({"event": id.to_string(), "index": index, "parts": out})
        );
    } else {
        for o in &out {
            println!(
                "payload {:?} of event {id} (index {index}): {} (record at index {})",
                o.part, o.result, o.record
            );
        }
    }
    Ok(Exit::Ok)
}

fn names(e: &Event) -> String {
    let v: Vec<&str> = e.payload.keys().map(String::as_str).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The erasures already recorded for the event at `index`, with their own indices: they
/// can only come after it.
fn erasures_of(store: &mut brig_store::Store, index: u64) -> anyhow::Result<Vec<(u64, Erasure)>> {
    let mut out = Vec::new();
    let kinds = [EventKind::OperatorAction.as_str()];
    for at in store.kinds_since(index, &kinds, i64::MAX as usize)? {
        let Some(row) = store.leaf(at)? else { continue };
        if !brig_model::erasure::may_be_erasure(&row.leaf) {
            continue;
        }
        if let Some(e) = Event::from_leaf(&row.leaf)
            .ok()
            .as_ref()
            .and_then(Erasure::from_event)
        {
            if e.index == index {
                out.push((at, e));
            }
        }
    }
    Ok(out)
}
