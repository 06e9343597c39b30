//! What the ledger needs from persistence, and nothing more.
//!
//! The ledger computes every hash and signature; a store only keeps rows, durably and in
//! order. `brig-store` implements [`LedgerStore`] for SQLite (and later PostgreSQL), so no SQL
//! leaks into the ledger and the ledger's logic is the same whatever the backend.
//!
//! Row layout. The row of leaf `i` keeps the exact leaf bytes that were hashed and
//! `hashes` = the leaf hash followed by the hashes of the perfect subtrees that leaf `i`
//! completes (levels 1, 2, … while `(i + 1)` is divisible by `2^level`). So the hash of any
//! perfect subtree `(level, k)` sits in the row of its last leaf, `(k + 1) · 2^level − 1`, at
//! offset `32 · level`: one row read per node, which makes proofs O(log n) reads, without a
//! second table to keep in step.
//!
//! Payload blobs are located by (event index, part name), so they are written in the same
//! order as the events (a random-keyed digest index cost half the append throughput), and
//! each is checked against the salted digest its leaf recorded.

use std::collections::HashMap;

use brig_model::{Blob, EventId};

use crate::merkle::Hash;

/// A failure of the backend. Carries the backend's message; the ledger adds context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend: {0}")]
    Backend(String),
    /// The stored data is not shaped as the ledger wrote it (missing row, wrong lengths).
    #[error("stored ledger is damaged: {0}")]
    Damaged(String),
}

/// A leaf row to insert.
#[derive(Debug)]
pub struct NewLeafRow<'a> {
    pub index: u64,
    pub id: &'a EventId,
    pub ts_nanos: i64,
    pub kind: &'a str,
    pub agent: &'a str,
    pub session: Option<&'a str>,
    pub workflow: Option<&'a str>,
    /// Exactly the bytes that were hashed (canonical event JSON).
    pub leaf: &'a [u8],
    /// Leaf hash, then the hashes of the perfect subtrees this leaf completes.
    pub hashes: &'a [u8],
}

/// A leaf row as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafRow {
    pub index: u64,
    pub leaf: Vec<u8>,
    pub hashes: Vec<u8>,
}

/// A payload blob as stored: which event and part it belongs to, and the blob itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBlob {
    pub index: u64,
    pub part: String,
    pub blob: Blob,
}

/// A signed checkpoint as stored. `note` is the authority; `size` and `root` are a cache
/// for lookups and are checked against the note by `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// Insertion order, from 1.
    pub seq: u64,
    pub size: u64,
    pub root: Hash,
    /// The signed note, byte for byte as signed.
    pub note: String,
    pub created_nanos: i64,
}

/// One exclusive write transaction. Nothing is visible to others, and nothing is durable,
/// until [`AppendTx::commit`] returns `Ok`; dropping it without commit rolls back.
pub trait AppendTx {
    /// Number of leaves, as of this transaction (other writers may have appended before it).
    fn size(&mut self) -> Result<u64, StoreError>;
    /// Hash of the perfect subtree `(level, index)` (see the module docs for where it lives).
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError>;
    /// Index of the event with this id, if it is already recorded.
    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError>;
    /// The indices of those of `ids` already recorded. One lookup for a whole batch where
    /// the backend can do it in one round trip (and before any row of the batch is written,
    /// so a backend that buffers its inserts keeps them in one flush).
    fn find_events(&mut self, ids: &[EventId]) -> Result<HashMap<EventId, u64>, StoreError> {
        let mut found = HashMap::new();
        for id in ids {
            if let Some(index) = self.find_event(id)? {
                found.insert(*id, index);
            }
        }
        Ok(found)
    }
    fn insert_leaf(&mut self, row: &NewLeafRow<'_>) -> Result<(), StoreError>;
    /// Stores payload part `part` of the event at `index`.
    fn insert_blob(&mut self, index: u64, part: &str, blob: &Blob) -> Result<(), StoreError>;
    /// Makes the transaction durable: when this returns `Ok`, the rows survive a crash or
    /// power loss.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Persistence for one ledger.
pub trait LedgerStore: Send {
    /// Starts the one write transaction; waits for other writers (other processes) to finish.
    fn begin_append(&mut self) -> Result<Box<dyn AppendTx + '_>, StoreError>;
    fn size(&mut self) -> Result<u64, StoreError>;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError>;
    fn leaf(&mut self, index: u64) -> Result<Option<LeafRow>, StoreError>;
    /// Calls `f` for every stored row with `from <= index < to`, in index order, as stored:
    /// gaps and oddities are reported to `f`, not hidden. `f` returns false to stop.
    fn scan(
        &mut self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(LeafRow) -> bool,
    ) -> Result<(), StoreError>;
    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError>;
    /// Payload part `part` of the event at `index`. Its integrity is the caller's to check
    /// against the digest the leaf recorded ([`Blob::is_intact`], and the digest itself).
    fn blob(&mut self, index: u64, part: &str) -> Result<Option<Blob>, StoreError>;
    /// Calls `f` for every stored blob, in event order. `f` returns false to stop.
    fn scan_blobs(&mut self, f: &mut dyn FnMut(StoredBlob) -> bool) -> Result<(), StoreError>;
    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<u64, StoreError>;
    /// All checkpoints in insertion order.
    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError>;
    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError>;
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError>;
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError>;
}

/// Lets the Merkle proof code read nodes straight from a store.
pub struct StoreNodes<'a, S: ?Sized>(pub &'a mut S);

impl<S: LedgerStore + ?Sized> crate::merkle::NodeSource for StoreNodes<'_, S> {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.0.node(level, index)
    }
}

/// The same, inside a write transaction.
pub(crate) struct TxNodes<'a, 'b>(pub &'a mut (dyn AppendTx + 'b));

impl crate::merkle::NodeSource for TxNodes<'_, '_> {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.0.node(level, index)
    }
}

/// Where the hash of perfect subtree `(level, index)` is stored: (row, byte offset).
pub fn node_location(level: u32, index: u64) -> (u64, usize) {
    let last_leaf = ((index + 1) << level) - 1;
    (last_leaf, 32 * level as usize)
}

/// The nodes a row's `hashes` hold, the inverse of [`node_location`]: its leaf hash (level 0)
/// and each perfect subtree the leaf completes, as ((level, index), hash).
pub fn nodes_in_row(row: u64, hashes: &[u8]) -> impl Iterator<Item = ((u32, u64), Hash)> + '_ {
    hashes.chunks_exact(32).enumerate().map(move |(level, h)| {
        let level = level as u32;
        let hash: Hash = h.try_into().expect("chunks of 32 bytes");
        ((level, ((row + 1) >> level) - 1), hash)
    })
}

/// Reads the hash at `offset` of a row's `hashes`, or says the row is damaged.
pub fn hash_at(hashes: &[u8], offset: usize, row: u64) -> Result<Hash, StoreError> {
    hashes
        .get(offset..offset + 32)
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            StoreError::Damaged(format!(
                "row {row} holds {} hash bytes; expected at least {}",
                hashes.len(),
                offset + 32
            ))
        })
}
