//! The ledger service: append events durably, sign checkpoints, prove inclusion.

use std::collections::HashSet;

use brig_model::{Blob, Event, EventId, NewEvent, Timestamp, ValidationError};
use serde::Serialize;

use crate::checkpoint::{sign_checkpoint, Checkpoint, CheckpointError};
use crate::merkle::{self, Frontier, Hash, ProveError};
use crate::note::NoteSigner;
use crate::store::{LedgerStore, NewLeafRow, StoreError, StoreNodes, StoredCheckpoint, TxNodes};
use crate::tlog_proof::TlogProof;

/// Everything that can go wrong in a ledger operation.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid event: {0}")]
    Invalid(#[from] ValidationError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("index {index} is not in the ledger (it holds {size} events)")]
    NoSuchIndex { index: u64, size: u64 },
    #[error("no signed checkpoint covers index {index} yet: run `brig ledger checkpoint`")]
    NotCheckpointed { index: u64 },
    #[error("cannot prove: {0}")]
    Prove(String),
    #[error("ledger writer: {0}")]
    Writer(String),
}

impl From<ProveError<StoreError>> for LedgerError {
    fn from(e: ProveError<StoreError>) -> Self {
        match e {
            ProveError::Source(s) => LedgerError::Store(s),
            other => LedgerError::Prove(other.to_string()),
        }
    }
}

/// An event made ready for the ledger: validated, payloads sealed into blobs, leaf bytes
/// and leaf hash computed. Preparing needs no lock, so it runs on any thread, in parallel
/// with appends; only the position in the tree is decided at append time.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub event: Event,
    pub leaf: Vec<u8>,
    pub leaf_hash: Hash,
    /// Payload parts, by name, as sealed.
    pub blobs: Vec<(String, Blob)>,
    /// The caller chose the id, so it may be a re-submission: checked for duplicates.
    pub caller_id: bool,
}

impl Prepared {
    pub fn new(new: NewEvent) -> Result<Self, ValidationError> {
        let caller_id = new.id.is_some();
        let (event, blobs) = new.seal()?;
        let leaf = event.canonical_bytes()?;
        Ok(Prepared {
            leaf_hash: merkle::leaf_hash(&leaf),
            event,
            leaf,
            blobs,
            caller_id,
        })
    }
}

/// What became of one appended event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub index: u64,
    pub id: EventId,
    /// The id was already recorded (at `index`); nothing new was written.
    pub duplicate: bool,
}

/// A ledger over a store. One per process is enough; several processes may share a store
/// (each append re-reads the tree size inside its transaction).
pub struct Ledger<S> {
    store: S,
    /// The appender's view of the tree; trusted only while its size equals the store's.
    frontier: Frontier,
    completed: Vec<Hash>,
    hashes: Vec<u8>,
}

impl<S: LedgerStore> Ledger<S> {
    pub fn new(store: S) -> Self {
        Ledger {
            store,
            frontier: Frontier::new(),
            completed: Vec::new(),
            hashes: Vec::new(),
        }
    }

    pub fn store(&mut self) -> &mut S {
        &mut self.store
    }

    pub fn into_store(self) -> S {
        self.store
    }

    /// Appends a batch in one durable transaction (group commit). When this returns `Ok`,
    /// every receipt's event is on disk; on `Err`, none of the batch was recorded.
    pub fn append(&mut self, batch: &[Prepared]) -> Result<Vec<Receipt>, LedgerError> {
        let mut receipts = Vec::with_capacity(batch.len());
        let mut tx = self.store.begin_append()?;
        let size = tx.size()?;
        let mut frontier = if self.frontier.size() == size {
            self.frontier.clone()
        } else {
            // Another process appended since we last looked.
            Frontier::from_source(size, &mut TxNodes(&mut *tx))?
        };
        let caller_ids: Vec<EventId> = batch
            .iter()
            .filter(|p| p.caller_id)
            .map(|p| p.event.id)
            .collect();
        let known = if caller_ids.is_empty() {
            Default::default()
        } else {
            tx.find_events(&caller_ids)?
        };
        let mut batch_ids: HashSet<EventId> = HashSet::new();
        for p in batch {
            if p.caller_id {
                if let Some(&index) = known.get(&p.event.id) {
                    receipts.push(Receipt {
                        index,
                        id: p.event.id,
                        duplicate: true,
                    });
                    continue;
                }
                if !batch_ids.insert(p.event.id) {
                    let index = receipts
                        .iter()
                        .find(|r| r.id == p.event.id)
                        .map_or(0, |r| r.index);
                    receipts.push(Receipt {
                        index,
                        id: p.event.id,
                        duplicate: true,
                    });
                    continue;
                }
            }
            let index = frontier.size();
            self.completed.clear();
            frontier.push(p.leaf_hash, &mut self.completed);
            self.hashes.clear();
            self.hashes.extend_from_slice(&p.leaf_hash);
            for h in &self.completed {
                self.hashes.extend_from_slice(h);
            }
            let e = &p.event;
            tx.insert_leaf(&NewLeafRow {
                index,
                id: &e.id,
                ts_nanos: e.ts.unix_nanos(),
                kind: e.kind.as_str(),
                agent: &e.agent,
                session: e.session.as_deref(),
                workflow: e.workflow.as_deref(),
                leaf: &p.leaf,
                hashes: &self.hashes,
            })?;
            for (part, b) in &p.blobs {
                tx.insert_blob(index, part, b)?;
            }
            receipts.push(Receipt {
                index,
                id: e.id,
                duplicate: false,
            });
        }
        tx.commit()?;
        self.frontier = frontier;
        Ok(receipts)
    }

    /// Number of events recorded.
    pub fn size(&mut self) -> Result<u64, LedgerError> {
        Ok(self.store.size()?)
    }

    /// Root of the tree of the first `size` events.
    pub fn root_at(&mut self, size: u64) -> Result<Hash, LedgerError> {
        if size == self.frontier.size() {
            return Ok(self.frontier.root());
        }
        Ok(merkle::root_at(size, &mut StoreNodes(&mut self.store))?)
    }

    /// Signs a checkpoint of the current tree, unless the latest one already covers it, in
    /// which case that one is returned unchanged.
    pub fn checkpoint(&mut self, signer: &NoteSigner) -> Result<StoredCheckpoint, LedgerError> {
        let size = self.store.size()?;
        if let Some(latest) = self.store.latest_checkpoint()? {
            if latest.size == size {
                return Ok(latest);
            }
        }
        let root = self.root_at(size)?;
        let cp = Checkpoint {
            origin: signer.name().to_string(),
            size,
            root,
            extensions: Vec::new(),
        };
        let note = sign_checkpoint(&cp, signer)?;
        let mut stored = StoredCheckpoint {
            seq: 0,
            size,
            root,
            note,
            created_nanos: Timestamp::now().unix_nanos(),
        };
        stored.seq = self.store.add_checkpoint(&stored)?;
        Ok(stored)
    }

    /// The earliest checkpoint that covers `index` (the smallest proof that still proves it),
    /// or the latest when `latest` is set.
    pub fn checkpoint_covering(
        &mut self,
        index: u64,
        latest: bool,
    ) -> Result<StoredCheckpoint, LedgerError> {
        let cps = self.store.checkpoints()?;
        let found = if latest {
            cps.into_iter().max_by_key(|c| (c.size, c.seq))
        } else {
            cps.into_iter()
                .filter(|c| c.size > index)
                .min_by_key(|c| (c.size, c.seq))
        };
        match found {
            Some(c) if c.size > index => Ok(c),
            _ => Err(LedgerError::NotCheckpointed { index }),
        }
    }

    /// A C2SP tlog-proof that the event at `index` is in the tree `checkpoint` signs. With
    /// `embed_leaf` the leaf bytes travel in the proof's `extra` line, so the proof file
    /// alone is enough to check (the Merkle proof authenticates them).
    pub fn prove(
        &mut self,
        index: u64,
        checkpoint: &StoredCheckpoint,
        embed_leaf: bool,
    ) -> Result<TlogProof, LedgerError> {
        let size = self.store.size()?;
        if index >= size {
            return Err(LedgerError::NoSuchIndex { index, size });
        }
        if index >= checkpoint.size {
            return Err(LedgerError::NotCheckpointed { index });
        }
        let proof =
            merkle::inclusion_proof(index, checkpoint.size, &mut StoreNodes(&mut self.store))?;
        let extra = if embed_leaf {
            let row = self
                .store
                .leaf(index)?
                .ok_or_else(|| StoreError::Damaged(format!("row {index} is missing")))?;
            Some(row.leaf)
        } else {
            None
        };
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: checkpoint.note.clone(),
        })
    }

    /// RFC 6962 consistency proof between two tree sizes of this ledger.
    pub fn consistency_proof(&mut self, size1: u64, size2: u64) -> Result<Vec<Hash>, LedgerError> {
        Ok(merkle::consistency_proof(
            size1,
            size2,
            &mut StoreNodes(&mut self.store),
        )?)
    }
}
