//! Rollback: undo what an agent changed, from states Brig kept before it changed them.
//!
//! Built so far (issue 7 in progress):
//! - [`objects`]: the content-addressed store (BLAKE3 addresses, zstd, each content once,
//!   checked on read);
//! - [`snapshot`]: snapshots of a workspace (content, mode, owner, times), taken
//!   incrementally as git's index does, and the differences between two of them;
//! - [`hunt`]: the hunt for stealth copies (protected content found elsewhere, also inside
//!   archives, by size, partial and full hash) and for persistence (cron, systemd, shell rc,
//!   authorized keys, git hooks changed since a moment);
//! - [`images`]: the pre- and post-images the gateway records around each call that changes
//!   files;
//! - [`workspace`]: snapshots of a declared workspace before and after a command whose
//!   targets cannot be known beforehand (a shell command), every difference attributed to it;
//! - [`plan`]: what to undo (from those images in the ledger), applying it without ever
//!   overwriting a later change by someone else, and verifying the result;
//! - [`git`]: the agent's commits, found from the branch refs the plan would rewind, and
//!   reverting them with `git revert` instead (history kept).

#![deny(unsafe_code)]

use std::path::Path;

pub mod git;
pub mod hunt;
pub mod images;
pub mod objects;
pub mod plan;
pub mod snapshot;
pub mod workspace;

/// What went wrong, naming the path or object.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("object {0} is not in the store")]
    MissingObject(String),
    #[error("object {0} is damaged: its content no longer has that hash")]
    DamagedObject(String),
    #[error("{0}: not a regular file, directory or symlink (not snapshotted)")]
    Unsupported(String),
}

impl RollbackError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RollbackError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
