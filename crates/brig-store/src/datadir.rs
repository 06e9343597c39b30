//! The data directory: everything a Brig node keeps, in one place.
//!
//! ```text
//! brig-data/            0700
//! ├── ledger.db         0600  SQLite (WAL): events, payload blobs, checkpoints
//! └── keys/             0700
//!     ├── ledger.key    0600  Ed25519 signing key (C2SP note private key text)
//!     └── ledger.vkey   0644  verifier key (C2SP vkey text): give this to auditors
//! ```

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use brig_ledger::note::{NoteError, NoteSigner, NoteVerifier};
use brig_ledger::store::{LedgerStore, StoreError};
use brig_ledger::Ledger;

use crate::SqliteStore;

/// Where `brig` looks when neither `--data` nor `BRIG_DATA` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./brig-data";

const DB_FILE: &str = "ledger.db";
const KEY_FILE: &str = "keys/ledger.key";
const VKEY_FILE: &str = "keys/ledger.vkey";

/// Problems with the data directory, each naming the path involved.
#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no Brig data directory at {0} (run `brig init --data {0}` first)")]
    NotInitialized(PathBuf),
    #[error("{0} already holds a Brig data directory; refusing to overwrite its keys")]
    AlreadyInitialized(PathBuf),
    #[error("{path}: {source}")]
    Key { path: PathBuf, source: NoteError },
    #[error("invalid origin `{0}`: it must be non-empty and contain no spaces or `+` (e.g. brig.example.com/prod-ledger)")]
    BadOrigin(String),
    #[error("{key} and {vkey} do not belong together (the public key is not the signing key's)")]
    KeyMismatch { key: PathBuf, vkey: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DataDirError + '_ {
    move |source| DataDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// An initialized data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// Creates the directory, the ledger database and a fresh signing key whose name is
    /// `origin` (default: `brig.local/<hostname>/<random>`). Refuses to touch an existing one.
    pub fn init(root: &Path, origin: Option<&str>) -> Result<(DataDir, NoteSigner), DataDirError> {
        let dir = DataDir {
            root: root.to_path_buf(),
        };
        if dir.path(KEY_FILE).exists() || dir.path(DB_FILE).exists() {
            return Err(DataDirError::AlreadyInitialized(root.to_path_buf()));
        }
        let origin = match origin {
            Some(o) => o.to_string(),
            None => default_origin(),
        };
        if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
            return Err(DataDirError::BadOrigin(origin));
        }
        let signer = NoteSigner::generate(&origin).map_err(|source| DataDirError::Key {
            path: dir.path(KEY_FILE),
            source,
        })?;
        make_private_dir(root)?;
        make_private_dir(&dir.path("keys"))?;
        write_new(&dir.path(KEY_FILE), &(signer.to_skey() + "\n"), 0o600)?;
        write_new(
            &dir.path(VKEY_FILE),
            &(signer.verifier().to_vkey() + "\n"),
            0o644,
        )?;
        // Create the database file ourselves so it is private from the first byte; SQLite
        // gives its -wal and -shm files the same mode.
        write_new(&dir.path(DB_FILE), "", 0o600)?;
        let mut store = SqliteStore::open(&dir.path(DB_FILE), false)?;
        store.set_meta("origin", &origin)?;
        Ok((dir, signer))
    }

    /// Opens an existing data directory.
    pub fn open(root: &Path) -> Result<DataDir, DataDirError> {
        let dir = DataDir {
            root: root.to_path_buf(),
        };
        if !dir.path(DB_FILE).is_file() {
            return Err(DataDirError::NotInitialized(root.to_path_buf()));
        }
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    pub fn db_path(&self) -> PathBuf {
        self.path(DB_FILE)
    }

    pub fn vkey_path(&self) -> PathBuf {
        self.path(VKEY_FILE)
    }

    /// Opens the ledger database.
    pub fn store(&self) -> Result<SqliteStore, DataDirError> {
        Ok(SqliteStore::open(&self.db_path(), false)?)
    }

    /// Opens the ledger over the database.
    pub fn ledger(&self) -> Result<Ledger<SqliteStore>, DataDirError> {
        Ok(Ledger::new(self.store()?))
    }

    /// The signing key, checked against the verifier key beside it.
    pub fn signer(&self) -> Result<NoteSigner, DataDirError> {
        let path = self.path(KEY_FILE);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let signer = NoteSigner::from_skey(text.trim())
            .map_err(|source| DataDirError::Key { path, source })?;
        if signer.verifier() != self.verifier()? {
            return Err(DataDirError::KeyMismatch {
                key: self.path(KEY_FILE),
                vkey: self.vkey_path(),
            });
        }
        Ok(signer)
    }

    /// The verifier key as stored in the data directory. An auditor should rather pin the
    /// key printed by `brig init` (`--key`): whoever can write here can replace this file.
    pub fn verifier(&self) -> Result<NoteVerifier, DataDirError> {
        let path = self.vkey_path();
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        NoteVerifier::from_vkey(text.trim()).map_err(|source| DataDirError::Key { path, source })
    }

    /// The log's origin line (the name of its key).
    pub fn origin(&self) -> Result<String, DataDirError> {
        Ok(self.verifier()?.name().to_string())
    }
}

fn default_origin() -> String {
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace) && !h.contains('+'))
        .unwrap_or_else(|| "localhost".into());
    let mut tag = [0u8; 4];
    // A random tag keeps two ledgers on one host from sharing an origin.
    let tag = match getrandom::getrandom(&mut tag) {
        Ok(()) => tag.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        Err(_) => std::process::id().to_string(),
    };
    format!("brig.local/{host}/{tag}")
}

fn make_private_dir(path: &Path) -> Result<(), DataDirError> {
    fs::create_dir_all(path).map_err(io(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io(path))
}

fn write_new(path: &Path, content: &str, mode: u32) -> Result<(), DataDirError> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(io(path))?;
    f.write_all(content.as_bytes()).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_private_files_and_refuses_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("d");
        let (dir, signer) = DataDir::init(&root, Some("brig.test/ledger")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&root.join(DB_FILE)), 0o600);
        assert_eq!(dir.verifier().unwrap(), signer.verifier());
        assert_eq!(dir.origin().unwrap(), "brig.test/ledger");
        assert!(matches!(
            DataDir::init(&root, None),
            Err(DataDirError::AlreadyInitialized(_))
        ));
        assert!(matches!(
            DataDir::open(&tmp.path().join("nope")),
            Err(DataDirError::NotInitialized(_))
        ));
        assert!(matches!(
            DataDir::init(&tmp.path().join("e"), Some("has space")),
            Err(DataDirError::BadOrigin(_))
        ));
    }
}
