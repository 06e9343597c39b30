//! Brig's event model: the one shape of everything the ledger records.
//!
//! Every agent prompt, model output, tool call and result, policy decision, approval, file
//! change, operator or response action, human report, alert and incident transition enters
//! Brig as a [`NewEvent`]. Sealing it ([`NewEvent::seal`]) moves its payloads (prompts,
//! arguments, results, outputs) out into salted, content-addressed [`Blob`]s and leaves an
//! [`Event`] that keeps only metadata plus a [`PayloadRef`] (salted digest and size) for each
//! payload. The [`Event`]'s canonical JSON ([`Event::canonical_bytes`], RFC 8785) is the
//! ledger leaf: the same event always hashes the same.
//!
//! Why salted digests: a payload can later be erased (privacy law, a leaked secret) by
//! deleting its blob and salt. The leaf, and so the Merkle tree, stays intact, while the
//! remaining digest can no longer be used to confirm a guess of the erased content.
//!
//! This crate does no I/O.

#![forbid(unsafe_code)]

/// Serializes a type as its `Display` string and deserializes it through `FromStr`, so the
/// text form (and its validation) is defined once, in those two impls.
macro_rules! serde_via_str {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

mod action;
mod canonical;
pub mod erasure;
mod event;
mod ids;
pub mod net;
mod payload;
pub mod secrets;
mod time;

pub use action::{Action, ActionKind};
pub use canonical::{canonical_json, CanonicalError};
pub use event::{
    Decision, Effect, Event, EventKind, NewEvent, ValidationError, MAX_NAME_LEN, SCHEMA_VERSION,
};
pub use ids::EventId;
pub use payload::{Blob, PayloadRef, SALT_LEN};
pub use time::Timestamp;
