//! C2SP transparency-log checkpoints ([c2sp.org/tlog-checkpoint]): a log's signed tree head.
//!
//! A checkpoint is a [signed note](crate::note) whose text is exactly:
//!
//! ```text
//! example.com/behind-the-sofa                      origin: the log's unique name
//! 20852163                                         tree size, decimal, no leading zeros
//! CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=     root hash, base64 of 32 bytes
//! (optional extension lines, opaque, non-empty)
//! ```
//!
//! each line ending in a newline. Signing it commits the log to "my tree of `size` leaves
//! has this root". Clients must ignore signatures from keys they do not know, which is what
//! lets witnesses add cosignatures and logs rotate keys.
//!
//! The spec says the log's key name SHOULD match the origin. [`open_checkpoint`] does not
//! enforce it (the real sum.golang.org checkpoint has origin `go.sum database tree` but key
//! `sum.golang.org`); callers that know which log they expect should check
//! [`Checkpoint::origin`], or use [`open_checkpoint_for_origin`].
//!
//! [c2sp.org/tlog-checkpoint]: https://c2sp.org/tlog-checkpoint

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::Hash;
use crate::note::{open_note, NoteError, NoteSigner, NoteVerifier};

/// A log's tree head: origin, size and root, plus any extension lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines, without their newlines. Opaque; the spec does not recommend them.
    pub extensions: Vec<String>,
}

/// What is wrong with a checkpoint or its note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint line {line}: {reason}")]
    Malformed { line: usize, reason: String },
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    #[error("checkpoint is for log {found:?}, expected {expected:?}")]
    OriginMismatch { expected: String, found: String },
}

fn malformed(line: usize, reason: impl Into<String>) -> CheckpointError {
    CheckpointError::Malformed {
        line,
        reason: reason.into(),
    }
}

/// A line of a checkpoint: non-empty, no control characters (a note may not hold them, and
/// a newline would shift every following line).
fn check_line(line_no: usize, what: &str, s: &str) -> Result<(), CheckpointError> {
    if s.is_empty() {
        return Err(malformed(line_no, format!("the {what} line is empty")));
    }
    if s.chars().any(|c| (c as u32) < 0x20) {
        return Err(malformed(
            line_no,
            format!("the {what} line contains a control character"),
        ));
    }
    Ok(())
}

/// Parses a decimal `u64` with no sign, no leading zeros (except `0` itself) and nothing else.
pub fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

impl Checkpoint {
    /// The note text: `origin\nsize\nbase64(root)\n` then each extension line.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Checks that [`Checkpoint::to_text`] will produce a text that parses back to `self`:
    /// non-empty origin and extension lines, none containing a newline or other control
    /// character.
    pub fn validate(&self) -> Result<(), CheckpointError> {
        check_line(1, "origin", &self.origin)?;
        for (i, e) in self.extensions.iter().enumerate() {
            check_line(4 + i, "extension", e)?;
        }
        Ok(())
    }

    /// Parses a checkpoint note text, strictly: at least three lines, each ending in a
    /// newline; a non-empty origin; a size in canonical decimal; a root that is the canonical
    /// base64 of exactly 32 bytes; extension lines non-empty.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let Some(body) = text.strip_suffix('\n') else {
            return Err(malformed(
                text.matches('\n').count() + 1,
                "the text must end with a newline",
            ));
        };
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        check_line(1, "origin", origin)?;
        let size_line = lines
            .next()
            .ok_or_else(|| malformed(2, "missing the tree size line"))?;
        let size = parse_decimal(size_line).ok_or_else(|| {
            malformed(
                2,
                format!("tree size {size_line:?} is not a decimal number without leading zeros"),
            )
        })?;
        let root_line = lines
            .next()
            .ok_or_else(|| malformed(3, "missing the root hash line"))?;
        let root_bytes = B64
            .decode(root_line)
            .map_err(|_| malformed(3, format!("root hash {root_line:?} is not valid base64")))?;
        let root: Hash = root_bytes.as_slice().try_into().map_err(|_| {
            malformed(
                3,
                format!("root hash is {} bytes, expected 32", root_bytes.len()),
            )
        })?;
        let mut extensions = Vec::new();
        for (i, e) in lines.enumerate() {
            check_line(4 + i, "extension", e)?;
            extensions.push(e.to_string());
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            extensions,
        })
    }
}

/// Signs a checkpoint, returning the signed note.
pub fn sign_checkpoint(cp: &Checkpoint, signer: &NoteSigner) -> Result<String, CheckpointError> {
    cp.validate()?;
    Ok(signer.sign(&cp.to_text())?)
}

/// Verifies a signed checkpoint note with `verifier` (signatures from other keys are
/// ignored, per the note spec) and parses its text.
///
/// The origin is *not* compared with the key name: the spec only says they SHOULD match,
/// and real logs differ (sum.golang.org signs `go.sum database tree`). A log is identified
/// by its key; callers that also expect a particular origin should compare
/// [`Checkpoint::origin`] or call [`open_checkpoint_for_origin`].
pub fn open_checkpoint(
    note: &[u8],
    verifier: &NoteVerifier,
) -> Result<Checkpoint, CheckpointError> {
    let opened = open_note(note, std::slice::from_ref(verifier))?;
    Checkpoint::parse(&opened.text)
}

/// [`open_checkpoint`], then requires the checkpoint's origin to be `origin`.
pub fn open_checkpoint_for_origin(
    note: &[u8],
    verifier: &NoteVerifier,
    origin: &str,
) -> Result<Checkpoint, CheckpointError> {
    let cp = open_checkpoint(note, verifier)?;
    if cp.origin != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.to_string(),
            found: cp.origin,
        });
    }
    Ok(cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";

    #[test]
    fn parses_spec_example() {
        let text = format!("example.com/behind-the-sofa\n20852163\n{ROOT}\n");
        let cp = Checkpoint::parse(&text).unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20852163);
        assert!(cp.extensions.is_empty());
        assert_eq!(cp.to_text(), text);
    }

    #[test]
    fn strict() {
        let bad = [
            format!("o\n20852163\n{ROOT}"),                 // no final newline
            format!("\n1\n{ROOT}\n"),                       // empty origin
            format!("o\n01\n{ROOT}\n"),                     // leading zero
            format!("o\n+1\n{ROOT}\n"),                     // sign
            format!("o\n-1\n{ROOT}\n"),                     // negative
            format!("o\n 1\n{ROOT}\n"),                     // space
            format!("o\n18446744073709551616\n{ROOT}\n"),   // overflow
            "o\n1\nAAAA\n".to_string(),                     // 3-byte root
            format!("o\n1\n{}\n", &ROOT[..ROOT.len() - 1]), // bad padding
            format!("o\n1\n{ROOT}\n\n"),                    // empty extension
            format!("o\n1\n{ROOT}\next\n\n"),               // empty extension after one
            "o\n1\n".to_string(),                           // no root
            "o\n".to_string(),                              // no size
        ];
        for t in &bad {
            assert!(Checkpoint::parse(t).is_err(), "accepted {t:?}");
        }
        let ok = Checkpoint::parse(&format!("o\n0\n{ROOT}\next one\next two\n")).unwrap();
        assert_eq!(ok.size, 0);
        assert_eq!(ok.extensions, ["ext one", "ext two"]);
    }

    #[test]
    fn validate_rejects_unrepresentable() {
        let mut cp = Checkpoint {
            origin: "o".into(),
            size: 1,
            root: [0; 32],
            extensions: vec![],
        };
        cp.validate().unwrap();
        cp.origin = "a\nb".into();
        assert!(cp.validate().is_err());
        cp.origin = "o".into();
        cp.extensions = vec![String::new()];
        assert!(cp.validate().is_err());
    }
}
