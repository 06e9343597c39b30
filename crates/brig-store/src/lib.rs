//! Brig's persistence.
//!
//! [`DataDir`] is the one directory a Brig node keeps its state in (the ledger database and
//! the ledger signing key); [`SqliteStore`] is the embedded default backend, implementing
//! [`brig_ledger::store::LedgerStore`]. SQL stays in this crate.

mod datadir;
mod incidents;
mod sqlite;
mod tokens;

pub use datadir::{DataDir, DataDirError, DEFAULT_DATA_DIR};
pub use incidents::{IncidentRow, IncidentTx, NoteRow};
pub use sqlite::{Approval, Containment, Scope, SqliteStore};
pub use tokens::TokenRow;
