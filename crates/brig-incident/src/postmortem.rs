//! A blameless post-mortem, written from the record.
//!
//! [`build`] reads one incident back from the store and the ledger — the incident row and
//! its notes, its sessions' events ([`crate::questions`]), its own records (transitions and
//! playbook steps), the rollback steps taken on what the agent changed — and assembles a
//! [`Postmortem`]: summary, impact, timeline, detection and response timings, a *suggested*
//! root-cause category with the evidence for it, the ability-opportunity-incentive analysis,
//! what worked and what did not, corrective actions (owner and due date left for the review
//! to fill) and the reporting obligations ([`crate::clocks`]).
//!
//! Nothing here judges people: the report says what the agent, the policies and the playbook
//! did, from events anyone can verify in the ledger. The root cause is a suggestion for the
//! review to confirm or correct, and says so.
//!
//! Two renderers turn it into a document: [`markdown`] and [`html`] (self-contained: inline
//! CSS, the timeline as an inline SVG chart, every text from the record escaped — agents
//! write that text). Apart from the store reads in [`build`], nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use brig_ledger::store::StoreError;
use brig_model::{Decision, Effect, Event, EventKind, Timestamp};
use brig_register::Register;
use brig_store::{Scope, Store};
use serde::Serialize;
use serde_json::Value;

use crate::clocks::{Obligation, Regimes};
use crate::desk::{self, DeskError};
use crate::grade::Signal;
use crate::playbook::{self, Recorded};
use crate::questions::{self, Answers, Line};
use crate::{Incident, State};

pub mod html;
pub mod markdown;

/// Rules whose alert means instructions planted in content the agent read were followed.
const INJECTION_RULES: &[&str] = &["1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a508"];
/// Rules about the tools themselves: a description changed mid-deployment, or carrying
/// instructions for the agent.
const TOOL_RULES: &[&str] = &[
    "3a4b5c6d-7e8f-4a90-8b1c-2d3e4f5a6b18",
    "4b5c6d7e-8f90-4ba1-9c2d-3e4f5a6b7c19",
];
/// Rules that say the agent held more than its workflow needed: a tool outside the
/// workflow's list, or permissions widened by the agent itself.
const PERMISSION_RULES: &[&str] = &[
    "6b7c8d9e-0f1a-4bc2-9d3e-4f5a6b7c8d31",
    "4b2e8d1a-7c3f-4e9a-b5d6-1f0a2c3e4d03",
];

/// How many of the `*` events (operator actions not tied to one agent) are searched for
/// rollback steps.
const ROLLBACK_SCAN: usize = 5_000;
/// Longest prompt or task text quoted in the report.
const QUOTE_MAX: usize = 600;

/// Why a post-mortem could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PostmortemError {
    #[error(transparent)]
    Desk(#[from] DeskError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// What the report is built with besides the store.
pub struct Sources<'a> {
    pub register: Option<&'a Register>,
    pub regimes: &'a Regimes,
    /// The time of writing (ns since the Unix epoch): time left on clocks, time offline.
    pub now_nanos: i64,
}

/// The post-mortem of one incident.
#[derive(Clone, Debug, Serialize)]
pub struct Postmortem {
    pub incident: Incident,
    pub generated_at: i64,
    pub summary: String,
    pub impact: Impact,
    pub timeline: Vec<Entry>,
    /// The sessions were longer than Brig reads at once: the timeline is cut.
    pub timeline_cut: bool,
    pub timings: Timings,
    pub root_cause: RootCause,
    pub analysis: Analysis,
    pub worked: Vec<String>,
    pub did_not: Vec<String>,
    pub actions: Vec<Corrective>,
    pub reporting: Vec<Reporting>,
    /// The commander's answers the report is drawn from.
    pub answers: Answers,
}

/// What the incident touched.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Impact {
    pub classes: BTreeSet<String>,
    /// `exposed`, `altered`, `copied_out`, `evasion`.
    pub outcomes: BTreeSet<String>,
    /// Register resources reached by calls that ran.
    pub systems: BTreeSet<String>,
    /// Every target and destination of a call that ran.
    pub targets: BTreeSet<String>,
    pub identities: BTreeSet<String>,
    /// Data classes per what happened to them (exposed / altered / copied / attempted).
    pub data: BTreeMap<String, questions::DataImpact>,
    pub offline: Offline,
}

/// How long the agent was out of service (contained).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Offline {
    pub from: Option<i64>,
    /// Recovered or closed; `None` while it lasts.
    pub to: Option<i64>,
    /// A containment of the agent (or of every agent) is in force at the time of writing.
    pub still_contained: bool,
    pub ms: Option<f64>,
}

/// The lane of the timeline chart an event is drawn in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Tool,
    Decision,
    Alert,
    Response,
    File,
}

impl Lane {
    pub const ALL: [Lane; 5] = [
        Lane::Tool,
        Lane::Decision,
        Lane::Alert,
        Lane::Response,
        Lane::File,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Lane::Tool => "tool calls",
            Lane::Decision => "decisions",
            Lane::Alert => "alerts",
            Lane::Response => "response",
            Lane::File => "file changes",
        }
    }

    fn of(kind: EventKind) -> Option<Lane> {
        match kind {
            EventKind::ToolCall => Some(Lane::Tool),
            EventKind::PolicyDecision
            | EventKind::ApprovalRequest
            | EventKind::ApprovalDecision => Some(Lane::Decision),
            EventKind::Alert | EventKind::HumanReport => Some(Lane::Alert),
            EventKind::ResponseAction
            | EventKind::IncidentTransition
            | EventKind::OperatorAction => Some(Lane::Response),
            EventKind::FileChange => Some(Lane::File),
            // Prompts, outputs, results and protocol messages are in the table, not the chart.
            _ => None,
        }
    }
}

/// One event of the timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub line: Line,
    /// Where the chart draws it; `None`: the table only.
    pub lane: Option<Lane>,
    /// A call that did not run, or the decision that stopped it.
    pub denied: bool,
    /// An alert's level.
    pub level: Option<String>,
}

/// Detection and response timings.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Timings {
    /// First harmful event → first alert.
    pub detect_ms: Option<f64>,
    /// First alert → contained.
    pub contain_ms: Option<f64>,
    /// First alert → recovered.
    pub recover_ms: Option<f64>,
    /// The lifecycle marks, in order, with their times.
    pub lifecycle: Vec<(String, i64)>,
    pub playbook: Vec<Recorded>,
    /// Rollback steps recorded on what the agent changed, by result (`restored`, …).
    pub rollback: BTreeMap<String, usize>,
}

/// The root-cause categories a review chooses from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    PromptInjection,
    OverBroadPermissions,
    StaleRetrieval,
    MisconfiguredTool,
    ModelBehavior,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::PromptInjection,
        Category::OverBroadPermissions,
        Category::StaleRetrieval,
        Category::MisconfiguredTool,
        Category::ModelBehavior,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Category::PromptInjection => "prompt injection",
            Category::OverBroadPermissions => "over-broad permissions",
            Category::StaleRetrieval => "stale retrieval",
            Category::MisconfiguredTool => "misconfigured tool",
            Category::ModelBehavior => "model behavior across a policy boundary",
        }
    }
}

/// The suggested root-cause category and what in the record points to it.
#[derive(Clone, Debug, Serialize)]
pub struct RootCause {
    pub suggested: Category,
    pub evidence: Vec<String>,
    /// Always says that the review confirms or corrects the suggestion.
    pub status: String,
}

/// Ability (permissions), opportunity (workflow design), incentive (task framing).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Analysis {
    pub ability: Vec<String>,
    pub opportunity: Vec<String>,
    pub incentive: Vec<String>,
}

/// A corrective action; owner and due date are for the review to fill.
#[derive(Clone, Debug, Serialize)]
pub struct Corrective {
    pub action: String,
    pub owner: Option<String>,
    pub due: Option<String>,
}

/// One reporting obligation and where it stands at the time of writing.
#[derive(Clone, Debug, Serialize)]
pub struct Reporting {
    #[serde(flatten)]
    pub obligation: Obligation,
    /// "61 h 12 min left", "overdue by …", or the due text.
    pub left: String,
}

/// Everything the report is built from, read once.
struct Record {
    incident: Incident,
    events: Vec<(u64, Event)>,
    records: Vec<(u64, Event)>,
    cut: bool,
    steps: Vec<Recorded>,
    rollback: BTreeMap<String, usize>,
    still_contained: bool,
}

/// Writes the post-mortem of incident `id` (or a unique prefix of it).
pub fn build(store: &mut Store, id: &str, src: &Sources) -> Result<Postmortem, PostmortemError> {
    let rec = read(store, id)?;
    Ok(assemble(&rec, src))
}

fn read(store: &mut Store, id: &str) -> Result<Record, PostmortemError> {
    let (incident, _) = desk::load(store, id)?;
    let (events, cut) = questions::events_of(store, &incident)?;
    let records = questions::records_of(store, &incident)?;
    let steps = playbook::recorded_steps(store, &records)?;
    // Prompts carry the declared task in a payload: read it through the digest check.
    let mut events = events;
    for (idx, e) in events.iter_mut() {
        if e.kind == EventKind::AgentPrompt {
            let p = questions::payloads(store, *idx, e)?;
            e.attrs.insert("brig.prompt".into(), p);
        }
    }
    let rollback = rollback_steps(store, &incident, &events)?;
    let still_contained = store.containments()?.iter().any(|c| match &c.scope {
        Scope::Agent(a) => a == &incident.agent,
        Scope::All => true,
        _ => false,
    });
    Ok(Record {
        incident,
        events,
        records,
        cut,
        steps,
        rollback,
        still_contained,
    })
}

/// Rollback steps (operator actions, not tied to an agent) on paths the agent changed,
/// taken after the incident was detected, counted by result.
fn rollback_steps(
    store: &mut Store,
    i: &Incident,
    events: &[(u64, Event)],
) -> Result<BTreeMap<String, usize>, StoreError> {
    use brig_ledger::store::LedgerStore;
    let changed: BTreeSet<&str> = events
        .iter()
        .filter(|(_, e)| matches!(e.kind, EventKind::ToolCall | EventKind::FileChange))
        .flat_map(|(_, e)| e.actions.iter())
        .filter(|a| a.action.mutates())
        .map(|a| a.target.as_str())
        .collect();
    let since = i.times.first_harmful.or(i.times.detected).unwrap_or(0);
    let mut out = BTreeMap::new();
    if changed.is_empty() {
        return Ok(out);
    }
    for idx in store.recent_agent_events("*", ROLLBACK_SCAN)? {
        let Some(row) = store.leaf(idx)? else {
            continue;
        };
        let Ok(e) = Event::from_leaf(&row.leaf) else {
            continue;
        };
        let attr = |k: &str| e.attrs.get(k).and_then(Value::as_str);
        if e.kind == EventKind::OperatorAction
            && attr("action") == Some("rollback")
            && e.ts.unix_nanos() >= since
            && attr("path").is_some_and(|p| changed.contains(p))
        {
            *out.entry(attr("result").unwrap_or("?").to_string())
                .or_default() += 1;
        }
    }
    Ok(out)
}

fn assemble(rec: &Record, src: &Sources) -> Postmortem {
    let i = &rec.incident;
    let answers = questions::answer(i, &rec.events, src.register);
    let decisions = last_decisions(&rec.events);
    let alerts = alerts_of(&rec.events, &decisions);
    let timings = timings(rec);
    let impact = impact(rec, &answers, src.now_nanos);
    let root_cause = root_cause(&alerts, i);
    let analysis = analysis(rec, &answers, src.register);
    let (worked, did_not) = review(rec, &alerts, &answers, &timings);
    let reporting = reporting(i, src);
    let actions = corrective(i, &root_cause, &alerts, &answers, rec, &reporting);
    Postmortem {
        incident: i.clone(),
        generated_at: src.now_nanos,
        summary: summary(i, &answers, &alerts),
        impact,
        timeline: timeline(rec, &decisions),
        timeline_cut: rec.cut,
        timings,
        root_cause,
        analysis,
        worked,
        did_not,
        actions,
        reporting,
        answers,
    }
}

/// A call as decisions name it.
type CallKey = (Option<String>, Option<String>);

/// The last decision on each call (policy, blocking rule, containment, approval).
fn last_decisions(events: &[(u64, Event)]) -> HashMap<CallKey, Decision> {
    let mut m = HashMap::new();
    for (_, e) in events {
        if matches!(
            e.kind,
            EventKind::PolicyDecision | EventKind::ApprovalDecision
        ) {
            if let Some(d) = &e.decision {
                m.insert((e.session.clone(), e.call.clone()), d.clone());
            }
        }
    }
    m
}

fn ran(d: Option<&Decision>) -> bool {
    d.is_none_or(|d| d.effect == Effect::Allow)
}

/// An alert of the incident with the fate of the call it fired on.
struct Alerted {
    signal: Signal,
    index: u64,
    tool: Option<String>,
    /// The call it fired on ran.
    ran: bool,
    /// The policies of the call's last decision.
    decided_by: Vec<String>,
}

fn alerts_of(events: &[(u64, Event)], decisions: &HashMap<CallKey, Decision>) -> Vec<Alerted> {
    events
        .iter()
        .filter_map(|(idx, e)| {
            let signal = Signal::from_event(e)?;
            let d = e
                .call
                .as_ref()
                .and_then(|_| decisions.get(&(e.session.clone(), e.call.clone())));
            Some(Alerted {
                ran: e.call.is_some() && ran(d) && !signal.prevented,
                decided_by: d.map(|d| d.policies.clone()).unwrap_or_default(),
                tool: e.tool.clone(),
                index: *idx,
                signal,
            })
        })
        .collect()
}

fn summary(i: &Incident, a: &Answers, alerts: &[Alerted]) -> String {
    let when = i
        .times
        .first_harmful
        .or(i.times.detected)
        .map_or_else(|| "an unknown time".into(), stamp);
    let workflow = i
        .workflow
        .as_deref()
        .map(|w| format!(" (workflow {w})"))
        .unwrap_or_default();
    let rules: BTreeSet<&str> = alerts.iter().map(|x| x.signal.title.as_str()).collect();
    let detection = if alerts.is_empty() {
        "It was reported by a person".to_string()
    } else {
        format!(
            "Brig detected it with {} alert(s) ({})",
            alerts.len(),
            rules.into_iter().collect::<Vec<_>>().join("; ")
        )
    };
    // Titles read "<what happened> (<agent>)": the agent is named in the sentence already.
    let what = i
        .title
        .strip_suffix(&format!(" ({})", i.agent))
        .unwrap_or(&i.title);
    format!(
        "At {when}, agent {}{workflow}: {what}. {detection} and graded it {}{}. Over the \
         incident's sessions the agent made {} tool call(s): {} ran, {} were denied, {} held \
         for approval. The incident is {}.",
        i.agent,
        i.severity,
        i.reasons
            .last()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default(),
        a.did.calls,
        a.did.ran,
        a.did.denied,
        a.did.held,
        i.state.as_str()
    )
}

fn impact(rec: &Record, a: &Answers, now: i64) -> Impact {
    let i = &rec.incident;
    let from = i.times.contained;
    let to = i.times.recovered.or(i.times.closed);
    let end = to.or((from.is_some() && rec.still_contained).then_some(now));
    Impact {
        classes: i.classes.clone(),
        outcomes: i.outcomes.iter().map(|o| o.as_str().to_string()).collect(),
        systems: a
            .reached
            .iter()
            .flat_map(|r| r.resources.iter().cloned())
            .collect(),
        targets: a.reached.iter().map(|r| r.target.clone()).collect(),
        identities: i.identities.clone(),
        data: a.data.clone(),
        offline: Offline {
            from,
            to,
            still_contained: rec.still_contained,
            ms: from.zip(end).map(|(f, e)| ms(f, e)),
        },
    }
}

fn ms(from: i64, to: i64) -> f64 {
    (to - from) as f64 / 1e6
}

fn timings(rec: &Record) -> Timings {
    let t = &rec.incident.times;
    let span = |a: Option<i64>, b: Option<i64>| a.zip(b).map(|(a, b)| ms(a, b));
    Timings {
        detect_ms: span(t.first_harmful, t.detected),
        contain_ms: span(t.detected, t.contained),
        recover_ms: span(t.detected, t.recovered),
        lifecycle: t
            .steps()
            .into_iter()
            .filter_map(|(name, v)| v.map(|v| (name.to_string(), v)))
            .collect(),
        playbook: rec.steps.clone(),
        rollback: rec.rollback.clone(),
    }
}

fn timeline(rec: &Record, decisions: &HashMap<CallKey, Decision>) -> Vec<Entry> {
    let mut all: Vec<(u64, Event)> = rec
        .events
        .iter()
        .chain(rec.records.iter())
        .cloned()
        .collect();
    all.sort_by_key(|(idx, _)| *idx);
    all.dedup_by_key(|(idx, _)| *idx);
    let lines = questions::timeline(&all);
    all.iter()
        .zip(lines)
        .map(|((_, e), line)| {
            let denied = match e.kind {
                EventKind::ToolCall => !ran(decisions.get(&(e.session.clone(), e.call.clone()))),
                EventKind::PolicyDecision | EventKind::ApprovalDecision => e
                    .decision
                    .as_ref()
                    .is_some_and(|d| d.effect != Effect::Allow),
                _ => false,
            };
            let level = (e.kind == EventKind::Alert)
                .then(|| e.attrs.get("level").and_then(Value::as_str))
                .flatten()
                .map(String::from);
            Entry {
                lane: Lane::of(e.kind),
                denied,
                level,
                line,
            }
        })
        .collect()
}

fn root_cause(alerts: &[Alerted], i: &Incident) -> RootCause {
    let status = "suggested from the record: the review confirms or corrects it".to_string();
    let hits = |rules: &[&str]| -> Vec<&Alerted> {
        alerts
            .iter()
            .filter(|a| rules.contains(&a.signal.rule.as_str()))
            .collect()
    };
    let fired = |a: &Alerted, why: &str| {
        format!(
            "rule \"{}\" ({}) fired at ledger event {}{}: {why}",
            a.signal.title,
            a.signal.rule,
            a.index,
            a.tool
                .as_deref()
                .map(|t| format!(" on {t}"))
                .unwrap_or_default()
        )
    };
    let injected = hits(INJECTION_RULES);
    if !injected.is_empty() {
        let evidence = injected
            .iter()
            .map(|a| {
                fired(
                    a,
                    "the agent acted on instructions carried by content it read",
                )
            })
            .collect();
        return RootCause {
            suggested: Category::PromptInjection,
            evidence,
            status,
        };
    }
    let tools = hits(TOOL_RULES);
    if !tools.is_empty() {
        let evidence = tools
            .iter()
            .map(|a| fired(a, "the tool's own description is suspect"))
            .collect();
        return RootCause {
            suggested: Category::MisconfiguredTool,
            evidence,
            status,
        };
    }
    let mut broad: Vec<String> = hits(PERMISSION_RULES)
        .iter()
        .map(|a| fired(a, "the agent held more than its workflow needs"))
        .collect();
    for a in alerts.iter().filter(|a| a.ran) {
        let by = if a.decided_by.is_empty() {
            "no policy named (default allow)".to_string()
        } else {
            a.decided_by.join(", ")
        };
        broad.push(format!(
            "the call at ledger event {}{} that rule \"{}\" flagged ran: allowed by {by}",
            a.index,
            a.tool
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            a.signal.title
        ));
    }
    if !broad.is_empty() {
        return RootCause {
            suggested: Category::OverBroadPermissions,
            evidence: broad,
            status,
        };
    }
    let mut evidence: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "rule \"{}\" fired at ledger event {} and the call was stopped ({}): the agent \
                 tried to cross a boundary the policies held",
                a.signal.title,
                a.index,
                if a.decided_by.is_empty() {
                    "before it ran".to_string()
                } else {
                    format!("by {}", a.decided_by.join(", "))
                }
            )
        })
        .collect();
    if evidence.is_empty() {
        evidence.push(format!(
            "no detection rule points elsewhere; the incident came from {}",
            i.rules.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    RootCause {
        suggested: Category::ModelBehavior,
        evidence,
        status,
    }
}

fn join(v: impl IntoIterator<Item = String>) -> String {
    v.into_iter().collect::<Vec<_>>().join(", ")
}

fn analysis(rec: &Record, a: &Answers, register: Option<&Register>) -> Analysis {
    let p = &a.permissions;
    let mut ability = Vec::new();
    if !a.did.by_tool.is_empty() {
        ability.push(format!(
            "tools used: {}",
            join(a.did.by_tool.iter().map(|(t, n)| format!("{t} ×{n}")))
        ));
    }
    for (pol, n) in &p.allowed_by {
        ability.push(format!("policy {pol} allowed {n} of its call(s)"));
    }
    for (id, by) in &p.approvals_granted {
        ability.push(format!("approval {id} granted by {by}"));
    }
    if ability.is_empty() {
        ability.push("no call of the agent was allowed: it held no effective permission".into());
    }
    let opportunity = opportunity(rec, a, register);
    let incentive = incentive(rec);
    Analysis {
        ability,
        opportunity,
        incentive,
    }
}

fn opportunity(rec: &Record, a: &Answers, register: Option<&Register>) -> Vec<String> {
    let i = &rec.incident;
    let Some(r) = register else {
        return vec![format!(
            "no risk register was given: the design of workflow {} is not on record here \
             (pass --register)",
            i.workflow.as_deref().unwrap_or("(none declared)")
        )];
    };
    let Some(w) = r.workflow_of(&i.agent) else {
        return vec![format!(
            "agent {} has no workflow entry in the risk register ({}): nothing declares which \
             tools and data it needs",
            i.agent, r.file
        )];
    };
    let mut out = vec![format!(
        "workflow {} (owner {}): agents {}; tools {}",
        w.name,
        w.owner.as_deref().unwrap_or("not named"),
        join(w.agents.iter().cloned()),
        if w.tools.is_empty() {
            "not declared".to_string()
        } else {
            join(w.tools.iter().cloned())
        }
    )];
    let outside: Vec<String> = a
        .did
        .by_tool
        .keys()
        .filter(|t| !w.tools.is_empty() && !w.tools.contains(t))
        .cloned()
        .collect();
    if !outside.is_empty() {
        out.push(format!(
            "tools used outside the workflow's list: {}",
            join(outside)
        ));
    }
    let pb = &r.playbook;
    out.push(format!(
        "playbook: contain at {}, automatic containment {}",
        pb.contain_at,
        if pb.contain { "on" } else { "off" }
    ));
    out
}

fn incentive(rec: &Record) -> Vec<String> {
    let mut out = Vec::new();
    for (_, e) in rec
        .events
        .iter()
        .filter(|(_, e)| e.kind == EventKind::AgentPrompt)
    {
        let Some(Value::Object(parts)) = e.attrs.get("brig.prompt") else {
            continue;
        };
        for (part, v) in parts {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let label = if part == "task" {
                "declared task"
            } else {
                part.as_str()
            };
            out.push(format!(
                "{label} (session {}): \"{}\"",
                e.session.as_deref().unwrap_or("-"),
                quote(&text)
            ));
        }
    }
    if out.is_empty() {
        out.push(
            "no task or prompt was recorded: how the agent's work was framed is not on record"
                .into(),
        );
    }
    out
}

fn quote(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

fn step<'a>(t: &'a Timings, name: &str) -> Option<&'a Recorded> {
    t.playbook.iter().find(|s| s.step == name)
}

fn review(
    rec: &Record,
    alerts: &[Alerted],
    a: &Answers,
    t: &Timings,
) -> (Vec<String>, Vec<String>) {
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    match t.detect_ms {
        Some(d) if !alerts.is_empty() => good.push(format!(
            "detected {} after the first harmful event",
            duration(d)
        )),
        _ if alerts.is_empty() => {
            bad.push("no detection rule fired: a person had to report it".into())
        }
        _ => {}
    }
    let harmful_ran = alerts
        .iter()
        .filter(|x| x.ran)
        .map(|x| x.index)
        .collect::<BTreeSet<_>>();
    let stopped = alerts.iter().filter(|x| !x.ran).count();
    if harmful_ran.is_empty() && !alerts.is_empty() {
        good.push(format!(
            "contained before any harmful call completed ({stopped} flagged call(s) stopped)"
        ));
    } else if !harmful_ran.is_empty() {
        bad.push(format!(
            "{} harmful call(s) completed before they were stopped",
            harmful_ran.len()
        ));
    }
    match step(t, "preserve") {
        Some(s) if s.status == "ok" => good.push(format!("evidence snapshot taken: {}", s.detail)),
        Some(s) => bad.push(format!("evidence snapshot {}: {}", s.status, s.detail)),
        None => bad.push("no evidence snapshot: the playbook did not run".into()),
    }
    match (step(t, "contain"), t.contain_ms) {
        (Some(s), Some(c)) if s.status == "ok" => {
            good.push(format!("agent contained {} after detection", duration(c)))
        }
        (Some(s), _) if s.status == "ok" => good.push("agent contained".into()),
        (Some(s), _) => bad.push(format!("containment {}: {}", s.status, s.detail)),
        (None, _) if rec.incident.times.contained.is_some() => {
            good.push("agent contained by hand".into())
        }
        (None, _) => bad.push("the agent was not contained".into()),
    }
    for s in t.playbook.iter().filter(|s| s.status == "failed") {
        bad.push(format!("playbook step {} failed: {}", s.step, s.detail));
    }
    rollback_review(a, t, &mut good, &mut bad);
    (good, bad)
}

fn rollback_review(a: &Answers, t: &Timings, good: &mut Vec<String>, bad: &mut Vec<String>) {
    if a.reversal.is_empty() {
        good.push("no change ran: nothing to roll back".into());
        return;
    }
    let done: usize = t.rollback.values().sum();
    if done == 0 {
        bad.push(format!(
            "{} change(s) ran and no rollback is recorded",
            a.reversal.len()
        ));
        return;
    }
    let parts = join(t.rollback.iter().map(|(r, n)| format!("{r} {n}")));
    if t.rollback.contains_key("conflict") {
        bad.push(format!(
            "rollback left conflicts for a person to resolve ({parts})"
        ));
    } else {
        good.push(format!("rollback done ({parts})"));
    }
}

fn reporting(i: &Incident, src: &Sources) -> Vec<Reporting> {
    let detected = i.times.detected.unwrap_or_default();
    src.regimes
        .candidates(&i.classes, &i.outcomes, i.severity, detected)
        .into_iter()
        .map(|o| Reporting {
            left: o.left(src.now_nanos),
            obligation: o,
        })
        .collect()
}

fn corrective(
    i: &Incident,
    rc: &RootCause,
    alerts: &[Alerted],
    a: &Answers,
    rec: &Record,
    reporting: &[Reporting],
) -> Vec<Corrective> {
    let mut v: Vec<String> = match rc.suggested {
        Category::PromptInjection => vec![
            "Treat tool results and retrieved content as data: strip or flag instructions \
             addressed to the agent before it reads them"
                .into(),
            "Require approval (@approval(\"required\")) for actions the task does not name \
             once untrusted content is in the session"
                .into(),
        ],
        Category::MisconfiguredTool => {
            let tools: BTreeSet<String> = alerts.iter().filter_map(|x| x.tool.clone()).collect();
            vec![
                format!(
                    "Pin and review the tool descriptions of the server behind {}; remove or fix \
                     the tool whose description changed or carries instructions",
                    if tools.is_empty() {
                        "this agent".into()
                    } else {
                        join(tools)
                    }
                ),
                "Make the tool-integrity rules blocking for this workflow".into(),
            ]
        }
        Category::OverBroadPermissions => {
            let policies: BTreeSet<String> = alerts
                .iter()
                .filter(|x| x.ran)
                .flat_map(|x| x.decided_by.iter().cloned())
                .collect();
            vec![
                format!(
                    "Narrow {} to the tools and paths workflow {} needs",
                    if policies.is_empty() {
                        "the default allow".into()
                    } else {
                        format!("policy {}", join(policies))
                    },
                    i.workflow.as_deref().unwrap_or("(undeclared)")
                ),
                "Require approval for destructive and outbound actions of this agent".into(),
            ]
        }
        Category::StaleRetrieval => {
            vec!["Expire or re-validate retrieved content before the agent acts on it".into()]
        }
        Category::ModelBehavior => vec![
            "Review the task framing and system prompt for pressure to cross the boundary the \
             policies held"
                .into(),
            "Keep the denying policy and add a drill (brig drill) that replays this behavior"
                .into(),
        ],
    };
    if a.permissions.workflow.is_none() {
        v.push(format!(
            "Add a risk register entry for agent {}: its workflow, tools and data",
            i.agent
        ));
    }
    for s in rec.steps.iter().filter(|s| s.status == "failed") {
        v.push(format!("Fix the playbook step {}: {}", s.step, s.detail));
    }
    if !a.reversal.is_empty() && rec.rollback.is_empty() {
        v.push(format!(
            "Restore what the agent changed: brig rollback plan --incident {}",
            i.id
        ));
    }
    if !reporting.is_empty() {
        v.push(format!(
            "Legal review of {} candidate reporting obligation(s) before their deadlines",
            reporting.len()
        ));
    }
    if i.state != State::Closed {
        v.push("Close the incident with a verdict once the actions are owned".into());
    }
    v.into_iter()
        .map(|action| Corrective {
            action,
            owner: None,
            due: None,
        })
        .collect()
}

/// An RFC 3339 time.
pub fn stamp(nanos: i64) -> String {
    Timestamp::from_unix_nanos(nanos).to_string()
}

/// A span in the unit a person reads it in: "0.8 ms", "412 ms", "3.2 s", "4 min 10 s",
/// "3 h 05 min", "2 d 4 h".
pub fn duration(ms: f64) -> String {
    let ms = ms.max(0.0);
    let s = (ms / 1e3) as u64;
    match ms {
        x if x < 10.0 => format!("{x:.1} ms"),
        x if x < 1e3 => format!("{x:.0} ms"),
        x if x < 60e3 => format!("{:.1} s", x / 1e3),
        x if x < 3_600e3 => format!("{} min {:02} s", s / 60, s % 60),
        x if x < 86_400e3 => format!("{} h {:02} min", s / 3_600, s / 60 % 60),
        _ => format!("{} d {} h", s / 86_400, s / 3_600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_in_their_unit() {
        assert_eq!(duration(0.84), "0.8 ms");
        assert_eq!(duration(412.2), "412 ms");
        assert_eq!(duration(3_210.0), "3.2 s");
        assert_eq!(duration(250_000.0), "4 min 10 s");
        assert_eq!(duration(3.0 * 3_600e3 + 300e3), "3 h 05 min");
        assert_eq!(duration(52.0 * 3_600e3), "2 d 4 h");
    }

    fn alerted(rule: &str, ran: bool, by: &[&str]) -> Alerted {
        Alerted {
            signal: Signal {
                rule: rule.into(),
                title: format!("rule {rule}"),
                ..Signal::default()
            },
            index: 7,
            tool: Some("write_file".into()),
            ran,
            decided_by: by.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn incident() -> Incident {
        Incident {
            id: "INC-1".into(),
            title: "t (a)".into(),
            agent: "a".into(),
            sessions: BTreeSet::new(),
            workflow: None,
            severity: crate::Severity::SecurityIncident,
            reasons: vec![],
            state: State::Open,
            owner: None,
            verdict: None,
            legal_hold: false,
            classes: BTreeSet::new(),
            outcomes: BTreeSet::new(),
            resources: BTreeSet::new(),
            identities: BTreeSet::new(),
            rules: BTreeSet::new(),
            alerts: vec![],
            times: crate::Times::default(),
        }
    }

    #[test]
    fn the_suggested_root_cause_follows_the_record() {
        let i = incident();
        // A followed injection wins over everything else.
        let rc = root_cause(
            &[
                alerted("x", true, &["permit-all"]),
                alerted(INJECTION_RULES[0], true, &["permit-all"]),
            ],
            &i,
        );
        assert_eq!(rc.suggested, Category::PromptInjection);
        assert!(rc.evidence[0].contains(INJECTION_RULES[0]));
        assert!(rc.status.contains("review"));
        // A tool's description changed.
        let rc = root_cause(&[alerted(TOOL_RULES[0], false, &[])], &i);
        assert_eq!(rc.suggested, Category::MisconfiguredTool);
        // A flagged call ran: the policy that let it through is named.
        let rc = root_cause(&[alerted("x", true, &["permit-all"])], &i);
        assert_eq!(rc.suggested, Category::OverBroadPermissions);
        assert!(rc.evidence[0].contains("allowed by permit-all"), "{rc:?}");
        // Every flagged call was stopped: the boundary held.
        let rc = root_cause(&[alerted("x", false, &["brig.playbook"])], &i);
        assert_eq!(rc.suggested, Category::ModelBehavior);
        assert!(rc.evidence[0].contains("by brig.playbook"), "{rc:?}");
    }

    #[test]
    fn long_quotes_are_cut() {
        let long = "x".repeat(QUOTE_MAX + 10);
        assert!(quote(&long).ends_with('…'));
        assert_eq!(quote("  short "), "short");
    }
}
