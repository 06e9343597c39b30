//! Brig's tamper-evident ledger.
//!
//! The transparency-log primitives (no I/O): RFC 6962 / RFC 9162 Merkle hashing and
//! proofs ([`merkle`]), C2SP signed notes ([`note`]), C2SP checkpoints ([`checkpoint`]),
//! and C2SP `tlog-proof` files ([`tlog_proof`]).

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod tlog_proof;
