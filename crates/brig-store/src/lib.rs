//! Brig's persistence.
//!
//! [`DataDir`] is the one directory a Brig node keeps its state in (the ledger database or
//! the URL of the PostgreSQL database that holds it, and the ledger signing key); [`Store`]
//! is the handle every component reads and writes through, over the embedded SQLite
//! backend ([`SqliteStore`], the default) or PostgreSQL ([`PgStore`], for many processes
//! and hosts on one ledger). Both implement [`brig_ledger::store::LedgerStore`]. SQL stays
//! in this crate.

#![forbid(unsafe_code)]

mod browse;
mod datadir;
mod gateways;
mod incidents;
mod postgres;
mod sqlite;
mod store;
mod tokens;

pub use browse::{bucket_width, AgentSeen, Extent, Page, Span};
pub use datadir::{DataDir, DataDirError, FileMode, InitOptions, DEFAULT_DATA_DIR};
pub use gateways::GatewayRow;
pub use incidents::{IncidentRow, NoteRow};
pub use postgres::{redact, scratch_database, PgStore, SEQUENCER_LOCK};
pub use sqlite::{Approval, Containment, Scope, SqliteStore};
pub use store::{Changes, IncidentTx, Store};
pub use tokens::TokenRow;
