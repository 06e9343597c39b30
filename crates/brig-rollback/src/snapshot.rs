//! Workspace snapshots: every path under a root with its kind, content address, size, mode,
//! owner and modification time — enough to put the tree back as it was.
//!
//! Taking a snapshot after a previous one is incremental, as git's index is: a regular file
//! whose size, modification time, inode and ctime are what the previous snapshot recorded is
//! taken to be unchanged and is not read again. (As with git, a change that keeps all four —
//! a same-size rewrite within the file system's timestamp granularity that also restores the
//! ctime — is missed; ctime cannot be set by ordinary programs, which is why it is compared.)
//! Everything else is read, hashed (on every core) and stored.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::objects::{ObjectId, Objects};
use crate::RollbackError;

/// What a path is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    File { object: ObjectId },
    Dir,
    Symlink { target: String },
}

/// One path in a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    #[serde(flatten)]
    pub kind: Kind,
    pub size: u64,
    /// Permission bits and file type bits as `st_mode`.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime_ns: i64,
    /// For the incremental check only (not restored).
    pub ctime_ns: i64,
    pub inode: u64,
    /// Extended attributes (name → hex of the value), where the file system has them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub xattrs: BTreeMap<String, String>,
}

/// The extended attributes of `path` itself (a symlink's own, not its target's). None on a
/// file system without them; an attribute that vanishes while read is left out.
pub fn xattrs_of(path: &Path) -> Result<BTreeMap<String, String>, RollbackError> {
    let names = match xattr::list(path) {
        Ok(n) => n,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(BTreeMap::new()),
        Err(e) => return Err(RollbackError::io(path, e)),
    };
    let mut out = BTreeMap::new();
    for name in names {
        if let Some(v) = xattr::get(path, &name).map_err(|e| RollbackError::io(path, e))? {
            out.insert(name.to_string_lossy().into_owned(), hex::encode(v));
        }
    }
    Ok(out)
}

/// A tree as it was: relative path → entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub root: PathBuf,
    /// When the walk began (ns since the Unix epoch).
    pub taken_ns: i64,
    pub entries: BTreeMap<String, Entry>,
}

/// What taking a snapshot cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub paths: usize,
    /// Files read and hashed (the rest were unchanged since the previous snapshot).
    pub hashed: usize,
    /// Objects written (new content).
    pub stored: usize,
}

/// How close to a snapshot's start a file's times must be for the file to be read again in
/// the next snapshot: well above the kernel's coarse clock tick (1–10 ms).
pub const RACY_NS: i64 = 100_000_000;

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

fn ns(secs: i64, nsec: i64) -> i64 {
    secs.saturating_mul(1_000_000_000).saturating_add(nsec)
}

/// Snapshots the tree under `root`, storing new content in `objects`; `previous` (a snapshot
/// of the same root) lets unchanged files be skipped.
pub fn take(
    root: &Path,
    previous: Option<&Snapshot>,
    objects: &Objects,
) -> Result<(Snapshot, Stats), RollbackError> {
    take_except(root, previous, objects, &[])
}

/// [`take`], leaving out the trees under `except` (absolute paths: Brig's own data
/// directory when it lies inside a workspace, whose object store grows as it is walked).
pub fn take_except(
    root: &Path,
    previous: Option<&Snapshot>,
    objects: &Objects,
    except: &[PathBuf],
) -> Result<(Snapshot, Stats), RollbackError> {
    let taken_ns = now_ns();
    let mut found: Vec<(String, std::fs::Metadata)> = Vec::new();
    walk(root, root, except, &mut found)?;
    let mut stats = Stats {
        paths: found.len(),
        ..Stats::default()
    };
    let results: Vec<Result<(String, Entry, bool, bool), RollbackError>> = found
        .into_par_iter()
        .map(|(rel, md)| entry_of(root, rel, &md, previous, objects, false))
        .collect();
    // Durable once, for every object this snapshot wrote.
    objects.sync()?;
    let mut entries = BTreeMap::new();
    for r in results {
        let (rel, entry, hashed, stored) = r?;
        stats.hashed += usize::from(hashed);
        stats.stored += usize::from(stored);
        entries.insert(rel, entry);
    }
    Ok((
        Snapshot {
            root: root.to_path_buf(),
            taken_ns,
            entries,
        },
        stats,
    ))
}

/// Sockets, FIFOs and device nodes are left out: they hold no content to restore.
fn walk(
    root: &Path,
    dir: &Path,
    except: &[PathBuf],
    out: &mut Vec<(String, std::fs::Metadata)>,
) -> Result<(), RollbackError> {
    let rd = std::fs::read_dir(dir).map_err(|e| RollbackError::io(dir, e))?;
    for entry in rd {
        let entry = entry.map_err(|e| RollbackError::io(dir, e))?;
        let path = entry.path();
        if except.iter().any(|x| x == &path) {
            continue;
        }
        let md = match std::fs::symlink_metadata(&path) {
            Ok(md) => md,
            // Gone between listing and looking: a file deleted while the walk ran.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(RollbackError::io(&path, e)),
        };
        let ft = md.file_type();
        if !(ft.is_file() || ft.is_dir() || ft.is_symlink()) {
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .expect("walked paths are under the root")
            .to_string_lossy()
            .into_owned();
        let is_dir = md.is_dir();
        out.push((rel, md));
        if is_dir {
            walk(root, &path, except, out)?;
        }
    }
    Ok(())
}

/// The state of one path now, its content stored durably: `None` when nothing is there.
pub fn entry_at(path: &Path, objects: &Objects) -> Result<Option<Entry>, RollbackError> {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(RollbackError::io(path, e)),
    };
    let (parent, name) = match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => (p, n.to_string_lossy().into_owned()),
        _ => return Err(RollbackError::Unsupported(path.display().to_string())),
    };
    Ok(Some(entry_of(parent, name, &md, None, objects, true)?.1))
}

fn entry_of(
    root: &Path,
    rel: String,
    md: &std::fs::Metadata,
    previous: Option<&Snapshot>,
    objects: &Objects,
    durable: bool,
) -> Result<(String, Entry, bool, bool), RollbackError> {
    let path = root.join(&rel);
    let mut e = Entry {
        kind: Kind::Dir,
        size: md.len(),
        mode: md.mode(),
        uid: md.uid(),
        gid: md.gid(),
        mtime_ns: ns(md.mtime(), md.mtime_nsec()),
        ctime_ns: ns(md.ctime(), md.ctime_nsec()),
        inode: md.ino(),
        xattrs: BTreeMap::new(),
    };
    let (mut hashed, mut stored) = (false, false);
    let ft = md.file_type();
    if ft.is_symlink() {
        let t = std::fs::read_link(&path).map_err(|e| RollbackError::io(&path, e))?;
        e.kind = Kind::Symlink {
            target: t.to_string_lossy().into_owned(),
        };
    } else if ft.is_file() {
        let unchanged = previous.and_then(|prev| {
            let racy = prev.taken_ns - RACY_NS;
            prev.entries.get(&rel).filter(|p| {
                matches!(p.kind, Kind::File { .. })
                    && p.mtime_ns < racy
                    && p.ctime_ns < racy
                    && (p.size, p.mtime_ns, p.ctime_ns, p.inode)
                        == (e.size, e.mtime_ns, e.ctime_ns, e.inode)
            })
        });
        match unchanged {
            // Setting an attribute changes the ctime: an unchanged file kept its attributes.
            Some(p) => {
                e.kind = p.kind.clone();
                e.xattrs = p.xattrs.clone();
            }
            None => {
                let content = std::fs::read(&path).map_err(|err| RollbackError::io(&path, err))?;
                let (object, new) = if durable {
                    objects.put(&content)?
                } else {
                    objects.put_unsynced(&content)?
                };
                (hashed, stored) = (true, new);
                e.size = content.len() as u64;
                e.kind = Kind::File { object };
                e.xattrs = xattrs_of(&path)?;
            }
        }
    } else if !ft.is_dir() {
        return Err(RollbackError::Unsupported(path.display().to_string()));
    }
    if !ft.is_file() {
        e.xattrs = xattrs_of(&path)?;
    }
    Ok((rel, e, hashed, stored))
}

/// How a path differs between two snapshots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Created {
        path: String,
    },
    Deleted {
        path: String,
    },
    /// Content (or symlink target, or kind) changed.
    Modified {
        path: String,
    },
    /// Only mode, owner or extended attributes changed.
    Permissions {
        path: String,
        before: u32,
        after: u32,
    },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Created { path } | Change::Deleted { path } | Change::Modified { path } => path,
            Change::Permissions { path, .. } => path,
        }
    }
}

/// What changed from `before` to `after`, by path. A move shows as a deletion and a creation
/// of the same content (the caller can pair them by object).
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for (path, b) in &before.entries {
        match after.entries.get(path) {
            None => out.push(Change::Deleted { path: path.clone() }),
            Some(a) if a.kind != b.kind => out.push(Change::Modified { path: path.clone() }),
            Some(a) if (a.mode, a.uid, a.gid, &a.xattrs) != (b.mode, b.uid, b.gid, &b.xattrs) => {
                out.push(Change::Permissions {
                    path: path.clone(),
                    before: b.mode,
                    after: a.mode,
                })
            }
            Some(_) => {}
        }
    }
    for path in after.entries.keys() {
        if !before.entries.contains_key(path) {
            out.push(Change::Created { path: path.clone() });
        }
    }
    out.sort_by(|a, b| a.path().cmp(b.path()));
    out
}
