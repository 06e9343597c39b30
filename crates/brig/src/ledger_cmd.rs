//! `brig ledger …`: checkpoint, show, prove, verify-proof, verify.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use brig_ledger::merkle::leaf_hash;
use brig_ledger::store::{LedgerStore, StoredCheckpoint};
use brig_ledger::tlog_proof::TlogProof;
use brig_ledger::verify::{verify, VerifyOptions};
use brig_model::Event;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::exit::Exit;
use crate::util::{b64, load_vkey, progress_bar};
use crate::DataArgs;

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Sign a checkpoint of the ledger as it is now and print the signed note exactly as stored.
    ///
    /// If the newest checkpoint already covers every event, it is printed unchanged.
    Checkpoint(CheckpointArgs),
    /// List recorded events, or print one leaf's exact bytes.
    Show(ShowArgs),
    /// Write a C2SP tlog-proof that one event is in the signed ledger.
    ///
    /// The proof holds the event's leaf bytes (unless --no-leaf), the RFC 6962 inclusion proof
    /// and the signed checkpoint: with the verifier key, anyone can check it offline.
    Prove(ProveArgs),
    /// Check a tlog-proof file offline, with only the verifier key.
    VerifyProof(VerifyProofArgs),
    /// Recompute every leaf hash and the whole tree; check every checkpoint's signature and
    /// the consistency between successive checkpoints; check every payload blob.
    ///
    /// Exits 0 when intact, 4 when anything was tampered with (naming the first bad index).
    /// Payloads erased with `brig ledger erase` are listed; they are not damage.
    Verify(VerifyArgs),
    /// Erase an event's payload bytes (a GDPR erasure, a leaked secret), as a recorded
    /// operator action.
    ///
    /// The erasure (who, why, which event and part, the erased payload's digest) is appended
    /// to the ledger first, then the blob's content and salt are deleted from the store. The
    /// event's leaf stays, so the ledger still verifies; verify and evidence exports list the
    /// payload as erased. A second erase of the same part says it is already erased.
    Erase(crate::erase::EraseArgs),
}

#[derive(Args)]
pub struct CheckpointArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Print seq, size, root and note as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    data: DataArgs,
    /// First index to show.
    #[arg(long, default_value_t = 0, conflicts_with = "index")]
    from: u64,
    /// Last index to show (inclusive).
    #[arg(long, conflicts_with = "index")]
    to: Option<u64>,
    /// Show only this index.
    #[arg(long)]
    index: Option<u64>,
    /// Write the exact leaf bytes that were hashed (with --index), nothing else.
    #[arg(long, requires = "index", conflicts_with_all = ["json", "payloads"])]
    raw: bool,
    /// One JSON object per line: {"index":…,"event":{…}}.
    #[arg(long)]
    json: bool,
    /// Include payload contents (prompts, arguments, results) from the blob store, with
    /// secrets redacted.
    #[arg(long)]
    payloads: bool,
    /// With --payloads: show secrets as recorded instead of `[REDACTED kind]`.
    #[arg(long, requires = "payloads")]
    include_secrets: bool,
}

#[derive(Args)]
pub struct ProveArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Index of the event to prove.
    #[arg(long)]
    index: u64,
    /// Write the proof here instead of stdout (conventional extension: .tlog-proof).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Prove against the newest checkpoint instead of the oldest one that covers the event.
    #[arg(long)]
    latest: bool,
    /// Leave the leaf bytes out of the proof (the verifier then needs --leaf).
    #[arg(long)]
    no_leaf: bool,
}

#[derive(Args)]
pub struct VerifyProofArgs {
    /// The tlog-proof file.
    file: PathBuf,
    /// The ledger's verifier key: the vkey text printed by `brig init`, or a file holding it.
    #[arg(long, value_name = "VKEY")]
    key: String,
    /// The leaf bytes (as from `brig ledger show --index N --raw`); default: those in the proof.
    #[arg(long, value_name = "FILE")]
    leaf: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Verifier key to trust (vkey text or file). Default: the one in the data directory,
    /// which whoever can write the data directory could replace; auditors should pin theirs.
    #[arg(long, value_name = "VKEY")]
    key: Option<String>,
    /// Also parse every leaf (must be canonical event JSON) and look up every payload it
    /// references.
    #[arg(long)]
    deep: bool,
    /// A checkpoint kept outside the data directory (as printed by `brig ledger checkpoint`);
    /// the ledger must still contain exactly the tree it signs. Repeatable.
    #[arg(long, value_name = "FILE")]
    trusted: Vec<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: LedgerCommand) -> anyhow::Result<Exit> {
    match cmd {
        LedgerCommand::Checkpoint(a) => checkpoint(a),
        LedgerCommand::Show(a) => show(a),
        LedgerCommand::Prove(a) => prove(a),
        LedgerCommand::VerifyProof(a) => verify_proof(a),
        LedgerCommand::Verify(a) => verify_ledger(a),
        LedgerCommand::Erase(a) => crate::erase::run(a),
    }
}

fn checkpoint_json(cp: &StoredCheckpoint) -> Value {
    json!({"seq": cp.seq, "size": cp.size, "root": b64(&cp.root), "note": cp.note})
}

fn checkpoint(a: CheckpointArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let signer = dir.signer()?;
    let cp = dir.ledger()?.checkpoint(&signer)?;
    if a.json {
        println!("{}", checkpoint_json(&cp));
    } else {
        print!("{}", cp.note);
    }
    Ok(Exit::Ok)
}

fn show(a: ShowArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let (from, to) = match a.index {
        Some(i) => (i, i),
        None => (a.from, a.to.unwrap_or(u64::MAX - 1)),
    };
    if let (Some(i), true) = (a.index, a.raw) {
        let size = store.size()?;
        let row = store
            .leaf(i)?
            .with_context(|| format!("no event at index {i} (the ledger holds {size})"))?;
        io::stdout().write_all(&row.leaf)?;
        return Ok(Exit::Ok);
    }
    let mut rows = Vec::new();
    let mut out = io::stdout().lock();
    let mut error = None;
    store.scan(from, to.saturating_add(1), &mut |row| {
        rows.push(row);
        rows.len() < 4096
    })?;
    let mut next = from;
    while !rows.is_empty() {
        for row in rows.drain(..) {
            next = row.index + 1;
            let event = match Event::from_leaf(&row.leaf) {
                Ok(e) => e,
                Err(e) => {
                    error.get_or_insert(format!("event {}: {e}", row.index));
                    continue;
                }
            };
            let line = if a.json {
                let mut v = json!({"index": row.index, "event": event});
                if a.payloads {
                    v["payloads"] = payloads(&mut store, row.index, &event, a.include_secrets)?;
                }
                v.to_string()
            } else {
                human_line(row.index, &event)
            };
            if writeln!(out, "{line}").is_err() {
                return Ok(Exit::Ok); // reader went away (e.g. `| head`)
            }
            if a.payloads && !a.json {
                writeln!(
                    out,
                    "{:8}  payloads: {}",
                    "",
                    payloads(&mut store, row.index, &event, a.include_secrets)?
                )?;
            }
        }
        if next > to {
            break;
        }
        store.scan(next, to.saturating_add(1), &mut |row| {
            rows.push(row);
            rows.len() < 4096
        })?;
    }
    if let Some(i) = a.index {
        if next == i {
            bail!("no event at index {i} (the ledger holds {})", store.size()?);
        }
    }
    if let Some(e) = error {
        bail!("{e} (run `brig ledger verify`)");
    }
    Ok(Exit::Ok)
}

fn human_line(index: u64, e: &Event) -> String {
    let mut what: Vec<String> = e.actions.iter().map(ToString::to_string).collect();
    if let Some(d) = &e.decision {
        let mut s = format!("[{:?}]", d.effect).to_lowercase();
        if let Some(r) = &d.reason {
            s.push(' ');
            s.push_str(r);
        }
        what.push(s);
    }
    // The few attributes a responder scans for, when the event has them.
    for key in [
        "rule",
        "title",
        "method",
        "action",
        "status",
        "exit_code",
        "reporter",
    ] {
        if let Some(v) = e.attrs.get(key) {
            match v.as_str() {
                Some(s) => what.push(format!("{key}={s}")),
                None => what.push(format!("{key}={v}")),
            }
        }
    }
    format!(
        "{index:>8}  {}  {:<18} {:<20} {:<12} {:<16} {}",
        e.ts,
        e.kind.as_str(),
        e.agent,
        e.session.as_deref().unwrap_or("-"),
        e.tool.as_deref().unwrap_or("-"),
        what.join("; ")
    )
}

/// Payload contents from the blob store, secrets redacted unless `raw`; erased or missing
/// ones say so.
pub(crate) fn payloads(
    store: &mut impl LedgerStore,
    index: u64,
    e: &Event,
    raw: bool,
) -> anyhow::Result<Value> {
    Ok(if raw {
        brig_incident::questions::raw_payloads(store, index, e)?
    } else {
        brig_incident::questions::payloads(store, index, e)?
    })
}

fn prove(a: ProveArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut ledger = dir.ledger()?;
    let size = ledger.size()?;
    if a.index >= size {
        bail!("no event at index {} (the ledger holds {size})", a.index);
    }
    let cp = match ledger.checkpoint_covering(a.index, a.latest) {
        Ok(cp) => cp,
        Err(brig_ledger::LedgerError::NotCheckpointed { .. }) => {
            // Nothing signed covers it yet: sign now (needs the key).
            let signer = dir.signer().context(
                "no checkpoint covers this event yet and the signing key is unavailable",
            )?;
            ledger.checkpoint(&signer)?
        }
        Err(e) => return Err(e.into()),
    };
    let proof = ledger.prove(a.index, &cp, !a.no_leaf)?;
    let text = proof.to_text();
    match a.output {
        Some(path) => {
            std::fs::write(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote proof of event {} against checkpoint size {} to {}",
                a.index,
                cp.size,
                path.display()
            );
        }
        None => print!("{text}"),
    }
    Ok(Exit::Ok)
}

fn verify_proof(a: VerifyProofArgs) -> anyhow::Result<Exit> {
    let verifier = load_vkey(&a.key)?;
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let proof = TlogProof::parse(&bytes)
        .with_context(|| format!("{} is not a valid tlog-proof", a.file.display()))?;
    let leaf = match &a.leaf {
        Some(p) => std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
        None => proof.extra.clone().context(
            "the proof carries no leaf (made with --no-leaf): pass the leaf bytes with --leaf FILE",
        )?,
    };
    let result = proof.verify(&leaf_hash(&leaf), &verifier);
    let event = Event::from_leaf(&leaf).ok();
    match result {
        Ok(cp) => {
            if a.json {
                println!(
                    "{}",
                    json!({"valid": true, "index": proof.index, "origin": cp.origin,
                           "size": cp.size, "root": b64(&cp.root), "event": event})
                );
            } else {
                println!(
                    "OK: the leaf is event {} of ledger {} (checkpoint size {}, root {}), signed by {}",
                    proof.index,
                    cp.origin,
                    cp.size,
                    b64(&cp.root),
                    verifier.to_vkey()
                );
                if let Some(e) = event {
                    println!("{}", human_line(proof.index, &e));
                }
            }
            Ok(Exit::Ok)
        }
        Err(e) => {
            if a.json {
                println!("{}", json!({"valid": false, "error": e.to_string()}));
            } else {
                eprintln!("INVALID: {e}");
            }
            Ok(Exit::Invalid)
        }
    }
}

fn verify_ledger(a: VerifyArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let verifier = match &a.key {
        Some(k) => load_vkey(k)?,
        None => dir.verifier()?,
    };
    let origin = verifier.name().to_string();
    let mut trusted = Vec::new();
    for path in &a.trusted {
        let note =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let cp = brig_ledger::checkpoint::open_checkpoint_for_origin(&note, &verifier, &origin)
            .with_context(|| {
                format!(
                    "{} is not a checkpoint of this ledger signed by {}",
                    path.display(),
                    verifier.to_vkey()
                )
            })?;
        trusted.push(cp);
    }
    let mut store = dir.store()?;
    let total = store.size()?;
    let bar = progress_bar(None, "verifying");
    if io::stderr().is_terminal() {
        bar.set_length(total);
    }
    let tick = |n: u64| bar.set_position(n);
    let report = verify(
        &mut store,
        &verifier,
        &origin,
        &VerifyOptions {
            deep: a.deep,
            progress: Some(&tick),
            trusted: &trusted,
        },
    )?;
    bar.finish_and_clear();
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        v["intact"] = json!(report.is_intact());
        v["first_bad_index"] = json!(report.first_bad_index());
        println!("{v}");
    } else if report.is_intact() {
        println!(
            "ledger intact: {} events, {} checkpoints, {} payload blobs verified{}",
            report.events,
            report.checkpoints,
            report.blobs,
            if a.deep { " (deep)" } else { "" }
        );
        match (report.latest_verified_size, report.latest_verified_root) {
            (Some(s), Some(r)) => println!("latest signed checkpoint: size {s} root {}", b64(&r)),
            _ => println!("no signed checkpoint yet: run `brig ledger checkpoint`"),
        }
        if report.unsigned_tail > 0 {
            println!(
                "{} events after the latest checkpoint are hash-consistent but not yet signed",
                report.unsigned_tail
            );
        }
        for e in &report.erased {
            println!(
                "erased: payload {:?} of event {} (index {}) by {} at {}: {}{}",
                e.erasure.part,
                e.erasure.event,
                e.erasure.index,
                e.erasure.actor,
                e.at,
                e.erasure.reason,
                if e.pending {
                    " (PENDING: the bytes are still stored; run the same brig ledger erase again)"
                } else {
                    ""
                }
            );
        }
        if a.key.is_none() {
            println!(
                "(trusted key: {} from the data directory; pin your own with --key)",
                verifier.to_vkey()
            );
        }
    } else {
        eprintln!("LEDGER DAMAGED");
        if let Some(i) = report.first_bad_index() {
            eprintln!("first bad index: {i}");
        }
        for p in &report.problems {
            eprintln!("- {}", p.what);
        }
    }
    Ok(if report.is_intact() {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}
