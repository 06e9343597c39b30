//! Full verification of a stored ledger: every leaf, every node, every checkpoint.
//!
//! What is checked, in one pass over the rows in index order:
//! - rows are contiguous from 0 (a deleted row leaves a gap);
//! - each leaf's bytes hash to the leaf hash recorded with it (an edited leaf);
//! - each recorded perfect-subtree hash equals the one recomputed from the leaves (rows
//!   removed, swapped, or rewritten with fresh hashes);
//! - each checkpoint's note carries a valid signature by the ledger key, for the ledger's
//!   origin, and its root equals the root recomputed at its size (a rewritten or forked
//!   history, a checkpoint re-signed by another key);
//! - no checkpoint signs more events than are stored (a truncated tail);
//! - successive checkpoints are linked by a valid RFC 6962 consistency proof;
//! - every payload blob still matches its salted digest.
//!
//! With `deep`, each leaf is also parsed, checked to be canonical JSON, and each payload it
//! references is looked up in the blob store.
//!
//! Erased payloads (`brig ledger erase`, [`brig_model::erasure`]) are listed in
//! [`VerifyReport::erased`]; a payload missing from the store is a problem unless such a
//! record names its event index, part and digest.

use serde::Serialize;

use brig_model::erasure::{self, Erasure};
use brig_model::{Event, Timestamp};

use crate::checkpoint::{open_checkpoint, Checkpoint};
use crate::merkle::{self, Frontier, Hash};
use crate::note::NoteVerifier;
use crate::store::{LedgerStore, StoreError, StoreNodes, StoredCheckpoint};

/// Stop collecting after this many problems; the first ones are the ones that matter.
const MAX_PROBLEMS: usize = 50;
/// Problems of one kind listed before the rest are only counted.
const MAX_PER_KIND: usize = 5;

/// What kind of damage was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    MissingRow,
    LeafAltered,
    SubtreeMismatch,
    MalformedRow,
    CheckpointSignature,
    MissingCheckpoint,
    CheckpointMismatch,
    CheckpointBeyondEnd,
    Inconsistent,
    BlobAltered,
    NonCanonicalLeaf,
    MissingPayload,
}

impl ProblemKind {
    /// Found in one row's own content, so its index is exact.
    fn is_row_level(self) -> bool {
        matches!(
            self,
            ProblemKind::MissingRow
                | ProblemKind::LeafAltered
                | ProblemKind::SubtreeMismatch
                | ProblemKind::MalformedRow
                | ProblemKind::NonCanonicalLeaf
                | ProblemKind::BlobAltered
                | ProblemKind::MissingPayload
        )
    }
}

/// One finding. `index` is the first leaf index it implicates, when there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<u64>,
    pub what: String,
}

/// The outcome of [`verify`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    pub events: u64,
    pub checkpoints: u64,
    pub blobs: u64,
    pub leaf_bytes: u64,
    pub blob_bytes: u64,
    /// Size and root of the newest checkpoint that verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_verified_size: Option<u64>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "ser_opt_b64"
    )]
    pub latest_verified_root: Option<Hash>,
    /// Events appended after the newest checkpoint: intact as far as hashes go, but not yet
    /// signed.
    pub unsigned_tail: u64,
    pub problems: Vec<Problem>,
    /// Further problems found but not listed (see `problems` for the first ones).
    pub suppressed: u64,
    /// Payloads erased on purpose, each with the ledger record that says so.
    pub erased: Vec<Erased>,
}

/// A payload erased by an operator, as the ledger records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Erased {
    #[serde(flatten)]
    pub erasure: Erasure,
    /// Index of the `operator.action` event that records the erasure.
    pub record: u64,
    /// When it was recorded.
    pub at: String,
    /// The record exists but the bytes are still in the store (the erase was interrupted):
    /// running the same `brig ledger erase` again completes it.
    pub pending: bool,
}

fn ser_opt_b64<S: serde::Serializer>(h: &Option<Hash>, s: S) -> Result<S::Ok, S::Error> {
    use base64::Engine;
    match h {
        Some(h) => s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(h)),
        None => s.serialize_none(),
    }
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }

    /// The lowest leaf index any problem implicates. Problems found in the rows themselves
    /// are precise; a checkpoint that does not match only bounds where the damage starts, so
    /// it counts only when no row shows anything.
    pub fn first_bad_index(&self) -> Option<u64> {
        let rows = self
            .problems
            .iter()
            .filter(|p| p.kind.is_row_level())
            .filter_map(|p| p.index)
            .min();
        rows.or_else(|| self.problems.iter().filter_map(|p| p.index).min())
    }

    /// Records a problem; after [`MAX_PER_KIND`] of one kind, only counts them, so that one
    /// shifted row does not bury the report under thousands of consequences.
    fn push(&mut self, p: Problem) {
        let same = self.problems.iter().filter(|q| q.kind == p.kind).count();
        if same < MAX_PER_KIND && self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.suppressed += 1;
        }
    }
}

/// Options for [`verify`].
#[derive(Default)]
pub struct VerifyOptions<'a> {
    pub deep: bool,
    /// Called now and then with the number of rows checked so far.
    pub progress: Option<&'a dyn Fn(u64)>,
    /// Checkpoints kept outside the store (saved by an auditor or a witness), already
    /// signature-checked by the caller. The stored tree must match each of them: this catches
    /// a rewrite whose author also deleted or replaced every stored checkpoint.
    pub trusted: &'a [Checkpoint],
}

/// A checkpoint whose note checked out, waiting for the scan to reach its size.
struct Pending {
    seq: u64,
    cp: Checkpoint,
    /// Supplied by the caller rather than read from the store.
    external: bool,
}

impl Pending {
    fn label(&self) -> String {
        if self.external {
            format!("the trusted checkpoint of size {}", self.cp.size)
        } else {
            format!("checkpoint #{}", self.seq)
        }
    }
}

/// Verifies everything the store holds against `verifier` (the ledger's public key) and
/// `origin`. Errors only when the store cannot be read; damage goes into the report.
pub fn verify<S: LedgerStore + ?Sized>(
    store: &mut S,
    verifier: &NoteVerifier,
    origin: &str,
    opts: &VerifyOptions<'_>,
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let stored = store.checkpoints()?;
    report.checkpoints = stored.len() as u64;
    let mut pending = open_all(&stored, verifier, origin, &mut report);
    pending.extend(opts.trusted.iter().map(|cp| Pending {
        seq: 0,
        cp: cp.clone(),
        external: true,
    }));
    pending.sort_by_key(|p| (p.cp.size, p.seq));

    let mut scan = Scan {
        frontier: Frontier::new(),
        stored: Vec::new(),
        completed: Vec::new(),
        pending: &pending,
        next_cp: 0,
        expected: 0,
        deep: opts.deep,
        report: &mut report,
        referenced: Vec::new(),
        verified: Vec::new(),
        erasures: Vec::new(),
    };
    if pending.first().is_some_and(|p| p.cp.size == 0) {
        scan.check_checkpoints();
    }
    let progress = opts.progress;
    store.scan(0, u64::MAX, &mut |row| {
        scan.row(row.index, &row.leaf, &row.hashes);
        if let Some(f) = progress {
            if scan.expected.is_multiple_of(65_536) {
                f(scan.expected);
            }
        }
        true
    })?;
    let size = scan.expected;
    let referenced = std::mem::take(&mut scan.referenced);
    let verified = std::mem::take(&mut scan.verified);
    let erasures = std::mem::take(&mut scan.erasures);
    for p in &pending[scan.next_cp..] {
        report.push(Problem {
            kind: ProblemKind::CheckpointBeyondEnd,
            index: Some(size),
            checkpoint: (!p.external).then_some(p.seq),
            what: format!(
                "{} signs {} events but the ledger holds only {size}: events from index {size} on were removed (tail truncated)",
                p.label(),
                p.cp.size
            ),
        });
    }
    report.events = size;
    check_consistency(store, &verified, &mut report)?;
    if let Some(last) = verified.last() {
        report.latest_verified_size = Some(last.size);
        report.latest_verified_root = Some(last.root);
        report.unsigned_tail = size.saturating_sub(last.size);
    } else {
        report.unsigned_tail = size;
    }
    check_blobs(store, &mut report)?;
    if opts.deep {
        check_payload_refs(store, &referenced, &erasures, &mut report)?;
    }
    for (record, at, erasure) in erasures {
        let pending = store.blob(erasure.index, &erasure.part)?.is_some();
        report.erased.push(Erased {
            erasure,
            record,
            at: at.to_string(),
            pending,
        });
    }
    if let Some(f) = progress {
        f(size);
    }
    Ok(report)
}

/// Opens every checkpoint note with the ledger key; bad ones become problems.
fn open_all(
    stored: &[StoredCheckpoint],
    verifier: &NoteVerifier,
    origin: &str,
    report: &mut VerifyReport,
) -> Vec<Pending> {
    let mut out = Vec::new();
    let mut expected = 1;
    for s in stored {
        if s.seq != expected {
            report.push(Problem {
                kind: ProblemKind::MissingCheckpoint,
                index: None,
                checkpoint: Some(expected),
                what: format!(
                    "checkpoints #{expected}..#{} are missing (deleted from the store)",
                    s.seq.saturating_sub(1)
                ),
            });
        }
        expected = s.seq + 1;
        let problem = |what: String| Problem {
            kind: ProblemKind::CheckpointSignature,
            index: None,
            checkpoint: Some(s.seq),
            what,
        };
        match open_checkpoint(s.note.as_bytes(), verifier) {
            Err(e) => report.push(problem(format!(
                "checkpoint #{} (size {}) does not verify with key {}: {e}",
                s.seq,
                s.size,
                verifier.to_vkey()
            ))),
            Ok(cp) if cp.origin != origin => report.push(problem(format!(
                "checkpoint #{} is for log `{}`, not this ledger (`{origin}`)",
                s.seq, cp.origin
            ))),
            Ok(cp) => {
                if cp.size != s.size || cp.root != s.root {
                    report.push(Problem {
                        kind: ProblemKind::CheckpointMismatch,
                        index: None,
                        checkpoint: Some(s.seq),
                        what: format!(
                            "checkpoint #{}: its stored size/root columns ({}) differ from its signed note ({})",
                            s.seq, s.size, cp.size
                        ),
                    });
                }
                out.push(Pending {
                    seq: s.seq,
                    cp,
                    external: false,
                });
            }
        }
    }
    out
}

struct Scan<'a> {
    /// The tree recomputed from the leaf bytes: what checkpoints are compared with.
    frontier: Frontier,
    /// The same compact range built from the *stored* hashes, to check each stored subtree
    /// hash against its stored children: a damaged row then shows up once, where it is,
    /// instead of in every ancestor.
    stored: Vec<Hash>,
    completed: Vec<Hash>,
    pending: &'a [Pending],
    next_cp: usize,
    expected: u64,
    deep: bool,
    report: &'a mut VerifyReport,
    /// Payload parts the leaves reference, with their digests (deep mode).
    referenced: Vec<(u64, String, [u8; 32])>,
    /// Checkpoints whose root matched, in size order.
    verified: Vec<Checkpoint>,
    /// Erasure records: (their index, their time, what they erased).
    erasures: Vec<(u64, Timestamp, Erasure)>,
}

impl Scan<'_> {
    fn row(&mut self, index: u64, leaf: &[u8], hashes: &[u8]) {
        if index != self.expected {
            self.report.push(Problem {
                kind: ProblemKind::MissingRow,
                index: Some(self.expected),
                checkpoint: None,
                what: if index > self.expected {
                    format!(
                        "events {}..{} are missing (rows deleted); the next stored index is {index}",
                        self.expected, index
                    )
                } else {
                    format!("row {index} is stored out of order after {}", self.expected)
                },
            });
        }
        let position = self.frontier.size();
        let leaf_hash = merkle::leaf_hash(leaf);
        self.report.leaf_bytes += leaf.len() as u64;
        self.completed.clear();
        self.frontier.push(leaf_hash, &mut self.completed);
        let want_len = 32 * (1 + self.completed.len());
        if hashes.len() != want_len {
            self.report.push(Problem {
                kind: ProblemKind::MalformedRow,
                index: Some(position),
                checkpoint: None,
                what: format!(
                    "row {index} holds {} hash bytes; a leaf at position {position} needs {want_len} (rows removed or reordered)",
                    hashes.len()
                ),
            });
            // Carry on from the recomputed tree, so later rows are still checked.
            self.stored = self.frontier.nodes().to_vec();
        } else {
            if hashes[..32] != leaf_hash {
                self.report.push(Problem {
                    kind: ProblemKind::LeafAltered,
                    index: Some(position),
                    checkpoint: None,
                    what: format!(
                        "event {position}: its bytes no longer hash to the leaf hash recorded when it was appended (leaf altered)"
                    ),
                });
            }
            if let Some(level) = self.check_stored(hashes) {
                let first = position + 1 - (1u64 << level);
                let half = first + (1u64 << (level - 1));
                self.report.push(Problem {
                    kind: ProblemKind::SubtreeMismatch,
                    index: Some(first),
                    checkpoint: None,
                    what: format!(
                        "events {first}..={position}: the recorded subtree hash does not join the recorded hashes of {first}..{half} and {half}..={position} (events removed, reordered or replaced)"
                    ),
                });
            }
        }
        if self.deep {
            self.deep_check(position, leaf);
        }
        if erasure::may_be_erasure(leaf) {
            if let Some((ts, e)) = Event::from_leaf(leaf)
                .ok()
                .and_then(|ev| Some((ev.ts, Erasure::from_event(&ev)?)))
            {
                // Only an event already in the log can have been erased.
                if e.index < position {
                    self.erasures.push((position, ts, e));
                }
            }
        }
        self.expected = index.max(self.expected) + 1;
        self.check_checkpoints();
    }

    /// Pushes a row's stored hashes onto the stored compact range, checking each stored
    /// subtree hash against its two stored children. Returns the lowest level that fails.
    fn check_stored(&mut self, hashes: &[u8]) -> Option<usize> {
        let stored =
            |l: usize| -> Hash { hashes[32 * l..32 * (l + 1)].try_into().expect("32 bytes") };
        let mut bad = None;
        let mut right = stored(0);
        for level in 1..hashes.len() / 32 {
            let left = self
                .stored
                .pop()
                .expect("the stored range mirrors the tree");
            let recorded = stored(level);
            if bad.is_none() && merkle::node_hash(&left, &right) != recorded {
                bad = Some(level);
            }
            right = recorded;
        }
        self.stored.push(right);
        bad
    }

    fn deep_check(&mut self, position: u64, leaf: &[u8]) {
        match Event::from_leaf(leaf) {
            Ok(event) => {
                for (part, r) in &event.payload {
                    self.referenced
                        .push((position, part.clone(), r.salted_sha256));
                }
            }
            Err(e) => self.report.push(Problem {
                kind: ProblemKind::NonCanonicalLeaf,
                index: Some(position),
                checkpoint: None,
                what: format!("event {position}: {e}"),
            }),
        }
    }

    /// Compares the recomputed root with every checkpoint at the current size.
    fn check_checkpoints(&mut self) {
        let size = self.frontier.size();
        while let Some(p) = self.pending.get(self.next_cp) {
            if p.cp.size != size {
                break;
            }
            let root = self.frontier.root();
            if root == p.cp.root {
                self.verified.push(p.cp.clone());
            } else {
                // The first event that can differ is just past the last checkpoint that matched.
                let from = self.verified.last().map_or(0, |c| c.size);
                self.report.push(Problem {
                    kind: ProblemKind::CheckpointMismatch,
                    index: Some(from),
                    checkpoint: (!p.external).then_some(p.seq),
                    what: format!(
                        "{} signs a tree of {size} events that differs from the stored one (history rewritten or forked after event {from})",
                        p.label()
                    ),
                });
            }
            self.next_cp += 1;
        }
    }
}

/// Each pair of successive verified checkpoints must be linked by a consistency proof built
/// from the stored tree.
fn check_consistency<S: LedgerStore + ?Sized>(
    store: &mut S,
    verified: &[Checkpoint],
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    for pair in verified.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.size == 0 || a.size > b.size || report.events < b.size {
            continue;
        }
        let result = merkle::consistency_proof(a.size, b.size, &mut StoreNodes(&mut *store))
            .map_err(|e| e.to_string())
            .and_then(|proof| {
                merkle::verify_consistency(a.size, b.size, &proof, &a.root, &b.root)
                    .map_err(|e| e.to_string())
            });
        if let Err(e) = result {
            report.push(Problem {
                kind: ProblemKind::Inconsistent,
                index: Some(a.size),
                checkpoint: None,
                what: format!(
                    "no valid consistency proof from size {} to {}: {e}",
                    a.size, b.size
                ),
            });
        }
    }
    Ok(())
}

fn check_blobs<S: LedgerStore + ?Sized>(
    store: &mut S,
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    let mut bad = Vec::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    store.scan_blobs(&mut |s| {
        count += 1;
        bytes += s.blob.data.len() as u64;
        if !s.blob.is_intact() {
            bad.push((s.index, s.part));
        }
        true
    })?;
    report.blobs = count;
    report.blob_bytes = bytes;
    for (index, part) in bad {
        report.push(Problem {
            kind: ProblemKind::BlobAltered,
            index: Some(index),
            checkpoint: None,
            what: format!(
                "event {index}: payload `{part}` no longer matches its salted digest (content or salt altered)"
            ),
        });
    }
    Ok(())
}

fn check_payload_refs<S: LedgerStore + ?Sized>(
    store: &mut S,
    referenced: &[(u64, String, [u8; 32])],
    erasures: &[(u64, Timestamp, Erasure)],
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    for (index, part, digest) in referenced {
        let what = match store.blob(*index, part)? {
            None if erasures
                .iter()
                .any(|(_, _, e)| e.covers(*index, part, digest)) =>
            {
                continue
            }
            None => "is not in the blob store, and no erasure is recorded for it",
            Some(b) if &b.digest != digest => "in the blob store is not the one the leaf recorded",
            Some(_) => continue,
        };
        report.push(Problem {
            kind: ProblemKind::MissingPayload,
            index: Some(*index),
            checkpoint: None,
            what: format!("event {index}: payload `{part}` {what}"),
        });
    }
    Ok(())
}
