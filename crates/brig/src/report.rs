//! `brig report-incident`: a person reports what an agent did (intake).
//!
//! The report becomes a `human.report` event in the ledger — time, tool, prompt context,
//! the affected resources, the agent's delegated permissions, and attached files
//! (screenshots, logs) as payload blobs, each with its SHA-256 — and then opens or joins an
//! incident exactly like an alert, running the playbook when it is grave enough.

use std::path::PathBuf;

use anyhow::{bail, Context};
use base64::Engine;
use brig_incident::grade::Signal;
use brig_incident::Severity;
use brig_ledger::Prepared;
use brig_model::{Action, ActionKind, EventId, EventKind, NewEvent, Timestamp};
use clap::Args;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::exit::Exit;
use crate::util::actor;
use crate::DataArgs;

/// Largest attachment, in bytes (the ledger keeps it whole).
const MAX_ATTACHMENT: u64 = 16 * 1024 * 1024;

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The agent the report is about.
    #[arg(long)]
    agent: String,
    /// What you saw, in your words.
    #[arg(long)]
    summary: String,
    #[arg(long)]
    session: Option<String>,
    #[arg(long)]
    workflow: Option<String>,
    /// When it happened (RFC 3339) [default: now]
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// The tool the agent used.
    #[arg(long)]
    tool: Option<String>,
    /// The prompt or task context the agent had.
    #[arg(long)]
    prompt: Option<String>,
    /// An affected resource: a path, URL, host, mail address or dataset (repeatable).
    #[arg(long = "resource", value_name = "TARGET")]
    resources: Vec<String>,
    /// What happened to the resources: exposed, altered, copied (out of the organization) or other.
    #[arg(long, default_value = "other", value_parser = ["exposed", "altered", "copied", "other"])]
    happened: String,
    /// The agent's delegated permissions, as you know them (tokens, roles, scopes).
    #[arg(long)]
    permissions: Option<String>,
    /// A file to attach: screenshot, log, export (repeatable).
    #[arg(long = "attach", value_name = "FILE")]
    attachments: Vec<PathBuf>,
    /// How serious you judge it [default: policy_violation]; what happened can raise it.
    #[arg(long, default_value = "policy_violation")]
    severity: Severity,
    /// Who reports [default: $USER]
    #[arg(long)]
    reporter: Option<String>,
    /// Risk register: data classes of the resources, playbook settings.
    #[arg(long, env = "BRIG_REGISTER", value_name = "FILE")]
    register: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn level_of(s: Severity) -> &'static str {
    match s {
        Severity::Advisory => "low",
        Severity::PolicyViolation => "medium",
        Severity::SecurityIncident => "high",
        Severity::ReportableBreach => "critical",
    }
}

/// The action a report names on a resource. For a copy, classified resources are what
/// was read and the others where it went.
fn action_of(happened: &str, target: &str, register: Option<&brig_register::Register>) -> Action {
    let path = target.starts_with('/');
    let classified = register.is_some_and(|r| !r.classes_of(target).is_empty());
    let kind = match (happened, path) {
        ("altered", true) => ActionKind::FileWrite,
        ("altered", false) => ActionKind::DataWrite,
        ("copied", true) if classified => ActionKind::FileRead,
        ("copied", false) if classified => ActionKind::DataRead,
        ("copied", _) => ActionKind::NetEgress,
        ("exposed", true) => ActionKind::FileRead,
        ("exposed", false) => ActionKind::DataRead,
        _ => ActionKind::ToolCall,
    };
    Action::new(kind, target)
}

fn attachment(p: &PathBuf) -> anyhow::Result<serde_json::Value> {
    let meta = std::fs::metadata(p).with_context(|| format!("attachment {}", p.display()))?;
    if meta.len() > MAX_ATTACHMENT {
        bail!(
            "attachment {} is {} bytes; the limit is {MAX_ATTACHMENT}",
            p.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(p).with_context(|| format!("attachment {}", p.display()))?;
    Ok(json!({
        "name": p.file_name().map(|n| n.to_string_lossy().into_owned()),
        "size": bytes.len(),
        "sha256": hex::encode(Sha256::digest(&bytes)),
        "base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
    }))
}

pub fn run(a: ReportArgs) -> anyhow::Result<Exit> {
    if a.summary.trim().is_empty() {
        bail!("--summary is empty: say what you saw");
    }
    let dir = a.data.open()?;
    let register = a
        .register
        .as_ref()
        .map(|f| brig_register::Register::load(f).context("loading the risk register"))
        .transpose()?;
    let ts = match &a.at {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--at `{t}` is not an RFC 3339 time"))?
            .timestamp_nanos_opt()
            .map(Timestamp::from_unix_nanos)
            .context("--at is out of range")?,
        None => Timestamp::now(),
    };
    let attachments = a
        .attachments
        .iter()
        .map(attachment)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let reporter = actor(&a.reporter);
    let mut e = NewEvent::new("human-report", a.agent.clone(), EventKind::HumanReport);
    e.id = Some(EventId::new());
    e.ts = Some(ts);
    e.session = a.session.clone();
    e.workflow = a.workflow.clone();
    e.tool = a.tool.clone();
    e.actions = a
        .resources
        .iter()
        .map(|r| action_of(&a.happened, r, register.as_ref()))
        .collect();
    e.attrs.insert("reporter".into(), json!(reporter));
    e.attrs.insert("happened".into(), json!(a.happened));
    e.attrs.insert("severity".into(), json!(a.severity));
    e.attrs.insert(
        "attachments".into(),
        json!(attachments
            .iter()
            .map(|x| json!({"name": x["name"], "size": x["size"], "sha256": x["sha256"]}))
            .collect::<Vec<_>>()),
    );
    e.payload.insert("summary".into(), json!(a.summary));
    if let Some(p) = &a.prompt {
        e.payload.insert("prompt".into(), json!(p));
    }
    if let Some(p) = &a.permissions {
        e.payload.insert("permissions".into(), json!(p));
    }
    if !attachments.is_empty() {
        e.payload.insert("attachments".into(), json!(attachments));
    }
    let signal = Signal {
        id: e.id.map(|i| i.to_string()).unwrap_or_default(),
        rule: "human-report".into(),
        title: format!(
            "reported by {reporter}: {}",
            brig_detect::head(&a.summary, 80)
        ),
        level: level_of(a.severity).into(),
        actions: e.actions.clone(),
        agent: a.agent.clone(),
        session: a.session.clone(),
        workflow: a.workflow.clone(),
        ts_nanos: ts.unix_nanos(),
        classes: if a.happened == "copied" {
            // What was copied is what the other resources hold.
            a.resources
                .iter()
                .flat_map(|r| {
                    register
                        .as_ref()
                        .map(|g| g.classes_of(r))
                        .unwrap_or_default()
                })
                .collect()
        } else {
            Default::default()
        },
        ..Signal::default()
    };
    let index = dir.ledger()?.append(&[Prepared::new(e)?])?[0].index;
    let handled = crate::incidents::respond(&dir, register, &[signal])
        .context("the report is recorded, but filing it into an incident failed")?;
    let Some(h) = handled.first() else {
        bail!("the report is recorded (ledger event {index}) but no incident took it");
    };
    let i = &h.filed.incident;
    if a.json {
        println!(
            "{}",
            json!({"ledger_index": index, "incident": i, "opened": h.filed.opened, "playbook": h.steps})
        );
    } else {
        println!(
            "report recorded (ledger event {index}); {} incident {} at {}",
            if h.filed.opened { "opened" } else { "joined" },
            i.id,
            i.severity
        );
        for s in &h.steps {
            println!(
                "  playbook {:<17} {:?} {:.1} ms  {}",
                s.step, s.status, s.ms, s.detail
            );
        }
    }
    Ok(Exit::Ok)
}
