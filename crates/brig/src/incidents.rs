//! `brig incidents`: the incidents Brig opened from alerts and reports, and the lifecycle
//! people drive (acknowledge, assign, note, steps, close).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use brig_incident::clocks::{Obligation, Regimes};
use brig_incident::desk::{self, Change};
use brig_incident::questions::{self, Answers};
use brig_incident::{Incident, Severity, State};
use brig_ledger::Prepared;
use brig_model::Timestamp;
use brig_store::{DataDir, Store};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::exit::Exit;
use crate::util::actor;
use crate::DataArgs;

#[derive(Subcommand)]
pub enum IncidentsCommand {
    /// Open incidents, newest first (with --all, closed ones too).
    List(ListArgs),
    /// One incident: severity and why, lifecycle, the commander's questions answered from
    /// the ledger, reporting clocks, playbook steps, notes.
    Show(ShowArgs),
    /// The incident's events in order: calls, decisions, alerts, playbook steps.
    Timeline(TimelineArgs),
    /// Acknowledge: someone is on it (becomes the owner if there is none).
    Ack(ChangeArgs),
    /// Give the incident an owner.
    Assign(AssignArgs),
    /// Add a note (--privileged: kept apart, marked, shown only on request).
    Note(NoteArgs),
    /// Record a lifecycle step reached: contained, eradicated or recovered.
    Step(StepArgs),
    /// Close with a verdict (true_positive, false_positive, benign, …).
    Close(CloseArgs),
    /// Reopen a closed incident.
    Reopen(ChangeArgs),
    /// Put the incident under legal hold (--off to lift it).
    Hold(HoldArgs),
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Include closed incidents.
    #[arg(long)]
    all: bool,
    /// Only incidents at this severity or above.
    #[arg(long, value_name = "SEVERITY")]
    severity: Option<Severity>,
    #[arg(long, default_value_t = 100)]
    limit: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ShowArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The incident id (or a unique prefix of it).
    id: String,
    /// Risk register, for data classes and how changes are reversed.
    #[arg(long, env = "BRIG_REGISTER", value_name = "FILE")]
    register: Option<PathBuf>,
    /// Your own reporting regimes table, replacing the shipped one (regimes/regimes.toml).
    #[arg(long, value_name = "FILE")]
    regimes: Option<PathBuf>,
    /// Also show privileged notes.
    #[arg(long)]
    privileged: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    data: DataArgs,
    id: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    data: DataArgs,
    id: String,
    /// Why (recorded in the ledger).
    #[arg(long)]
    reason: Option<String>,
    /// Who is acting [default: $USER]
    #[arg(long)]
    actor: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct AssignArgs {
    #[command(flatten)]
    change: ChangeArgs,
    #[arg(long)]
    owner: String,
}

#[derive(Args)]
pub struct NoteArgs {
    #[command(flatten)]
    change: ChangeArgs,
    #[arg(long)]
    text: String,
    /// Legally privileged (attorney-client, work product): kept apart and marked.
    #[arg(long)]
    privileged: bool,
}

#[derive(Args)]
pub struct StepArgs {
    #[command(flatten)]
    change: ChangeArgs,
    /// contained, eradicated or recovered.
    #[arg(value_parser = ["contained", "eradicated", "recovered"])]
    step: String,
}

#[derive(Args)]
pub struct CloseArgs {
    #[command(flatten)]
    change: ChangeArgs,
    /// true_positive, false_positive, benign, duplicate, … (your own words are kept).
    #[arg(long)]
    verdict: String,
}

#[derive(Args)]
pub struct HoldArgs {
    #[command(flatten)]
    change: ChangeArgs,
    /// Lift the hold.
    #[arg(long)]
    off: bool,
}

pub fn run(cmd: IncidentsCommand) -> anyhow::Result<Exit> {
    match cmd {
        IncidentsCommand::List(a) => list(a),
        IncidentsCommand::Show(a) => show(a),
        IncidentsCommand::Timeline(a) => timeline(a),
        IncidentsCommand::Ack(a) => apply(a, Change::Acknowledge),
        IncidentsCommand::Assign(a) => apply(a.change, Change::Assign(a.owner)),
        IncidentsCommand::Note(a) => note(a),
        IncidentsCommand::Step(a) => {
            let s = match a.step.as_str() {
                "contained" => State::Contained,
                "eradicated" => State::Eradicated,
                _ => State::Recovered,
            };
            apply(a.change, Change::Step(s))
        }
        IncidentsCommand::Close(a) => apply(a.change, Change::Close { verdict: a.verdict }),
        IncidentsCommand::Reopen(a) => apply(a, Change::Reopen),
        IncidentsCommand::Hold(a) => apply(a.change, Change::LegalHold(!a.off)),
    }
}

fn list(a: ListArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let rows = dir.store()?.incidents(a.all, a.limit)?;
    let mut shown = 0;
    for row in rows {
        let i = desk::parse(&row)?;
        if a.severity.is_some_and(|s| i.severity < s) {
            continue;
        }
        shown += 1;
        if a.json {
            println!("{}", serde_json::to_string(&i)?);
        } else {
            println!(
                "{}  {:<17} {:<12} {}  {}  alerts {}",
                i.id,
                i.severity,
                i.state.as_str(),
                when(i.times.detected),
                i.title,
                i.alerts.len()
            );
        }
    }
    if shown == 0 && !a.json {
        println!("no {}incidents", if a.all { "" } else { "open " });
    }
    Ok(Exit::Ok)
}

fn when(t: Option<i64>) -> String {
    t.map_or_else(|| "-".into(), |n| Timestamp::from_unix_nanos(n).to_string())
}

fn load_register(p: &Option<PathBuf>) -> anyhow::Result<Option<brig_register::Register>> {
    p.as_ref()
        .map(|f| brig_register::Register::load(f).context("loading the risk register"))
        .transpose()
}

fn show(a: ShowArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let (i, _) = desk::load(&mut store, &a.id)?;
    let register = load_register(&a.register)?;
    let regimes = match &a.regimes {
        Some(f) => Regimes::load(f)?,
        None => Regimes::builtin().clone(),
    };
    let (mut events, _) = questions::events_of(&mut store, &i)?;
    events
        .iter_mut()
        .for_each(|(_, e)| brig_model::secrets::redact_event(e));
    let answers = questions::answer(&i, &events, register.as_ref());
    let detected = i.times.detected.unwrap_or_default();
    let clocks = regimes.candidates(&i.classes, &i.outcomes, i.severity, detected);
    let steps = playbook_steps(&mut store, &i)?;
    let notes = store.incident_notes(&i.id)?;
    let (privileged, open): (Vec<_>, Vec<_>) = notes.into_iter().partition(|n| n.privileged);
    let now = Timestamp::now().unix_nanos();
    let escalate: Vec<Value> = register
        .iter()
        .flat_map(|r| r.contacts.iter())
        .filter(|c| c.notify_at <= i.severity)
        .map(|c| json!({"name": c.name, "role": c.role, "email": c.email, "phone": c.phone}))
        .collect();
    if a.json {
        let note_json = |n: &brig_store::NoteRow| json!({"ts": Timestamp::from_unix_nanos(n.ts_nanos), "author": n.author, "text": n.text});
        let mut doc = json!({
            "incident": i,
            "answers": answers,
            "reporting": clocks.iter().map(|o| clock_json(o, now)).collect::<Vec<_>>(),
            "playbook": steps,
            "escalate_to": escalate,
            "notes": open.iter().map(note_json).collect::<Vec<_>>(),
        });
        if a.privileged {
            doc["privileged_notes"] = privileged.iter().map(note_json).collect();
        }
        brig_model::secrets::redact_in_place(&mut doc);
        println!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(Exit::Ok);
    }
    print_incident(&i);
    print_answers(&answers);
    print_clocks(&clocks, now);
    if !escalate.is_empty() {
        println!("\nEscalate to (register contacts at this severity):");
        for c in &escalate {
            let reach: Vec<&str> = [&c["email"], &c["phone"]]
                .into_iter()
                .filter_map(Value::as_str)
                .collect();
            println!(
                "  {} ({}) {}",
                c["name"].as_str().unwrap_or(""),
                c["role"].as_str().unwrap_or(""),
                reach.join(" ")
            );
        }
    }
    println!("\nPlaybook:");
    if steps.is_empty() {
        println!("  (not run)");
    }
    for s in &steps {
        println!(
            "  {:<17} {:<7} {:>8} ms  {}",
            s.step,
            s.status,
            s.ms.map_or_else(|| "-".into(), |ms| ms.to_string()),
            s.detail
        );
    }
    println!("\nNotes:");
    for n in &open {
        println!(
            "  {} {}: {}",
            Timestamp::from_unix_nanos(n.ts_nanos),
            n.author,
            n.text
        );
    }
    if !privileged.is_empty() {
        if a.privileged {
            println!("\nPRIVILEGED notes (attorney-client / work product; do not forward):");
            for n in &privileged {
                println!(
                    "  {} {}: {}",
                    Timestamp::from_unix_nanos(n.ts_nanos),
                    n.author,
                    n.text
                );
            }
        } else {
            println!(
                "  ({} privileged note(s) withheld; --privileged shows them)",
                privileged.len()
            );
        }
    }
    Ok(Exit::Ok)
}

fn clock_json(o: &Obligation, now: i64) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or(Value::Null);
    v["deadline"] = json!(o.deadline_nanos.map(Timestamp::from_unix_nanos));
    v["left_secs"] = json!(o.left_secs(now));
    v["left"] = json!(o.left(now));
    v
}

fn print_incident(i: &Incident) {
    println!("{}  {}  {}", i.id, i.severity, i.state.as_str());
    println!("{}", i.title);
    println!(
        "agent {}  workflow {}  sessions {}",
        i.agent,
        i.workflow.as_deref().unwrap_or("-"),
        i.sessions.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    println!(
        "owner {}  verdict {}  legal hold {}",
        i.owner.as_deref().unwrap_or("-"),
        i.verdict.as_deref().unwrap_or("-"),
        if i.legal_hold { "YES" } else { "no" }
    );
    println!("\nWhy {}:", i.severity);
    for r in &i.reasons {
        println!("  - {r}");
    }
    println!("\nLifecycle:");
    let t = &i.times;
    for (name, v) in t.steps() {
        println!("  {name:<20} {}", when(v));
    }
    if let (Some(d), Some(c)) = (t.detected, t.contained) {
        println!(
            "  time to contain: {:.1} ms after detection",
            (c - d) as f64 / 1e6
        );
    }
    let list = |s: &std::collections::BTreeSet<String>| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.iter().cloned().collect::<Vec<_>>().join(", ")
        }
    };
    println!("\nAlerts {}  rules {}", i.alerts.len(), list(&i.rules));
    println!("data classes {}", list(&i.classes));
    let outcomes: std::collections::BTreeSet<String> =
        i.outcomes.iter().map(|o| o.as_str().to_string()).collect();
    println!("outcomes {}", list(&outcomes));
}

fn print_answers(a: &Answers) {
    println!("\nThe commander's questions:");
    let d = &a.did;
    let tools: Vec<String> = d.by_tool.iter().map(|(t, n)| format!("{t} ×{n}")).collect();
    println!(
        "  What did the agent do? {} events, {} tool calls ({} ran, {} denied, {} held): {}{}",
        d.events,
        d.calls,
        d.ran,
        d.denied,
        d.held,
        tools.join(", "),
        if d.cut {
            " (cut: the session is longer than Brig reads at once)"
        } else {
            ""
        }
    );
    println!("  Which systems and resources did it reach?");
    if a.reached.is_empty() {
        println!("    none (no call that ran had a target)");
    }
    for r in &a.reached {
        let mut extra = String::new();
        if !r.resources.is_empty() {
            extra.push_str(&format!(
                " [{}]",
                r.resources.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !r.classes.is_empty() {
            extra.push_str(&format!(
                " classes {}",
                r.classes.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        println!(
            "    {} ({}){extra}",
            r.target,
            r.actions.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let p = &a.permissions;
    println!("  Which permissions did it hold?");
    match (&p.workflow, &p.workflow_tools) {
        (Some(w), Some(t)) if !t.is_empty() => println!("    workflow {w}: tools {}", t.join(", ")),
        (Some(w), _) => println!("    workflow {w}: tools not declared"),
        _ => println!("    no workflow declared for it in the register"),
    }
    for (pol, n) in &p.allowed_by {
        println!("    allowed by {pol} ×{n}");
    }
    for (id, by) in &p.approvals_granted {
        println!("    approval {id} granted by {by}");
    }
    println!("  Was sensitive data exposed, altered or copied?");
    if a.data.is_empty() {
        println!("    no classified data involved (as far as the register says)");
    }
    for (class, d) in &a.data {
        let part = |name: &str, s: &std::collections::BTreeSet<String>| {
            (!s.is_empty()).then(|| {
                format!(
                    "{name}: {}",
                    s.iter().cloned().collect::<Vec<_>>().join(", ")
                )
            })
        };
        let parts: Vec<String> = [
            part("exposed", &d.exposed),
            part("altered", &d.altered),
            part("copied out to", &d.copied),
            part("attempted (stopped)", &d.attempted),
        ]
        .into_iter()
        .flatten()
        .collect();
        println!("    {class}: {}", parts.join("; "));
    }
    println!("  Can it be reversed automatically?");
    if a.reversal.is_empty() {
        println!("    nothing to reverse: no change ran");
    } else if a.all_reversible {
        println!("    yes, every change:");
    } else {
        println!("    no: some changes need a manual restore:");
    }
    for r in &a.reversal {
        println!("    {} {}: {}", r.change, r.target, r.how);
    }
}

fn print_clocks(clocks: &[Obligation], now: i64) {
    println!("\nReporting clocks (candidates, for legal review; not legal advice):");
    if clocks.is_empty() {
        println!("  none of the regimes' triggers match this incident");
    }
    for o in clocks {
        let deadline = o.deadline_nanos.map_or_else(
            || o.due.clone(),
            |d| format!("by {} ({})", Timestamp::from_unix_nanos(d), o.left(now)),
        );
        println!("  {} — tell {} {deadline} [{}]", o.name, o.notify, o.source);
    }
}

/// The playbook steps recorded for an incident.
fn playbook_steps(
    store: &mut Store,
    i: &Incident,
) -> anyhow::Result<Vec<brig_incident::playbook::Recorded>> {
    let records = questions::records_of(store, i)?;
    Ok(brig_incident::playbook::recorded_steps(store, &records)?)
}

fn timeline(a: TimelineArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let (i, _) = desk::load(&mut store, &a.id)?;
    let (mut events, cut) = questions::events_of(&mut store, &i)?;
    events
        .iter_mut()
        .for_each(|(_, e)| brig_model::secrets::redact_event(e));
    let lines = questions::timeline(&events);
    for l in &lines {
        if a.json {
            println!("{}", serde_json::to_string(l)?);
        } else {
            println!(
                "{:>8}  {}  {:<20} {}",
                l.index,
                Timestamp::from_unix_nanos(l.ts),
                l.kind,
                l.what
            );
        }
    }
    if cut {
        eprintln!("brig: the timeline is cut: a session is longer than Brig reads at once");
    }
    Ok(Exit::Ok)
}

/// Applies a change: the ledger event first (durable), then the store.
fn apply(a: ChangeArgs, c: Change) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let (i, row) = desk::load(&mut store, &a.id)?;
    let who = actor(&a.actor);
    if matches!(c, Change::Reopen) && i.state != State::Closed {
        bail!("incident {} is not closed", i.id);
    }
    let (updated, e) = desk::change(&i, &who, &c, a.reason.as_deref())?;
    let index = dir.ledger()?.append(&[Prepared::new(e)?])?[0].index;
    desk::save(&mut store, &updated, &row)
        .context("recorded in the ledger, but the incident state was not saved")?;
    if a.json {
        println!("{}", json!({"incident": updated, "ledger_index": index}));
    } else {
        println!(
            "{}: {} (ledger event {index})",
            updated.id,
            updated.state.as_str()
        );
    }
    Ok(Exit::Ok)
}

fn note(a: NoteArgs) -> anyhow::Result<Exit> {
    if a.text.trim().is_empty() {
        bail!("--text is empty");
    }
    let dir = a.change.data.open()?;
    let mut store = dir.store()?;
    let (i, _) = desk::load(&mut store, &a.change.id)?;
    let (row, e) = desk::note(&i, &actor(&a.change.actor), &a.text, a.privileged);
    let index = dir.ledger()?.append(&[Prepared::new(e)?])?[0].index;
    store.add_incident_note(&row)?;
    if a.change.json {
        println!(
            "{}",
            json!({"incident": i.id, "ledger_index": index, "privileged": a.privileged})
        );
    } else {
        println!(
            "{}: {}note added (ledger event {index})",
            i.id,
            if a.privileged { "privileged " } else { "" }
        );
    }
    Ok(Exit::Ok)
}

/// Files signals into incidents from the CLI and runs the playbook when needed.
pub fn respond(
    dir: &DataDir,
    register: Option<brig_register::Register>,
    signals: &[brig_incident::grade::Signal],
) -> anyhow::Result<Vec<brig_incident::playbook::Handled>> {
    let sink = Arc::new(brig_incident::playbook::LedgerSink(std::sync::Mutex::new(
        dir.ledger()?,
    )));
    let mut responder =
        brig_incident::playbook::Responder::new(dir, register.map(Arc::new), None, sink)?;
    let handled = responder.handle(signals)?;
    responder.finish();
    Ok(handled)
}
