//! The ledger's record of an erased payload (`brig ledger erase`).
//!
//! Erasing deletes a payload blob — content and salt — from the store; the leaf, which binds
//! the payload by its salted digest, stays. The erasure itself is an `operator.action` event
//! appended *before* the bytes are deleted, so a blob can be missing only with a record that
//! says who erased it, when and why. Verifiers (`brig ledger verify`, `brig evidence verify`)
//! accept a missing payload exactly when such a record names its event, part and digest.
//! The record lives in the leaf's attributes (not a payload), so it can never be erased
//! itself; its `session` and `agent` are the erased event's, so exports of that session or
//! incident carry it.

use serde::Serialize;
use serde_json::{json, Value};

use crate::{Event, EventId, EventKind, NewEvent};

/// `attrs.action` of an erasure.
pub const ACTION: &str = "erase";

/// One erased payload part, as its `operator.action` event records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Erasure {
    /// The event whose payload was erased.
    pub event: EventId,
    /// Its ledger index.
    pub index: u64,
    pub part: String,
    /// The salted SHA-256 the erased event's leaf records for the part (hex).
    pub digest: String,
    pub reason: String,
    pub actor: String,
}

impl Erasure {
    /// The record of erasing `part` of `target` (at `index`); `None` when the event has no
    /// such part.
    pub fn of(target: &Event, index: u64, part: &str, reason: &str, actor: &str) -> Option<Self> {
        let r = target.payload.get(part)?;
        Some(Erasure {
            event: target.id,
            index,
            part: part.to_string(),
            digest: hex::encode(r.salted_sha256),
            reason: reason.to_string(),
            actor: actor.to_string(),
        })
    }

    /// The `operator.action` event that records it, in the erased event's agent and session.
    pub fn to_event(&self, target: &Event) -> NewEvent {
        let mut e = NewEvent::new("operator", target.agent.clone(), EventKind::OperatorAction);
        e.session = target.session.clone();
        e.workflow = target.workflow.clone();
        let attrs = [
            ("action", json!(ACTION)),
            ("actor", json!(self.actor)),
            ("event", json!(self.event.to_string())),
            ("index", json!(self.index)),
            ("part", json!(self.part)),
            ("digest", json!(self.digest)),
            ("reason", json!(self.reason)),
        ];
        e.attrs
            .extend(attrs.into_iter().map(|(k, v)| (k.to_string(), v)));
        e
    }

    /// Reads an erasure back from its event; `None` for any other event.
    pub fn from_event(e: &Event) -> Option<Self> {
        if e.kind != EventKind::OperatorAction || e.attrs.get("action")?.as_str()? != ACTION {
            return None;
        }
        let s = |k: &str| e.attrs.get(k).and_then(Value::as_str).map(String::from);
        Some(Erasure {
            event: s("event")?.parse().ok()?,
            index: e.attrs.get("index")?.as_u64()?,
            part: s("part")?,
            digest: s("digest")?,
            reason: s("reason").unwrap_or_default(),
            actor: s("actor").unwrap_or_default(),
        })
    }

    /// True when this record covers `part` of the event at `index` whose leaf records
    /// `digest`.
    pub fn covers(&self, index: u64, part: &str, digest: &[u8; 32]) -> bool {
        self.index == index && self.part == part && self.digest == hex::encode(digest)
    }
}

/// A cheap test on leaf bytes before parsing: every erasure's canonical leaf holds this.
pub fn may_be_erasure(leaf: &[u8]) -> bool {
    const NEEDLE: &[u8] = br#""action":"erase""#;
    leaf.windows(NEEDLE.len()).any(|w| w == NEEDLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erasure_round_trips_through_its_leaf() {
        let mut call = NewEvent::new("mcp-proxy", "a", EventKind::ToolCall);
        call.tool = Some("t".into());
        call.session = Some("s".into());
        call.payload.insert("arguments".into(), json!({"k": 1}));
        let (target, _) = call.seal().unwrap();
        assert!(Erasure::of(&target, 7, "result", "r", "me").is_none());
        let er = Erasure::of(&target, 7, "arguments", "GDPR request 12", "alice").unwrap();
        let (event, _) = er.to_event(&target).seal().unwrap();
        let leaf = event.canonical_bytes().unwrap();
        assert!(may_be_erasure(&leaf));
        let back = Erasure::from_event(&Event::from_leaf(&leaf).unwrap()).unwrap();
        assert_eq!(back, er);
        assert_eq!(event.session.as_deref(), Some("s"));
        assert!(back.covers(7, "arguments", &target.payload["arguments"].salted_sha256));
        assert!(!back.covers(8, "arguments", &target.payload["arguments"].salted_sha256));
        assert!(!back.covers(7, "arguments", &[0; 32]));
    }
}
