//! Checking a bundle offline: nothing but the bundle and, ideally, the ledger's verifier key
//! obtained out of band (`--key`). Without it the bundle's own `keys/ledger.vkey` is used,
//! which proves the bundle is self-consistent but not whose it is; the report says so.
//!
//! Checked, each failure naming its item:
//! 1. `manifest.sig` verifies with the key and signs this `manifest.json`;
//! 2. every listed file is present with its SHA-256 and size; no file is unlisted;
//! 3. `ledger/checkpoint` verifies with the key and is the one the manifest names;
//! 4. every event is canonical JSON, has its tlog-proof, and the proof leads from its leaf
//!    hash to the checkpoint's root; every payload matches the salted digest its event
//!    records; the number of events is the scope's; a payload left out is accounted for —
//!    withheld because its event records a secret in it (exported without
//!    `--include-secrets`), or erased with an erasure record in the bundle that names it
//!    (`brig ledger erase`, itself an event proven like the others);
//! 5. each older checkpoint verifies and is consistent with the newest;
//! 6. the custody chain holds ([`crate::custody::check`]).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use brig_ledger::checkpoint::{open_checkpoint, Checkpoint};
use brig_ledger::merkle::{leaf_hash, verify_consistency, verify_inclusion, Hash};
use brig_ledger::note::{open_note, NoteVerifier};
use brig_ledger::tlog_proof::TlogProof;
use brig_model::erasure::{self, Erasure};
use brig_model::Event;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::bundle::{self, component, Files, Manifest};
use crate::custody;
use crate::export::CONSISTENCY_HEADER;

/// One item that does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (or `bundle`, `scope`, `key`) it concerns.
    pub item: String,
    pub what: String,
}

/// Counts of what was checked and held.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub files: usize,
    pub events: usize,
    pub payloads: usize,
    pub checkpoints: usize,
    pub custody: usize,
}

/// The outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub ok: bool,
    /// `given` (--key) or `bundle` (the bundle's own key: self-consistency only).
    pub key_source: String,
    pub key: Option<String>,
    pub manifest: Option<Manifest>,
    pub checked: Counts,
    pub custody: Vec<custody::Checked>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    /// Payloads the exporter left out because they hold secrets; still bound by the digest
    /// in their proven event.
    pub withheld: Vec<Withheld>,
    /// Payloads erased from the ledger's store, each with the proven record that says so.
    pub erased: Vec<ErasedPayload>,
}

/// A payload left out of the bundle because it holds secrets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Withheld {
    pub event: u64,
    pub part: String,
    /// The kinds of secret its event records.
    pub kinds: Vec<String>,
}

/// A payload erased from the ledger's store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErasedPayload {
    pub event: u64,
    pub part: String,
    pub actor: String,
    pub reason: String,
    /// The ledger index of the erasure's record (in the bundle).
    pub record: u64,
}

struct Run {
    problems: Vec<Problem>,
    warnings: Vec<String>,
    counts: Counts,
    withheld: Vec<Withheld>,
    erased: Vec<ErasedPayload>,
}

impl Run {
    fn bad(&mut self, item: impl Into<String>, what: impl Into<String>) {
        self.problems.push(Problem {
            item: item.into(),
            what: what.into(),
        });
    }
}

/// Verifies the bundle at `path`.
pub fn verify_file(path: &Path, key: Option<&NoteVerifier>) -> Report {
    match read_hashed(path) {
        Ok((files, digests)) => verify_hashed(&files, &digests, key),
        Err(e) => Report {
            ok: false,
            key_source: if key.is_some() { "given" } else { "bundle" }.into(),
            key: key.map(NoteVerifier::to_vkey),
            manifest: None,
            checked: Counts::default(),
            custody: Vec::new(),
            problems: vec![Problem {
                item: "bundle".into(),
                what: e.to_string(),
            }],
            warnings: Vec::new(),
            withheld: Vec::new(),
            erased: Vec::new(),
        },
    }
}

/// Verifies a bundle already read.
pub fn verify(files: &Files, given: Option<&NoteVerifier>) -> Report {
    let digests = hash_all(files);
    verify_hashed(files, &digests, given)
}

/// Reads a bundle on one thread while hashing its files on another.
fn read_hashed(path: &Path) -> Result<(Files, Vec<Hash>), crate::EvidenceError> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(String, Vec<u8>)>(1024);
    std::thread::scope(|s| {
        let reader = s.spawn(move || bundle::read_each(path, |n, d| drop(tx.send((n, d)))));
        let mut files = Files::default();
        let mut digests = Vec::new();
        for (n, d) in rx {
            digests.push(Sha256::digest(&d).into());
            files.entries.push((n, d));
        }
        reader.join().expect("bundle reader panicked")?;
        Ok((files, digests))
    })
}

/// SHA-256 of every file, the work split over the machine's cores.
pub fn hash_all(files: &Files) -> Vec<Hash> {
    files
        .entries
        .par_iter()
        .with_min_len(256)
        .map(|(_, d)| Sha256::digest(d).into())
        .collect()
}

/// [`verify`] with the files' SHA-256 digests already computed (entry by entry).
pub fn verify_hashed(files: &Files, digests: &[Hash], given: Option<&NoteVerifier>) -> Report {
    let mut run = Run {
        problems: Vec::new(),
        warnings: Vec::new(),
        counts: Counts::default(),
        withheld: Vec::new(),
        erased: Vec::new(),
    };
    for d in files.duplicates() {
        run.bad(d, "present more than once in the archive");
    }
    let by_path = View::new(files, digests);
    let key = choose_key(&by_path, given, &mut run);
    let manifest = read_manifest(&by_path, &mut run);
    let manifest_sha = by_path.digest(bundle::MANIFEST).map(hex::encode);
    let mut custody_ok = Vec::new();
    if let Some(key) = &key {
        if let Some(sha) = &manifest_sha {
            check_manifest_sig(&by_path, key, sha, &mut run);
        }
        if let Some(m) = &manifest {
            check_listing(&by_path, m, &mut run);
        }
        if let Some(cp) = check_checkpoint(&by_path, key, manifest.as_ref(), &mut run) {
            check_events(&by_path, &cp, manifest.as_ref(), &mut run);
            check_older(&by_path, key, &cp, &mut run);
        }
        let (ok, bad) = custody::check(files, key, manifest_sha.as_deref().unwrap_or(""));
        run.counts.custody = ok.len();
        custody_ok = ok;
        for (item, what) in bad {
            run.bad(item, what);
        }
    }
    if let Some(m) = &manifest {
        for g in &m.gaps {
            run.warnings.push(format!("the exporter noted: {g}"));
        }
    }
    Report {
        ok: run.problems.is_empty(),
        key_source: if given.is_some() { "given" } else { "bundle" }.into(),
        key: key.as_ref().map(NoteVerifier::to_vkey),
        manifest,
        checked: run.counts,
        custody: custody_ok,
        problems: run.problems,
        warnings: run.warnings,
        withheld: run.withheld,
        erased: run.erased,
    }
}

/// The bundle's files by path, with the SHA-256 of each (computed once, on every core).
struct View<'a> {
    files: &'a Files,
    digests: &'a [Hash],
    index: BTreeMap<&'a str, usize>,
}

impl<'a> View<'a> {
    fn new(files: &'a Files, digests: &'a [Hash]) -> Self {
        let mut index = BTreeMap::new();
        for (i, (p, _)) in files.entries.iter().enumerate() {
            index.entry(p.as_str()).or_insert(i);
        }
        View {
            files,
            digests,
            index,
        }
    }

    fn get(&self, path: &str) -> Option<&'a [u8]> {
        self.index
            .get(path)
            .map(|&i| self.files.entries[i].1.as_slice())
    }

    fn digest(&self, path: &str) -> Option<&'a Hash> {
        self.index.get(path).map(|&i| &self.digests[i])
    }

    fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.index.keys().copied()
    }

    /// Files whose path starts with `prefix`, in path order.
    fn under(&self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a [u8])> + '_ {
        self.index
            .range(prefix..)
            .take_while(move |(p, _)| p.starts_with(prefix))
            .map(|(p, &i)| (*p, self.files.entries[i].1.as_slice()))
    }
}

fn choose_key(by_path: &View, given: Option<&NoteVerifier>, run: &mut Run) -> Option<NoteVerifier> {
    let inside = by_path
        .get(bundle::VKEY)
        .map(|b| String::from_utf8_lossy(b).trim().to_string());
    match (given, inside) {
        (Some(k), Some(v)) => {
            if v != k.to_vkey() {
                run.bad(
                    bundle::VKEY,
                    format!(
                        "the bundle names key {v}, not the key given ({})",
                        k.to_vkey()
                    ),
                );
            }
            Some(k.clone())
        }
        (Some(k), None) => Some(k.clone()),
        (None, Some(v)) => match NoteVerifier::from_vkey(&v) {
            Ok(k) => {
                run.warnings.push(format!(
                    "no --key given: checked with the bundle's own key {v}; this shows the bundle is intact, not whose ledger it came from. Pin the ledger's key with --key."
                ));
                Some(k)
            }
            Err(e) => {
                run.bad(bundle::VKEY, format!("not a verifier key: {e}"));
                None
            }
        },
        (None, None) => {
            run.bad(
                bundle::VKEY,
                "missing, and no --key given: nothing to verify signatures with",
            );
            None
        }
    }
}

fn read_manifest(by_path: &View, run: &mut Run) -> Option<Manifest> {
    let Some(bytes) = by_path.get(bundle::MANIFEST) else {
        run.bad(bundle::MANIFEST, "missing");
        return None;
    };
    match serde_json::from_slice::<Manifest>(bytes) {
        Ok(mut m) => {
            if m.format != bundle::FORMAT {
                run.bad(
                    bundle::MANIFEST,
                    format!("format {:?} is not {}", m.format, bundle::FORMAT),
                );
            }
            m.files.sort_by(|a, b| a.path.cmp(&b.path));
            Some(m)
        }
        Err(e) => {
            run.bad(bundle::MANIFEST, format!("unreadable: {e}"));
            None
        }
    }
}

fn check_manifest_sig(by_path: &View, key: &NoteVerifier, sha: &str, run: &mut Run) {
    let Some(sig) = by_path.get(bundle::MANIFEST_SIG) else {
        run.bad(bundle::MANIFEST_SIG, "missing: the manifest is not signed");
        return;
    };
    match open_note(sig, std::slice::from_ref(key)) {
        Ok(n) if n.text == bundle::manifest_sig_text(key.name(), sha) => {}
        Ok(_) => run.bad(
            bundle::MANIFEST,
            "altered: manifest.sig signs a manifest with another SHA-256",
        ),
        Err(e) => run.bad(
            bundle::MANIFEST_SIG,
            format!("does not verify with key {}: {e}", key.to_vkey()),
        ),
    }
}

fn check_listing(by_path: &View, m: &Manifest, run: &mut Run) {
    for f in &m.files {
        let (Some(d), Some(h)) = (by_path.get(&f.path), by_path.digest(&f.path)) else {
            run.bad(
                &f.path,
                "listed in the manifest but missing from the bundle",
            );
            continue;
        };
        let mut want = [0u8; 32];
        if d.len() as u64 != f.size {
            run.bad(
                &f.path,
                format!("size {} differs from the manifest's {}", d.len(), f.size),
            );
        } else if hex::decode_to_slice(&f.sha256, &mut want).is_err() || &want != h {
            run.bad(&f.path, "SHA-256 differs from the manifest's (altered)");
        } else {
            run.counts.files += 1;
        }
    }
    for p in by_path.keys() {
        if !bundle::is_unlisted(p) && m.file(p).is_none() {
            run.bad(p, "not listed in the manifest (added after export)");
        }
    }
}

fn check_checkpoint(
    by_path: &View,
    key: &NoteVerifier,
    m: Option<&Manifest>,
    run: &mut Run,
) -> Option<(String, Checkpoint)> {
    let Some(note) = by_path.get(bundle::CHECKPOINT) else {
        run.bad(bundle::CHECKPOINT, "missing");
        return None;
    };
    match open_checkpoint(note, key) {
        Ok(cp) => {
            if let Some(m) = m {
                if m.checkpoint_size != cp.size {
                    run.bad(
                        bundle::CHECKPOINT,
                        format!(
                            "signs size {}, the manifest says {}",
                            cp.size, m.checkpoint_size
                        ),
                    );
                }
            }
            run.counts.checkpoints += 1;
            Some((String::from_utf8_lossy(note).into_owned(), cp))
        }
        Err(e) => {
            run.bad(
                bundle::CHECKPOINT,
                format!("does not verify with key {}: {e}", key.to_vkey()),
            );
            None
        }
    }
}

/// The number in `prefix<n>suffix`, if `path` is such a name.
fn numbered(path: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let n = path.strip_prefix(prefix)?.strip_suffix(suffix)?;
    brig_ledger::checkpoint::parse_decimal(n)
}

fn check_events(by_path: &View, cp: &(String, Checkpoint), m: Option<&Manifest>, run: &mut Run) {
    let events: Vec<(u64, &str, &[u8])> = by_path
        .under("ledger/events/")
        .filter_map(|(p, d)| numbered(p, "ledger/events/", ".json").map(|n| (n, p, d)))
        .collect();
    // Erasure records first: they account for payloads of other events.
    let erasures: Vec<(u64, Erasure)> = events
        .iter()
        .filter(|(_, _, leaf)| erasure::may_be_erasure(leaf))
        .filter_map(|(n, _, leaf)| {
            let e = Event::from_leaf(leaf).ok()?;
            Some((*n, Erasure::from_event(&e)?))
        })
        .collect();
    let results = check_events_parallel(by_path, cp, &events, &erasures);
    for r in results {
        match r {
            Ok(held) => {
                run.counts.events += 1;
                run.counts.payloads += held.payloads;
                run.withheld.extend(held.withheld);
                run.erased.extend(held.erased);
            }
            Err(p) => run.problems.extend(p),
        }
    }
    run.withheld
        .sort_by(|a, b| (a.event, &a.part).cmp(&(b.event, &b.part)));
    run.erased
        .sort_by(|a, b| (a.event, &a.part).cmp(&(b.event, &b.part)));
    let owners: HashSet<u64> = events.iter().map(|e| e.0).collect();
    for p in by_path.keys() {
        let owner = numbered(p, "ledger/proofs/", ".tlog-proof").or_else(|| {
            p.strip_prefix("payloads/")
                .and_then(|r| r.split('/').next())
                .and_then(brig_ledger::checkpoint::parse_decimal)
        });
        if let Some(n) = owner {
            if !owners.contains(&n) {
                run.bad(
                    p,
                    format!("belongs to event {n}, which is not in the bundle (removed?)"),
                );
            }
        }
    }
    if let Some(m) = m {
        if m.scope.events != events.len() as u64 {
            run.bad(
                "scope",
                format!(
                    "the manifest's scope has {} events; the bundle holds {}",
                    m.scope.events,
                    events.len()
                ),
            );
        }
    }
}

/// What one event's payloads came to.
#[derive(Default)]
struct Held {
    payloads: usize,
    withheld: Vec<Withheld>,
    erased: Vec<ErasedPayload>,
}

type EventResult = Result<Held, Vec<Problem>>;

/// Checks events on every core: proofs and digests are independent of each other.
fn check_events_parallel(
    by_path: &View,
    cp: &(String, Checkpoint),
    events: &[(u64, &str, &[u8])],
    erasures: &[(u64, Erasure)],
) -> Vec<EventResult> {
    events
        .par_iter()
        .with_min_len(1024)
        .map(|e| check_event(by_path, cp, e, erasures))
        .collect()
}

fn check_event(
    by_path: &View,
    cp: &(String, Checkpoint),
    ev: &(u64, &str, &[u8]),
    erasures: &[(u64, Erasure)],
) -> EventResult {
    let (n, path, leaf) = *ev;
    let fail = |item: &str, what: String| {
        Err(vec![Problem {
            item: item.to_string(),
            what,
        }])
    };
    let event = match Event::from_leaf(leaf) {
        Ok(e) => e,
        Err(e) => return fail(path, format!("not a canonical Brig event: {e}")),
    };
    let proof_path = format!("ledger/proofs/{n}.tlog-proof");
    let Some(proof_bytes) = by_path.get(proof_path.as_str()) else {
        return fail(&proof_path, format!("missing: event {n} is not proven"));
    };
    let proof = match TlogProof::parse(proof_bytes) {
        Ok(p) => p,
        Err(e) => return fail(&proof_path, e.to_string()),
    };
    if proof.index != n {
        return fail(
            &proof_path,
            format!("proves index {}, not {n}", proof.index),
        );
    }
    if proof.checkpoint != cp.0 {
        return fail(
            &proof_path,
            "leads to another checkpoint than ledger/checkpoint".into(),
        );
    }
    if let Err(e) = verify_inclusion(n, cp.1.size, &leaf_hash(leaf), &proof.proof, &cp.1.root) {
        return fail(path, format!("not in the signed ledger at index {n}: {e}"));
    }
    check_payloads(by_path, n, &event, erasures)
}

fn check_payloads(by_path: &View, n: u64, e: &Event, erasures: &[(u64, Erasure)]) -> EventResult {
    let mut problems = Vec::new();
    let mut held = Held::default();
    for (part, r) in &e.payload {
        let p = format!("payloads/{n}/{}.salted", component(part));
        let (Some(data), Some(digest)) = (by_path.get(&p), by_path.digest(&p)) else {
            if let Some((record, er)) = erasures
                .iter()
                .find(|(at, er)| *at > n && er.covers(n, part, &r.salted_sha256))
            {
                held.erased.push(ErasedPayload {
                    event: n,
                    part: part.clone(),
                    actor: er.actor.clone(),
                    reason: er.reason.clone(),
                    record: *record,
                });
            } else if let Some(kinds) = e.secrets.get(part) {
                held.withheld.push(Withheld {
                    event: n,
                    part: part.clone(),
                    kinds: kinds.iter().cloned().collect(),
                });
            }
            continue;
        };
        // The salted digest is the SHA-256 of the file (salt ‖ content): already computed.
        if *digest != r.salted_sha256 || data.len() as u64 != r.size + brig_model::SALT_LEN as u64 {
            problems.push(Problem {
                item: p,
                what: format!("does not match the digest event {n} records for {part:?} (altered)"),
            });
        } else {
            held.payloads += 1;
        }
    }
    if problems.is_empty() {
        Ok(held)
    } else {
        Err(problems)
    }
}

fn check_older(by_path: &View, key: &NoteVerifier, newest: &(String, Checkpoint), run: &mut Run) {
    let older: Vec<(u64, &str, &[u8])> = by_path
        .under("ledger/checkpoints/")
        .filter_map(|(p, d)| numbered(p, "ledger/checkpoints/", "").map(|n| (n, p, d)))
        .collect();
    for (size, path, note) in older {
        let cp = match open_checkpoint(note, key) {
            Ok(cp) if cp.size == size => cp,
            Ok(cp) => {
                run.bad(
                    path,
                    format!("signs size {}, its name says {size}", cp.size),
                );
                continue;
            }
            Err(e) => {
                run.bad(path, format!("does not verify: {e}"));
                continue;
            }
        };
        let cpath = format!("ledger/consistency/{size}");
        match by_path.get(cpath.as_str()).map(parse_consistency) {
            None => run.bad(
                &cpath,
                "missing: the older checkpoint is not linked to the newest",
            ),
            Some(Err(e)) => run.bad(&cpath, e),
            Some(Ok((old, new, proof))) if old == size && new == newest.1.size => {
                match verify_consistency(size, new, &proof, &cp.root, &newest.1.root) {
                    Ok(()) => run.counts.checkpoints += 1,
                    Err(e) => run.bad(&cpath, format!("the checkpoints are not consistent: {e}")),
                }
            }
            Some(Ok((old, new, _))) => run.bad(
                &cpath,
                format!("links sizes {old}→{new}, not {size}→{}", newest.1.size),
            ),
        }
    }
}

type Consistency = (u64, u64, Vec<Hash>);

fn parse_consistency(b: &[u8]) -> Result<Consistency, String> {
    let text = std::str::from_utf8(b).map_err(|_| "not UTF-8".to_string())?;
    let mut lines = text.lines();
    if lines.next() != Some(CONSISTENCY_HEADER) {
        return Err(format!("the first line must be {CONSISTENCY_HEADER:?}"));
    }
    let mut size = |name: &str| {
        lines
            .next()
            .and_then(|l| l.strip_prefix(name))
            .and_then(brig_ledger::checkpoint::parse_decimal)
            .ok_or_else(|| format!("expected \"{name}<decimal>\""))
    };
    let (old, new) = (size("old ")?, size("new ")?);
    let proof = lines
        .map(|l| {
            B64.decode(l)
                .ok()
                .and_then(|v| Hash::try_from(v.as_slice()).ok())
                .ok_or_else(|| format!("{l:?} is not a base64 SHA-256 hash"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((old, new, proof))
}
