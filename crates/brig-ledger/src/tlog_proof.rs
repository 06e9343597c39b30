//! C2SP transparency-log proofs ([c2sp.org/tlog-proof]): an offline-verifiable proof that
//! an entry is in a log.
//!
//! A `.tlog-proof` file bundles the entry's index, its Merkle inclusion proof and the
//! signed checkpoint the proof leads to:
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6     optional, base64, NOT authenticated
//! index 73894                                       zero-based, decimal, no leading zeros
//! gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=      inclusion proof, one base64 hash a line,
//! B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=      leaf's sibling first (RFC 6962 §2.1.1)
//!                                                   empty line
//! example.com/fancylog                              the signed checkpoint, verbatim
//! 109482
//! sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=
//!
//! — example.com/fancylog hI2DJw...
//! ```
//!
//! Verifying ([`TlogProof::verify`]) means: the checkpoint note verifies with the log's key,
//! and the inclusion proof leads from the entry's leaf hash at `index` to the checkpoint's
//! root. The `extra` data is whatever the application put there (Brig: the leaf bytes); it
//! is only trustworthy once the caller has hashed it and the proof verified for that hash.
//!
//! [c2sp.org/tlog-proof]: https://c2sp.org/tlog-proof

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::checkpoint::{open_checkpoint, parse_decimal, Checkpoint, CheckpointError};
use crate::merkle::{verify_inclusion, Hash, ProofError, MAX_PROOF_LEN};
use crate::note::{parse_note, NoteVerifier, MAX_NOTE_BYTES};

/// First line of every proof.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Largest proof [`TlogProof::parse`] accepts: a maximal note plus generous room for the
/// other lines (the extra data included).
pub const MAX_PROOF_BYTES: usize = 2 * MAX_NOTE_BYTES;

/// A parsed tlog-proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated extra data.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// RFC 6962 inclusion proof of the entry in the checkpointed tree.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
}

/// What is wrong with a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogProofError {
    #[error("tlog-proof line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("tlog-proof line {line}: a proof hash must be 32 bytes, got {got}")]
    WrongHashLength { line: usize, got: usize },
    #[error("tlog-proof is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("tlog-proof checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("tlog-proof inclusion proof: {0}")]
    Proof(#[from] ProofError),
}

fn malformed(line: usize, reason: impl Into<String>) -> TlogProofError {
    TlogProofError::Malformed {
        line,
        reason: reason.into(),
    }
}

impl TlogProof {
    /// The proof file text.
    pub fn to_text(&self) -> String {
        let mut s = String::with_capacity(64 + 45 * self.proof.len() + self.checkpoint.len());
        s.push_str(HEADER);
        s.push('\n');
        if let Some(extra) = &self.extra {
            s.push_str("extra ");
            s.push_str(&B64.encode(extra));
            s.push('\n');
        }
        s.push_str(&format!("index {}\n", self.index));
        for h in &self.proof {
            s.push_str(&B64.encode(h));
            s.push('\n');
        }
        s.push('\n');
        s.push_str(&self.checkpoint);
        s
    }

    /// Parses a proof, strictly: the exact header line; an optional `extra <base64>` line; an
    /// `index <decimal>` line without leading zeros; zero or more base64 hashes of exactly 32
    /// bytes (at most 65, the most any tree can need); an empty line; then a well-formed
    /// signed note whose text is a well-formed checkpoint. Signatures are not checked here;
    /// that is [`TlogProof::verify`].
    pub fn parse(bytes: &[u8]) -> Result<Self, TlogProofError> {
        if bytes.len() > MAX_PROOF_BYTES {
            return Err(TlogProofError::TooLarge {
                size: bytes.len(),
                max: MAX_PROOF_BYTES,
            });
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| malformed(1, format!("not valid UTF-8 (at byte {})", e.valid_up_to())))?;
        let mut rest = text;
        let mut line_no = 0;
        // Takes the next newline-terminated line; a line without its newline is malformed.
        let mut next_line = |what: &str| -> Result<(usize, &str), TlogProofError> {
            line_no += 1;
            let (line, after) = rest
                .split_once('\n')
                .ok_or_else(|| malformed(line_no, format!("expected {what}, found end of file")))?;
            rest = after;
            Ok((line_no, line))
        };

        let (n, line) = next_line("the header line")?;
        if line != HEADER {
            return Err(malformed(n, format!("the first line must be {HEADER:?}")));
        }

        let (mut n, mut line) = next_line("the index line")?;
        let mut extra = None;
        if let Some(b64) = line.strip_prefix("extra ") {
            extra = Some(
                B64.decode(b64)
                    .map_err(|_| malformed(n, "the extra data is not valid base64"))?,
            );
            (n, line) = next_line("the index line")?;
        }

        let idx = line
            .strip_prefix("index ")
            .ok_or_else(|| malformed(n, "expected \"index <decimal>\""))?;
        let index = parse_decimal(idx).ok_or_else(|| {
            malformed(
                n,
                format!("index {idx:?} is not a decimal number without leading zeros"),
            )
        })?;

        let mut proof = Vec::new();
        loop {
            let (n, line) = next_line("an inclusion proof hash or the empty line")?;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LEN {
                return Err(malformed(
                    n,
                    format!("more than {MAX_PROOF_LEN} proof hashes; no tree needs that many"),
                ));
            }
            let raw = B64
                .decode(line)
                .map_err(|_| malformed(n, "the proof hash is not valid base64"))?;
            let h: Hash =
                raw.as_slice()
                    .try_into()
                    .map_err(|_| TlogProofError::WrongHashLength {
                        line: n,
                        got: raw.len(),
                    })?;
            proof.push(h);
        }

        let checkpoint_line = line_no + 1;
        let note = parse_note(rest.as_bytes()).map_err(|e| {
            malformed(
                checkpoint_line,
                format!("the checkpoint is not a valid signed note: {e}"),
            )
        })?;
        Checkpoint::parse(&note.text)?;
        Ok(TlogProof {
            extra,
            index,
            proof,
            checkpoint: rest.to_string(),
        })
    }

    /// Verifies the checkpoint note with `verifier` (the log's key), then that `leaf_hash`
    /// is the leaf at `index` of the checkpointed tree. Returns the verified checkpoint, whose
    /// origin the caller may want to check.
    pub fn verify(
        &self,
        leaf_hash: &Hash,
        verifier: &NoteVerifier,
    ) -> Result<Checkpoint, TlogProofError> {
        let cp = open_checkpoint(self.checkpoint.as_bytes(), verifier)?;
        verify_inclusion(self.index, cp.size, leaf_hash, &self.proof, &cp.root)?;
        Ok(cp)
    }
}
