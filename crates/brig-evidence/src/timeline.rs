//! Timelines for Timesketch: one row per ledger event, as JSONL or CSV.
//!
//! [Timesketch](https://timesketch.org) imports a timeline from a JSONL file (one JSON object
//! per line) or a CSV file with a header line. It needs three fields in every row, plus a
//! fourth it prefers to have:
//!
//! | field            | what it holds                                                        |
//! |------------------|----------------------------------------------------------------------|
//! | `message`        | the line a person reads in the timeline view                         |
//! | `datetime`       | the time as ISO 8601 (here RFC 3339 in UTC, microseconds, `Z`)       |
//! | `timestamp_desc` | what the time means (`Tool Called`, `Alert Raised`, …)               |
//! | `timestamp`      | the same time as whole microseconds since the Unix epoch (UTC)       |
//!
//! Brig records time in nanoseconds. Timesketch works in microseconds, so both `timestamp`
//! and `datetime` are the event's time floored to the microsecond and written from that one
//! value: they always agree, to the microsecond. `brig_id` leads back to the exact event.
//!
//! Any other column becomes a searchable attribute. Brig adds its own, all prefixed or named
//! as in the ledger: `brig_index` (ledger index), `brig_id` (event id), `kind`, `agent`,
//! `session`, `workflow`, `tool`, `call`, `actions` (as people read them, `file.write
//! /srv/app/config.yaml`), `decision` (`allow`, `deny`, `hold`), `rule_id` and `level` (for
//! alerts) and `source` (which Brig sensor recorded it). In JSONL a missing value is left
//! out and `actions` is a list; in CSV a missing value is an empty cell and the actions are
//! joined with `"; "`.

use std::io::{self, Write};

use brig_model::{Effect, Event, EventKind};
use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

/// The CSV columns, in order: Timesketch's four, then Brig's.
pub const CSV_COLUMNS: [&str; 17] = [
    "message",
    "datetime",
    "timestamp_desc",
    "timestamp",
    "brig_index",
    "brig_id",
    "kind",
    "agent",
    "session",
    "workflow",
    "tool",
    "call",
    "actions",
    "decision",
    "rule_id",
    "level",
    "source",
];

/// Separates the actions of one event in a CSV cell.
pub const LIST_SEPARATOR: &str = "; ";

/// One Timesketch row. Serializes (JSONL) with its fields in [`CSV_COLUMNS`] order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimesketchRow {
    pub message: String,
    /// RFC 3339, UTC, microseconds: `2026-12-05T01:02:03.123456Z`.
    pub datetime: String,
    pub timestamp_desc: String,
    /// Microseconds since the Unix epoch, UTC.
    pub timestamp: i64,
    pub brig_index: u64,
    pub brig_id: String,
    pub kind: String,
    pub agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    pub source: String,
}

impl TimesketchRow {
    /// The row's CSV cells, in [`CSV_COLUMNS`] order.
    pub fn csv_record(&self) -> [String; 17] {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.message.clone(),
            self.datetime.clone(),
            self.timestamp_desc.clone(),
            self.timestamp.to_string(),
            self.brig_index.to_string(),
            self.brig_id.clone(),
            self.kind.clone(),
            self.agent.clone(),
            opt(&self.session),
            opt(&self.workflow),
            opt(&self.tool),
            opt(&self.call),
            self.actions.join(LIST_SEPARATOR),
            opt(&self.decision),
            opt(&self.rule_id),
            opt(&self.level),
            self.source.clone(),
        ]
    }
}

/// One row per event, in the order given (ledger order, for events read from the ledger).
pub fn timesketch_rows(events: &[(u64, Event)]) -> Vec<TimesketchRow> {
    // The incident desk's descriptions, so a timeline reads the same in Brig and Timesketch.
    let lines = brig_incident::questions::timeline(events);
    events
        .iter()
        .zip(lines)
        .map(|((index, e), line)| redacted(row(*index, e, &line.what)))
        .collect()
}

/// Secrets a target or a reason carries (a URL with its password, a token on a command
/// line) replaced by `[REDACTED kind]`: timelines are read by people and tools that must not
/// see them.
fn redacted(mut r: TimesketchRow) -> TimesketchRow {
    use brig_model::secrets::redact_text;
    r.message = redact_text(&r.message);
    for a in &mut r.actions {
        *a = redact_text(a);
    }
    r
}

fn row(index: u64, e: &Event, what: &str) -> TimesketchRow {
    let micros = e.ts.unix_nanos().div_euclid(1_000);
    let attr = |k: &str| e.attrs.get(k).and_then(|v| v.as_str()).map(String::from);
    let alert = e.kind == EventKind::Alert;
    TimesketchRow {
        message: message(e.kind, what),
        datetime: datetime_of_micros(micros),
        timestamp_desc: timestamp_desc(e.kind).to_string(),
        timestamp: micros,
        brig_index: index,
        brig_id: e.id.to_string(),
        kind: e.kind.as_str().to_string(),
        agent: e.agent.clone(),
        session: e.session.clone(),
        workflow: e.workflow.clone(),
        tool: e.tool.clone(),
        call: e.call.clone(),
        actions: e.actions.iter().map(ToString::to_string).collect(),
        decision: e
            .decision
            .as_ref()
            .map(|d| effect_str(d.effect).to_string()),
        rule_id: attr("rule_id").filter(|_| alert),
        level: attr("level").filter(|_| alert),
        source: e.source.clone(),
    }
}

/// `kind: description`; the kind alone when there is nothing to describe, because
/// Timesketch needs a message on every row.
fn message(kind: EventKind, what: &str) -> String {
    if what.trim().is_empty() {
        kind.as_str().to_string()
    } else {
        format!("{kind}: {what}")
    }
}

/// RFC 3339 in UTC with six fractional digits. Brig's timestamps all lie within chrono's
/// range; should one not, the row still gets a (visibly wrong) epoch rather than a panic.
fn datetime_of_micros(micros: i64) -> String {
    DateTime::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// What an event's time is the time of, in Timesketch's wording style ("Last Written").
fn timestamp_desc(kind: EventKind) -> &'static str {
    match kind {
        EventKind::AgentPrompt => "Prompt Given",
        EventKind::ModelOutput => "Model Output",
        EventKind::ToolCall => "Tool Called",
        EventKind::ToolResult => "Tool Returned",
        EventKind::ProtocolMessage => "Protocol Message",
        EventKind::PolicyDecision => "Policy Decided",
        EventKind::ApprovalRequest => "Approval Requested",
        EventKind::ApprovalDecision => "Approval Decided",
        EventKind::FileChange => "File Changed",
        EventKind::OperatorAction => "Operator Acted",
        EventKind::ResponseAction => "Response Taken",
        EventKind::HumanReport => "Reported By Person",
        EventKind::Alert => "Alert Raised",
        EventKind::IncidentTransition => "Incident Changed",
    }
}

fn effect_str(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
        Effect::Hold => "hold",
    }
}

/// The timeline as JSONL: one object per line, each line ending in `\n`.
pub fn write_jsonl(events: &[(u64, Event)], w: impl Write) -> io::Result<()> {
    let mut w = io::BufWriter::new(w);
    for r in timesketch_rows(events) {
        serde_json::to_writer(&mut w, &r)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// The timeline as CSV with a header line ([`CSV_COLUMNS`]); the `csv` crate quotes cells
/// holding commas, quotes or line breaks.
pub fn write_csv(events: &[(u64, Event)], w: impl Write) -> Result<(), csv::Error> {
    let mut out = csv::Writer::from_writer(w);
    out.write_record(CSV_COLUMNS)?;
    for r in timesketch_rows(events) {
        out.write_record(r.csv_record())?;
    }
    out.flush()?;
    Ok(())
}
