//! Incidents: the filtered list (live) and one incident — severity and its reasons, the
//! commander's questions, reporting clocks counting down, the playbook's steps with their
//! timings, its alerts, and the timeline ([`super::timeline`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, Query, RawQuery, State as Shared};
use axum::http::StatusCode;
use brig_incident::desk::{self, DeskError};
use brig_incident::questions::{self, Answers};
use brig_incident::Incident;
use brig_ledger::store::LedgerStore;
use brig_model::{Event, EventId};
use brig_store::Store;
use maud::{html, Markup};
use serde::Deserialize;

use super::session::Viewer;
use super::timeline::{self, TimelineQuery};
use super::{
    blocking, internal, layout, live_region, respond, severity_badge, span_words, time_el, UiError,
    UiResult, SEVERITIES,
};
use crate::State;

/// The state filter's value for every incident not closed yet.
pub(crate) const NOT_CLOSED: &str = "not_closed";

const STATES: [&str; 7] = [
    NOT_CLOSED,
    "open",
    "acknowledged",
    "contained",
    "eradicated",
    "recovered",
    "closed",
];

/// Most incidents the list reads.
const MAX_LISTED: usize = 1000;

#[derive(Deserialize, Default, Clone)]
pub struct Filter {
    #[serde(default)]
    severity: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    agent: String,
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    class: String,
}

impl Filter {
    fn keeps(&self, i: &Incident) -> bool {
        let has = |want: &str, got: &str| want.trim().is_empty() || want.trim() == got;
        let state_ok = match self.state.trim() {
            // Everything still being worked: the overview's "open incidents".
            NOT_CLOSED => i.state != brig_incident::State::Closed,
            want => has(want, i.state.as_str()),
        };
        has(&self.severity, i.severity.as_str())
            && state_ok
            && has(&self.agent, &i.agent)
            && has(&self.workflow, i.workflow.as_deref().unwrap_or(""))
            && (self.class.trim().is_empty() || i.classes.contains(self.class.trim()))
    }
}

fn read_list(state: &State, f: &Filter) -> Result<Vec<Incident>, UiError> {
    let rows = state
        .store
        .with(|s| s.incidents(true, MAX_LISTED))
        .map_err(internal)?;
    let mut out = Vec::new();
    for r in &rows {
        let i = desk::parse(r).map_err(internal)?;
        if f.keeps(&i) {
            out.push(i);
        }
    }
    Ok(out)
}

fn select(id: &str, label: &str, name: &str, options: &[&str], current: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            select id=(id) name=(name) {
                option value="" { "any" }
                @for o in options {
                    option value=(o) selected[*o == current] { (o.replace('_', " ")) }
                }
            }
        }
    }
}

fn text(id: &str, label: &str, name: &str, current: &str) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            input id=(id) type="text" name=(name) value=(current);
        }
    }
}

fn filter_form(f: &Filter) -> Markup {
    html! {
        form.filters method="get" action="/ui/incidents" {
            (select("f-severity", "Severity", "severity", &SEVERITIES, &f.severity))
            (select("f-state", "State", "state", &STATES, &f.state))
            (text("f-agent", "Agent", "agent", &f.agent))
            (text("f-workflow", "Workflow", "workflow", &f.workflow))
            (text("f-class", "Data class", "class", &f.class))
            button type="submit" { "Filter" }
        }
    }
}

fn table(list: &[Incident]) -> Markup {
    html! {
        table {
            caption { "Incidents" }
            thead {
                tr {
                    th scope="col" { "Incident" } th scope="col" { "Severity" } th scope="col" { "State" }
                    th scope="col" { "Agent" } th scope="col" { "Workflow" } th scope="col" { "Data classes" }
                    th scope="col" { "Title" } th scope="col" { "Detected" }
                }
            }
            tbody {
                @if list.is_empty() {
                    tr { td colspan="8" { "No incident matches." } }
                }
                @for i in list {
                    tr {
                        td { a href={ "/ui/incidents/" (i.id) } { (i.id) } }
                        td { (severity_badge(i.severity.as_str())) }
                        td { (i.state.as_str()) }
                        td { (i.agent) }
                        td { (i.workflow.as_deref().unwrap_or("—")) }
                        td { (i.classes.iter().cloned().collect::<Vec<_>>().join(", ")) }
                        td { (i.title) }
                        td { @if let Some(t) = i.times.detected { (time_el(t)) } }
                    }
                }
            }
        }
    }
}

pub async fn list(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Query(f): Query<Filter>,
    RawQuery(raw): RawQuery,
) -> UiResult {
    let st = state.clone();
    let filter = f.clone();
    let list = blocking(move || read_list(&st, &filter)).await?;
    let frag = format!("/ui/frag/incidents?{}", raw.unwrap_or_default());
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/incidents",
            "Incidents",
            flash,
            html! {
                (filter_form(&f))
                (live_region("incidents", &frag, table(&list)))
            },
        ),
    ))
}

pub async fn list_fragment(
    Shared(state): Shared<Arc<State>>,
    _v: Viewer,
    Query(f): Query<Filter>,
) -> UiResult {
    let list = blocking(move || read_list(&state, &f)).await?;
    Ok(super::fragment(table(&list)))
}

fn load(s: &mut Store, id: &str) -> Result<Incident, UiError> {
    match desk::load(s, id) {
        Ok((i, _)) => Ok(i),
        Err(DeskError::NotFound(_)) => Err(UiError(
            StatusCode::NOT_FOUND,
            format!("There is no incident {id}."),
        )),
        Err(e) => Err(internal(e)),
    }
}

/// Incidents with more events than this have their questions answered on a page of their
/// own (reading every event), so the incident's page stays fast.
const INLINE_QUESTIONS: u64 = 5_000;

fn answers(
    s: &mut Store,
    i: &Incident,
    register: Option<&brig_register::Register>,
) -> Result<(Answers, bool), UiError> {
    let (events, cut) = questions::events_of(s, i).map_err(internal)?;
    let mut a = questions::answer(i, &events, register);
    a.did.cut |= cut;
    Ok((a, cut))
}

fn list_of<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    let v: Vec<&str> = items.into_iter().map(String::as_str).collect();
    if v.is_empty() {
        "—".into()
    } else {
        v.join(", ")
    }
}

fn questions_markup(a: &Answers, i: &Incident) -> Markup {
    let d = &a.did;
    html! {
        h3 { "What did the agent do?" }
        p {
            (d.events) " events, " (d.calls) " tool calls: " (d.ran) " ran, " (d.denied) " denied, "
            (d.held) " held."
            @if d.cut { " (The session is longer than Brig reads for one answer: the first events only.)" }
        }
        @if !d.by_tool.is_empty() {
            ul { @for (tool, n) in &d.by_tool { li { code { (tool) } ": " (n) } } }
        }
        h3 { "Which systems and resources did it reach?" }
        @if a.reached.is_empty() { p { "None recorded." } } @else {
            ul {
                @for r in a.reached.iter().take(200) {
                    li { code { (r.target) } " — " (list_of(&r.actions))
                        @if !r.classes.is_empty() { " (classes: " (list_of(&r.classes)) ")" } }
                }
            }
            @if a.reached.len() > 200 { p { "… and " (a.reached.len() - 200) " more." } }
        }
        h3 { "Which permissions did it hold?" }
        p {
            "Workflow: " (a.permissions.workflow.as_deref().unwrap_or("not declared in the register"))
            @if let Some(t) = &a.permissions.workflow_tools { "; tools it may use: " (list_of(t)) }
        }
        @if !a.permissions.allowed_by.is_empty() {
            p { "Allowed by: " @for (p, n) in &a.permissions.allowed_by { code { (p) } " (" (n) ") " } }
        }
        @if !a.permissions.approvals_granted.is_empty() {
            p { "Approvals granted: " @for (id, who) in &a.permissions.approvals_granted { code { (id) } " by " (who) "; " } }
        }
        h3 { "Was sensitive data exposed, altered or copied?" }
        @if a.data.is_empty() && !i.classes.is_empty() {
            // The calls are classified with the register this server was given; the alerts
            // were classified where they were raised (a gateway with its own register).
            p { "The alerts name " (list_of(&i.classes)) " data; this server has no risk register "
                "to tell which calls reached it (start brig serve with --register)." }
        } @else if a.data.is_empty() { p { "No classified data was reached." } } @else {
            ul {
                @for (class, d) in &a.data {
                    li { strong { (class) } ": exposed " (list_of(&d.exposed)) "; altered " (list_of(&d.altered))
                        "; copied out " (list_of(&d.copied)) "; stopped attempts " (list_of(&d.attempted)) }
                }
            }
        }
        h3 { "Can it be reversed automatically?" }
        @if a.reversal.is_empty() { p { "Nothing was changed." } } @else {
            p { @if a.all_reversible { "Yes: every change can be undone automatically." } @else { "Not all of it: a person must restore some changes." } }
            ul {
                @for r in a.reversal.iter().take(200) {
                    li { code { (r.target) } " (" (r.change) "): " (r.how) @if !r.automatic { " — by hand" } }
                }
            }
        }
    }
}

fn clocks_markup(i: &Incident, opened: i64) -> Markup {
    let detected = i.times.detected.unwrap_or(opened);
    let found = brig_incident::clocks::Regimes::builtin().candidates(
        &i.classes,
        &i.outcomes,
        i.severity,
        detected,
    );
    let now = super::now_nanos();
    html! {
        @if found.is_empty() {
            p { "No reporting obligation matches this incident's data classes, outcomes and severity." }
        } @else {
            p.small { "Candidates for legal review, from the built-in regimes table." }
            ul.clocks {
                @for o in &found {
                    li {
                        strong { (o.name) } " (" (o.jurisdiction) "): notify " (o.notify) " — " (o.due) ". "
                        @if let Some(d) = o.deadline_nanos {
                            "Due " (time_el(d)) ": "
                            @let at = super::datetime(d).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                            time.countdown datetime=(at) data-deadline=(at) { (o.left(now)) }
                        }
                    }
                }
            }
        }
    }
}

fn playbook_markup(i: &Incident, steps: &[(u64, Event)]) -> Markup {
    let t0 = i.times.detected;
    html! {
        @if steps.is_empty() {
            p { "No playbook step recorded." }
        } @else {
            table {
                caption { "Playbook steps" }
                thead { tr { th scope="col" { "Step" } th scope="col" { "Status" } th scope="col" { "Took" } th scope="col" { "After detection" } th scope="col" { "Ledger index" } } }
                tbody {
                    @for (idx, e) in steps {
                        @let text = |k: &str| e.attrs.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                        tr {
                            td { (text("step")) (text("action")) }
                            td { (text("status")) }
                            td { @if let Some(ms) = e.attrs.get("ms").and_then(|v| v.as_f64()) { (format!("{ms:.1} ms")) } }
                            td { @if let Some(t0) = t0 { (span_words((e.ts.unix_nanos() - t0) as f64 / 1e9)) } }
                            td { (idx) }
                        }
                    }
                }
            }
            h3 { "Lifecycle" }
            ul {
                @for (name, t) in i.times.steps() {
                    @if let Some(t) = t { li { (name) ": " (time_el(t)) } }
                }
            }
        }
    }
}

/// Most playbook records looked at for one incident.
const MAX_STEPS: usize = 5_000;

/// The playbook's steps for the incident: the `response.action` events naming it, from its
/// first alert on (the playbook runs after the alert is recorded) — found by kind, so an
/// incident of many events costs no more than one of few.
fn playbook_steps(s: &mut Store, i: &Incident) -> Result<Vec<(u64, Event)>, UiError> {
    let first_alert = match i.alerts.first().and_then(|id| id.parse::<EventId>().ok()) {
        Some(id) => s.find_event(&id).map_err(internal)?,
        None => None,
    };
    let Some(from) = first_alert else {
        // A person's report without an alert in the ledger: the agent's latest records.
        return Ok(questions::records_of(s, i)
            .map_err(internal)?
            .into_iter()
            .filter(|(_, e)| e.kind == brig_model::EventKind::ResponseAction)
            .collect());
    };
    let mut out = Vec::new();
    for idx in s
        .kinds_since(from, &["response.action"], MAX_STEPS)
        .map_err(internal)?
    {
        let Some(row) = s.leaf(idx).map_err(internal)? else {
            continue;
        };
        let e = Event::from_leaf(&row.leaf)
            .map_err(|e| internal(format!("ledger row {idx} does not parse: {e}")))?;
        if e.attrs.get("incident").and_then(|v| v.as_str()) == Some(i.id.as_str()) {
            out.push((idx, e));
        }
    }
    Ok(out)
}

/// Most alerts listed on the page (the newest).
const MAX_ALERTS: usize = 200;

fn read_alerts(s: &mut Store, i: &Incident) -> Result<Vec<(u64, Event)>, UiError> {
    let mut out = Vec::new();
    let skip = i.alerts.len().saturating_sub(MAX_ALERTS);
    for id in &i.alerts[skip..] {
        let Ok(eid) = id.parse::<EventId>() else {
            continue;
        };
        let Some(idx) = s.find_event(&eid).map_err(internal)? else {
            continue;
        };
        if let Some(row) = s.leaf(idx).map_err(internal)? {
            if let Ok(e) = Event::from_leaf(&row.leaf) {
                out.push((idx, e));
            }
        }
    }
    Ok(out)
}

fn alerts_markup(i: &Incident, alerts: &[(u64, Event)]) -> Markup {
    html! {
        table {
            caption { "Alerts (" (i.alerts.len()) ")" }
            thead { tr { th scope="col" { "Time" } th scope="col" { "Rule" } th scope="col" { "Level" } th scope="col" { "Title" } th scope="col" { "Ledger index" } } }
            tbody {
                @for (idx, e) in alerts.iter().rev() {
                    @let text = |k: &str| e.attrs.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                    tr {
                        td { (time_el(e.ts.unix_nanos())) }
                        td { code { (text("rule_id")) } }
                        td { (text("level")) }
                        td { (text("title")) }
                        td { (idx) }
                    }
                }
            }
        }
    }
}

pub async fn alerts_fragment(
    Shared(state): Shared<Arc<State>>,
    _v: Viewer,
    Path(id): Path<String>,
) -> UiResult {
    let m = blocking(move || {
        state.store.with(|s| {
            let i = load(s, &id)?;
            let alerts = read_alerts(s, &i)?;
            Ok(alerts_markup(&i, &alerts))
        })
    })
    .await?;
    Ok(super::fragment(m))
}

struct Detail {
    i: Incident,
    opened: i64,
    events: u64,
    answers: Option<Answers>,
    steps: Vec<(u64, Event)>,
    alerts: Vec<(u64, Event)>,
    timeline: Markup,
}

pub async fn detail(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Path(id): Path<String>,
    Query(q): Query<TimelineQuery>,
) -> UiResult {
    let st = state.clone();
    let d = blocking(move || {
        st.store.with(|s| {
            let (i, row) = match desk::load(s, &id) {
                Ok(x) => x,
                Err(DeskError::NotFound(_)) => {
                    return Err(UiError(
                        StatusCode::NOT_FOUND,
                        format!("There is no incident {id}."),
                    ))
                }
                Err(e) => return Err(internal(e)),
            };
            let (timeline, events) = timeline::render(s, &i, &q)?;
            let answers = if events <= INLINE_QUESTIONS {
                Some(answers(s, &i, super::register(&st))?.0)
            } else {
                None
            };
            let steps = playbook_steps(s, &i)?;
            let alerts = read_alerts(s, &i)?;
            Ok(Detail {
                opened: row.opened_nanos,
                i,
                events,
                answers,
                steps,
                alerts,
                timeline,
            })
        })
    })
    .await?;
    let i = &d.i;
    let title = format!("Incident {}", i.id);
    let qurl = format!("/ui/incidents/{}/questions", i.id);
    let flash = state.console.take_flash(&v.sid);
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/incidents",
            &title,
            flash,
            html! {
                p.lede { (i.title) " — agent " code { (i.agent) } ", " (i.state.as_str())
                    @if let Some(w) = &i.workflow { ", workflow " code { (w) } } }
                section aria-labelledby="h-severity" {
                    h2 #h-severity { "Severity" }
                    p { (severity_badge(i.severity.as_str())) }
                    ul { @for r in &i.reasons { li { (r) } } }
                }
                section aria-labelledby="h-questions" {
                    h2 #h-questions { "Commander's questions" }
                    @if let Some(a) = &d.answers {
                        (questions_markup(a, i))
                    } @else {
                        div data-load={ "/ui/frag/incidents/" (i.id) "/questions" } {
                            p { "This incident covers " (d.events) " events; the answers read every one of them. "
                                a href=(qurl) { "Answer the commander's questions" } }
                        }
                    }
                }
                section aria-labelledby="h-clocks" {
                    h2 #h-clocks { "Reporting clocks" }
                    (clocks_markup(i, d.opened))
                }
                section aria-labelledby="h-playbook" {
                    h2 #h-playbook { "Playbook" }
                    (playbook_markup(i, &d.steps))
                }
                section aria-labelledby="h-alerts" {
                    h2 #h-alerts { "Alerts" }
                    (live_region("alerts", &format!("/ui/frag/incidents/{}/alerts", i.id), alerts_markup(i, &d.alerts)))
                }
                section aria-labelledby="h-timeline" {
                    h2 #h-timeline { "Timeline" }
                    (d.timeline)
                }
            },
        ),
    ))
}

/// Answers already worked out, by incident, with the extent of its events they were worked
/// out from: a later load answers from here while no event of the incident was added.
type Answered = HashMap<String, (brig_store::Extent, Answers)>;

fn answered() -> &'static Mutex<Answered> {
    static CACHE: OnceLock<Mutex<Answered>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// One large incident's answers are worked out at a time: they read every event, and a
/// second load of the same page waits for the first and then answers from the cache.
static ANSWERING: Mutex<()> = Mutex::new(());

/// The commander's questions of an incident, read on a connection of their own (a large
/// incident takes a while; the server's shared connections stay free for the API).
async fn read_answers(state: Arc<State>, id: String) -> Result<(Incident, Answers), UiError> {
    blocking(move || {
        let _one = ANSWERING.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = state.data.store().map_err(internal)?;
        let i = load(&mut s, &id)?;
        let span = brig_store::Span {
            sessions: i.sessions.iter().cloned().collect(),
            agent: i.agent.clone(),
            from_nanos: i64::MIN,
            to_nanos: i64::MAX,
        };
        let extent = s.span_extent(&span).map_err(internal)?;
        let cached = answered()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&i.id)
            .filter(|(e, _)| *e == extent)
            .map(|(_, a)| a.clone());
        if let Some(a) = cached {
            return Ok((i, a));
        }
        let (a, _) = answers(&mut s, &i, super::register(&state))?;
        let mut cache = answered().lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= 64 {
            cache.clear();
        }
        cache.insert(i.id.clone(), (extent, a.clone()));
        Ok((i, a))
    })
    .await
}

/// The commander's questions of a large incident, on their own page.
pub async fn questions_page(
    Shared(state): Shared<Arc<State>>,
    v: Viewer,
    Path(id): Path<String>,
) -> UiResult {
    let (i, a) = read_answers(state, id).await?;
    Ok(respond(
        StatusCode::OK,
        layout(
            &v,
            "/ui/incidents",
            &format!("Commander's questions: incident {}", i.id),
            None,
            html! {
                p { a href={ "/ui/incidents/" (i.id) } { "Back to incident " (i.id) } }
                (questions_markup(&a, &i))
            },
        ),
    ))
}

pub async fn questions_fragment(
    Shared(state): Shared<Arc<State>>,
    _v: Viewer,
    Path(id): Path<String>,
) -> UiResult {
    let (i, a) = read_answers(state, id).await?;
    Ok(super::fragment(questions_markup(&a, &i)))
}
