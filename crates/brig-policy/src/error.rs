//! Errors loading policies.

use std::path::PathBuf;

/// Why a policy directory was refused. Loading is all or nothing: one bad file refuses
/// the whole directory.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The directory or a file in it could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The directory holds no `*.cedar` file (an empty set would deny everything, which
    /// is almost always a wrong path rather than an intent).
    #[error("{}: no *.cedar policy files", dir.display())]
    NoPolicies { dir: PathBuf },
    /// A file does not parse as Cedar, or uses a Brig annotation wrongly.
    #[error("{}:{line}:{column}: {reason}", file.display())]
    Parse {
        file: PathBuf,
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column (in characters) of the first error.
        column: usize,
        reason: String,
    },
    /// A policy parses but does not validate against Brig's schema (unknown attribute,
    /// action applied to the wrong resource type, type error, …).
    #[error("{}:{line}:{column}: policy {policy}: {reason}", file.display())]
    Invalid {
        file: PathBuf,
        line: usize,
        column: usize,
        /// The policy's id (its `@id`, else `<file>#<index>`).
        policy: String,
        reason: String,
    },
    /// Two policies have the same id.
    #[error("{}: policy id {id:?} is already used in {}", file.display(), first.display())]
    DuplicateId {
        id: String,
        file: PathBuf,
        first: PathBuf,
    },
}

impl PolicyError {
    /// The file the error is about, when there is one.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            PolicyError::Io { path, .. } => Some(path),
            PolicyError::NoPolicies { .. } => None,
            PolicyError::Parse { file, .. }
            | PolicyError::Invalid { file, .. }
            | PolicyError::DuplicateId { file, .. } => Some(file),
        }
    }

    /// The 1-based line the error is about, when there is one.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::Parse { line, .. } | PolicyError::Invalid { line, .. } => Some(*line),
            _ => None,
        }
    }
}
