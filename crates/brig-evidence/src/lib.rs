//! Evidence: what Brig hands to auditors, regulators, counsel and other tools.
//!
//! - [`export`]: one bundle file holding an incident's (or an agent's) events exactly as the
//!   ledger stores them, a C2SP inclusion proof of each against a signed checkpoint, payloads,
//!   readable sessions, file changes with diffs, state snapshots, a timeline, a signed
//!   manifest and a chain of custody ([`bundle`] describes the layout);
//! - [`verify`]: checks a bundle offline with nothing but the bundle and, ideally, the
//!   ledger's verifier key obtained out of band; names every item that does not hold;
//! - [`custody`]: the signed hand-off log;
//! - [`timeline`]: events as a normalized timeline, for Timesketch (JSONL, CSV);
//! - [`ocsf`]: the same events as OCSF 1.8 findings and activities, for SIEMs.
//!
//! Verifying needs only `brig-ledger`'s primitives (Merkle proofs, signed notes), never the
//! data directory: an auditor's machine has no Brig state at all.

#![forbid(unsafe_code)]

use std::path::Path;

pub mod bundle;
pub mod custody;
pub mod export;
pub mod ocsf;
mod readable;
pub mod timeline;
pub mod undo;
pub mod verify;

/// What went wrong with evidence, naming the file or item.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Bundle { path: String, what: String },
    #[error("key: {0}")]
    Key(String),
    #[error("nothing to export: {0}")]
    Empty(String),
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("ledger: {0}")]
    Ledger(#[from] brig_ledger::LedgerError),
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("incident: {0}")]
    Incident(#[from] brig_incident::desk::DeskError),
    /// A rollback plan cannot be made (images altered or erased, a bad glob, the object
    /// store unreadable).
    #[error("rollback: {0}")]
    Rollback(String),
}

impl EvidenceError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        EvidenceError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
