//! RFC 6962 / RFC 9162 Merkle tree hashing and proofs.
//!
//! # The tree
//!
//! A transparency log is an append-only list of leaves `D[0..n)`. Its Merkle Tree Hash
//! (MTH, [RFC 6962 §2.1], restated in [RFC 9162 §2.1.1]) is defined recursively:
//!
//! ```text
//! MTH({})       = SHA-256()                                   (empty tree)
//! MTH({d0})     = SHA-256(0x00 || d0)                         (leaf hash)
//! MTH(D[0..n))  = SHA-256(0x01 || MTH(D[0..k)) || MTH(D[k..n)))   for n > 1,
//!                 where k is the largest power of two smaller than n
//! ```
//!
//! The `0x00` / `0x01` prefixes separate leaves from interior nodes, so a leaf can never be
//! passed off as a node (second-preimage protection).
//!
//! Because the split point is always a power of two, every tree is a sequence of *perfect*
//! subtrees, one per set bit of `n`, largest (leftmost) first: a tree of 13 = 8 + 4 + 1 leaves
//! consists of the perfect subtrees over `[0, 8)`, `[8, 12)` and `[12, 13)`, and its root is
//! `H(P8, H(P4, P1))`. Everything in this module is built on that fact:
//!
//! * A perfect subtree is named by `(level, index)`: it covers leaves
//!   `[index << level, (index + 1) << level)`. Level 0 is a leaf hash. Once written, a
//!   perfect subtree never changes, so a store can keep exactly those hashes ([`NodeSource`]).
//! * [`Frontier`] (the "compact range" `[0, n)`) keeps just the `popcount(n)` perfect-subtree
//!   roots: enough to append and to compute the root, in O(log n) memory.
//! * [`root_at`], [`inclusion_proof`] and [`consistency_proof`] read O(log n) stored
//!   perfect-subtree hashes; an incomplete subtree on the right edge of a tree is assembled
//!   from the perfect subtrees it consists of.
//!
//! # Proofs
//!
//! * Inclusion (audit path, [RFC 6962 §2.1.1], verification [RFC 9162 §2.1.3.2]): the
//!   sibling hashes on the path from leaf `m` to the root, leaf sibling first.
//! * Consistency ([RFC 6962 §2.1.2], verification [RFC 9162 §2.1.4.2]): the hashes that let
//!   a verifier recompute both the old root (size1) and the new root (size2), proving the old
//!   tree is a prefix of the new one.
//!
//! Verification is strict: an index outside the tree, a proof with a hash too many or too few,
//! or sizes that make no sense are errors, never "false but fine".
//!
//! [RFC 6962 §2.1]: https://www.rfc-editor.org/rfc/rfc6962#section-2.1
//! [RFC 6962 §2.1.1]: https://www.rfc-editor.org/rfc/rfc6962#section-2.1.1
//! [RFC 6962 §2.1.2]: https://www.rfc-editor.org/rfc/rfc6962#section-2.1.2
//! [RFC 9162 §2.1.1]: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.1
//! [RFC 9162 §2.1.3.2]: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2
//! [RFC 9162 §2.1.4.2]: https://www.rfc-editor.org/rfc/rfc9162#section-2.1.4.2

use sha2::{Digest, Sha256};

/// A SHA-256 hash: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The most hashes any proof in a tree of at most `u64::MAX` leaves can hold: 64 levels, plus
/// the consistency proof's leading seed node. Parsers use it as a bound.
pub const MAX_PROOF_LEN: usize = 65;

/// `SHA-256(0x00 || data)`: the hash of a leaf whose bytes are `data`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// `SHA-256(0x01 || left || right)`: the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous 65-byte buffer: a single `update` lets SHA-256 run two blocks
    // back to back without buffering.
    let mut buf = [0u8; 65];
    buf[0] = 0x01;
    buf[1..33].copy_from_slice(left);
    buf[33..].copy_from_slice(right);
    Sha256::digest(buf).into()
}

/// `SHA-256("")`: the root of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Reference Merkle Tree Hash over leaf hashes, straight from the recursive definition
/// (RFC 6962 §2.1). O(n); meant for tests and small trees. The O(log n) ways to get a root
/// are [`Frontier::root`] and [`root_at`].
pub fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = largest_power_of_two_below(n as u64) as usize;
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Converts a byte slice to a [`type@Hash`], rejecting anything but exactly 32 bytes.
pub fn hash_from_slice(b: &[u8]) -> Result<Hash, ProofError> {
    b.try_into()
        .map_err(|_| ProofError::WrongHashLength { got: b.len() })
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): the RFC 6962 split point.
fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// Number of bits needed to write `x` (0 for 0).
fn bit_len(x: u64) -> u32 {
    64 - x.leading_zeros()
}

/// Read access to the hashes of complete (perfect) subtrees of a stored tree.
///
/// Implement this over whatever keeps the hashes (a database, a tile cache, memory). The
/// proof functions only ever ask for subtrees that are complete in the tree being proven,
/// which is what makes it possible to store each hash once, when its subtree completes.
pub trait NodeSource {
    type Error;
    /// Hash of the perfect subtree at `level` (0 = leaf hash) covering leaves
    /// `[index << level, (index + 1) << level)`. Only ever called for subtrees that are
    /// complete in the tree being proven.
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &mut S {
    type Error = S::Error;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        (**self).node(level, index)
    }
}

/// Why a proof could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E> {
    /// The node source failed (I/O, missing node, ...).
    #[error("reading tree nodes: {0}")]
    Source(E),
    /// Inclusion was asked for a leaf the tree does not have.
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    /// Consistency was asked between sizes that have none (`size1 == 0` or `size1 > size2`).
    #[error("no consistency proof from size {size1} to size {size2}: need 0 < size1 <= size2")]
    BadSizes { size1: u64, size2: u64 },
}

/// MTH of the leaves `[start, end)`, for a range that is a (possibly incomplete) subtree as
/// the RFC 6962 recursion produces them: `start` is aligned to the largest power of two in
/// `end - start`, so the range splits into perfect subtrees, one per set bit of its length,
/// largest first. Reads those `popcount(end - start)` nodes and folds them right to left.
fn range_hash<S: NodeSource>(start: u64, end: u64, src: &mut S) -> Result<Hash, S::Error> {
    debug_assert!(start < end);
    // At most 64 parts; a stack array keeps this allocation-free.
    let mut parts = [[0u8; 32]; 64];
    let mut count = 0;
    let mut pos = start;
    let len = end - start;
    for level in (0..64u32).rev() {
        if len & (1 << level) != 0 {
            debug_assert_eq!(pos % (1 << level), 0, "range not aligned to its parts");
            parts[count] = src.node(level, pos >> level)?;
            count += 1;
            pos += 1 << level;
        }
    }
    Ok(fold_right(&parts[..count]))
}

/// `H(p0, H(p1, ... H(p[n-2], p[n-1])))`: the root of a sequence of perfect subtrees,
/// largest first. Empty input gives the empty root.
fn fold_right(parts: &[Hash]) -> Hash {
    let Some((last, rest)) = parts.split_last() else {
        return empty_root();
    };
    let mut acc = *last;
    for p in rest.iter().rev() {
        acc = node_hash(p, &acc);
    }
    acc
}

/// Root of the tree of the first `size` leaves, from the `popcount(size)` perfect subtrees
/// named by the bits of `size`. The empty tree's root needs no reads.
pub fn root_at<S: NodeSource>(size: u64, src: &mut S) -> Result<Hash, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(0, size, src)
}

/// Number of hashes in the inclusion proof of leaf `index` in a tree of `size` leaves
/// (`index < size`).
///
/// Below level `inner` (the bit length of `index ^ (size - 1)`) the path to the root has a
/// sibling at every level; above it, the leaf's path merges with the right edge of the tree
/// and only has a (left) sibling where `index` has a 1 bit.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    debug_assert!(index < size);
    let inner = bit_len(index ^ (size - 1));
    let border = if inner >= 64 {
        0
    } else {
        (index >> inner).count_ones()
    };
    (inner + border) as usize
}

/// RFC 6962 §2.1.1 audit path for leaf `index` in the tree of `size` leaves: sibling hashes
/// from the leaf's sibling up to the root's child. Reads at most `2 * ceil(log2(size))`
/// nodes: one per complete sibling, plus the perfect parts of the one sibling that sits on
/// the incomplete right edge of the tree.
pub fn inclusion_proof<S: NodeSource>(
    index: u64,
    size: u64,
    src: &mut S,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProveError::IndexOutOfRange { index, size });
    }
    let mut proof = Vec::with_capacity(inclusion_proof_len(index, size));
    let last = size - 1;
    // Walk up from the leaf. At `level`, the leaf's ancestor is node `index >> level`; the
    // walk ends at the level where that ancestor is the root (`last >> level == 0`).
    let mut level = 0u32;
    while level < 64 && last >> level != 0 {
        let sibling = (index >> level) ^ 1;
        let start = sibling << level;
        // A sibling that starts past the end of the tree does not exist: RFC 6962 promotes
        // the lone left child instead of hashing it with nothing.
        if start < size {
            let end = start.saturating_add(1 << level).min(size);
            let h = range_hash(start, end, src).map_err(ProveError::Source)?;
            proof.push(h);
        }
        level += 1;
    }
    debug_assert_eq!(proof.len(), inclusion_proof_len(index, size));
    Ok(proof)
}

/// Number of hashes in the consistency proof from `size1` to `size2`
/// (`0 < size1 < size2`).
///
/// Seen from level `shift = trailing_zeros(size1)`, the old tree's last perfect subtree
/// is a single node, and the proof is that node (unless it is the whole old tree, i.e.
/// `size1` is a power of two, when the verifier already has it as root1) followed by that
/// node's inclusion proof in the new tree viewed at the same level.
pub fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    debug_assert!(0 < size1 && size1 < size2);
    let shift = size1.trailing_zeros();
    let node = (size1 - 1) >> shift;
    let nodes = ((size2 - 1) >> shift) + 1;
    let seed = usize::from(!size1.is_power_of_two());
    seed + inclusion_proof_len(node, nodes)
}

/// RFC 6962 §2.1.2 consistency proof from `size1` to `size2`.
///
/// * `size1 == size2`: the empty proof (RFC 9162 §2.1.4: nothing to prove; the verifier
///   compares the roots).
/// * `size1 == 0` or `size1 > size2`: [`ProveError::BadSizes`]. Every tree extends the empty
///   tree, so RFC 9162 defines no proof for it, and verifiers (including
///   [`verify_consistency`]) reject one.
///
/// Reads at most `2 * ceil(log2(size2)) + 1` nodes.
pub fn consistency_proof<S: NodeSource>(
    size1: u64,
    size2: u64,
    src: &mut S,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if size1 == 0 || size1 > size2 {
        return Err(ProveError::BadSizes { size1, size2 });
    }
    if size1 == size2 {
        return Ok(Vec::new());
    }
    let mut proof = Vec::with_capacity(consistency_proof_len(size1, size2));
    subproof(size1, 0, size2, true, src, &mut proof).map_err(ProveError::Source)?;
    debug_assert_eq!(proof.len(), consistency_proof_len(size1, size2));
    Ok(proof)
}

/// RFC 6962 §2.1.2 `SUBPROOF(m, D[start..end), b)` with `m` absolute (the old tree is
/// `[0, m)`), appending to `out` in proof order (deepest first).
///
/// Every range visited is either a perfect subtree (after the first step left) or ends at
/// the tree's right edge (while only stepping right), so all hashes but one are single
/// stored nodes; the exception is the first right-hand range split off when stepping left,
/// which may be incomplete and is assembled from its perfect parts.
fn subproof<S: NodeSource>(
    m: u64,
    start: u64,
    end: u64,
    complete_old_root: bool,
    src: &mut S,
    out: &mut Vec<Hash>,
) -> Result<(), S::Error> {
    let n = end - start;
    if m == end {
        // The old tree's last subtree is exactly this range. If it is the whole old tree,
        // the verifier has its hash already (root1); otherwise it must be sent.
        if !complete_old_root {
            out.push(range_hash(start, end, src)?);
        }
        return Ok(());
    }
    let k = largest_power_of_two_below(n);
    if m - start <= k {
        // The old tree ends in the left half: prove there, then send the right half.
        subproof(m, start, start + k, complete_old_root, src, out)?;
        out.push(range_hash(start + k, end, src)?);
    } else {
        // The old tree covers the whole left half: prove in the right, send the left.
        subproof(m, start + k, end, false, src, out)?;
        out.push(src.node(k.trailing_zeros(), start >> k.trailing_zeros())?);
    }
    Ok(())
}

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("a hash must be 32 bytes, got {got}")]
    WrongHashLength { got: usize },
    #[error("leaf index {index} is out of range for a tree of {size} leaves")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("proof has {got} hashes, but {what} needs exactly {want}")]
    WrongProofSize {
        got: usize,
        want: usize,
        what: String,
    },
    #[error(
        "{what}: the proof leads to {}, expected {}",
        hex::encode(.computed),
        hex::encode(.expected)
    )]
    RootMismatch {
        what: &'static str,
        computed: Hash,
        expected: Hash,
    },
    #[error(
        "no consistency proof exists from size {size1} to size {size2}: need 0 < size1 <= size2 \
         (every tree extends the empty one; there is nothing to prove)"
    )]
    BadSizes { size1: u64, size2: u64 },
}

/// Root hash that an inclusion proof leads to, after checking that `index` is in the tree
/// and that the proof has exactly the right number of hashes. RFC 9162 §2.1.3.2.
pub fn root_from_inclusion_proof(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let want = inclusion_proof_len(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongProofSize {
            got: proof.len(),
            want,
            what: format!("inclusion of leaf {index} in a tree of {size} leaves"),
        });
    }
    // RFC 9162 §2.1.3.2, steps 2-4. `fn_` is the node's index at the current level, `sn`
    // the index of the tree's last node at that level.
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(ProofError::WrongProofSize {
                got: proof.len(),
                want,
                what: format!("inclusion of leaf {index} in a tree of {size} leaves"),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                // A right-edge node with no right sibling: climb until it is a right child.
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    debug_assert_eq!(sn, 0);
    Ok(r)
}

/// Verifies that `leaf_hash` is the leaf at `index` of the tree of `size` leaves whose root
/// is `root`. RFC 9162 §2.1.3.2, strict: `index >= size` is an error and the proof must have
/// exactly the length the tree shape dictates.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf_hash: &Hash,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(index, size, leaf_hash, proof)?;
    if &computed != root {
        return Err(ProofError::RootMismatch {
            what: "inclusion proof",
            computed,
            expected: *root,
        });
    }
    Ok(())
}

/// Verifies that the tree of `size1` leaves with root `root1` is a prefix of the tree of
/// `size2` leaves with root `root2`. RFC 9162 §2.1.4.2, strict:
///
/// * `size1 == 0` is rejected (nothing to prove; RFC 9162 requires `0 < size1`), as is
///   `size1 > size2`;
/// * `size1 == size2` requires an empty proof and `root1 == root2`;
/// * otherwise the proof must be non-empty and have exactly the expected length.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), ProofError> {
    if size1 == 0 || size1 > size2 {
        return Err(ProofError::BadSizes { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofSize {
                got: proof.len(),
                want: 0,
                what: format!("consistency between equal sizes ({size1})"),
            });
        }
        if root1 != root2 {
            return Err(ProofError::RootMismatch {
                what: "equal tree sizes with different roots",
                computed: *root1,
                expected: *root2,
            });
        }
        return Ok(());
    }
    let want = consistency_proof_len(size1, size2);
    if proof.len() != want {
        return Err(ProofError::WrongProofSize {
            got: proof.len(),
            want,
            what: format!("consistency from size {size1} to size {size2}"),
        });
    }
    // RFC 9162 §2.1.4.2. Step 2: if size1 is a power of two, the old root is the first node
    // of the path (the proof omits it because the verifier has it).
    let (first, rest) = if size1.is_power_of_two() {
        (root1, proof)
    } else {
        (&proof[0], &proof[1..])
    };
    // Steps 3-4: fn_ / sn index the old tree's last node and the new tree's last node;
    // climb past the levels where the old tree's last node is a right child of a complete
    // node (those levels contribute nothing).
    let (mut fn_, mut sn) = (size1 - 1, size2 - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (*first, *first);
    // Step 6.
    for c in rest {
        if sn == 0 {
            // Unreachable after the length check; kept as the RFC states it.
            return Err(ProofError::WrongProofSize {
                got: proof.len(),
                want,
                what: format!("consistency from size {size1} to size {size2}"),
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    debug_assert_eq!(sn, 0);
    if &fr != root1 {
        return Err(ProofError::RootMismatch {
            what: "consistency proof, old root (root1)",
            computed: fr,
            expected: *root1,
        });
    }
    if &sr != root2 {
        return Err(ProofError::RootMismatch {
            what: "consistency proof, new root (root2)",
            computed: sr,
            expected: *root2,
        });
    }
    Ok(())
}

/// The compact range `[0, size)`: the roots of the perfect subtrees making up a tree of
/// `size` leaves, one per set bit of `size`, largest first. This is all an appender needs
/// in memory to append leaves and compute roots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// `nodes[i]` is the root of the i-th perfect subtree from the left; its level is the
    /// i-th highest set bit of `size`.
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Frontier {
            size: 0,
            // A u64-sized tree has at most 64 perfect subtrees (+1 transiently in push):
            // reserving up front means push never reallocates.
            nodes: Vec::with_capacity(65),
        }
    }

    /// Rebuilds a frontier from its parts, e.g. as persisted. Returns `None` unless
    /// `nodes.len() == popcount(size)`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Frontier { size, nodes })
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest (leftmost) first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends a leaf hash. Pushes onto `completed` the hashes of the perfect subtrees this
    /// leaf completes, from level 1 upward (the leaf itself is not pushed). For leaf index
    /// `i`, that is `trailing_ones(i)` hashes: the level-L subtree ends at leaf `i` iff
    /// `(i + 1) % 2^L == 0`.
    ///
    /// # Panics
    /// If the tree already holds `u64::MAX` leaves.
    pub fn push(&mut self, leaf: Hash, completed: &mut Vec<Hash>) {
        let index = self.size;
        self.size = index.checked_add(1).expect("Merkle tree is full");
        // Like incrementing a binary counter: each trailing 1 bit of `index` is a perfect
        // subtree of that size, which the new subtree merges with (carries into).
        let mut h = leaf;
        for _ in 0..index.trailing_ones() {
            let left = self.nodes.pop().expect("frontier has a node per set bit");
            h = node_hash(&left, &h);
            completed.push(h);
        }
        self.nodes.push(h);
    }

    /// Root of the tree: [`empty_root`] for size 0. Hashes `popcount(size) - 1` nodes.
    pub fn root(&self) -> Hash {
        fold_right(&self.nodes)
    }

    /// Rebuilds the frontier of the tree of `size` leaves from stored perfect-subtree
    /// hashes, reading exactly `popcount(size)` nodes.
    pub fn from_source<S: NodeSource>(size: u64, src: &mut S) -> Result<Self, S::Error> {
        let mut nodes = Vec::with_capacity(65);
        let mut pos = 0u64;
        for level in (0..64u32).rev() {
            if size & (1 << level) != 0 {
                nodes.push(src.node(level, pos >> level)?);
                pos += 1 << level;
            }
        }
        Ok(Frontier { size, nodes })
    }
}

/// A tree held in memory: every perfect-subtree hash, by level. A [`NodeSource`] for tests,
/// tools and small logs; a store-backed ledger keeps the same hashes on disk.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is the perfect subtree `(l, i)`.
    levels: Vec<Vec<Hash>>,
    frontier: Frontier,
    scratch: Vec<Hash>,
}

/// A [`MemoryTree`] was asked for a subtree it does not hold (not complete yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the tree has no complete subtree at level {level}, index {index}")]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

impl MemoryTree {
    pub fn new() -> Self {
        MemoryTree {
            levels: Vec::new(),
            frontier: Frontier::new(),
            scratch: Vec::new(),
        }
    }

    /// A tree over the given leaf hashes.
    pub fn from_leaf_hashes(leaves: &[Hash]) -> Self {
        let mut t = MemoryTree::new();
        for l in leaves {
            t.push(*l);
        }
        t
    }

    /// Appends a leaf hash; returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.frontier.size();
        self.scratch.clear();
        self.frontier.push(leaf, &mut self.scratch);
        for (level, h) in std::iter::once(leaf)
            .chain(self.scratch.iter().copied())
            .enumerate()
        {
            if self.levels.len() <= level {
                self.levels.push(Vec::new());
            }
            self.levels[level].push(h);
        }
        index
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Hash {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|l| l.get(usize::try_from(index).ok()?))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_point() {
        assert_eq!(largest_power_of_two_below(2), 1);
        assert_eq!(largest_power_of_two_below(3), 2);
        assert_eq!(largest_power_of_two_below(4), 2);
        assert_eq!(largest_power_of_two_below(5), 4);
        assert_eq!(largest_power_of_two_below(u64::MAX), 1 << 63);
    }

    #[test]
    fn proof_lengths_at_the_u64_edge() {
        assert_eq!(inclusion_proof_len(0, u64::MAX), 64);
        assert_eq!(inclusion_proof_len(u64::MAX - 1, u64::MAX), 63);
        assert_eq!(consistency_proof_len(3, u64::MAX), 65);
    }
}
