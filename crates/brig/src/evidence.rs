//! `brig evidence …` and `brig timeline`: bundles anyone can verify offline, and timelines
//! for Timesketch and SIEMs.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use brig_evidence::bundle;
use brig_evidence::export::{self, Scope};
use brig_ledger::note::NoteSigner;
use brig_model::Timestamp;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use crate::exit::Exit;
use crate::util::load_vkey;
use crate::DataArgs;

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Write an evidence bundle: events as stored, a proof of each, payloads, sessions,
    /// file changes, snapshots, timeline, signed manifest and chain of custody.
    ///
    /// The bundle is one tar file (zstd-compressed when FILE ends in .zst or with --zstd).
    /// Anyone can check it with `brig evidence verify` and the ledger's verifier key.
    /// Examples:
    ///   brig evidence export --incident INC-0193 -o inc-0193.tar.zst
    ///   brig evidence export --agent billing-bot --from 2026-12-01T00:00:00Z -o billing.tar
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),
    /// Check a bundle offline: manifest signature, every file's hash, every event's inclusion
    /// proof, checkpoints and their consistency, the custody chain.
    ///
    /// Needs no data directory. Exit 0 only when everything holds; 4 when anything does not,
    /// with each failing item named. Pass the ledger's key (from its owner, not the bundle)
    /// with --key; without it the bundle is checked against its own key.
    Verify(VerifyArgs),
    /// Summarize a bundle for a person: scope, events, sessions, custody (no verification).
    Show(ShowArgs),
    /// The chain of custody: record a hand-off in a bundle.
    #[command(subcommand)]
    Custody(CustodyCommand),
    /// Make a signing key for custody entries (NAME.skey, kept secret; NAME.vkey to share).
    Keygen(KeygenArgs),
}

#[derive(Subcommand)]
pub enum CustodyCommand {
    /// Append a signed entry (who, when, where, what) to the bundle's custody log.
    ///
    /// The bundle is checked first and rewritten atomically with the entry added. Example:
    ///   brig evidence custody add inc.tar --by "J. Doe, counsel" --action received \
    ///     --key jdoe.skey --note "sealed copy, case 2026-41"
    #[command(verbatim_doc_comment)]
    Add(CustodyAddArgs),
    /// Print the custody log, each entry checked.
    Show(ShowArgs),
}

/// What to export or put on a timeline.
#[derive(Args, Clone, Debug)]
pub struct ScopeArgs {
    /// An incident (id or unique prefix): its sessions and what responders recorded about it.
    #[arg(long, conflicts_with_all = ["agent", "session", "from", "to"], required_unless_present_any = ["agent", "session"])]
    pub incident: Option<String>,
    /// An agent's events.
    #[arg(long)]
    pub agent: Option<String>,
    /// One session (with --agent: only that agent's events in it).
    #[arg(long)]
    pub session: Option<String>,
    /// From this time (RFC 3339), inclusive.
    #[arg(long, alias = "since", requires = "agent", value_parser = parse_time)]
    pub from: Option<Timestamp>,
    /// Up to this time (RFC 3339), inclusive.
    #[arg(long, requires = "agent", value_parser = parse_time)]
    pub to: Option<Timestamp>,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    s.parse()
}

impl ScopeArgs {
    pub fn scope(&self) -> Scope {
        match (&self.incident, &self.agent, &self.session) {
            (Some(i), _, _) => Scope::Incident(i.clone()),
            (None, None, Some(s)) => Scope::Session(s.clone()),
            (None, a, _) => Scope::Agent {
                agent: a.clone().unwrap_or_default(),
                session: self.session.clone(),
                from: self.from,
                to: self.to,
            },
        }
    }
}

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// The bundle to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// zstd-compress (default when FILE ends in .zst).
    #[arg(long)]
    pub zstd: bool,
    /// Who exports, for the custody log (default: $USER).
    #[arg(long)]
    pub by: Option<String>,
    /// A note for the custody log (case number, request, …).
    #[arg(long)]
    pub note: Option<String>,
    /// Put the raw payloads that hold secrets (keys, tokens, passwords found at ingest) in
    /// the bundle. By default they are withheld, still bound by their events' digests;
    /// readable files are redacted either way. Recorded in the ledger.
    #[arg(long)]
    pub include_secrets: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct VerifyArgs {
    pub file: PathBuf,
    /// The ledger's verifier key (vkey text or a file holding it), obtained out of band.
    #[arg(long)]
    pub key: Option<String>,
    #[arg(long)]
    pub json: bool,
    /// Record the result in the data directory's ledger (an `evidence.verify` operator
    /// action: the bundle's incident, ok or not, its manifest digest), for `brig metrics`'
    /// forensic coverage. Without --key the bundle is checked against that ledger's key.
    #[arg(long)]
    pub record: bool,
    #[command(flatten)]
    pub data: DataArgs,
    /// Who verified (default: $USER), with --record.
    #[arg(long)]
    pub actor: Option<String>,
}

#[derive(Args)]
pub struct ShowArgs {
    pub file: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct CustodyAddArgs {
    pub file: PathBuf,
    /// Who takes or hands over the evidence.
    #[arg(long)]
    pub by: String,
    /// What happened: transferred, received, stored, examined, …
    #[arg(long, default_value = "transferred")]
    pub action: String,
    /// The signer's secret key (from `brig evidence keygen`).
    #[arg(long, value_name = "SKEY_FILE")]
    pub key: PathBuf,
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Args)]
pub struct KeygenArgs {
    /// The key's name (shown in custody entries), e.g. your e-mail address.
    pub name: String,
    /// Write NAME.skey and NAME.vkey under this path prefix (default: the name).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn run(cmd: EvidenceCommand) -> anyhow::Result<Exit> {
    match cmd {
        EvidenceCommand::Export(a) => export_cmd(a),
        EvidenceCommand::Verify(a) => verify_cmd(a),
        EvidenceCommand::Show(a) => show_cmd(a),
        EvidenceCommand::Custody(CustodyCommand::Add(a)) => custody_add(a),
        EvidenceCommand::Custody(CustodyCommand::Show(a)) => custody_show(a),
        EvidenceCommand::Keygen(a) => keygen(a),
    }
}

fn export_cmd(a: ExportArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let compress = a.zstd || a.output.extension().is_some_and(|e| e == "zst");
    let opts = export::Options {
        by: crate::util::actor(&a.by),
        compress,
        note: a.note.clone(),
        include_secrets: a.include_secrets,
    };
    let started = std::time::Instant::now();
    let s = export::export(&dir, &a.scope.scope(), &a.output, &opts)
        .with_context(|| format!("cannot export to {}", a.output.display()))?;
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "wrote {} ({} bytes, {} files) in {:.1?}\n  {} events proven against checkpoint size {} ({} older checkpoint(s) linked)\n  {} payloads, {} sessions, {} file changes\n  manifest sha256 {}",
            s.path.display(), s.bytes, s.files, started.elapsed(), s.events, s.checkpoint_size,
            s.older_checkpoints, s.payloads, s.sessions, s.changes, s.manifest_sha256
        );
        for g in &s.gaps {
            println!("  gap: {g}");
        }
        if s.withheld > 0 {
            println!(
                "  {} payload(s) holding secrets withheld (--include-secrets to include them)",
                s.withheld
            );
        }
    }
    Ok(Exit::Ok)
}

fn verify_cmd(a: VerifyArgs) -> anyhow::Result<Exit> {
    let dir = a.record.then(|| a.data.open()).transpose()?;
    let key = match (&a.key, &dir) {
        (Some(k), _) => Some(load_vkey(k)?),
        (None, Some(d)) => Some(d.verifier()?),
        (None, None) => None,
    };
    let r = brig_evidence::verify::verify_file(&a.file, key.as_ref());
    if let Some(d) = &dir {
        record_verification(d, &a, &r)?;
    }
    if a.json {
        let mut v = serde_json::to_value(&r)?;
        if let Some(m) = v.get_mut("manifest").and_then(|m| m.as_object_mut()) {
            m.remove("files");
        }
        println!("{v}");
    } else {
        for w in &r.warnings {
            eprintln!("warning: {w}");
        }
        for p in &r.problems {
            println!("FAIL {}: {}", p.item, p.what);
        }
        let c = &r.checked;
        if r.ok {
            println!(
                "OK: {} verified with key {}\n  {} files hashed, {} events proven in the signed ledger, {} payloads, {} checkpoint(s), {} custody entr{}",
                a.file.display(), r.key.as_deref().unwrap_or("?"), c.files, c.events, c.payloads,
                c.checkpoints, c.custody, if c.custody == 1 { "y" } else { "ies" }
            );
            for w in &r.withheld {
                println!(
                    "  withheld secret: payload {:?} of event {} ({}): bound by the event's digest, not in the bundle",
                    w.part, w.event, w.kinds.join(", ")
                );
            }
            for e in &r.erased {
                println!(
                    "  erased: payload {:?} of event {} by {} ({}); the erasure is event {}",
                    e.part, e.event, e.actor, e.reason, e.record
                );
            }
        } else {
            println!(
                "INVALID: {} problem(s) in {}",
                r.problems.len(),
                a.file.display()
            );
        }
    }
    Ok(if r.ok { Exit::Ok } else { Exit::Invalid })
}

/// Appends the verification's result to the data directory's ledger.
fn record_verification(
    dir: &brig_store::DataDir,
    a: &VerifyArgs,
    r: &brig_evidence::verify::Report,
) -> anyhow::Result<()> {
    let manifest_sha256 = bundle::read(&a.file)
        .ok()
        .and_then(|f| f.get(bundle::MANIFEST).map(bundle::sha256_hex))
        .unwrap_or_default();
    let v = brig_incident::metrics::Verification {
        incident: r.manifest.as_ref().and_then(|m| m.scope.incident.clone()),
        agent: r
            .manifest
            .as_ref()
            .map_or_else(|| "*".into(), |m| m.scope.agent.clone()),
        ok: r.ok,
        manifest_sha256,
        key: r.key.clone(),
    };
    let e = brig_ledger::Prepared::new(v.event(&crate::util::actor(&a.actor)))?;
    let index = dir
        .ledger()?
        .append(&[e])
        .context("the verification could not be recorded in the ledger")?[0]
        .index;
    eprintln!("recorded in the ledger (event {index})");
    Ok(())
}

fn read_manifest(files: &bundle::Files) -> anyhow::Result<bundle::Manifest> {
    let m = files
        .get(bundle::MANIFEST)
        .context("the bundle has no manifest.json")?;
    serde_json::from_slice(m).context("manifest.json is unreadable")
}

fn show_cmd(a: ShowArgs) -> anyhow::Result<Exit> {
    let files = bundle::read(&a.file)?;
    let m = read_manifest(&files)?;
    let entries: Vec<_> = brig_evidence::custody::files(&files)
        .into_iter()
        .map(|(p, d)| (p.to_string(), brig_evidence::custody::parse(d)))
        .collect();
    if a.json {
        let custody: Vec<_> = entries
            .iter()
            .map(|(p, e)| match e {
                Ok(e) => json!({"file": p, "entry": e}),
                Err(why) => json!({"file": p, "unreadable": why}),
            })
            .collect();
        let mut mv = serde_json::to_value(&m)?;
        mv.as_object_mut().map(|o| o.remove("files"));
        println!(
            "{}",
            json!({"manifest": mv, "files": files.entries.len(), "custody": custody})
        );
        return Ok(Exit::Ok);
    }
    let s = &m.scope;
    println!(
        "Evidence bundle {} ({}, Brig {})",
        a.file.display(),
        m.format,
        m.brig_version
    );
    println!("  created   {}", m.created);
    println!(
        "  ledger    {} (checkpoint size {})",
        m.origin, m.checkpoint_size
    );
    match &s.incident {
        Some(i) => println!("  scope     incident {i} (agent {})", s.agent),
        None => println!(
            "  scope     agent {}{}{}{}",
            s.agent,
            s.session
                .as_deref()
                .map(|x| format!(", session {x}"))
                .unwrap_or_default(),
            s.from
                .as_deref()
                .map(|x| format!(", from {x}"))
                .unwrap_or_default(),
            s.to.as_deref()
                .map(|x| format!(", to {x}"))
                .unwrap_or_default()
        ),
    }
    println!(
        "  events    {} (ledger indices {}..={}){}",
        s.events,
        s.first_index.unwrap_or(0),
        s.last_index.unwrap_or(0),
        if s.cut {
            ", cut: a session held more than one export reads"
        } else {
            ""
        }
    );
    println!(
        "  sessions  {}",
        if s.sessions.is_empty() {
            "-".into()
        } else {
            s.sessions.join(", ")
        }
    );
    let count = |pre: &str| m.files.iter().filter(|f| f.path.starts_with(pre)).count();
    println!(
        "  contents  {} files: {} payloads, {} change records, {} snapshots, {} older checkpoints",
        m.files.len(),
        count("payloads/"),
        count("changes/")
            - m.files
                .iter()
                .filter(|f| f.path.starts_with("changes/") && !f.path.ends_with(".json"))
                .count(),
        count("snapshots/"),
        count("ledger/checkpoints/")
    );
    for g in &m.gaps {
        println!("  gap       {g}");
    }
    print_custody(&entries);
    println!(
        "\nNot verified here: run `brig evidence verify {} --key LEDGER.vkey`.",
        a.file.display()
    );
    Ok(Exit::Ok)
}

type Entries = Vec<(String, Result<brig_evidence::custody::Entry, String>)>;

fn print_custody(entries: &Entries) {
    println!("  custody");
    for (p, e) in entries {
        match e {
            Ok(e) => println!(
                "    {:>3}  {}  {:<11} {} on {}{}",
                e.seq,
                e.at,
                e.action,
                e.by,
                e.host,
                e.note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default()
            ),
            Err(why) => println!("    {p}: unreadable: {why}"),
        }
    }
}

fn custody_show(a: ShowArgs) -> anyhow::Result<Exit> {
    let files = bundle::read(&a.file)?;
    let r = brig_evidence::verify::verify(&files, None);
    let custody_problems: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.item.starts_with(bundle::CUSTODY_DIR) || p.item == "custody")
        .collect();
    if a.json {
        println!(
            "{}",
            json!({"entries": r.custody, "problems": custody_problems})
        );
    } else {
        for c in &r.custody {
            let e = &c.entry;
            println!(
                "{:>3}  {}  {:<11} {} on {} (Brig {}), signed by {}{}",
                e.seq,
                e.at,
                e.action,
                e.by,
                e.host,
                e.brig_version,
                c.key_id,
                e.note
                    .as_deref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default()
            );
        }
        for p in &custody_problems {
            println!("FAIL {}: {}", p.item, p.what);
        }
    }
    Ok(if custody_problems.is_empty() {
        Exit::Ok
    } else {
        Exit::Invalid
    })
}

fn custody_add(a: CustodyAddArgs) -> anyhow::Result<Exit> {
    let skey = std::fs::read_to_string(&a.key)
        .with_context(|| format!("cannot read {}", a.key.display()))?;
    let signer = NoteSigner::from_skey(skey.trim())
        .with_context(|| format!("{} is not a signing key (skey)", a.key.display()))?;
    let mut files = bundle::read(&a.file)?;
    let r = brig_evidence::verify::verify(&files, None);
    if !r.ok {
        for p in &r.problems {
            eprintln!("FAIL {}: {}", p.item, p.what);
        }
        bail!(
            "{} does not verify; a hand-off is not added to broken evidence",
            a.file.display()
        );
    }
    let sha = bundle::sha256_hex(files.get(bundle::MANIFEST).context("no manifest.json")?);
    let compressed = is_zstd(&a.file)?;
    let e = brig_evidence::custody::append(&mut files, &a.action, &a.by, a.note, &signer, &sha)?;
    bundle::write(&a.file, &files, compressed)?;
    println!(
        "custody entry {} added to {}: {} by {} on {}",
        e.seq,
        a.file.display(),
        e.action,
        e.by,
        e.host
    );
    Ok(Exit::Ok)
}

fn is_zstd(path: &std::path::Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 4];
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(f.read(&mut magic)? == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd])
}

fn keygen(a: KeygenArgs) -> anyhow::Result<Exit> {
    let signer = NoteSigner::generate(&a.name).context("cannot make a key with that name")?;
    let prefix = a.output.unwrap_or_else(|| PathBuf::from(&a.name));
    let skey = prefix.with_extension("skey");
    let vkey = prefix.with_extension("vkey");
    if skey.exists() {
        bail!("{} exists; not overwriting a key", skey.display());
    }
    write_private(&skey, &format!("{}\n", signer.to_skey()))?;
    std::fs::write(&vkey, format!("{}\n", signer.verifier().to_vkey()))
        .with_context(|| format!("cannot write {}", vkey.display()))?;
    println!("{}", signer.verifier().to_vkey());
    eprintln!(
        "wrote {} (secret, mode 0600) and {}",
        skey.display(),
        vkey.display()
    );
    Ok(Exit::Ok)
}

fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// Timeline formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// Timesketch JSON lines (message, datetime, timestamp_desc, timestamp + Brig's fields).
    TimesketchJsonl,
    /// Timesketch CSV, same columns.
    TimesketchCsv,
    /// OCSF 1.8 JSON (API Activity, File System Activity, Detection and Incident Findings),
    /// one object per line.
    Ocsf,
}

#[derive(Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    #[arg(long, value_enum, default_value = "timesketch-jsonl")]
    pub format: Format,
    /// Write here instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

pub fn timeline(a: TimelineArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let (events, incident) = export::events_in(&dir, &a.scope.scope())?;
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match a.format {
        Format::TimesketchJsonl => brig_evidence::timeline::write_jsonl(&events, &mut out)?,
        Format::TimesketchCsv => brig_evidence::timeline::write_csv(&events, &mut out)?,
        Format::Ocsf => {
            let incidents: Vec<_> = incident.into_iter().collect();
            for o in brig_evidence::ocsf::to_ocsf(&events, &incidents) {
                writeln!(out, "{o}")?;
            }
        }
    }
    out.flush()?;
    if let Some(p) = &a.output {
        eprintln!("wrote {} events to {}", events.len(), p.display());
    }
    Ok(Exit::Ok)
}
