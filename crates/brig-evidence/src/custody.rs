//! The chain of custody: who held the evidence, when, where, doing what.
//!
//! Each entry is a file `custody/<seq>.note`, a C2SP signed note whose text is
//!
//! ```text
//! brig-evidence/v1 custody
//! {"action":"exported","at":"…","by":"…",…,"prev_sha256":"…","vkey":"…"}
//! ```
//!
//! (the entry as RFC 8785 JSON on one line), signed with the key its `vkey` names. Entry 0 is
//! the export, signed with the ledger's key, the same that signs the manifest. Every later
//! entry (`brig evidence custody add`) names the SHA-256 of the file before it and of the
//! manifest, so an entry cannot be edited, reordered or dropped from the middle without the
//! chain saying where. Dropping entries from the end cannot be seen from the bundle alone:
//! each holder keeps the hash of the entry they signed.

use brig_ledger::note::{open_note, NoteSigner, NoteVerifier};
use serde::{Deserialize, Serialize};

use crate::bundle::{sha256_hex, Files, CUSTODY_DIR, FORMAT};
use crate::EvidenceError;

/// One hand-off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    /// `exported`, `transferred`, `received`, `stored`, `examined`, …
    pub action: String,
    /// Who (person or system).
    pub by: String,
    pub host: String,
    /// RFC 3339.
    pub at: String,
    pub brig_version: String,
    pub manifest_sha256: String,
    /// SHA-256 of the previous entry's file; absent for the export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The signer's verifier key.
    pub vkey: String,
}

/// A verified entry, with the file it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Checked {
    pub file: String,
    pub entry: Entry,
    pub key_id: String,
}

fn header() -> String {
    format!("{FORMAT} custody")
}

pub fn file_name(seq: u64) -> String {
    format!("{CUSTODY_DIR}{seq:06}.note")
}

/// This machine's name, for the record.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Signs `entry` as a custody note.
pub fn sign(entry: &Entry, signer: &NoteSigner) -> Result<Vec<u8>, EvidenceError> {
    let json = serde_json_canonical(entry)?;
    let text = format!("{}\n{json}\n", header());
    Ok(signer
        .sign(&text)
        .map_err(|e| EvidenceError::Key(e.to_string()))?
        .into_bytes())
}

fn serde_json_canonical(entry: &Entry) -> Result<String, EvidenceError> {
    let bytes = brig_model::canonical_json(entry)
        .map_err(|e| EvidenceError::Key(format!("custody entry: {e}")))?;
    Ok(String::from_utf8(bytes).expect("canonical JSON is UTF-8"))
}

/// The custody files of a bundle in order.
pub fn files(files: &Files) -> Vec<(&str, &[u8])> {
    let mut v: Vec<(&str, &[u8])> = files
        .entries
        .iter()
        .filter(|(p, _)| p.starts_with(CUSTODY_DIR))
        .map(|(p, d)| (p.as_str(), d.as_slice()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// Checks the whole chain: entry 0 is the export signed by `bundle_key`; every entry is in
/// its place, signed by the key it names, bound to the manifest and to the entry before.
/// Returns the entries that hold, and a problem for each that does not.
pub fn check(
    files: &Files,
    bundle_key: &NoteVerifier,
    manifest_sha256: &str,
) -> (Vec<Checked>, Vec<(String, String)>) {
    let mut ok = Vec::new();
    let mut problems = Vec::new();
    let mut prev: Option<String> = None;
    let list = self::files(files);
    if list.is_empty() {
        problems.push(("custody".into(), "the custody log is missing".into()));
    }
    for (i, (path, data)) in list.into_iter().enumerate() {
        match check_one(i as u64, path, data, bundle_key, manifest_sha256, &prev) {
            Ok(c) => ok.push(c),
            Err(why) => problems.push((path.to_string(), why)),
        }
        prev = Some(sha256_hex(data));
    }
    (ok, problems)
}

fn check_one(
    seq: u64,
    path: &str,
    data: &[u8],
    bundle_key: &NoteVerifier,
    manifest_sha256: &str,
    prev: &Option<String>,
) -> Result<Checked, String> {
    if path != file_name(seq) {
        return Err(format!(
            "out of place: entry {seq} should be {}",
            file_name(seq)
        ));
    }
    let entry = parse(data)?;
    let key = NoteVerifier::from_vkey(&entry.vkey).map_err(|e| format!("its key: {e}"))?;
    if seq == 0 && key.to_vkey() != bundle_key.to_vkey() {
        return Err("the export entry is not signed by the bundle's key".into());
    }
    open_note(data, std::slice::from_ref(&key))
        .map_err(|e| format!("signature does not verify with the key it names: {e}"))?;
    if entry.seq != seq {
        return Err(format!(
            "says it is entry {}, but is entry {seq}",
            entry.seq
        ));
    }
    if entry.manifest_sha256 != manifest_sha256 {
        return Err("names another manifest than this bundle's".into());
    }
    if entry.prev_sha256 != *prev {
        return Err(match prev {
            None => "the export entry names a previous entry".into(),
            Some(_) => "does not name the entry before it (the chain is broken)".into(),
        });
    }
    Ok(Checked {
        file: path.to_string(),
        key_id: format!("{} {:08x}", key.name(), key.key_id()),
        entry,
    })
}

/// Reads an entry out of its note (signature not checked here).
pub fn parse(data: &[u8]) -> Result<Entry, String> {
    let note =
        brig_ledger::note::parse_note(data).map_err(|e| format!("not a signed note: {e}"))?;
    let body = note
        .text
        .strip_prefix(&format!("{}\n", header()))
        .ok_or("not a custody entry (wrong first line)")?;
    let json = body.strip_suffix('\n').unwrap_or(body);
    serde_json::from_str(json).map_err(|e| format!("unreadable entry: {e}"))
}

/// Appends a hand-off to the chain of `files`.
pub fn append(
    files: &mut Files,
    action: &str,
    by: &str,
    note: Option<String>,
    signer: &NoteSigner,
    manifest_sha256: &str,
) -> Result<Entry, EvidenceError> {
    let list = self::files(files);
    let prev = list.last().map(|(_, d)| sha256_hex(d));
    let entry = Entry {
        seq: list.len() as u64,
        action: action.to_string(),
        by: by.to_string(),
        host: host_name(),
        at: brig_model::Timestamp::now().to_string(),
        brig_version: env!("CARGO_PKG_VERSION").to_string(),
        manifest_sha256: manifest_sha256.to_string(),
        prev_sha256: prev,
        note,
        vkey: signer.verifier().to_vkey(),
    };
    let data = sign(&entry, signer)?;
    files.add(file_name(entry.seq), data);
    Ok(entry)
}
