//! Brig's tamper-evident ledger.
//!
//! The transparency-log primitives (no I/O): RFC 6962 / RFC 9162 Merkle hashing and
//! proofs ([`merkle`]), C2SP signed notes ([`note`]), C2SP checkpoints ([`checkpoint`]),
//! and C2SP `tlog-proof` files ([`tlog_proof`]).
//!
//! On top of them, the ledger service: the [`store::LedgerStore`] trait a backend implements,
//! [`Ledger`] (prepare, append, checkpoint, prove), group commit ([`appender`]) and full
//! verification of a stored ledger ([`verify`]).

#![forbid(unsafe_code)]

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod tlog_proof;

// The ledger over a store: appends, checkpoints, proofs, verification.
pub mod appender;
pub mod ledger;
pub mod store;
pub mod verify;

pub use ledger::{Ledger, LedgerError, Prepared, Receipt};
