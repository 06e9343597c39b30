//! The data directory: everything a Brig node keeps, in one place.
//!
//! ```text
//! brig-data/            0700
//! ├── ledger.db         0600  SQLite (WAL): events, payload blobs, checkpoints, state
//! ├── database          0600  instead of ledger.db: the PostgreSQL URL that holds them
//! └── keys/             0700
//!     ├── ledger.key    0600  Ed25519 signing key (C2SP note private key text)
//!     └── ledger.vkey   0644  verifier key (C2SP vkey text): give this to auditors
//! ```
//!
//! With PostgreSQL the directory keeps what must stay on the host: the signing key (never
//! in the database, where whoever can write rows could also re-sign them) and the objects
//! of rollback. Every process writing one database signs with the same key: the first
//! `brig init --database URL` makes it and records its public half in the database; the
//! others join with `--signing-key FILE`, checked against that record.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use brig_ledger::note::{NoteError, NoteSigner, NoteVerifier};
use brig_ledger::store::{LedgerStore, StoreError};
use brig_ledger::Ledger;

use crate::{postgres::redact, Store};

/// Where `brig` looks when neither `--data` nor `BRIG_DATA` says otherwise.
pub const DEFAULT_DATA_DIR: &str = "./brig-data";

const DB_FILE: &str = "ledger.db";
const DATABASE_FILE: &str = "database";
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
    #[error("the database {url} already holds the ledger `{origin}`: join it with `brig init --database URL --signing-key FILE`, FILE being that ledger's signing key (keys/ledger.key of a data directory already on it)")]
    DatabaseInUse { url: String, origin: String },
    #[error("{key} is not the signing key of the ledger in {url} (its public key differs from the one the database records)")]
    NotThisLedgersKey { key: PathBuf, url: String },
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
    /// The PostgreSQL URL, when the state is there rather than in `ledger.db`.
    database: Option<String>,
}

/// How `brig init` sets up a data directory.
#[derive(Clone, Debug, Default)]
pub struct InitOptions<'a> {
    /// The log's name (default: `brig.local/<hostname>/<random>`).
    pub origin: Option<&'a str>,
    /// Keep the state in this PostgreSQL database instead of `ledger.db`.
    pub database: Option<&'a str>,
    /// Sign with this existing key instead of a fresh one (required to join a database
    /// that already holds a ledger).
    pub signing_key: Option<&'a Path>,
}

impl DataDir {
    /// Creates the directory, the ledger database and a fresh signing key whose name is
    /// `origin` (default: `brig.local/<hostname>/<random>`). Refuses to touch an existing one.
    pub fn init(root: &Path, origin: Option<&str>) -> Result<(DataDir, NoteSigner), DataDirError> {
        Self::init_with(
            root,
            &InitOptions {
                origin,
                ..InitOptions::default()
            },
        )
    }

    /// Creates a data directory as `opts` say. Refuses to touch an existing one.
    pub fn init_with(
        root: &Path,
        opts: &InitOptions<'_>,
    ) -> Result<(DataDir, NoteSigner), DataDirError> {
        let dir = DataDir {
            root: root.to_path_buf(),
            database: opts.database.map(str::to_string),
        };
        if [KEY_FILE, DB_FILE, DATABASE_FILE]
            .iter()
            .any(|f| dir.path(f).exists())
        {
            return Err(DataDirError::AlreadyInitialized(root.to_path_buf()));
        }
        let given = opts.signing_key.map(read_signer).transpose()?;
        let (signer, store) = match opts.database {
            None => {
                let signer = match given {
                    Some(s) => s,
                    None => fresh_signer(&dir, opts.origin)?,
                };
                (signer, None)
            }
            Some(url) => {
                let mut store = Store::postgres(url)?;
                let signer = join_or_claim(&mut store, url, given, &dir, opts)?;
                (signer, Some(store))
            }
        };
        make_private_dir(root)?;
        make_private_dir(&dir.path("keys"))?;
        write_new(&dir.path(KEY_FILE), &(signer.to_skey() + "\n"), 0o600)?;
        write_new(
            &dir.path(VKEY_FILE),
            &(signer.verifier().to_vkey() + "\n"),
            0o644,
        )?;
        match (store, opts.database) {
            (Some(mut store), Some(url)) => {
                write_new(&dir.path(DATABASE_FILE), &format!("{url}\n"), 0o600)?;
                store.set_meta("origin", signer.verifier().name())?;
                store.set_meta("vkey", &signer.verifier().to_vkey())?;
            }
            _ => {
                // Create the database file ourselves so it is private from the first byte;
                // SQLite gives its -wal and -shm files the same mode.
                write_new(&dir.path(DB_FILE), "", 0o600)?;
                let mut store = Store::sqlite(&dir.path(DB_FILE), false)?;
                store.set_meta("origin", signer.verifier().name())?;
            }
        }
        Ok((dir, signer))
    }

    /// Opens an existing data directory.
    pub fn open(root: &Path) -> Result<DataDir, DataDirError> {
        Self::open_with(root, None)
    }

    /// Opens a data directory whose state is in `database` when given (`--database`,
    /// `BRIG_DATABASE`), else wherever `brig init` put it.
    pub fn open_with(root: &Path, database: Option<&str>) -> Result<DataDir, DataDirError> {
        let mut dir = DataDir {
            root: root.to_path_buf(),
            database: database.map(str::to_string),
        };
        if dir.database.is_some() {
            return Ok(dir);
        }
        let url_file = dir.path(DATABASE_FILE);
        if url_file.is_file() {
            let url = fs::read_to_string(&url_file).map_err(io(&url_file))?;
            dir.database = Some(url.trim().to_string());
        } else if !dir.path(DB_FILE).is_file() {
            return Err(DataDirError::NotInitialized(root.to_path_buf()));
        }
        Ok(dir)
    }

    /// The PostgreSQL URL the state is in (`None`: the embedded `ledger.db`).
    pub fn database(&self) -> Option<&str> {
        self.database.as_deref()
    }

    /// The modes of the directory (wanted 0700) and of the signing key (wanted 0600), each
    /// with whether group or others can reach it. An agent that can read the key can sign
    /// a rewritten history; one that can write the directory can replace it.
    pub fn modes(&self) -> Vec<FileMode> {
        [(self.root.clone(), 0o700), (self.path(KEY_FILE), 0o600)]
            .into_iter()
            .map(|(path, wanted)| FileMode {
                mode: fs::metadata(&path)
                    .ok()
                    .map(|m| m.permissions().mode() & 0o7777),
                path,
                wanted,
            })
            .collect()
    }

    /// Where the state is, for messages: the SQLite file or the URL without its password.
    pub fn describe(&self) -> String {
        match &self.database {
            Some(url) => redact(url),
            None => self.db_path().display().to_string(),
        }
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

    /// Opens the state: the SQLite file, or a new connection to the PostgreSQL database.
    pub fn store(&self) -> Result<Store, DataDirError> {
        Ok(match &self.database {
            Some(url) => Store::postgres(url)?,
            None => Store::sqlite(&self.db_path(), false)?,
        })
    }

    /// Opens the ledger over the database.
    pub fn ledger(&self) -> Result<Ledger<Store>, DataDirError> {
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

fn read_signer(path: &Path) -> Result<NoteSigner, DataDirError> {
    let text = fs::read_to_string(path).map_err(io(path))?;
    NoteSigner::from_skey(text.trim()).map_err(|source| DataDirError::Key {
        path: path.to_path_buf(),
        source,
    })
}

fn fresh_signer(dir: &DataDir, origin: Option<&str>) -> Result<NoteSigner, DataDirError> {
    let origin = match origin {
        Some(o) => o.to_string(),
        None => default_origin(),
    };
    if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(DataDirError::BadOrigin(origin));
    }
    NoteSigner::generate(&origin).map_err(|source| DataDirError::Key {
        path: dir.path(KEY_FILE),
        source,
    })
}

/// The signer of a data directory on PostgreSQL: the ledger's own key when the database
/// holds one already (the given key must be it), else a new ledger's.
fn join_or_claim(
    store: &mut Store,
    url: &str,
    given: Option<NoteSigner>,
    dir: &DataDir,
    opts: &InitOptions<'_>,
) -> Result<NoteSigner, DataDirError> {
    let Some(origin) = store.meta("origin")? else {
        return match given {
            Some(s) => Ok(s),
            None => fresh_signer(dir, opts.origin),
        };
    };
    let signer = given.ok_or_else(|| DataDirError::DatabaseInUse {
        url: redact(url),
        origin: origin.clone(),
    })?;
    let recorded = store.meta("vkey")?.unwrap_or_default();
    if recorded.trim() != signer.verifier().to_vkey() {
        return Err(DataDirError::NotThisLedgersKey {
            key: opts.signing_key.unwrap_or(Path::new("")).to_path_buf(),
            url: redact(url),
        });
    }
    Ok(signer)
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

/// A file's permission bits beside the ones Brig wants for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMode {
    pub path: PathBuf,
    /// `None`: the file is missing.
    pub mode: Option<u32>,
    pub wanted: u32,
}

impl FileMode {
    /// Group or others can read, write or enter it (or it is missing).
    pub fn is_loose(&self) -> bool {
        self.mode.is_none_or(|m| m & 0o077 != 0)
    }

    /// What is wrong and the command that fixes it, for a loose one.
    pub fn warning(&self) -> String {
        match self.mode {
            Some(m) => format!(
                "{} is mode {m:o}, open to other users (want {:o}): chmod {:o} {}",
                self.path.display(),
                self.wanted,
                self.wanted,
                self.path.display()
            ),
            None => format!("{} is missing", self.path.display()),
        }
    }
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
        assert!(
            dir.modes().iter().all(|m| !m.is_loose()),
            "{:?}",
            dir.modes()
        );
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        let loose: Vec<FileMode> = dir.modes().into_iter().filter(FileMode::is_loose).collect();
        assert_eq!(loose.len(), 1);
        assert!(
            loose[0].warning().contains("chmod 700"),
            "{}",
            loose[0].warning()
        );
        fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
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
