//! The object store: file contents kept by their BLAKE3 hash, zstd-compressed, each stored
//! once however many snapshots name it.
//!
//! Layout: `objects/<first two hex digits>/<remaining 62>`; each object is the zstd frame of
//! the content. Writes go to a temporary file in the same directory, are synced, then renamed,
//! so an object that exists is complete; reads re-hash the content, so an object altered or
//! damaged on disk is reported rather than restored.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::RollbackError;

/// A content address: the BLAKE3 hash of the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    pub fn of(content: &[u8]) -> Self {
        ObjectId(*blake3::hash(content).as_bytes())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).ok()?;
        Some(ObjectId(b))
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for ObjectId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        ObjectId::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("not a 64-digit hex BLAKE3 hash"))
    }
}

/// The store under a directory.
#[derive(Clone, Debug)]
pub struct Objects {
    root: PathBuf,
}

/// zstd level: fast enough to sit in front of a tool call, still a good ratio on text.
const LEVEL: i32 = 3;

impl Objects {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: &Path) -> Result<Self, RollbackError> {
        std::fs::create_dir_all(root).map_err(|e| RollbackError::io(root, e))?;
        Ok(Objects {
            root: root.to_path_buf(),
        })
    }

    fn path_of(&self, id: &ObjectId) -> PathBuf {
        let h = id.to_hex();
        self.root.join(&h[..2]).join(&h[2..])
    }

    pub fn contains(&self, id: &ObjectId) -> bool {
        self.path_of(id).is_file()
    }

    /// Stores `content` durably; returns its address and whether it was new (false: already
    /// held).
    pub fn put(&self, content: &[u8]) -> Result<(ObjectId, bool), RollbackError> {
        self.put_with(content, true)
    }

    /// [`Objects::put`] without waiting for the disk: for many objects at once, followed by
    /// one [`Objects::sync`] (one file-system sync instead of one per object).
    pub fn put_unsynced(&self, content: &[u8]) -> Result<(ObjectId, bool), RollbackError> {
        self.put_with(content, false)
    }

    /// Makes every object written so far durable: one `syncfs` of the store's file system.
    // The one call outside safe Rust in Brig: std has no syncfs, and one file-system sync
    // for a whole snapshot is what keeps snapshots of large workspaces affordable.
    #[allow(unsafe_code)]
    pub fn sync(&self) -> Result<(), RollbackError> {
        use std::os::fd::AsRawFd;
        let dir = std::fs::File::open(&self.root).map_err(|e| RollbackError::io(&self.root, e))?;
        // SAFETY: syncfs takes an open file descriptor, which `dir` keeps alive for the call.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(RollbackError::io(
                &self.root,
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }

    fn put_with(&self, content: &[u8], durable: bool) -> Result<(ObjectId, bool), RollbackError> {
        let id = ObjectId::of(content);
        let path = self.path_of(&id);
        if path.is_file() {
            return Ok((id, false));
        }
        let dir = path.parent().expect("objects have a parent directory");
        std::fs::create_dir_all(dir).map_err(|e| RollbackError::io(dir, e))?;
        let compressed =
            zstd::bulk::compress(content, LEVEL).map_err(|e| RollbackError::io(&path, e))?;
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(dir)
            .map_err(|e| RollbackError::io(dir, e))?;
        tmp.write_all(&compressed)
            .map_err(|e| RollbackError::io(&path, e))?;
        if durable {
            tmp.as_file()
                .sync_all()
                .map_err(|e| RollbackError::io(&path, e))?;
        }
        tmp.persist(&path)
            .map_err(|e| RollbackError::io(&path, e.error))?;
        Ok((id, true))
    }

    /// The content at `id`, checked against its address.
    pub fn get(&self, id: &ObjectId) -> Result<Vec<u8>, RollbackError> {
        let path = self.path_of(id);
        let compressed = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RollbackError::MissingObject(id.to_hex()),
            _ => RollbackError::io(&path, e),
        })?;
        let content = zstd::stream::decode_all(compressed.as_slice())
            .map_err(|_| RollbackError::DamagedObject(id.to_hex()))?;
        if ObjectId::of(&content) != *id {
            return Err(RollbackError::DamagedObject(id.to_hex()));
        }
        Ok(content)
    }
}
