//! Properties of the Merkle code, checked exhaustively on small trees and at chosen points
//! of huge ones, against a reference written straight from the recursive definitions of
//! RFC 6962 §2.1 (MTH, PATH, SUBPROOF), which shares no code with the implementation.

use brig_ledger::merkle::{
    consistency_proof, consistency_proof_len, inclusion_proof, inclusion_proof_len, leaf_hash,
    node_hash, root_at, root_of, verify_consistency, verify_inclusion, Frontier, Hash, MemoryTree,
    MissingNode, NodeSource, ProofError, ProveError, MAX_PROOF_LEN,
};

// ---------------------------------------------------------------------------------------
// Reference: RFC 6962 §2.1 as written, over an abstract MTH of leaf ranges
// ---------------------------------------------------------------------------------------

fn split(n: u64) -> u64 {
    // Largest power of two < n, by the definition rather than bit tricks.
    let mut k = 1u64;
    while k < n - k {
        k *= 2;
    }
    k
}

/// `PATH(m, D[start..start+n))`, `m` relative to `start`.
fn ref_path(m: u64, start: u64, n: u64, mth: &mut dyn FnMut(u64, u64) -> Hash) -> Vec<Hash> {
    if n == 1 {
        return vec![];
    }
    let k = split(n);
    let mut p;
    if m < k {
        p = ref_path(m, start, k, mth);
        p.push(mth(start + k, n - k));
    } else {
        p = ref_path(m - k, start + k, n - k, mth);
        p.push(mth(start, k));
    }
    p
}

/// `SUBPROOF(m, D[start..start+n), b)`, `m` relative to `start`.
fn ref_subproof(
    m: u64,
    start: u64,
    n: u64,
    b: bool,
    mth: &mut dyn FnMut(u64, u64) -> Hash,
) -> Vec<Hash> {
    if m == n {
        return if b { vec![] } else { vec![mth(start, n)] };
    }
    let k = split(n);
    let mut p;
    if m <= k {
        p = ref_subproof(m, start, k, b, mth);
        p.push(mth(start + k, n - k));
    } else {
        p = ref_subproof(m - k, start + k, n - k, false, mth);
        p.push(mth(start, k));
    }
    p
}

fn leaves(n: usize) -> Vec<Hash> {
    (0..n as u64).map(|i| leaf_hash(&i.to_le_bytes())).collect()
}

/// A [`MemoryTree`] behind the [`NodeSource`] contract of a tree of `size` leaves: any read
/// of a subtree that is not complete in that tree fails the test. Counts reads.
struct Bounded<'a> {
    tree: &'a mut MemoryTree,
    size: u64,
    reads: usize,
}

impl NodeSource for Bounded<'_> {
    type Error = MissingNode;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, MissingNode> {
        assert!(
            (index + 1) << level <= self.size,
            "read ({level}, {index}), not complete in a tree of {}",
            self.size
        );
        self.reads += 1;
        self.tree.node(level, index)
    }
}

fn bounded(tree: &mut MemoryTree, size: u64) -> Bounded<'_> {
    Bounded {
        tree,
        size,
        reads: 0,
    }
}

fn flip(h: &Hash, bit: usize) -> Hash {
    let mut h = *h;
    h[bit / 8 % 32] ^= 1 << (bit % 8);
    h
}

fn ceil_log2(n: u64) -> usize {
    (64 - (n - 1).leading_zeros()) as usize
}

// ---------------------------------------------------------------------------------------
// Small trees, exhaustively
// ---------------------------------------------------------------------------------------

const N: usize = 200;

#[test]
fn roots_frontier_and_completed_subtrees_for_sizes_0_to_200() {
    let l = leaves(N);
    let mut tree = MemoryTree::from_leaf_hashes(&l);
    let mut frontier = Frontier::new();
    let mut completed = Vec::new();
    for size in 0..=N {
        let want = root_of(&l[..size]);
        let mth = |s: u64, n: u64| root_of(&l[s as usize..(s + n) as usize]);
        if size > 0 {
            assert_eq!(want, mth(0, size as u64));
        }
        assert_eq!(frontier.size(), size as u64);
        assert_eq!(frontier.root(), want, "Frontier root at size {size}");
        assert_eq!(frontier.nodes().len(), (size as u64).count_ones() as usize);

        let mut src = bounded(&mut tree, size as u64);
        assert_eq!(
            root_at(size as u64, &mut src).unwrap(),
            want,
            "root_at({size})"
        );
        assert_eq!(src.reads, (size as u64).count_ones() as usize);
        src.reads = 0;
        let rebuilt = Frontier::from_source(size as u64, &mut src).unwrap();
        assert_eq!(src.reads, (size as u64).count_ones() as usize);
        assert_eq!(rebuilt, frontier, "Frontier::from_source({size})");
        assert_eq!(
            Frontier::from_parts(size as u64, frontier.nodes().to_vec()).as_ref(),
            Some(&frontier)
        );

        if size == N {
            break;
        }
        // Appending leaf `size` completes trailing_ones(size) perfect subtrees.
        completed.clear();
        frontier.push(l[size], &mut completed);
        let i = size as u64;
        assert_eq!(completed.len(), i.trailing_ones() as usize, "leaf {i}");
        for (j, h) in completed.iter().enumerate() {
            let level = j + 1;
            let first = size + 1 - (1 << level);
            assert_eq!(
                *h,
                root_of(&l[first..=size]),
                "completed level {level} at leaf {i}"
            );
            assert_eq!(*h, tree.node(level as u32, i >> level).unwrap());
        }
    }
    assert_eq!(Frontier::from_parts(3, vec![]), None);
    assert_eq!(Frontier::new().root(), brig_ledger::merkle::empty_root());
}

#[test]
fn every_inclusion_proof_up_to_200_leaves() {
    let l = leaves(N);
    let mut tree = MemoryTree::from_leaf_hashes(&l);
    for size in 1..=N as u64 {
        let root = root_of(&l[..size as usize]);
        for index in 0..size {
            let mut src = bounded(&mut tree, size);
            let proof = inclusion_proof(index, size, &mut src).unwrap();
            let reads = src.reads;
            let want = ref_path(index, 0, size, &mut |s, n| {
                root_of(&l[s as usize..(s + n) as usize])
            });
            assert_eq!(proof, want, "inclusion proof {index}/{size}");
            assert_eq!(proof.len(), inclusion_proof_len(index, size));
            assert!(
                reads <= 2 * ceil_log2(size.max(2)),
                "{reads} reads for {index}/{size}"
            );
            let leaf = &l[index as usize];
            verify_inclusion(index, size, leaf, &proof, &root).unwrap();
        }
        assert!(matches!(
            inclusion_proof(size, size, &mut bounded(&mut tree, size)),
            Err(ProveError::IndexOutOfRange { .. })
        ));
    }
}

#[test]
fn mutated_inclusion_proofs_fail() {
    let l = leaves(70);
    let mut tree = MemoryTree::from_leaf_hashes(&l);
    for size in 1..=70u64 {
        let root = root_of(&l[..size as usize]);
        for index in 0..size {
            let proof = inclusion_proof(index, size, &mut tree).unwrap();
            let leaf = &l[index as usize];
            for i in 0..proof.len() {
                for bit in [0, 77, 255] {
                    let mut bad = proof.clone();
                    bad[i] = flip(&bad[i], bit);
                    assert!(matches!(
                        verify_inclusion(index, size, leaf, &bad, &root),
                        Err(ProofError::RootMismatch { .. })
                    ));
                }
            }
            if !proof.is_empty() {
                let dropped = &proof[..proof.len() - 1];
                assert!(matches!(
                    verify_inclusion(index, size, leaf, dropped, &root),
                    Err(ProofError::WrongProofSize { .. })
                ));
                assert!(verify_inclusion(index, size, leaf, &proof[1..], &root).is_err());
            }
            let mut appended = proof.clone();
            appended.push(root);
            assert!(matches!(
                verify_inclusion(index, size, leaf, &appended, &root),
                Err(ProofError::WrongProofSize { .. })
            ));
            let mut prepended = vec![*leaf];
            prepended.extend_from_slice(&proof);
            assert!(verify_inclusion(index, size, leaf, &prepended, &root).is_err());
            assert!(verify_inclusion(index, size, &flip(leaf, 1), &proof, &root).is_err());
            assert!(verify_inclusion(index, size, leaf, &proof, &flip(&root, 9)).is_err());
            if size > 1 {
                let other = (index + 1) % size;
                assert!(verify_inclusion(other, size, leaf, &proof, &root).is_err());
            }
            assert!(matches!(
                verify_inclusion(size, size, leaf, &proof, &root),
                Err(ProofError::IndexOutOfRange { .. })
            ));
        }
    }
}

#[test]
fn every_consistency_proof_up_to_70_leaves() {
    let l = leaves(70);
    let mut tree = MemoryTree::from_leaf_hashes(&l);
    for size2 in 1..=70u64 {
        let root2 = root_of(&l[..size2 as usize]);
        for size1 in 1..=size2 {
            let root1 = root_of(&l[..size1 as usize]);
            let mut src = bounded(&mut tree, size2);
            let proof = consistency_proof(size1, size2, &mut src).unwrap();
            let reads = src.reads;
            let want = if size1 == size2 {
                vec![]
            } else {
                ref_subproof(size1, 0, size2, true, &mut |s, n| {
                    root_of(&l[s as usize..(s + n) as usize])
                })
            };
            assert_eq!(proof, want, "consistency proof {size1} -> {size2}");
            if size1 < size2 {
                assert_eq!(proof.len(), consistency_proof_len(size1, size2));
            }
            assert!(reads <= 2 * ceil_log2(size2.max(2)) + 1, "{reads} reads");
            verify_consistency(size1, size2, &proof, &root1, &root2).unwrap();

            // Mutations.
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], 131);
                assert!(
                    verify_consistency(size1, size2, &bad, &root1, &root2).is_err(),
                    "flipped hash {i} of {size1} -> {size2} verified"
                );
            }
            if !proof.is_empty() {
                assert!(verify_consistency(size1, size2, &proof[1..], &root1, &root2).is_err());
                let dropped = &proof[..proof.len() - 1];
                assert!(verify_consistency(size1, size2, dropped, &root1, &root2).is_err());
            }
            let mut appended = proof.clone();
            appended.push(root2);
            assert!(matches!(
                verify_consistency(size1, size2, &appended, &root1, &root2),
                Err(ProofError::WrongProofSize { .. })
            ));
            assert!(verify_consistency(size1, size2, &proof, &flip(&root1, 0), &root2).is_err());
            assert!(verify_consistency(size1, size2, &proof, &root1, &flip(&root2, 0)).is_err());
            if size1 != size2 {
                assert!(verify_consistency(size1, size2, &proof, &root2, &root1).is_err());
            }
        }
    }
}

#[test]
fn consistency_size_edge_cases() {
    let l = leaves(8);
    let mut tree = MemoryTree::from_leaf_hashes(&l);
    let r = |n: usize| root_of(&l[..n]);
    assert!(matches!(
        consistency_proof(0, 5, &mut tree),
        Err(ProveError::BadSizes { size1: 0, size2: 5 })
    ));
    assert!(matches!(
        consistency_proof(0, 0, &mut tree),
        Err(ProveError::BadSizes { .. })
    ));
    assert!(matches!(
        consistency_proof(6, 5, &mut tree),
        Err(ProveError::BadSizes { .. })
    ));
    assert_eq!(
        consistency_proof(5, 5, &mut tree).unwrap(),
        Vec::<Hash>::new()
    );
    let empty = brig_ledger::merkle::empty_root();
    assert_eq!(
        verify_consistency(0, 5, &[], &empty, &r(5)),
        Err(ProofError::BadSizes { size1: 0, size2: 5 })
    );
    assert_eq!(
        verify_consistency(0, 0, &[], &empty, &empty),
        Err(ProofError::BadSizes { size1: 0, size2: 0 })
    );
    assert!(verify_consistency(6, 5, &[], &r(6), &r(5)).is_err());
    verify_consistency(5, 5, &[], &r(5), &r(5)).unwrap();
    assert!(matches!(
        verify_consistency(5, 5, &[r(5)], &r(5), &r(5)),
        Err(ProofError::WrongProofSize { want: 0, .. })
    ));
    assert!(matches!(
        verify_consistency(5, 5, &[], &r(5), &r(4)),
        Err(ProofError::RootMismatch { .. })
    ));
    // A non-trivial consistency check with an empty proof.
    assert!(matches!(
        verify_consistency(4, 8, &[], &r(4), &r(8)),
        Err(ProofError::WrongProofSize { got: 0, .. })
    ));
    assert!(matches!(
        inclusion_proof(0, 0, &mut tree),
        Err(ProveError::IndexOutOfRange { index: 0, size: 0 })
    ));
    assert!(verify_inclusion(0, 0, &l[0], &[], &empty).is_err());
    // Errors say what is wrong.
    let msg = verify_inclusion(3, 8, &l[3], &[], &r(8))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("0 hashes") && msg.contains("exactly 3"),
        "{msg}"
    );
}

#[test]
fn node_source_errors_propagate() {
    let l = leaves(5);
    // A tree of 5 leaves cannot serve a proof in a tree of 8.
    let mut tree = MemoryTree::from_leaf_hashes(&l);
    assert!(matches!(
        inclusion_proof(0, 8, &mut tree),
        Err(ProveError::Source(MissingNode { .. }))
    ));
    assert!(matches!(
        consistency_proof(2, 8, &mut tree),
        Err(ProveError::Source(_))
    ));
    assert!(root_at(8, &mut tree).is_err());
    assert!(Frontier::from_source(8, &mut tree).is_err());
}

// ---------------------------------------------------------------------------------------
// Huge trees, at chosen points
// ---------------------------------------------------------------------------------------

/// A synthetic tree of any size whose leaves repeat with period 2^P (`leaf i` =
/// `leaf_hash(i mod 2^P)`), so every perfect-subtree hash is known from a small table and
/// the tree is a genuine Merkle tree (node = H(children)) at any size up to `u64::MAX`.
/// It enforces the [`NodeSource`] contract and counts reads.
struct Periodic {
    /// `table[level][j]`: perfect subtree at `level` whose index is `j` modulo the period at
    /// that level (one entry once the level reaches P).
    table: Vec<Vec<Hash>>,
    size: u64,
    reads: usize,
}

const P: usize = 3;

impl Periodic {
    fn new(size: u64) -> Self {
        let mut table: Vec<Vec<Hash>> = vec![(0..1u64 << P)
            .map(|i| leaf_hash(&i.to_le_bytes()))
            .collect()];
        for level in 1..64 {
            let below = &table[level - 1];
            let row: Vec<Hash> = if below.len() > 1 {
                below.chunks(2).map(|c| node_hash(&c[0], &c[1])).collect()
            } else {
                vec![node_hash(&below[0], &below[0])]
            };
            table.push(row);
        }
        Periodic {
            table,
            size,
            reads: 0,
        }
    }

    fn perfect(&self, level: u32, index: u64) -> Hash {
        let row = &self.table[level as usize];
        row[(index % row.len() as u64) as usize]
    }

    /// Reference MTH of leaves `[start, start + n)`, by the recursive definition, using the
    /// table only for aligned perfect subtrees.
    fn mth(&self, start: u64, n: u64) -> Hash {
        if n.is_power_of_two() && start.is_multiple_of(n) {
            return self.perfect(n.trailing_zeros(), start / n);
        }
        let k = split(n);
        node_hash(&self.mth(start, k), &self.mth(start + k, n - k))
    }
}

impl NodeSource for Periodic {
    type Error = std::convert::Infallible;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error> {
        let end = (index as u128 + 1) << level;
        assert!(
            end <= self.size as u128,
            "read ({level}, {index}), not complete in a tree of {}",
            self.size
        );
        self.reads += 1;
        Ok(self.perfect(level, index))
    }
}

const HUGE: [u64; 12] = [
    (1 << 32) - 1,
    1 << 32,
    (1 << 32) + 1,
    10_000_000,
    961_984_011,
    0xAAAA_AAAA_AAAA_AAAA,
    0x5555_5555_5555_5555,
    1 << 63,
    (1 << 63) + 12345,
    u64::MAX - 1,
    u64::MAX,
    123_456_789_012,
];

#[test]
fn huge_sparse_trees() {
    for &size in &HUGE {
        let mut src = Periodic::new(size);
        let root = src.mth(0, size);
        assert_eq!(root_at(size, &mut src).unwrap(), root, "root_at({size})");
        let frontier = Frontier::from_source(size, &mut src).unwrap();
        assert_eq!(frontier.root(), root);
        assert_eq!(frontier.size(), size);

        for index in [0, 1, 5, size / 3, size / 2, size - 2, size - 1] {
            let proof = inclusion_proof(index, size, &mut src).unwrap();
            assert!(proof.len() <= 64);
            let want = ref_path(index, 0, size, &mut |s, n| src.mth(s, n));
            assert_eq!(proof, want, "inclusion {index}/{size}");
            let leaf = src.perfect(0, index);
            verify_inclusion(index, size, &leaf, &proof, &root).unwrap();
            let mut bad = proof.clone();
            bad[0] = flip(&bad[0], 5);
            assert!(verify_inclusion(index, size, &leaf, &bad, &root).is_err());
        }
        for size1 in [1, 2, 3, 7, 8, size / 2 + 7, size - 1] {
            let proof = consistency_proof(size1, size, &mut src).unwrap();
            assert!(proof.len() <= MAX_PROOF_LEN);
            let want = ref_subproof(size1, 0, size, true, &mut |s, n| src.mth(s, n));
            assert_eq!(proof, want, "consistency {size1} -> {size}");
            let root1 = src.mth(0, size1);
            verify_consistency(size1, size, &proof, &root1, &root).unwrap();
            let mut bad = proof.clone();
            let last = bad.len() - 1;
            bad[last] = flip(&bad[last], 5);
            assert!(verify_consistency(size1, size, &bad, &root1, &root).is_err());
        }
    }
}

/// Proof generation is O(log n) in node reads: at most `2 * ceil(log2(n)) + 2`, checked on
/// a 10,000,000-leaf tree for a spread of indexes and old sizes, and at the u64 edge.
#[test]
fn proof_generation_read_counts() {
    for size in [10_000_000u64, 961_984_011, u64::MAX] {
        let bound = 2 * ceil_log2(size) + 2;
        let mut src = Periodic::new(size);
        let root = root_at(size, &mut src).unwrap();
        assert_eq!(src.reads, size.count_ones() as usize);

        let step = size / 997;
        let mut points: Vec<u64> = (0..997).map(|i| i * step + i % 13).collect();
        points.extend([0, 1, 2, size / 2, size - 3, size - 2, size - 1]);
        let (mut worst_inc, mut worst_cons) = (0, 0);
        for &p in &points {
            let index = p.min(size - 1);
            src.reads = 0;
            let proof = inclusion_proof(index, size, &mut src).unwrap();
            assert!(
                src.reads <= bound,
                "inclusion {index}/{size}: {} reads > {bound}",
                src.reads
            );
            worst_inc = worst_inc.max(src.reads);
            verify_inclusion(index, size, &src.perfect(0, index), &proof, &root).unwrap();

            let size1 = p.clamp(1, size);
            src.reads = 0;
            let proof = consistency_proof(size1, size, &mut src).unwrap();
            assert!(
                src.reads <= bound,
                "consistency {size1} -> {size}: {} reads > {bound}",
                src.reads
            );
            worst_cons = worst_cons.max(src.reads);
            if size1 < size {
                assert_eq!(proof.len(), consistency_proof_len(size1, size));
            }
        }
        // Not vacuous: proofs here do need about log2(n) reads.
        assert!(
            worst_inc >= ceil_log2(size) - 1,
            "worst inclusion {worst_inc}"
        );
        assert!(
            worst_cons >= ceil_log2(size) - 1,
            "worst consistency {worst_cons}"
        );
    }
}

/// Appending is allocation-free in steady state: the frontier's storage never moves.
#[test]
fn frontier_push_does_not_reallocate() {
    let mut f = Frontier::new();
    let mut completed = Vec::with_capacity(64);
    let l = leaves(1);
    f.push(l[0], &mut completed);
    let ptr = f.nodes().as_ptr();
    for i in 1..100_000u64 {
        completed.clear();
        f.push(leaf_hash(&i.to_le_bytes()), &mut completed);
        assert!(completed.len() <= 64);
    }
    assert_eq!(f.nodes().as_ptr(), ptr, "frontier storage was reallocated");
    assert_eq!(f.size(), 100_000);
}
