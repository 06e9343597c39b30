//! The hunt for stealth copies: where did an agent put the data it should not have kept?
//!
//! An agent that copied protected data (or its own weights, or itself) "somewhere safe"
//! rarely keeps the name: it renames, hides the copy in a dot-directory, or packs it into an
//! archive. File names lie; content does not. So [`copies`] compares *content*:
//!
//! 1. **Size prefilter.** Two files with different sizes cannot be equal, and a size comes
//!    free with the directory walk. Almost every scanned file is rejected here unread.
//! 2. **Partial hash.** For the few files left, BLAKE3 of the first and last 4 KiB. Files of
//!    one size often share a header (a format's magic, a template) — the tail catches those
//!    that differ at the end, for the price of two small reads.
//! 3. **Full hash.** Only a file whose size *and* partial hash match a protected file is read
//!    whole. A match is reported only when the full BLAKE3 hashes are equal, so a file that
//!    differs only in its middle is never reported.
//!
//! Steps 2 and 3 run on every core ([`rayon`]). This is the approach of duplicate finders such
//! as `fclones`, narrowed to one question: not "which files are duplicates of each other" but
//! "which files duplicate *these*".
//!
//! Archives are looked into as well (`.tar`, `.tar.gz`/`.tgz`, `.gz`, `.zip`): their members
//! are streamed, compared by size first (the header tells it) and hashed only when the size
//! fits. To stay bounded, members larger than [`Options::max_member_bytes`] are not read, and
//! archives inside archives are not opened (one level); both are counted in
//! [`Skipped`], so a report says what it did *not* look at.
//!
//! [`persistence`] answers the other half of the question: did the agent arrange to come
//! back? It lists what changed since a moment in the places programs are started from without
//! being asked — crontabs, systemd units, shell start-up files, SSH authorized keys and git
//! hooks.
//!
//! Symlinks are never followed (a link is not a copy, and following links can loop or leave
//! the scanned tree). Files that cannot be read are skipped and counted, never fatal: a hunt
//! over a whole disk must finish.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::RollbackError;

/// Bytes read from each end of a file for the partial hash.
pub const EDGE: u64 = 4096;

/// What a hunt may cost.
#[derive(Clone, Debug)]
pub struct Options {
    /// Look inside `.tar`, `.tar.gz`/`.tgz`, `.gz` and `.zip` files.
    pub archives: bool,
    /// Archive members larger than this (uncompressed) are not read (counted as skipped).
    pub max_member_bytes: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            archives: true,
            max_member_bytes: 1 << 30,
        }
    }
}

/// Told how far a hunt has got (the command line draws a progress bar with it).
pub trait Progress: Sync {
    /// A phase begins; `total` is the number of bytes it will read, when known.
    fn phase(&self, _name: &'static str, _total: Option<u64>) {}
    /// `n` more bytes (or, in the walk, files) were handled.
    fn advance(&self, _n: u64) {}
}

/// No progress reporting.
impl Progress for () {}

/// One stealth copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Match {
    /// The file holding the copy (the archive, for a copy inside one).
    pub path: PathBuf,
    /// The member inside the archive, if the copy is in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The protected file whose content this is.
    pub protected: PathBuf,
    pub size: u64,
    /// BLAKE3 of the content.
    pub blake3: String,
    /// Owner, permission bits and modification time of `path` on disk (for a member: of the
    /// archive, which is what the agent wrote).
    pub uid: u32,
    pub mode: u32,
    pub mtime: String,
    pub mtime_ns: i64,
    /// Its file name differs from the protected file's.
    pub renamed: bool,
    /// It is the protected file itself under another name (a hard link, same inode).
    pub hardlink: bool,
}

/// What a hunt did not look at, and why.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Files and directories that could not be read.
    pub unreadable: usize,
    /// Archives that could not be parsed (damaged, truncated, or not what the name says).
    pub bad_archives: usize,
    /// Archive members larger than [`Options::max_member_bytes`].
    pub members_too_large: usize,
    /// Archives inside archives (not opened: nesting is limited to one level).
    pub nested_archives: usize,
    /// Members that could not be read (encrypted, unsupported compression, damaged).
    pub unreadable_members: usize,
    /// Empty protected files (every empty file would be their "copy").
    pub empty_protected: usize,
}

/// The result of [`copies`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Sorted by path, member, then protected file.
    pub matches: Vec<Match>,
    pub protected_files: usize,
    /// Regular files met under the scan roots (the protected files excepted).
    pub files_scanned: usize,
    pub archives_scanned: usize,
    pub members_scanned: usize,
    /// Bytes read to hash (protected files included).
    pub bytes_hashed: u64,
    pub skipped: Skipped,
}

/// A protected file, as the scan compares against it.
struct Target {
    path: PathBuf,
    name: Option<std::ffi::OsString>,
    dev_ino: (u64, u64),
    size: u64,
    partial: blake3::Hash,
    full: blake3::Hash,
}

/// Protected files by size.
type Targets = HashMap<u64, Vec<Target>>;

/// Counters shared by the parallel workers.
#[derive(Default)]
struct Counters {
    bytes_hashed: AtomicU64,
    unreadable: AtomicUsize,
    bad_archives: AtomicUsize,
    members_too_large: AtomicUsize,
    nested_archives: AtomicUsize,
    unreadable_members: AtomicUsize,
    members_scanned: AtomicUsize,
}

impl Counters {
    fn add(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Every file under `scan` whose content equals a file under `protected` (files or
/// directories), and every such member of an archive under `scan`.
pub fn copies(
    protected: &[PathBuf],
    scan: &[PathBuf],
    opts: &Options,
) -> Result<Report, RollbackError> {
    copies_with(protected, scan, opts, &())
}

/// [`copies`], telling `progress` how far it has got.
pub fn copies_with(
    protected: &[PathBuf],
    scan: &[PathBuf],
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Report, RollbackError> {
    let counters = Counters::default();
    let (targets, protected_paths, empty) = load_targets(protected, &counters)?;
    let mut report = Report {
        protected_files: protected_paths.len(),
        ..Report::default()
    };
    report.skipped.empty_protected = empty;

    progress.phase("walking", None);
    let mut walked = Walked::default();
    for root in scan {
        let root = std::fs::canonicalize(root).map_err(|e| RollbackError::io(root, e))?;
        walk_scan(&root, &protected_paths, &mut walked, progress);
    }
    report.files_scanned = walked.files;
    counters
        .unreadable
        .fetch_add(walked.unreadable, Ordering::Relaxed);

    // Only files whose size is a protected size are read at all.
    let candidates: Vec<(PathBuf, Metadata)> = walked
        .files_found
        .into_iter()
        .filter(|(_, md)| targets.contains_key(&md.len()))
        .collect();
    let candidate_bytes = candidates.iter().map(|(_, md)| md.len()).sum();
    progress.phase("hashing", Some(candidate_bytes));
    let mut matches: Vec<Match> = candidates
        .par_iter()
        .flat_map_iter(|(path, md)| {
            let found = match_file(path, md, &targets, &counters);
            progress.advance(md.len());
            found
        })
        .collect();

    if opts.archives {
        let archive_bytes = walked.archives.iter().map(|(_, md)| md.len()).sum();
        progress.phase("archives", Some(archive_bytes));
        report.archives_scanned = walked.archives.len();
        matches.extend(
            walked
                .archives
                .par_iter()
                .flat_map_iter(|(path, md)| {
                    let found = match_archive(path, md, &targets, opts, &counters);
                    progress.advance(md.len());
                    found
                })
                .collect::<Vec<_>>(),
        );
    }

    matches.sort_by(|a, b| {
        (&a.path, &a.member, &a.protected).cmp(&(&b.path, &b.member, &b.protected))
    });
    report.matches = matches;
    fill_counters(&mut report, &counters);
    Ok(report)
}

fn fill_counters(report: &mut Report, c: &Counters) {
    report.bytes_hashed = c.bytes_hashed.load(Ordering::Relaxed);
    report.members_scanned = c.members_scanned.load(Ordering::Relaxed);
    let s = &mut report.skipped;
    s.unreadable = c.unreadable.load(Ordering::Relaxed);
    s.bad_archives = c.bad_archives.load(Ordering::Relaxed);
    s.members_too_large = c.members_too_large.load(Ordering::Relaxed);
    s.nested_archives = c.nested_archives.load(Ordering::Relaxed);
    s.unreadable_members = c.unreadable_members.load(Ordering::Relaxed);
}

/// The protected files, hashed (partially and fully), grouped by size; their canonical paths
/// (so the scan skips them); and how many were empty.
fn load_targets(
    protected: &[PathBuf],
    counters: &Counters,
) -> Result<(Targets, HashSet<PathBuf>, usize), RollbackError> {
    let mut files = Vec::new();
    for p in protected {
        let p = std::fs::canonicalize(p).map_err(|e| RollbackError::io(p, e))?;
        collect_protected(&p, &mut files)?;
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    let paths: HashSet<PathBuf> = files.iter().map(|(p, _)| p.clone()).collect();
    let empty = files.iter().filter(|(_, md)| md.len() == 0).count();
    // The protected files must be read: failing to is an error, not a skip.
    let hashed: Vec<Result<(u64, Target), RollbackError>> = files
        .into_par_iter()
        .filter(|(_, md)| md.len() > 0)
        .map(|(path, md)| {
            let partial =
                partial_hash(&path, md.len(), counters).map_err(|e| RollbackError::io(&path, e))?;
            let full = full_hash(&path, md.len(), partial, counters)
                .map_err(|e| RollbackError::io(&path, e))?;
            Ok((
                md.len(),
                Target {
                    name: path.file_name().map(|n| n.to_os_string()),
                    dev_ino: (md.dev(), md.ino()),
                    size: md.len(),
                    path,
                    partial,
                    full,
                },
            ))
        })
        .collect();
    let mut targets: Targets = HashMap::new();
    for t in hashed {
        let (size, t) = t?;
        targets.entry(size).or_default().push(t);
    }
    Ok((targets, paths, empty))
}

/// Regular files at or under `path` (a protected path must be readable: errors are fatal).
fn collect_protected(path: &Path, out: &mut Vec<(PathBuf, Metadata)>) -> Result<(), RollbackError> {
    let md = std::fs::symlink_metadata(path).map_err(|e| RollbackError::io(path, e))?;
    if md.is_file() {
        out.push((path.to_path_buf(), md));
    } else if md.is_dir() {
        let rd = std::fs::read_dir(path).map_err(|e| RollbackError::io(path, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| RollbackError::io(path, e))?;
            collect_protected(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// What the walk of the scan roots found.
#[derive(Default)]
struct Walked {
    files: usize,
    unreadable: usize,
    files_found: Vec<(PathBuf, Metadata)>,
    archives: Vec<(PathBuf, Metadata)>,
}

/// Kernel file systems whose "files" are not data an agent could have written to disk.
const VIRTUAL: [&str; 3] = ["/proc", "/sys", "/dev"];

fn walk_scan(dir: &Path, protected: &HashSet<PathBuf>, out: &mut Walked, progress: &dyn Progress) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        out.unreadable += 1;
        return;
    };
    let mut entries: Vec<_> = rd.filter_map(Result::ok).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        // symlink_metadata: a symlink is reported as a symlink, never followed.
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            out.unreadable += 1;
            continue;
        };
        if md.is_dir() {
            if !VIRTUAL.iter().any(|v| path == Path::new(v)) {
                walk_scan(&path, protected, out, progress);
            }
        } else if md.is_file() && !protected.contains(&path) {
            out.files += 1;
            progress.advance(1);
            if archive_kind(&path).is_some() {
                out.archives.push((path.clone(), md.clone()));
            }
            out.files_found.push((path, md));
        }
    }
}

/// The protected files `path` copies (usually none), by size, then partial, then full hash.
fn match_file(path: &Path, md: &Metadata, targets: &Targets, c: &Counters) -> Vec<Match> {
    let Some(same_size) = targets.get(&md.len()) else {
        return Vec::new();
    };
    let Ok(partial) = partial_hash(path, md.len(), c) else {
        Counters::add(&c.unreadable);
        return Vec::new();
    };
    if !same_size.iter().any(|t| t.partial == partial) {
        return Vec::new();
    }
    let Ok(full) = full_hash(path, md.len(), partial, c) else {
        Counters::add(&c.unreadable);
        return Vec::new();
    };
    same_size
        .iter()
        .filter(|t| t.full == full)
        .map(|t| Match {
            hardlink: t.dev_ino == (md.dev(), md.ino()),
            ..new_match(path, None, md, t)
        })
        .collect()
}

fn new_match(path: &Path, member: Option<&str>, md: &Metadata, t: &Target) -> Match {
    let name = match member {
        Some(m) => Path::new(m).file_name().map(|n| n.to_os_string()),
        None => path.file_name().map(|n| n.to_os_string()),
    };
    let mtime_ns = md.mtime().saturating_mul(1_000_000_000) + md.mtime_nsec();
    Match {
        path: path.to_path_buf(),
        member: member.map(str::to_string),
        protected: t.path.clone(),
        // The content's size (for a member, not the archive's).
        size: t.size,
        blake3: t.full.to_hex().to_string(),
        uid: md.uid(),
        mode: md.mode(),
        mtime: rfc3339(mtime_ns),
        mtime_ns,
        renamed: name != t.name,
        hardlink: false,
    }
}

/// A time in ns since the epoch as RFC 3339 (UTC, nanoseconds).
pub fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// BLAKE3 of the first and last [`EDGE`] bytes (of the whole file when it is that small, so
/// that for small files the partial hash *is* the full hash).
fn partial_hash(path: &Path, size: u64, c: &Counters) -> std::io::Result<blake3::Hash> {
    let mut f = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    if size <= 2 * EDGE {
        let mut buf = Vec::with_capacity(size as usize);
        f.read_to_end(&mut buf)?;
        if buf.len() as u64 != size {
            return Err(changed_under_us());
        }
        hasher.update(&buf);
    } else {
        let mut buf = vec![0u8; EDGE as usize];
        f.read_exact(&mut buf)?;
        hasher.update(&buf);
        f.seek(SeekFrom::Start(size - EDGE))?;
        f.read_exact(&mut buf)?;
        hasher.update(&buf);
    }
    c.bytes_hashed
        .fetch_add(size.min(2 * EDGE), Ordering::Relaxed);
    Ok(hasher.finalize())
}

/// BLAKE3 of the whole file (no second read when the partial hash already covered it).
fn full_hash(
    path: &Path,
    size: u64,
    partial: blake3::Hash,
    c: &Counters,
) -> std::io::Result<blake3::Hash> {
    if size <= 2 * EDGE {
        return Ok(partial);
    }
    let (full, n) = hash_reader(&mut File::open(path)?)?;
    c.bytes_hashed.fetch_add(n, Ordering::Relaxed);
    // A file that grew or shrank while read is not a copy of anything (yet).
    if n != size {
        return Err(changed_under_us());
    }
    Ok(full)
}

/// BLAKE3 of everything `r` yields, and how many bytes that was.
fn hash_reader(r: &mut dyn Read) -> std::io::Result<(blake3::Hash, u64)> {
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok((hasher.finalize(), total)),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn changed_under_us() -> std::io::Error {
    std::io::Error::other("file changed size while being read")
}

/// How an archive is read, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ArchiveKind {
    Tar,
    TarGz,
    Gz,
    Zip,
}

fn archive_kind(path: &Path) -> Option<ArchiveKind> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Some(ArchiveKind::TarGz)
    } else if name.ends_with(".tar") {
        Some(ArchiveKind::Tar)
    } else if name.ends_with(".gz") {
        Some(ArchiveKind::Gz)
    } else if name.ends_with(".zip") {
        Some(ArchiveKind::Zip)
    } else {
        None
    }
}

/// The copies inside one archive. A damaged archive is counted, not fatal.
fn match_archive(
    path: &Path,
    md: &Metadata,
    targets: &Targets,
    opts: &Options,
    c: &Counters,
) -> Vec<Match> {
    let Ok(file) = File::open(path) else {
        Counters::add(&c.unreadable);
        return Vec::new();
    };
    let reader = BufReader::with_capacity(1 << 16, file);
    let mut found = Vec::new();
    let mut on_member = |name: &str, size: Option<u64>, content: &mut dyn Read| {
        member(name, size, content, targets, opts, c).map(|t| {
            for t in t {
                found.push(new_match(path, Some(name), md, t));
            }
        })
    };
    let ok = match archive_kind(path) {
        Some(ArchiveKind::Tar) => read_tar(reader, &mut on_member),
        Some(ArchiveKind::TarGz) => {
            read_tar(flate2::read::MultiGzDecoder::new(reader), &mut on_member)
        }
        Some(ArchiveKind::Gz) => read_gz(path, reader, &mut on_member),
        Some(ArchiveKind::Zip) => read_zip(reader, c, &mut on_member),
        None => Ok(()),
    };
    if ok.is_err() {
        Counters::add(&c.bad_archives);
    }
    // The members are reported in the order the archive holds them; the caller sorts.
    let mut seen = BTreeSet::new();
    found.retain(|m| seen.insert((m.member.clone(), m.protected.clone())));
    found
}

/// Called for each member: its name, its size when the header tells it, and its content.
/// Returns an error only when the archive itself cannot be read further.
type OnMember<'a> = dyn FnMut(&str, Option<u64>, &mut dyn Read) -> std::io::Result<()> + 'a;

/// Compares one member with the targets: size first, then the full hash, bounded.
fn member<'t>(
    name: &str,
    size: Option<u64>,
    content: &mut dyn Read,
    targets: &'t Targets,
    opts: &Options,
    c: &Counters,
) -> std::io::Result<Vec<&'t Target>> {
    c.members_scanned.fetch_add(1, Ordering::Relaxed);
    if archive_kind(Path::new(name)).is_some() {
        // Nesting is limited to one level; a nested archive can still *be* a copy below.
        Counters::add(&c.nested_archives);
    }
    if let Some(size) = size {
        if size > opts.max_member_bytes {
            Counters::add(&c.members_too_large);
            return Ok(Vec::new());
        }
        if !targets.contains_key(&size) {
            return Ok(Vec::new());
        }
    }
    // One byte past the limit tells "too large" from "exactly the limit".
    let hashed = hash_reader(&mut content.take(opts.max_member_bytes.saturating_add(1)));
    let Ok((full, read)) = hashed else {
        Counters::add(&c.unreadable_members);
        return Ok(Vec::new());
    };
    c.bytes_hashed.fetch_add(read, Ordering::Relaxed);
    if read > opts.max_member_bytes {
        Counters::add(&c.members_too_large);
        return Ok(Vec::new());
    }
    Ok(targets
        .get(&read)
        .map(|ts| ts.iter().filter(|t| t.full == full).collect())
        .unwrap_or_default())
}

fn read_tar(reader: impl Read, on_member: &mut OnMember) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry.path()?.to_string_lossy().into_owned();
        let size = entry.size();
        on_member(&name, Some(size), &mut entry)?;
    }
    Ok(())
}

/// A `.gz` holds one file, named as the archive without `.gz`; its size is known only once
/// it is decompressed (the trailer keeps it modulo 4 GiB only).
fn read_gz(path: &Path, reader: impl Read, on_member: &mut OnMember) -> std::io::Result<()> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut gz = flate2::read::MultiGzDecoder::new(reader);
    if gz.header().is_none() {
        return Err(std::io::Error::other("not gzip"));
    }
    on_member(&name, None, &mut gz)
}

fn read_zip(
    reader: impl Read + Seek,
    c: &Counters,
    on_member: &mut OnMember,
) -> std::io::Result<()> {
    let mut zip = zip::ZipArchive::new(reader).map_err(std::io::Error::other)?;
    for i in 0..zip.len() {
        let mut file = match zip.by_index(i) {
            Ok(f) => f,
            // Encrypted or an unsupported method: that member only.
            Err(zip::result::ZipError::UnsupportedArchive(_)) => {
                Counters::add(&c.unreadable_members);
                continue;
            }
            Err(e) => return Err(std::io::Error::other(e)),
        };
        if !file.is_file() {
            continue;
        }
        let name = file.name().map_err(std::io::Error::other)?.into_owned();
        let size = file.size();
        on_member(&name, Some(size), &mut file)?;
    }
    Ok(())
}

/// Where programs start from without being asked, as a persistence finding names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    Cron,
    Systemd,
    ShellRc,
    AuthorizedKeys,
    GitHook,
}

/// The file system a persistence hunt looks at. Paths such as `/etc/cron.d` are taken
/// relative to `root`, and `~/.bashrc` relative to each of `homes` — so a mounted image of a
/// suspect machine (or a test's temporary directory) can be hunted as well as the live one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Places {
    pub root: PathBuf,
    pub homes: Vec<PathBuf>,
}

impl Places {
    /// This machine: `/` and `$HOME`.
    pub fn system() -> Self {
        Places {
            root: PathBuf::from("/"),
            homes: std::env::var_os("HOME")
                .map(PathBuf::from)
                .into_iter()
                .collect(),
        }
    }
}

/// A file in a persistence place created or changed since the moment asked about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: PathBuf,
    pub place: Place,
    pub size: u64,
    pub uid: u32,
    pub mode: u32,
    pub mtime: String,
    pub mtime_ns: i64,
    /// Inode change time: moves with every write, chmod or rename, and — unlike the
    /// modification time — cannot be set back by `touch -d`.
    pub ctime_ns: i64,
    /// Created since the moment (birth time, where the file system keeps one); otherwise
    /// changed.
    pub created: bool,
    /// For a symlink (systemd enables units with them): where it points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<PathBuf>,
}

/// The result of [`persistence`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PersistenceReport {
    pub since_ns: i64,
    /// Sorted by path.
    pub findings: Vec<Finding>,
    /// Files (and symlinks) looked at in the persistence places.
    pub examined: usize,
    /// Directories or files that could not be read.
    pub unreadable: usize,
}

/// Persistence on this machine ([`Places::system`]): see [`persistence_in`].
pub fn persistence(scan: &[PathBuf], since_ns: i64) -> PersistenceReport {
    persistence_in(&Places::system(), scan, since_ns)
}

/// Files created or changed since `since_ns` in the persistence places of `places`, and git
/// hooks (not `*.sample`) under the `scan` roots.
///
/// "Changed" means a modification time *or* an inode change time at or after `since_ns`: an
/// agent can backdate the first, not the second.
pub fn persistence_in(places: &Places, scan: &[PathBuf], since_ns: i64) -> PersistenceReport {
    let mut report = PersistenceReport {
        since_ns,
        ..PersistenceReport::default()
    };
    let mut seen = Vec::new();
    for (path, place) in system_places(places, &mut report) {
        walk_place(&path, place, &mut seen, &mut report);
    }
    for root in scan {
        find_git_hooks(root, &mut seen, &mut report);
    }
    seen.sort_by(|a, b| a.path.cmp(&b.path));
    seen.dedup_by(|a, b| a.path == b.path);
    report.examined = seen.len();
    report.findings = seen
        .into_iter()
        .filter(|f| changed_since(f, since_ns))
        .collect();
    report
}

fn changed_since(f: &Finding, since_ns: i64) -> bool {
    f.mtime_ns >= since_ns || f.ctime_ns >= since_ns
}

/// The fixed persistence places under the root and the homes.
fn system_places(places: &Places, report: &mut PersistenceReport) -> Vec<(PathBuf, Place)> {
    let etc = places.root.join("etc");
    let mut out = Vec::new();
    // /etc/cron* — crontab, cron.d, cron.daily, …, anacrontab is not cron*: added by name.
    match std::fs::read_dir(&etc) {
        Ok(rd) => {
            for e in rd.filter_map(Result::ok) {
                if e.file_name().to_string_lossy().starts_with("cron") {
                    out.push((e.path(), Place::Cron));
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => report.unreadable += 1,
    }
    out.push((etc.join("anacrontab"), Place::Cron));
    out.push((places.root.join("var/spool/cron"), Place::Cron));
    out.push((etc.join("systemd/system"), Place::Systemd));
    out.push((etc.join("profile.d"), Place::ShellRc));
    out.push((etc.join("profile"), Place::ShellRc));
    out.push((etc.join("bash.bashrc"), Place::ShellRc));
    for home in &places.homes {
        out.push((home.join(".config/systemd/user"), Place::Systemd));
        for rc in [
            ".bashrc",
            ".bash_profile",
            ".bash_login",
            ".profile",
            ".zshrc",
            ".zprofile",
            ".zshenv",
        ] {
            out.push((home.join(rc), Place::ShellRc));
        }
        out.push((home.join(".ssh/authorized_keys"), Place::AuthorizedKeys));
        out.push((home.join(".ssh/authorized_keys2"), Place::AuthorizedKeys));
    }
    out
}

/// Every file or symlink at or under `path` (absent places are normal and silent).
fn walk_place(path: &Path, place: Place, out: &mut Vec<Finding>, report: &mut PersistenceReport) {
    let md = match std::fs::symlink_metadata(path) {
        Ok(md) => md,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => {
            report.unreadable += 1;
            return;
        }
    };
    if md.is_dir() {
        let Ok(rd) = std::fs::read_dir(path) else {
            report.unreadable += 1;
            return;
        };
        for e in rd.filter_map(Result::ok) {
            walk_place(&e.path(), place, out, report);
        }
    } else {
        out.push(finding(path, place, &md, report.since_ns));
    }
}

fn finding(path: &Path, place: Place, md: &Metadata, since_ns: i64) -> Finding {
    let mtime_ns = md.mtime().saturating_mul(1_000_000_000) + md.mtime_nsec();
    let ctime_ns = md.ctime().saturating_mul(1_000_000_000) + md.ctime_nsec();
    let born_ns = md
        .created()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64);
    Finding {
        path: path.to_path_buf(),
        place,
        size: md.len(),
        uid: md.uid(),
        mode: md.mode(),
        mtime: rfc3339(mtime_ns),
        mtime_ns,
        ctime_ns,
        created: born_ns.is_some_and(|b| b >= since_ns),
        target: md
            .file_type()
            .is_symlink()
            .then(|| std::fs::read_link(path).ok())
            .flatten(),
    }
}

/// Git hooks under `dir`: every `.git/hooks/*` not ending in `.sample` (git ships those
/// disabled; an agent's hook runs at the next commit, checkout or push).
fn find_git_hooks(dir: &Path, out: &mut Vec<Finding>, report: &mut PersistenceReport) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        report.unreadable += 1;
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let path = e.path();
        let Ok(ft) = e.file_type() else {
            report.unreadable += 1;
            continue;
        };
        if !ft.is_dir() {
            continue;
        }
        if e.file_name() == ".git" {
            git_hooks_of(&path.join("hooks"), out, report);
        } else if !VIRTUAL.iter().any(|v| path == Path::new(v)) {
            find_git_hooks(&path, out, report);
        }
    }
}

fn git_hooks_of(hooks: &Path, out: &mut Vec<Finding>, report: &mut PersistenceReport) {
    let Ok(rd) = std::fs::read_dir(hooks) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        if e.file_name().to_string_lossy().ends_with(".sample") {
            continue;
        }
        match std::fs::symlink_metadata(e.path()) {
            Ok(md) if !md.is_dir() => {
                out.push(finding(&e.path(), Place::GitHook, &md, report.since_ns))
            }
            Ok(_) => {}
            Err(_) => report.unreadable += 1,
        }
    }
}
