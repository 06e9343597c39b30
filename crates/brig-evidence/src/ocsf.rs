//! OCSF 1.8 for SIEMs: Brig's calls, file changes, alerts and incidents as OCSF events.
//!
//! The [Open Cybersecurity Schema Framework](https://schema.ocsf.io/1.8.0/) gives every
//! security event a class (`class_uid`) in a category (`category_uid`), an activity within
//! the class (`activity_id`), and `type_uid = class_uid * 100 + activity_id`, so a SIEM can
//! search "every file deletion" or "every detection" whatever product sent it. Every event
//! also carries `severity_id`, `time` (whole **milliseconds** since the Unix epoch, UTC) and
//! `metadata` (schema `version`, the `product` that wrote it, and here the event's ids).
//!
//! What Brig emits ([`to_ocsf`]):
//!
//! | Brig                                | OCSF class                                     |
//! |-------------------------------------|------------------------------------------------|
//! | `tool.call`                         | API Activity (6003, Application Activity 6)    |
//! | each file-changing action of a call | File System Activity (1001, System Activity 1) |
//! | `alert`                             | Detection Finding (2004, Findings 2)           |
//! | an incident                         | Incident Finding (2005, Findings 2)            |
//!
//! The agent is the `actor` (`app_name`, with its `session`). Findings name it under the
//! `host` profile, which OCSF requires for a finding's `actor`; a detection also carries the
//! matching call (tool as `api.operation`, call id as `api.request.uid`) in `evidences`.
//!
//! Other kinds (prompts, results, decisions …) are not OCSF events of their own: decisions
//! and results are folded into their call's outcome, and the Timesketch timeline
//! ([`crate::timeline`]) carries every event.
//!
//! **Outcome of a call.** A call's last `policy.decision` or `approval.decision` in the slice
//! (matched by session and call id) sets its outcome, through the `security_control`
//! profile's `action_id`/`disposition_id` (the profile is then named in `metadata.profiles`):
//! denied → status Failure, action Denied, disposition Blocked; allowed by policy → Success,
//! Allowed, Allowed (Failure if its `tool.result` says `error`); allowed by a person →
//! disposition Approved; held and never decided → status Unknown, disposition Delayed; no
//! decision in the slice → status Unknown and no action or disposition.
//!
//! **Severity.** Activities are Informational (1). A detection's severity is its Sigma level
//! (informational 1, low 2, medium 3, high 4, critical 5). An incident's comes from Brig's
//! grade, on the same scale as the levels that floor it: advisory → Low (2), policy
//! violation → Medium (3), security incident → High (4), reportable breach → Critical (5),
//! the last also setting `is_suspected_breach`.
//!
//! **Incidents.** Open → Create/New; acknowledged, contained, eradicated → Update/In
//! Progress; recovered → Update/Resolved; closed → Close/Closed. `time` is the latest
//! lifecycle step, `start_time` the first harmful event (else detection). Each alert of the
//! incident is a `finding_info` (its id alone when the alert is not in the slice). The
//! owner is the `assignee`; OCSF requires an assignee or a group, so an unowned incident
//! names the placeholder group `unassigned`. A verdict spelled like an OCSF one
//! (`true_positive`, `false_positive`, `benign` …) gives `verdict_id`, else 99 Other.
//!
//! **Back to the ledger.** `metadata.original_event_uid` is the Brig event id,
//! `metadata.sequence` its ledger index, `metadata.original_time` Brig's own nanosecond
//! timestamp, `metadata.log_source` the Brig sensor, and `metadata.correlation_uid`
//! (`session/call`) ties a call to its file activities and alerts. `metadata.uid` is the
//! event id too, suffixed `/n` for the n-th action's file activity, since one call can give
//! several OCSF events. An incident's `metadata.uid` is `INC-…/state` (one OCSF event per
//! state) and its `correlation_uid` the incident id. What OCSF has no place for (workflow,
//! action details, the incident's data classes …) goes into `unmapped`.

use std::collections::BTreeMap;

use brig_incident::{Incident, Severity, State};
use brig_model::{Action, ActionKind, Effect, Event, EventKind};
use serde_json::{json, Map, Value};

/// The OCSF schema version every event declares.
pub const OCSF_VERSION: &str = "1.8.0";

/// (class_uid, category_uid) of the classes used.
const API_ACTIVITY: (u64, u64) = (6003, 6);
const FILE_ACTIVITY: (u64, u64) = (1001, 1);
const DETECTION_FINDING: (u64, u64) = (2004, 2);
const INCIDENT_FINDING: (u64, u64) = (2005, 2);

const SEVERITY_INFORMATIONAL: u64 = 1;

/// Every OCSF event for these events (in their order: a call's API Activity, then its file
/// activities) and then these incidents.
pub fn to_ocsf(events: &[(u64, Event)], incidents: &[Incident]) -> Vec<Value> {
    let ctx = Context::new(events);
    let lines = brig_incident::questions::timeline(events);
    let mut out = Vec::new();
    for ((index, e), line) in events.iter().zip(lines) {
        match e.kind {
            EventKind::ToolCall => {
                let o = ctx.outcome(e);
                out.push(api_activity(*index, e, &o, &line.what));
                out.extend(file_activities(*index, e, &o));
            }
            EventKind::Alert => out.push(detection_finding(*index, e, &ctx.outcome(e), &line.what)),
            _ => {}
        }
    }
    out.extend(incidents.iter().map(|i| incident_finding(i, &ctx)));
    // Every string passes the secret scanner: a target or a reason may carry one.
    out.into_iter()
        .map(|v| {
            let mut v = strip_nulls(v);
            brig_model::secrets::redact_in_place(&mut v);
            v
        })
        .collect()
}

/// A call's identity across events: its session and call id.
type CallKey<'a> = (Option<&'a str>, &'a str);

fn call_key(e: &Event) -> Option<CallKey<'_>> {
    e.call.as_deref().map(|c| (e.session.as_deref(), c))
}

/// What the slice says about calls and alerts, gathered once.
struct Context<'a> {
    /// The last decision event on each call (a person's approval overrides a hold).
    decisions: BTreeMap<CallKey<'a>, &'a Event>,
    /// Calls whose tool returned an error.
    failed: BTreeMap<CallKey<'a>, bool>,
    /// Alerts and human reports by event id, for incidents' findings.
    signals: BTreeMap<String, &'a Event>,
}

impl<'a> Context<'a> {
    fn new(events: &'a [(u64, Event)]) -> Self {
        let mut c = Context {
            decisions: BTreeMap::new(),
            failed: BTreeMap::new(),
            signals: BTreeMap::new(),
        };
        for (_, e) in events {
            match (e.kind, call_key(e)) {
                (EventKind::PolicyDecision | EventKind::ApprovalDecision, Some(k))
                    if e.decision.is_some() =>
                {
                    c.decisions.insert(k, e);
                }
                (EventKind::ToolResult, Some(k)) => {
                    let error = e.attrs.get("status").and_then(Value::as_str) == Some("error");
                    c.failed.insert(k, error);
                }
                (EventKind::Alert | EventKind::HumanReport, _) => {
                    c.signals.insert(e.id.to_string(), e);
                }
                _ => {}
            }
        }
        c
    }

    fn outcome(&self, e: &Event) -> Outcome {
        let Some(k) = call_key(e) else {
            return Outcome::UNKNOWN;
        };
        let Some(d_event) = self.decisions.get(&k) else {
            return Outcome::UNKNOWN;
        };
        let Some(d) = &d_event.decision else {
            return Outcome::UNKNOWN;
        };
        let reason = d.reason.clone();
        // (status, action, disposition): Failure 2, Denied 2, Blocked 2; Unknown 0, Unknown
        // 0, Delayed 14; Success 1 (or Failure), Allowed 1, Allowed 1 or Approved 8.
        match d.effect {
            Effect::Deny => Outcome::control(2, 2, 2, reason),
            Effect::Hold => Outcome::control(0, 0, 14, reason.or(Some("held for approval".into()))),
            Effect::Allow => {
                let by_person = d_event.kind == EventKind::ApprovalDecision;
                // Approved (8) is OCSF's word for a request a person let through.
                let disposition = if by_person { 8 } else { 1 };
                if self.failed.get(&k) == Some(&true) {
                    Outcome::control(2, 1, disposition, Some("the tool returned an error".into()))
                } else {
                    Outcome::control(1, 1, disposition, None)
                }
            }
        }
    }

    /// One alert or report of an incident as a `finding_info`; its id alone when the event
    /// is not in the slice.
    fn finding_info(&self, id: &str) -> Value {
        match self.signals.get(id) {
            Some(e) => signal_info(e),
            None => json!({ "uid": id }),
        }
    }
}

/// A call's outcome in OCSF terms.
struct Outcome {
    /// Activity status: 0 Unknown, 1 Success, 2 Failure.
    status_id: u64,
    /// `security_control` profile: action (1 Allowed, 2 Denied) and disposition.
    control: Option<(u64, u64)>,
    detail: Option<String>,
}

impl Outcome {
    const UNKNOWN: Outcome = Outcome {
        status_id: 0,
        control: None,
        detail: None,
    };

    fn control(
        status_id: u64,
        action_id: u64,
        disposition_id: u64,
        detail: Option<String>,
    ) -> Self {
        Outcome {
            status_id,
            control: Some((action_id, disposition_id)),
            detail,
        }
    }

    /// The activity's status and the control's outcome.
    fn put_status(&self, m: &mut Map<String, Value>) {
        m.insert("status_id".into(), json!(self.status_id));
        m.insert("status_detail".into(), json!(self.detail));
        self.put_control(m);
    }

    /// The control's outcome only: a finding has its own status.
    fn put_control(&self, m: &mut Map<String, Value>) {
        if let Some((action, disposition)) = self.control {
            m.insert("action_id".into(), json!(action));
            m.insert("disposition_id".into(), json!(disposition));
        }
    }

    fn profiles(&self) -> Vec<&'static str> {
        self.control
            .map(|_| "security_control")
            .into_iter()
            .collect()
    }
}

/// The attributes every OCSF event has.
fn base(
    class: (u64, u64),
    activity_id: u64,
    severity_id: u64,
    time_ms: i64,
    metadata: Value,
) -> Map<String, Value> {
    let v = json!({
        "class_uid": class.0,
        "category_uid": class.1,
        "activity_id": activity_id,
        "type_uid": class.0 * 100 + activity_id,
        "severity_id": severity_id,
        "time": time_ms,
        "metadata": metadata,
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!("json! of an object literal is an object"),
    }
}

fn product() -> Value {
    json!({"name": "Brig", "vendor_name": "Brig", "version": env!("CARGO_PKG_VERSION")})
}

/// Nanoseconds to OCSF's milliseconds, floored.
fn ms(nanos: i64) -> i64 {
    nanos.div_euclid(1_000_000)
}

/// The metadata of an OCSF event made from ledger event `e` (see the module docs).
fn event_metadata(index: u64, e: &Event, uid: String, profiles: Vec<&str>) -> Value {
    json!({
        "version": OCSF_VERSION,
        "product": product(),
        "uid": uid,
        "original_event_uid": e.id.to_string(),
        "sequence": index,
        "original_time": e.ts.to_string(),
        "event_code": e.kind.as_str(),
        "log_source": e.source,
        "correlation_uid": call_key(e).map(|(s, c)| format!("{}/{c}", s.unwrap_or(""))),
        "profiles": if profiles.is_empty() { None } else { Some(profiles) },
    })
}

/// The agent as the actor: OCSF's client application, in its session.
fn actor(e: &Event) -> Value {
    json!({
        "app_name": e.agent,
        "session": e.session.as_ref().map(|s| json!({"uid": s})),
    })
}

/// Targets (role Target) and destinations (role Related) of the actions, each once.
fn resources(actions: &[Action]) -> Option<Value> {
    let mut seen: Vec<(&str, u64)> = Vec::new();
    for a in actions {
        for r in std::iter::once((a.target.as_str(), 1)).chain(a.dest.as_deref().map(|d| (d, 4))) {
            if !seen.contains(&r) {
                seen.push(r);
            }
        }
    }
    (!seen.is_empty()).then(|| {
        seen.iter()
            .map(|(name, role)| json!({"name": name, "role_id": role}))
            .collect()
    })
}

/// What OCSF has no attribute for, kept as Brig named it (`None` when there is nothing).
fn unmapped(e: &Event, extra: &[&str]) -> Option<Map<String, Value>> {
    let mut u = Map::new();
    if let Some(w) = &e.workflow {
        u.insert("workflow".into(), json!(w));
    }
    for k in extra {
        if let Some(v) = e.attrs.get(*k) {
            u.insert((*k).into(), v.clone());
        }
    }
    (!u.is_empty()).then_some(u)
}

// ---- API Activity (6003) ----

fn api_activity(index: u64, e: &Event, o: &Outcome, what: &str) -> Value {
    let (activity_id, activity_name) = api_activity_of(&e.actions);
    let meta = event_metadata(index, e, e.id.to_string(), o.profiles());
    let mut m = base(
        API_ACTIVITY,
        activity_id,
        SEVERITY_INFORMATIONAL,
        ms(e.ts.unix_nanos()),
        meta,
    );
    m.insert("activity_name".into(), json!(activity_name));
    m.insert(
        "api".into(),
        json!({
            "operation": e.tool.as_deref().unwrap_or(""),
            "request": e.call.as_ref().map(|c| json!({"uid": c})),
        }),
    );
    m.insert("actor".into(), actor(e));
    // The request came from the agent; Brig knows it by name, not by address.
    m.insert("src_endpoint".into(), json!({"name": e.agent}));
    m.insert("resources".into(), json!(resources(&e.actions)));
    m.insert("message".into(), json!(what));
    m.insert("unmapped".into(), json!(unmapped(e, &[])));
    o.put_status(&mut m);
    Value::Object(m)
}

/// The call's CRUD activity from its actions: the gravest wins (Delete, Update, Create,
/// Other, Read). Other (99) names the Brig action in `activity_name`, as OCSF asks.
fn api_activity_of(actions: &[Action]) -> (u64, Option<&'static str>) {
    let rank = |id: u64| match id {
        4 => 5,
        3 => 4,
        1 => 3,
        99 => 2,
        _ => 1,
    };
    actions
        .iter()
        .map(|a| (crud(a.action), a.action.as_str()))
        .max_by_key(|(id, _)| rank(*id))
        .map_or((0, None), |(id, name)| (id, (id == 99).then_some(name)))
}

/// API Activity ids: 1 Create, 2 Read, 3 Update, 4 Delete, 99 Other. Exhaustive, so a new
/// action kind needs a decision here.
fn crud(k: ActionKind) -> u64 {
    use ActionKind::*;
    match k {
        FileRead | FileList | DataRead | DataExport | CredAccess => 2,
        DirCreate | FileCopy | ArchiveCreate | BackupCreate | PersistSchedule => 1,
        FileWrite | FileMove | FileChmod | ConfigChange | DataWrite | AccountChange | NetConfig
        | MonitorTamper | PermGrant | ServiceStop => 3,
        FileDelete => 4,
        NetEgress | MessageSend | ProcExec | ProcKill | PaymentSend | ToolCall => 99,
    }
}

// ---- File System Activity (1001) ----

fn file_activities(index: u64, e: &Event, o: &Outcome) -> Vec<Value> {
    e.actions
        .iter()
        .enumerate()
        .filter_map(|(n, a)| file_activity(index, e, o, n, a))
        .collect()
}

/// How a file action looks in OCSF: activity, the file acted on, its type, and where it
/// went (for a rename).
struct FileChange<'a> {
    activity_id: u64,
    path: &'a str,
    /// 1 Regular File (OCSF's choice when the type is not known), 2 Folder.
    type_id: u64,
    renamed_to: Option<&'a str>,
}

/// File System Activity ids: 1 Create, 3 Update, 4 Delete, 5 Rename, 7 Set Security. A
/// copy or archive creates its `dest`; without one nothing known was created.
fn file_change(a: &Action) -> Option<FileChange<'_>> {
    use ActionKind::*;
    let change = |activity_id, path, type_id| FileChange {
        activity_id,
        path,
        type_id,
        renamed_to: None,
    };
    match a.action {
        FileWrite => Some(change(3, &a.target, 1)),
        FileDelete => Some(change(4, &a.target, 1)),
        FileMove => Some(FileChange {
            renamed_to: a.dest.as_deref(),
            ..change(5, &a.target, 1)
        }),
        // Mode, owner and ACLs are the file's security (7), not plain attributes (6).
        FileChmod => Some(change(7, &a.target, 1)),
        DirCreate => Some(change(1, &a.target, 2)),
        FileCopy | ArchiveCreate => a.dest.as_deref().map(|d| change(1, d, 1)),
        FileRead | FileList | NetEgress | MessageSend | ProcExec | ProcKill | ServiceStop
        | ConfigChange | PermGrant | CredAccess | BackupCreate | PersistSchedule
        | MonitorTamper | NetConfig | DataRead | DataWrite | DataExport | PaymentSend
        | AccountChange | ToolCall => None,
    }
}

fn file_activity(index: u64, e: &Event, o: &Outcome, n: usize, a: &Action) -> Option<Value> {
    let c = file_change(a)?;
    let meta = event_metadata(index, e, format!("{}/{n}", e.id), o.profiles());
    let mut m = base(
        FILE_ACTIVITY,
        c.activity_id,
        SEVERITY_INFORMATIONAL,
        ms(e.ts.unix_nanos()),
        meta,
    );
    m.insert("file".into(), file(c.path, c.type_id));
    // OCSF: the resulting file "when the activity was allowed and successful".
    if o.status_id != 2 {
        m.insert(
            "file_result".into(),
            json!(c.renamed_to.map(|p| file(p, c.type_id))),
        );
    }
    m.insert("actor".into(), actor(e));
    // Brig does not record which host a tool touched; the device is the Brig sensor that
    // saw the call, of unknown type.
    m.insert("device".into(), json!({"type_id": 0, "name": e.source}));
    m.insert("message".into(), json!(a.to_string()));
    let mut u = unmapped(e, &[]).unwrap_or_default();
    if !a.attrs.is_empty() {
        u.insert("action_attrs".into(), json!(a.attrs));
    }
    if !u.is_empty() {
        m.insert("unmapped".into(), Value::Object(u));
    }
    o.put_status(&mut m);
    Some(Value::Object(m))
}

fn file(path: &str, type_id: u64) -> Value {
    let trimmed = path.trim_end_matches('/');
    let name = trimmed
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or(path);
    json!({"name": name, "path": path, "type_id": type_id})
}

// ---- Detection Finding (2004) ----

fn detection_finding(index: u64, e: &Event, o: &Outcome, what: &str) -> Value {
    // `actor` is a finding attribute of the `host` profile (which requires nothing more).
    let profiles = [vec!["host"], o.profiles()].concat();
    let meta = event_metadata(index, e, e.id.to_string(), profiles);
    let level = e.attrs.get("level").and_then(Value::as_str).unwrap_or("");
    // 1 Create: Brig raises an alert once; it does not update it.
    let mut m = base(
        DETECTION_FINDING,
        1,
        sigma_severity(level),
        ms(e.ts.unix_nanos()),
        meta,
    );
    m.insert("finding_info".into(), signal_info(e));
    m.insert("status_id".into(), json!(1)); // New
    m.insert("is_alert".into(), json!(true));
    m.insert("actor".into(), actor(e));
    // The call that matched, as evidence: a finding's own `api` belongs to the `cloud`
    // profile, which would require a cloud provider.
    let api = e.tool.as_ref().map(|t| {
        json!({
            "operation": t,
            "request": e.call.as_ref().map(|c| json!({"uid": c})),
        })
    });
    if let Some(api) = api {
        m.insert("evidences".into(), json!([{"actor": actor(e), "api": api}]));
    }
    m.insert("resources".into(), json!(resources(&e.actions)));
    m.insert("message".into(), json!(what));
    m.insert(
        "unmapped".into(),
        json!(unmapped(
            e,
            &["rule_kind", "blocking", "classes", "prevented"]
        )),
    );
    o.put_control(&mut m);
    Value::Object(m)
}

/// Sigma levels to OCSF severity: informational 1, low 2, medium 3, high 4, critical 5.
fn sigma_severity(level: &str) -> u64 {
    match level {
        "informational" => 1,
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        _ => 0,
    }
}

/// An alert's (or a person's report's) `finding_info`: the event id, the rule as the
/// analytic, its Sigma tags, and the events it matched.
fn signal_info(e: &Event) -> Value {
    let attr = |k: &str| {
        e.attrs
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let list = |k: &str| -> Vec<&str> {
        e.attrs
            .get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    };
    let rule = attr("rule_id");
    let title = attr("title")
        .map(String::from)
        .or_else(|| attr("happened").map(|h| format!("reported by a person: {h}")))
        .or_else(|| rule.map(String::from));
    let tags: Vec<Value> = list("tags").into_iter().map(sigma_tag).collect();
    let related: Vec<Value> = list("matched")
        .into_iter()
        .map(|id| json!({"uid": id}))
        .collect();
    json!({
        "uid": e.id.to_string(),
        "title": title,
        "created_time": ms(e.ts.unix_nanos()),
        // type 1: Rule.
        "analytic": rule.map(|r| json!({"uid": r, "name": title, "type_id": 1})),
        "tags": if tags.is_empty() { None } else { Some(tags) },
        "related_events": if related.is_empty() { None } else { Some(related) },
    })
}

/// A Sigma tag (`attack.t1048`: namespace, value) as an OCSF key/value pair.
fn sigma_tag(tag: &str) -> Value {
    match tag.split_once('.') {
        Some((ns, v)) if !ns.is_empty() && !v.is_empty() => json!({"name": ns, "value": v}),
        _ => json!({"name": "tag", "value": tag}),
    }
}

// ---- Incident Finding (2005) ----

fn incident_finding(i: &Incident, ctx: &Context) -> Value {
    let (activity_id, status_id) = incident_activity_status(i.state);
    // The time of the step the incident is at: the latest lifecycle time it has (the desk
    // always sets `detected`; the epoch stands in should none be set).
    let time = i
        .times
        .steps()
        .iter()
        .filter_map(|(_, t)| *t)
        .max()
        .unwrap_or(0);
    let meta = json!({
        "version": OCSF_VERSION,
        "product": product(),
        "uid": format!("{}/{}", i.id, i.state.as_str()),
        "correlation_uid": i.id,
        // For `actor`, as in detection findings.
        "profiles": ["host"],
    });
    let mut m = base(
        INCIDENT_FINDING,
        activity_id,
        incident_severity(i.severity),
        ms(time),
        meta,
    );
    let infos: Vec<Value> = i.alerts.iter().map(|id| ctx.finding_info(id)).collect();
    m.insert("finding_info_list".into(), json!(infos));
    m.insert("status_id".into(), json!(status_id));
    m.insert("message".into(), json!(i.title));
    if !i.reasons.is_empty() {
        m.insert("desc".into(), json!(i.reasons.join("; ")));
    }
    m.insert(
        "is_suspected_breach".into(),
        json!(i.severity == Severity::ReportableBreach),
    );
    m.insert("actor".into(), json!({"app_name": i.agent}));
    let start = i.times.first_harmful.or(i.times.detected);
    m.insert("start_time".into(), json!(start.map(ms)));
    put_assignee(&mut m, i.owner.as_deref());
    put_verdict(&mut m, i.verdict.as_deref());
    m.insert("unmapped".into(), incident_unmapped(i));
    Value::Object(m)
}

/// Activity (1 Create, 2 Update, 3 Close) and status (1 New, 2 In Progress, 4 Resolved,
/// 5 Closed) of an incident in this state. New is OCSF's "received but not assigned".
fn incident_activity_status(s: State) -> (u64, u64) {
    match s {
        State::Open => (1, 1),
        State::Acknowledged | State::Contained | State::Eradicated => (2, 2),
        State::Recovered => (2, 4),
        State::Closed => (3, 5),
    }
}

/// Brig's grade on OCSF's scale (see the module docs).
fn incident_severity(s: Severity) -> u64 {
    match s {
        Severity::Advisory => 2,
        Severity::PolicyViolation => 3,
        Severity::SecurityIncident => 4,
        Severity::ReportableBreach => 5,
    }
}

/// OCSF requires an assignee or an assignee group. An incident nobody owns yet goes to the
/// group `unassigned`: a placeholder a SIEM can filter on, not a team Brig knows.
fn put_assignee(m: &mut Map<String, Value>, owner: Option<&str>) {
    match owner {
        Some(o) => m.insert("assignee".into(), json!({"name": o})),
        None => m.insert("assignee_group".into(), json!({"name": "unassigned"})),
    };
}

/// OCSF verdict ids by their captions in snake case, as Brig's verdicts are spelled.
const VERDICTS: [(&str, u64); 10] = [
    ("false_positive", 1),
    ("true_positive", 2),
    ("disregard", 3),
    ("suspicious", 4),
    ("benign", 5),
    ("test", 6),
    ("insufficient_data", 7),
    ("security_risk", 8),
    ("managed_externally", 9),
    ("duplicate", 10),
];

/// The closing verdict, as an OCSF id when it is one (else 99 Other) and as written.
fn put_verdict(m: &mut Map<String, Value>, verdict: Option<&str>) {
    let Some(v) = verdict else { return };
    let key = v.trim().to_lowercase().replace([' ', '-'], "_");
    let id = VERDICTS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or(99, |(_, id)| *id);
    m.insert("verdict_id".into(), json!(id));
    m.insert("verdict".into(), json!(v));
}

fn incident_unmapped(i: &Incident) -> Value {
    json!({
        "state": i.state.as_str(),
        "severity": i.severity.as_str(),
        "sessions": i.sessions,
        "workflow": i.workflow,
        "outcomes": i.outcomes.iter().map(|o| o.as_str()).collect::<Vec<_>>(),
        "classes": i.classes,
        "resources": i.resources,
        "identities": i.identities,
        "rules": i.rules,
        "legal_hold": i.legal_hold,
    })
}

/// Drops `null` members: OCSF leaves an attribute out rather than null, and the builders
/// above write optional attributes as `Option`s. (A `null` inside a Brig attribute copied
/// into `unmapped` goes too; absent and null mean the same there.)
fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}
