//! The bundle on disk: a tar archive (zstd-compressed when its name ends in `.zst`) of plain
//! files, and the manifest that lists them.
//!
//! ```text
//! README.txt                       how to check this bundle by hand
//! manifest.json                    every other file (custody excepted) with SHA-256 and size; the scope
//! manifest.sig                     C2SP signed note over manifest.json's SHA-256 (Ed25519, the ledger's key)
//! keys/ledger.vkey                 the ledger's verifier key (pin your own copy with --key)
//! ledger/checkpoint                the newest signed checkpoint; every proof leads to it
//! ledger/checkpoints/<size>        older signed checkpoints covering the scope
//! ledger/consistency/<size>        RFC 6962 consistency proof from <size> to the newest
//! ledger/events/<index>.json       each event's leaf, exactly the hashed bytes (RFC 8785 JSON)
//! ledger/proofs/<index>.tlog-proof C2SP tlog-proof of that event against ledger/checkpoint
//! payloads/<index>/<part>.salted   payload blob as stored: 16-byte salt ‖ content;
//!                                  SHA-256 of the file = the digest the leaf records
//! incident.json                    the incident (when exported by incident), notes not privileged
//! sessions/<session>.json          readable: prompts, tool calls with arguments, results and
//!                                  decisions, model outputs, approvals, alerts
//! changes/<index>-<n>.json         each file change: path, action, what is known of before/after
//! changes/<index>-<n>.diff         unified diff when both sides are known
//! changes/<index>-<n>.pre|.post    pre-image and post-image when known
//! snapshots/<index>.json           policies, risk register, containment at detection
//! timeline/timeline.jsonl|.csv     Timesketch timeline; timeline/ocsf.json: OCSF 1.8
//! custody/<seq>.note               chain of custody: signed notes, each naming the one before
//! ```

use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::EvidenceError;

/// Format tag of manifests and signed texts of this version.
pub const FORMAT: &str = "brig-evidence/v1";
pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_SIG: &str = "manifest.sig";
pub const VKEY: &str = "keys/ledger.vkey";
pub const CHECKPOINT: &str = "ledger/checkpoint";
pub const CUSTODY_DIR: &str = "custody/";

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// A compressed bundle may unpack to at most this many times its size (or [`MIN_UNPACKED`],
/// whichever is more). Honest bundles (JSON, text, source files) unpack to a few times their
/// size; without a bound a 100 KB file of zstd'd zeros made the reader allocate 3 GB (found
/// by fuzzing `brig evidence verify`'s reader, `fuzz/`).
pub const MAX_UNPACK_RATIO: u64 = 100;
/// The least a compressed bundle may always unpack to.
pub const MIN_UNPACKED: u64 = 64 << 20;

/// One file of the bundle as the manifest lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
}

/// What an export covered.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<String>,
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// RFC 3339 bounds asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub sessions: Vec<String>,
    pub events: u64,
    /// Ledger indices of the first and last event in scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_index: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_index: Option<u64>,
    /// True when a session held more events than one export reads.
    #[serde(default)]
    pub cut: bool,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    /// RFC 3339, when the bundle was written.
    pub created: String,
    pub brig_version: String,
    /// The ledger's origin (checkpoint and key name).
    pub origin: String,
    pub scope: ScopeRecord,
    /// Size of the tree `ledger/checkpoint` signs.
    pub checkpoint_size: u64,
    /// What the bundle could not include, and why (erased payloads, no pre-image …).
    #[serde(default)]
    pub gaps: Vec<String>,
    /// Every file but the manifest, its signature and the custody log, by path.
    pub files: Vec<FileEntry>,
}

impl Manifest {
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }
}

/// Files listed in the manifest: everything but these.
pub fn is_unlisted(path: &str) -> bool {
    path == MANIFEST || path == MANIFEST_SIG || path.starts_with(CUSTODY_DIR)
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The text the manifest signature signs: format, origin, the manifest's SHA-256.
pub fn manifest_sig_text(origin: &str, manifest_sha256: &str) -> String {
    format!("{FORMAT} manifest\n{origin}\n{manifest_sha256}\n")
}

/// A bundle's files in memory, in archive order.
#[derive(Default)]
pub struct Files {
    pub entries: Vec<(String, Vec<u8>)>,
}

impl Files {
    pub fn add(&mut self, path: impl Into<String>, data: impl Into<Vec<u8>>) {
        self.entries.push((path.into(), data.into()));
    }

    pub fn get(&self, path: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, d)| d.as_slice())
    }

    /// Paths present more than once (a bundle must not have any).
    pub fn duplicates(&self) -> Vec<&str> {
        let mut seen = std::collections::HashSet::new();
        self.entries
            .iter()
            .filter(|(p, _)| !seen.insert(p.as_str()))
            .map(|(p, _)| p.as_str())
            .collect()
    }
}

/// Writes `files` as a tar archive at `path` (zstd when `compress`), atomically: to a
/// temporary file beside it, synced, then renamed, so a bundle that exists is complete.
pub fn write(path: &Path, files: &Files, compress: bool) -> Result<u64, EvidenceError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let io = |e: std::io::Error| EvidenceError::io(path, e);
    let tmp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io)?;
    // Locked while it is written, so that another export can tell it from a temporary
    // bundle a killed export left behind, which it removes.
    tmp.as_file().lock().map_err(io)?;
    remove_abandoned(dir);
    {
        let out = std::io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        if compress {
            let mut z = zstd::Encoder::new(out, 3).map_err(io)?;
            z.multithread(2).ok();
            let z = append_all(z, files).map_err(io)?;
            z.finish().map_err(io)?.flush().map_err(io)?;
        } else {
            append_all(out, files).map_err(io)?.flush().map_err(io)?;
        }
    }
    tmp.as_file().sync_all().map_err(io)?;
    let size = tmp.as_file().metadata().map_err(io)?.len();
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(size)
}

/// The name every temporary bundle starts with.
const TEMP_PREFIX: &str = ".brig-evidence-";

/// Removes the temporary bundles in `dir` that no export is writing (none holds its lock):
/// half-written archives an export killed with SIGKILL (or a power cut) left, which nothing
/// else would ever remove. Best effort: what cannot be read or removed is left.
fn remove_abandoned(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let p = e.path();
        if let Ok(f) = std::fs::File::open(&p) {
            if f.try_lock().is_ok() {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
}

fn append_all<W: Write>(w: W, files: &Files) -> std::io::Result<W> {
    let mut tar = tar::Builder::new(w);
    tar.mode(tar::HeaderMode::Deterministic);
    for (p, d) in &files.entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut h, p, d.as_slice())?;
    }
    tar.into_inner()
}

/// Reads every file of a bundle (plain or zstd tar). Anything but regular files, and paths
/// that are absolute or climb out (`..`), are refused: a bundle is evidence, not an installer.
pub fn read(path: &Path) -> Result<Files, EvidenceError> {
    let mut files = Files::default();
    read_each(path, |name, data| files.entries.push((name, data)))?;
    Ok(files)
}

/// [`read`], handing each file to `f` as soon as it is read (so that hashing can overlap
/// reading).
pub fn read_each(path: &Path, f: impl FnMut(String, Vec<u8>)) -> Result<(), EvidenceError> {
    let io = |e: std::io::Error| EvidenceError::io(path, e);
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    read_stream(
        std::io::BufReader::with_capacity(1 << 20, file),
        size,
        path,
        f,
    )
}

/// Reads a bundle (plain or zstd tar) held in memory; `name` names it in errors. The same
/// reader as [`read`]: it exists for the fuzz targets (`fuzz/`) and tests, which feed bytes.
pub fn read_bytes(bytes: &[u8], name: &Path) -> Result<Files, EvidenceError> {
    let mut files = Files::default();
    let size = bytes.len() as u64;
    read_stream(bytes, size, name, |n, d| files.entries.push((n, d)))?;
    Ok(files)
}

fn read_stream(
    mut r: impl Read,
    size: u64,
    path: &Path,
    f: impl FnMut(String, Vec<u8>),
) -> Result<(), EvidenceError> {
    let io = |e: std::io::Error| EvidenceError::io(path, e);
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut r, &mut magic).map_err(io)?;
    let head = std::io::Cursor::new(magic[..n].to_vec());
    let stream = head.chain(r);
    if n == 4 && magic == ZSTD_MAGIC {
        let limit = size.saturating_mul(MAX_UNPACK_RATIO).max(MIN_UNPACKED);
        let z = zstd::Decoder::new(stream).map_err(io)?;
        read_tar(
            Bounded {
                inner: z,
                left: limit,
                limit,
            },
            path,
            f,
        )
    } else {
        read_tar(stream, path, f)
    }
}

/// A decompressed stream that fails once it has produced more than `limit` bytes.
struct Bounded<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| {
            std::io::Error::other(format!(
                "the bundle unpacks to more than {} bytes ({MAX_UNPACK_RATIO} times its \
                 compressed size): refused as a decompression bomb",
                self.limit
            ))
        })?;
        Ok(n)
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn read_tar(
    r: impl Read,
    path: &Path,
    mut f: impl FnMut(String, Vec<u8>),
) -> Result<(), EvidenceError> {
    let bad = |what: String| EvidenceError::Bundle {
        path: path.display().to_string(),
        what,
    };
    let mut any = false;
    let mut ar = tar::Archive::new(r);
    let entries = ar
        .entries()
        .map_err(|e| bad(format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("damaged archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("an entry's name is unreadable: {e}")))?
            .to_string_lossy()
            .into_owned();
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(bad(format!("{name}: not a regular file")));
        }
        if !safe_path(&name) {
            return Err(bad(format!("{name}: not a plain relative path")));
        }
        // The header's size is the archive's claim, not a fact: reserve at most 16 MiB up
        // front so that a hostile header cannot make the reader allocate terabytes.
        let mut data = Vec::with_capacity(entry.size().min(16 << 20) as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(format!("{name}: cannot be read: {e}")))?;
        any = true;
        f(name, data);
    }
    if !any {
        return Err(bad("the archive holds no files".into()));
    }
    Ok(())
}

fn safe_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != ".." && c != ".")
}

/// A name usable as one path component: kept when it is plain, else hex-encoded.
pub fn component(name: &str) -> String {
    let plain = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && !name.starts_with("x-")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if plain {
        name.to_string()
    } else {
        format!("x-{}", hex::encode(name.as_bytes()))
    }
}
