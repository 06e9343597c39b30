//! Writing a bundle from a data directory.
//!
//! The scope is an incident (its sessions' events, and what responders recorded about it
//! afterwards) or an agent (optionally one session, optionally a time window). The export
//! signs a checkpoint of the current tree (so every event in scope is covered), proves each
//! event against it, and links the older checkpoints that already covered the scope (the one
//! signed when the incident's evidence was preserved, typically) with consistency proofs.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use brig_incident::Incident;
use brig_ledger::merkle::{self, Hash, NodeSource};
use brig_ledger::note::NoteSigner;
use brig_ledger::store::{LedgerStore, StoreError, StoreNodes, StoredCheckpoint};
use brig_ledger::tlog_proof::TlogProof;
use brig_ledger::Ledger;
use brig_model::erasure::{self, Erasure};
use brig_model::{Event, EventKind, Timestamp};
use brig_store::{DataDir, Store};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{json, Value};

use crate::bundle::{self, component, FileEntry, Files, Manifest, ScopeRecord};
use crate::readable::{self, Payloads};
use crate::{custody, EvidenceError};

/// Most events one export reads per session or agent.
pub const MAX_EVENTS: usize = 1_000_000;

/// What to export.
#[derive(Clone, Debug)]
pub enum Scope {
    Incident(String),
    /// One session, whoever's it is.
    Session(String),
    Agent {
        agent: String,
        session: Option<String>,
        from: Option<Timestamp>,
        to: Option<Timestamp>,
    },
}

/// How to export.
#[derive(Clone, Debug)]
pub struct Options {
    /// Who exports (the custody log's first entry).
    pub by: String,
    /// zstd-compress the tar.
    pub compress: bool,
    pub note: Option<String>,
    /// Put the raw payloads that hold secrets in the bundle too (`--include-secrets`).
    /// Without it they are withheld (their events still bind them by digest); readable
    /// files are redacted either way. Recorded in the ledger as an operator action.
    pub include_secrets: bool,
}

/// What an export wrote.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub path: PathBuf,
    pub bytes: u64,
    pub files: usize,
    pub events: usize,
    pub payloads: usize,
    pub changes: usize,
    pub sessions: usize,
    pub checkpoint_size: u64,
    pub older_checkpoints: usize,
    pub manifest_sha256: String,
    pub gaps: Vec<String>,
    /// Payload parts left out because they hold secrets.
    pub withheld: usize,
    /// Payload parts erased from the store (their erasure records are in the bundle).
    pub erased: usize,
}

/// An event's ledger index and its leaf bytes.
type Leaf = (u64, Vec<u8>);

/// One event in scope, as stored.
struct Item {
    idx: u64,
    leaf: Vec<u8>,
    /// The tree nodes the row stores (leaf hash and completed subtrees), when it was read in
    /// a range scan: they prime the proof builder's cache.
    hashes: Vec<u8>,
    event: Event,
}

/// Exports `scope` from `dir` to `out`.
pub fn export(
    dir: &DataDir,
    scope: &Scope,
    out: &Path,
    opts: &Options,
) -> Result<Summary, EvidenceError> {
    let signer = dir
        .signer()
        .map_err(|e| EvidenceError::Key(format!("the ledger's signing key is needed: {e}")))?;
    let mut ledger = dir.ledger()?;
    let (record, incident, items) = select(ledger.store(), scope)?;
    if opts.include_secrets {
        record_secrets_export(&mut ledger, &record, opts)?;
    }
    let newest = ledger.checkpoint(&signer)?;
    let mut files = Files::default();
    let mut gaps = Vec::new();
    files.add("README.txt", readme(&newest));
    files.add(bundle::VKEY, format!("{}\n", signer.verifier().to_vkey()));
    files.add(bundle::CHECKPOINT, newest.note.clone());
    let older = older_checkpoints(&mut ledger, &items, &newest, &mut files)?;
    let mut cache = HashMap::new();
    for it in &items {
        cache.extend(brig_ledger::store::nodes_in_row(it.idx, &it.hashes));
    }
    let (leaves, events): (Vec<Leaf>, Vec<(u64, Event)>) = items
        .into_iter()
        .map(|i| ((i.idx, i.leaf), (i.idx, i.event)))
        .unzip();
    prove_all(ledger.store(), cache, &leaves, &newest, &mut files)?;
    let (payloads, held) = add_payloads(
        ledger.store(),
        &events,
        opts.include_secrets,
        &mut files,
        &mut gaps,
    )?;
    // Everything people read is redacted; the raw blobs are what `include_secrets` governs.
    let readable_payloads: Payloads = payloads
        .iter()
        .map(|(k, v)| (k.clone(), brig_model::secrets::redact_value(v)))
        .collect();
    let payloads = readable_payloads;
    // Pre- and post-images the gateway took, if it ever did.
    let objects = Some(dir.root().join("objects"))
        .filter(|p| p.is_dir())
        .and_then(|p| brig_rollback::objects::Objects::open(&p).ok());
    // The readable documents and the timelines are independent: build them side by side.
    let ((sessions, readable), timelines) = rayon::join(
        || readable_files(&events, &payloads, objects.as_ref(), &mut gaps),
        || timeline_files(&events, incident.as_ref().map(|(i, _)| i)),
    );
    files.entries.extend(readable.entries);
    files.entries.extend(timelines?.entries);
    let snapshots = add_snapshots(&events, &payloads, &mut files);
    if snapshots == 0 {
        gaps.push(
            "no evidence snapshot in scope (the playbook did not preserve state for it): \
             policies, register and containment as they were at detection are not included"
                .into(),
        );
    }
    if let Some((i, notes)) = &incident {
        add_json(
            &mut files,
            "incident.json",
            &brig_model::secrets::redact_value(&json!({"incident": i, "notes": notes})),
        );
    }
    let manifest = manifest(&signer, record, newest.size, gaps.clone(), &files);
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    manifest_bytes.push(b'\n');
    let manifest_sha = bundle::sha256_hex(&manifest_bytes);
    let sig = signer
        .sign(&bundle::manifest_sig_text(&manifest.origin, &manifest_sha))
        .map_err(|e| EvidenceError::Key(e.to_string()))?;
    files.add(bundle::MANIFEST, manifest_bytes);
    files.add(bundle::MANIFEST_SIG, sig);
    custody::append(
        &mut files,
        "exported",
        &opts.by,
        opts.note.clone(),
        &signer,
        &manifest_sha,
    )?;
    let changes = files
        .entries
        .iter()
        .filter(|(p, _)| p.starts_with("changes/") && p.ends_with(".json"))
        .count();
    let bytes = bundle::write(out, &files, opts.compress)?;
    Ok(Summary {
        path: out.to_path_buf(),
        bytes,
        files: files.entries.len(),
        events: events.len(),
        payloads: payloads.len(),
        changes,
        sessions,
        checkpoint_size: newest.size,
        older_checkpoints: older,
        manifest_sha256: manifest_sha,
        gaps,
        withheld: held.withheld,
        erased: held.erased,
    })
}

/// The ledger's record that an operator exported raw secrets (`--include-secrets`).
fn record_secrets_export(
    ledger: &mut Ledger<Store>,
    scope: &ScopeRecord,
    opts: &Options,
) -> Result<(), EvidenceError> {
    let agent = if scope.agent.is_empty() {
        "*".to_string()
    } else {
        scope.agent.clone()
    };
    let mut e = brig_model::NewEvent::new("operator", agent, EventKind::OperatorAction);
    e.attrs
        .insert("action".into(), json!("evidence.include_secrets"));
    e.attrs.insert("actor".into(), json!(opts.by));
    e.attrs.insert("scope".into(), json!(scope));
    let prepared = brig_ledger::Prepared::new(e).map_err(brig_ledger::LedgerError::from)?;
    ledger.append(&[prepared])?;
    Ok(())
}

/// Payload parts withheld and erased in one export.
#[derive(Default)]
struct Held {
    withheld: usize,
    erased: usize,
}

/// Events with their ledger indices, and the incident they belong to, if any.
pub type InScope = (Vec<(u64, Event)>, Option<Incident>);

type Selected = (ScopeRecord, Option<(Incident, Value)>, Vec<Item>);

/// The events in `scope` with their ledger indices, and the incident when the scope is one:
/// what timelines are made of.
pub fn events_in(dir: &DataDir, scope: &Scope) -> Result<InScope, EvidenceError> {
    let mut store = dir.store()?;
    let (_, incident, items) = select(&mut store, scope)?;
    let events = items.into_iter().map(|i| (i.idx, i.event)).collect();
    Ok((events, incident.map(|(i, _)| i)))
}

fn select(store: &mut Store, scope: &Scope) -> Result<Selected, EvidenceError> {
    let mut record = ScopeRecord::default();
    let cut;
    let (incident, indices) = match scope {
        Scope::Incident(id) => {
            let (i, _) = brig_incident::desk::load(store, id)?;
            let (indices, c) = incident_indices(store, &i)?;
            cut = c;
            record.incident = Some(i.id.clone());
            record.agent = i.agent.clone();
            let notes: Vec<Value> = store
                .incident_notes(&i.id)?
                .into_iter()
                .filter(|n| !n.privileged)
                .map(|n| json!({"ts": Timestamp::from_unix_nanos(n.ts_nanos).to_string(), "author": n.author, "text": n.text}))
                .collect();
            (Some((i, Value::Array(notes))), indices)
        }
        Scope::Session(session) => {
            let v = store.session_events(session, MAX_EVENTS)?;
            cut = v.len() == MAX_EVENTS;
            record.session = Some(session.clone());
            if let Some(&first) = v.first() {
                if let Some(row) = store.leaf(first)? {
                    record.agent = Event::from_leaf(&row.leaf)
                        .map(|e| e.agent)
                        .unwrap_or_default();
                }
            }
            (None, v)
        }
        Scope::Agent {
            agent,
            session,
            from,
            to,
        } => {
            record.agent = agent.clone();
            record.session = session.clone();
            record.from = from.map(|t| t.to_string());
            record.to = to.map(|t| t.to_string());
            let lo = from.map_or(i64::MIN, |t| t.unix_nanos());
            let hi = to.map_or(i64::MAX, |t| t.unix_nanos());
            let v = store.agent_events(agent, session.as_deref(), lo, hi, MAX_EVENTS)?;
            cut = v.len() == MAX_EVENTS;
            (None, v)
        }
    };
    let indices = with_erasures(store, indices)?;
    let items = read_items(store, &indices)?;
    if items.is_empty() {
        return Err(EvidenceError::Empty(format!(
            "no recorded event matches {scope:?}"
        )));
    }
    let sessions: BTreeSet<String> = items
        .iter()
        .filter_map(|i| i.event.session.clone())
        .collect();
    record.sessions = sessions.into_iter().collect();
    record.events = items.len() as u64;
    record.first_index = items.first().map(|i| i.idx);
    record.last_index = items.last().map(|i| i.idx);
    record.cut = cut;
    Ok((record, incident, items))
}

/// `indices` (sorted) and the records of erasures of their payloads, wherever those are:
/// a verifier accepts an erased payload only with its proven record.
fn with_erasures(store: &mut Store, mut indices: Vec<u64>) -> Result<Vec<u64>, StoreError> {
    let Some(&first) = indices.first() else {
        return Ok(indices);
    };
    let wanted: BTreeSet<u64> = indices.iter().copied().collect();
    let kinds = [EventKind::OperatorAction.as_str()];
    for idx in store.kinds_since(first, &kinds, MAX_EVENTS)? {
        let Some(row) = store.leaf(idx)? else {
            continue;
        };
        if !erasure::may_be_erasure(&row.leaf) {
            continue;
        }
        let of = Event::from_leaf(&row.leaf)
            .ok()
            .as_ref()
            .and_then(Erasure::from_event)
            .map(|e| e.index);
        if of.is_some_and(|i| wanted.contains(&i)) {
            indices.push(idx);
        }
    }
    indices.sort_unstable();
    indices.dedup();
    Ok(indices)
}

/// The events at `indices` (sorted), as stored and parsed. A dense scope is read in one range
/// scan rather than a query per event; parsing runs on every core.
fn read_items(store: &mut Store, indices: &[u64]) -> Result<Vec<Item>, StoreError> {
    let (Some(&first), Some(&last)) = (indices.first(), indices.last()) else {
        return Ok(Vec::new());
    };
    let mut rows: Vec<(u64, Vec<u8>, Vec<u8>)> = Vec::with_capacity(indices.len());
    if (indices.len() as u64).saturating_mul(2) > last - first {
        let mut want = indices.iter().copied().peekable();
        store.scan(first, last + 1, &mut |row| {
            while want.next_if(|&i| i < row.index).is_some() {}
            if want.next_if_eq(&row.index).is_some() {
                rows.push((row.index, row.leaf, row.hashes));
            }
            true
        })?;
    } else {
        for &idx in indices {
            if let Some(row) = store.leaf(idx)? {
                rows.push((idx, row.leaf, Vec::new()));
            }
        }
    }
    if rows.len() != indices.len() {
        let got: BTreeSet<u64> = rows.iter().map(|r| r.0).collect();
        let missing = indices
            .iter()
            .find(|i| !got.contains(i))
            .copied()
            .unwrap_or(first);
        return Err(StoreError::Damaged(format!(
            "event {missing} is missing from the ledger"
        )));
    }
    rows.into_par_iter()
        .map(|(idx, leaf, hashes)| {
            let event = Event::from_leaf(&leaf)
                .map_err(|e| StoreError::Damaged(format!("event {idx} does not parse: {e}")))?;
            Ok(Item {
                idx,
                leaf,
                hashes,
                event,
            })
        })
        .collect()
}

/// The incident's sessions (or its agent's latest events), and what was recorded about the
/// incident from its first event on: playbook steps, notifications, lifecycle changes.
fn incident_indices(store: &mut Store, i: &Incident) -> Result<(Vec<u64>, bool), StoreError> {
    let mut v = Vec::new();
    let mut cut = false;
    for s in &i.sessions {
        let got = store.session_events(s, MAX_EVENTS)?;
        cut |= got.len() == MAX_EVENTS;
        v.extend(got);
    }
    if i.sessions.is_empty() {
        v = store.recent_agent_events(&i.agent, 10_000)?;
    }
    let from = v.iter().min().copied().unwrap_or(0);
    let kinds = [
        EventKind::ResponseAction.as_str(),
        EventKind::IncidentTransition.as_str(),
        EventKind::OperatorAction.as_str(),
    ];
    for idx in store.kinds_since(from, &kinds, MAX_EVENTS)? {
        let Some(row) = store.leaf(idx)? else {
            continue;
        };
        let Ok(e) = Event::from_leaf(&row.leaf) else {
            continue;
        };
        let about = e.attrs.get("incident").and_then(Value::as_str) == Some(i.id.as_str())
            || (e.kind == EventKind::OperatorAction && e.agent == i.agent);
        if about {
            v.push(idx);
        }
    }
    v.sort_unstable();
    v.dedup();
    Ok((v, cut))
}

/// Reads tree nodes through a cache: the proofs of neighbouring events share most nodes.
struct CachedNodes<'a> {
    store: &'a mut Store,
    cache: HashMap<(u32, u64), Hash>,
}

impl NodeSource for CachedNodes<'_> {
    type Error = StoreError;
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        if let Some(h) = self.cache.get(&(level, index)) {
            return Ok(*h);
        }
        let h = StoreNodes(&mut *self.store).node(level, index)?;
        self.cache.insert((level, index), h);
        Ok(h)
    }
}

fn prove_all(
    store: &mut Store,
    cache: HashMap<(u32, u64), Hash>,
    leaves: &[Leaf],
    cp: &StoredCheckpoint,
    files: &mut Files,
) -> Result<(), EvidenceError> {
    let mut nodes = CachedNodes { store, cache };
    // Node reads go through the one store connection; the proof texts are written on every core.
    let mut proofs = Vec::with_capacity(leaves.len());
    for (idx, _) in leaves {
        let proof = merkle::inclusion_proof(*idx, cp.size, &mut nodes)
            .map_err(|e| EvidenceError::Ledger(e.into()))?;
        proofs.push((*idx, proof));
    }
    let texts: Vec<(String, String)> = proofs
        .into_par_iter()
        .map(|(index, proof)| {
            let p = TlogProof {
                extra: None,
                index,
                proof,
                checkpoint: cp.note.clone(),
            };
            (format!("ledger/proofs/{index}.tlog-proof"), p.to_text())
        })
        .collect();
    for (idx, leaf) in leaves {
        files.add(format!("ledger/events/{idx}.json"), leaf.clone());
    }
    for (p, t) in texts {
        files.add(p, t);
    }
    Ok(())
}

/// The earliest checkpoints that covered the first and the last event in scope, each with a
/// consistency proof to the newest: they show the events were in the log back then.
fn older_checkpoints(
    ledger: &mut Ledger<Store>,
    items: &[Item],
    newest: &StoredCheckpoint,
    files: &mut Files,
) -> Result<usize, EvidenceError> {
    let mut picked = BTreeSet::new();
    for idx in [items.first().map(|i| i.idx), items.last().map(|i| i.idx)]
        .into_iter()
        .flatten()
    {
        if let Ok(cp) = ledger.checkpoint_covering(idx, false) {
            if cp.size < newest.size {
                picked.insert((cp.size, cp.seq));
            }
        }
    }
    let all = ledger.store().checkpoints()?;
    let mut n = 0;
    for (size, seq) in picked {
        let Some(cp) = all.iter().find(|c| c.seq == seq) else {
            continue;
        };
        let proof = ledger.consistency_proof(size, newest.size)?;
        files.add(format!("ledger/checkpoints/{size}"), cp.note.clone());
        files.add(
            format!("ledger/consistency/{size}"),
            consistency_text(size, newest.size, &proof),
        );
        n += 1;
    }
    Ok(n)
}

/// Header line of a consistency proof file.
pub const CONSISTENCY_HEADER: &str = "brig-evidence/v1 consistency";

/// `brig-evidence/v1 consistency`, `old <size>`, `new <size>`, then one base64 hash a line
/// (RFC 6962 §2.1.2 order).
pub fn consistency_text(old: u64, new: u64, proof: &[Hash]) -> String {
    let mut s = format!("{CONSISTENCY_HEADER}\nold {old}\nnew {new}\n");
    for h in proof {
        s.push_str(&B64.encode(h));
        s.push('\n');
    }
    s
}

fn add_payloads(
    store: &mut Store,
    events: &[(u64, Event)],
    include_secrets: bool,
    files: &mut Files,
    gaps: &mut Vec<String>,
) -> Result<(Payloads, Held), EvidenceError> {
    let mut decoded = Payloads::new();
    let mut held = Held::default();
    let erasures: Vec<(u64, Erasure, Timestamp)> = events
        .iter()
        .filter_map(|(i, e)| Some((*i, Erasure::from_event(e)?, e.ts)))
        .collect();
    for (idx, event) in events {
        for (part, r) in &event.payload {
            let name = format!("payloads/{}/{}.salted", *idx, component(part));
            let erased = erasures
                .iter()
                .find(|(_, er, _)| er.covers(*idx, part, &r.salted_sha256));
            match store.blob(*idx, part)? {
                Some(b) if b.is_intact() && b.digest == r.salted_sha256 => {
                    if let Ok(v) = serde_json::from_slice(&b.data) {
                        decoded.insert((*idx, part.clone()), v);
                    }
                    if let (Some(kinds), false) = (event.secrets.get(part), include_secrets) {
                        held.withheld += 1;
                        gaps.push(format!(
                            "payload {part:?} of event {idx} holds secrets ({}): withheld (its event binds it by digest; export with --include-secrets to include it)",
                            kinds.iter().cloned().collect::<Vec<_>>().join(", ")
                        ));
                        continue;
                    }
                    let mut data = Vec::with_capacity(b.salt.len() + b.data.len());
                    data.extend_from_slice(&b.salt);
                    data.extend_from_slice(&b.data);
                    files.add(name, data);
                }
                Some(_) => gaps.push(format!(
                    "payload {part:?} of event {}: the stored blob does not match the digest its event records (altered in the store); not included",
                    *idx
                )),
                None => match erased {
                    Some((at, er, ts)) => {
                        held.erased += 1;
                        decoded.insert(
                            (*idx, part.clone()),
                            json!({"erased": {"by": er.actor, "reason": er.reason, "at": ts.to_string(), "record": at}}),
                        );
                        gaps.push(format!(
                            "payload {part:?} of event {idx}: erased by {} at {ts} ({}); the erasure's record is event {at}",
                            er.actor, er.reason
                        ));
                    }
                    None => gaps.push(format!(
                        "payload {part:?} of event {}: erased or missing in the store",
                        *idx
                    )),
                },
            }
        }
    }
    Ok((decoded, held))
}

fn readable_files(
    events: &[(u64, Event)],
    payloads: &Payloads,
    objects: Option<&brig_rollback::objects::Objects>,
    gaps: &mut Vec<String>,
) -> (usize, Files) {
    let mut files = Files::default();
    let sessions = readable::sessions(events, payloads);
    let n = sessions.len();
    for (s, mut doc) in sessions {
        // Leaf fields too: a URL's password in a target, a token in a reason.
        brig_model::secrets::redact_in_place(&mut doc);
        add_json(
            &mut files,
            &format!("sessions/{}.json", component(&s)),
            &doc,
        );
    }
    let mut unknown = 0;
    for c in readable::changes(events, payloads, objects) {
        let stem = format!("changes/{}-{}", c.index, c.n);
        unknown += usize::from(c.pre.is_none());
        add_json(
            &mut files,
            &format!("{stem}.json"),
            &brig_model::secrets::redact_value(&c.meta),
        );
        if let Some(p) = c.pre {
            files.add(format!("{stem}.pre"), redact_bytes(p));
        }
        if let Some(p) = c.post {
            files.add(format!("{stem}.post"), redact_bytes(p));
        }
        if let Some(d) = c.diff {
            files.add(format!("{stem}.diff"), brig_model::secrets::redact_text(&d));
        }
    }
    if unknown > 0 {
        gaps.push(format!(
            "{unknown} file change(s) without a pre-image: the ledger holds no earlier content of those paths (see changes/*.json)"
        ));
    }
    (n, files)
}

/// A file's content with its secrets redacted when it is text; binary content as it is
/// (the scanner reads text).
fn redact_bytes(b: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(b) {
        Ok(s) => brig_model::secrets::redact_text(&s).into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

/// The playbook's evidence snapshots in scope; returns how many.
fn add_snapshots(events: &[(u64, Event)], payloads: &Payloads, files: &mut Files) -> usize {
    let mut n = 0;
    for (idx, e) in events {
        let is_snapshot = e.kind == EventKind::ResponseAction
            && e.attrs.get("step").and_then(Value::as_str) == Some("evidence_snapshot");
        if let (true, Some(v)) = (is_snapshot, payloads.get(&(*idx, "snapshot".into()))) {
            add_json(files, &format!("snapshots/{idx}.json"), v);
            n += 1;
        }
    }
    n
}

/// The Timesketch timeline (JSONL and CSV) and the OCSF objects.
fn timeline_files(
    events: &[(u64, Event)],
    incident: Option<&Incident>,
) -> Result<Files, EvidenceError> {
    let mut files = Files::default();
    let mut jsonl = Vec::new();
    crate::timeline::write_jsonl(events, &mut jsonl)
        .map_err(|e| EvidenceError::io(Path::new("timeline/timeline.jsonl"), e))?;
    files.add("timeline/timeline.jsonl", jsonl);
    let mut csv = Vec::new();
    crate::timeline::write_csv(events, &mut csv).map_err(|e| EvidenceError::Bundle {
        path: "timeline/timeline.csv".into(),
        what: e.to_string(),
    })?;
    files.add("timeline/timeline.csv", csv);
    let incidents: Vec<Incident> = incident.into_iter().cloned().collect();
    add_json(
        &mut files,
        "timeline/ocsf.json",
        &Value::Array(crate::ocsf::to_ocsf(events, &incidents)),
    );
    Ok(files)
}

fn add_json(files: &mut Files, path: &str, v: &Value) {
    files.add(path, pretty(v));
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("JSON values serialize");
    b.push(b'\n');
    b
}

fn manifest(
    signer: &NoteSigner,
    scope: ScopeRecord,
    checkpoint_size: u64,
    gaps: Vec<String>,
    files: &Files,
) -> Manifest {
    let mut list: Vec<FileEntry> = files
        .entries
        .par_iter()
        .map(|(p, d)| FileEntry {
            path: p.clone(),
            sha256: bundle::sha256_hex(d),
            size: d.len() as u64,
        })
        .collect();
    list.sort_by(|a, b| a.path.cmp(&b.path));
    Manifest {
        format: bundle::FORMAT.into(),
        created: Timestamp::now().to_string(),
        brig_version: env!("CARGO_PKG_VERSION").into(),
        origin: signer.name().to_string(),
        scope,
        checkpoint_size,
        gaps,
        files: list,
    }
}

fn readme(cp: &StoredCheckpoint) -> String {
    format!(
        "Brig evidence bundle ({fmt})\n\n\
         Check it with `brig evidence verify THIS_FILE --key LEDGER.vkey`, where LEDGER.vkey is\n\
         the ledger's verifier key obtained from its owner, not from this bundle.\n\n\
         By hand: every file but manifest.json, manifest.sig and custody/ is listed in\n\
         manifest.json with its SHA-256; manifest.sig is a C2SP signed note (Ed25519) whose text\n\
         is \"{fmt} manifest\", the ledger origin and the SHA-256 of manifest.json.\n\
         ledger/events/N.json is the exact leaf N of an RFC 6962 Merkle tree (leaf hash =\n\
         SHA-256(0x00 || bytes)); ledger/proofs/N.tlog-proof is a C2SP tlog-proof of it against\n\
         ledger/checkpoint (tree size {size}). payloads/N/PART.salted is 16 bytes of salt and\n\
         the payload: its SHA-256 is the salted_sha256 event N records for PART.\n\
         custody/ holds the chain of custody, one signed note per hand-off.\n",
        fmt = bundle::FORMAT,
        size = cp.size
    )
}
