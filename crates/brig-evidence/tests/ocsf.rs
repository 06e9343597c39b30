//! OCSF 1.8 export: objects of every class made from real Brig events and incidents, checked
//! against the schema's required attributes and enum values.
//!
//! Two checks:
//!
//! - `objects_have_the_required_attributes_and_known_ids` always runs, against the lists in
//!   [`derived`] (copied from the schema, see there);
//! - `objects_validate_against_the_ocsf_1_8_0_schema` validates every object against the
//!   compiled OCSF 1.8.0 schema itself (every attribute defined, required ones present,
//!   types, enums, `at_least_one` constraints, profiles declared) and holds the lists in
//!   [`derived`] equal to it. It reads the schema from the file `BRIG_OCSF_SCHEMA` names:
//!   `ocsf_json_schema/ocsf/1.8.0.json` of the PyPI package `ocsf-json-schema==1.2.0`,
//!   which the test script installs (as it does sigma-cli). A plain `cargo test` without
//!   it skips this test loudly; CI (`CI` set) fails instead.

use std::collections::{BTreeMap, BTreeSet};

use brig_evidence::ocsf::{to_ocsf, OCSF_VERSION};
use brig_incident::{Incident, Outcome, Severity, State, Times};
use brig_model::{Action, ActionKind, Decision, Effect, Event, EventKind, NewEvent, Timestamp};
use serde_json::{json, Value};

/// Required attributes, `at_least_one` constraints and enum values of OCSF 1.8.0 for what
/// Brig emits.
///
/// Source: the OCSF 1.8.0 schema as compiled by the OCSF schema server (its
/// `/1.8.0/export/v2/schema`), shipped on PyPI by `ocsf-json-schema` 1.2.0 as
/// `ocsf_json_schema/ocsf/1.8.0.json`. In the OCSF repository (ocsf/ocsf-schema, v1.8.0)
/// they come from `events/base_event.json`, `events/application/api_activity.json`,
/// `events/system/file_activity.json`, `events/findings/finding.json`,
/// `events/findings/detection_finding.json`, `events/findings/incident_finding.json`,
/// `objects/{metadata,product,actor,api,request,network_endpoint,file,device,finding_info,
/// analytic,key_value_object,related_event,evidences,resource_details,session,user,group}.json`
/// and `dictionary.json`. Attributes that only a profile requires (`cloud`, `osint`) are left
/// out: Brig declares neither profile. The schema test holds these equal to the file.
mod derived {
    /// `events/base_event.json`.
    pub const BASE_REQUIRED: &[&str] = &[
        "activity_id",
        "category_uid",
        "class_uid",
        "metadata",
        "severity_id",
        "time",
        "type_uid",
    ];
    /// (name, class_uid, category_uid, required besides the base, at_least_one).
    pub type Class = (
        &'static str,
        u64,
        u64,
        &'static [&'static str],
        &'static [&'static str],
    );
    pub const CLASSES: &[Class] = &[
        (
            "api_activity",
            6003,
            6,
            &["actor", "api", "src_endpoint"],
            &[],
        ),
        ("file_activity", 1001, 1, &["actor", "device", "file"], &[]),
        ("detection_finding", 2004, 2, &["finding_info"], &[]),
        (
            "incident_finding",
            2005,
            2,
            &["finding_info_list", "status_id"],
            &["assignee", "assignee_group"],
        ),
    ];
    /// Objects: (name, required, at_least_one).
    pub const OBJECTS: &[(&str, &[&str], &[&str])] = &[
        ("metadata", &["product", "version"], &[]),
        ("product", &[], &["name", "uid"]),
        (
            "actor",
            &[],
            &[
                "process",
                "user",
                "invoked_by",
                "session",
                "app_name",
                "app_uid",
            ],
        ),
        ("api", &["operation"], &[]),
        ("request", &["uid"], &[]),
        (
            "network_endpoint",
            &[],
            &[
                "ip",
                "uid",
                "name",
                "hostname",
                "svc_name",
                "instance_uid",
                "interface_uid",
                "interface_name",
                "domain",
            ],
        ),
        ("file", &["name", "type_id"], &[]),
        (
            "device",
            &["type_id"],
            &[
                "ip",
                "uid",
                "name",
                "hostname",
                "instance_uid",
                "interface_uid",
                "interface_name",
            ],
        ),
        ("finding_info", &["uid"], &[]),
        ("analytic", &["type_id"], &["name", "uid"]),
        ("key_value_object", &["name"], &["value", "values"]),
        ("related_event", &["uid"], &[]),
        (
            "evidences",
            &[],
            &[
                "actor",
                "api",
                "connection_info",
                "data",
                "database",
                "databucket",
                "device",
                "dst_endpoint",
                "email",
                "file",
                "process",
                "query",
                "src_endpoint",
                "url",
                "user",
                "job",
                "script",
                "reg_key",
                "reg_value",
                "win_service",
            ],
        ),
        ("resource_details", &[], &["name", "uid"]),
        ("session", &[], &[]),
        ("user", &[], &["account", "name", "uid"]),
        ("group", &[], &["name", "uid"]),
    ];
    /// `activity_id` per class.
    pub const API_ACTIVITY_IDS: &[u64] = &[0, 1, 2, 3, 4, 99];
    pub const FILE_ACTIVITY_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 99];
    pub const FINDING_ACTIVITY_IDS: &[u64] = &[0, 1, 2, 3, 99];
    /// `severity_id` (base event).
    pub const SEVERITY_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 99];
    /// `status_id`: activities (base event), Detection Finding, Incident Finding.
    pub const ACTIVITY_STATUS_IDS: &[u64] = &[0, 1, 2, 99];
    pub const DETECTION_STATUS_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 99];
    pub const INCIDENT_STATUS_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 99];
    /// `security_control` profile: `action_id`, `disposition_id`.
    pub const ACTION_IDS: &[u64] = &[0, 1, 2, 3, 4, 99];
    pub const DISPOSITION_IDS: &[u64] = &[
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 99,
    ];
    /// `file.type_id`, `device.type_id`, `analytic.type_id`, `resource_details.role_id`,
    /// `verdict_id`.
    pub const FILE_TYPE_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 99];
    pub const DEVICE_TYPE_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 99];
    pub const ANALYTIC_TYPE_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 99];
    pub const ROLE_IDS: &[u64] = &[0, 1, 2, 3, 4, 99];
    pub const VERDICT_IDS: &[u64] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99];
}

// ---- Brig events and incidents ----

/// 2026-12-05T01:02:03.123456789Z
const T: i64 = 1_796_432_523_123_456_789;

fn event(kind: EventKind, at: i64, call: Option<&str>, f: impl FnOnce(&mut NewEvent)) -> Event {
    let mut e = NewEvent::new("mcp-proxy", "repo-assistant", kind);
    e.ts = Some(Timestamp::from_unix_nanos(T + at));
    e.session = Some("s-1".into());
    e.workflow = Some("release".into());
    e.call = call.map(String::from);
    f(&mut e);
    e.seal().unwrap().0
}

fn call(at: i64, id: Option<&str>, tool: &str, actions: Vec<Action>) -> Event {
    event(EventKind::ToolCall, at, id, |e| {
        e.tool = Some(tool.into());
        e.actions = actions;
    })
}

fn decided(at: i64, id: &str, kind: EventKind, effect: Effect) -> Event {
    event(kind, at, Some(id), |e| {
        e.decision = Some(Decision {
            effect,
            policies: vec!["p".into()],
            reason: Some(format!("{effect:?} for a reason")),
        });
    })
}

fn result(at: i64, id: &str, status: &str) -> Event {
    event(EventKind::ToolResult, at, Some(id), |e| {
        e.tool = Some("t".into());
        e.attrs.insert("status".into(), json!(status));
    })
}

/// Calls with every outcome, every file action, two alerts and a person's report.
fn events() -> Vec<Event> {
    let chmod = {
        let mut a = Action::new(ActionKind::FileChmod, "/srv/run.sh");
        a.attrs.insert("mode".into(), json!("0777"));
        a
    };
    let bash = vec![
        Action::new(ActionKind::FileCopy, "/srv/data").with_dest("/dev/shm/.x"),
        Action::new(ActionKind::FileDelete, "/srv/data/a.csv"),
        Action::new(ActionKind::FileMove, "/srv/a").with_dest("/srv/b"),
        chmod,
        Action::new(ActionKind::DirCreate, "/srv/new/"),
        Action::new(ActionKind::ArchiveCreate, "/srv/data").with_dest("/tmp/d.tgz"),
        Action::new(ActionKind::ArchiveCreate, "/srv/logs"),
        Action::new(ActionKind::NetEgress, "https://x.example/up"),
    ];
    let alert = event(EventKind::Alert, 21, Some("2"), |e| {
        e.tool = Some("bash".into());
        e.actions = vec![Action::new(ActionKind::FileCopy, "/srv/data").with_dest("/dev/shm/.x")];
        e.attrs.insert("rule_id".into(), json!("brig-hidden-copy"));
        e.attrs
            .insert("title".into(), json!("Copy to a hidden place"));
        e.attrs.insert("level".into(), json!("high"));
        e.attrs.insert("rule_kind".into(), json!("sigma"));
        e.attrs.insert("blocking".into(), json!(true));
        e.attrs.insert(
            "tags".into(),
            json!(["attack.exfiltration", "attack.t1048", "brig"]),
        );
        e.attrs.insert(
            "matched".into(),
            json!(["0190b1a0-0000-7000-8000-000000000002"]),
        );
    });
    let odd_alert = event(EventKind::Alert, 70, None, |e| {
        e.attrs.insert("rule_id".into(), json!("odd"));
        e.attrs.insert("level".into(), json!("unheard-of"));
    });
    let report = event(EventKind::HumanReport, 80, None, |e| {
        e.attrs
            .insert("happened".into(), json!("deleted the customer table"));
    });
    vec![
        call(
            10,
            Some("1"),
            "write_file",
            vec![
                Action::new(ActionKind::FileWrite, "/srv/app/config.yaml"),
                Action::new(ActionKind::FileMove, "/srv/app/a.yaml").with_dest("/srv/app/b.yaml"),
            ],
        ),
        decided(11, "1", EventKind::PolicyDecision, Effect::Allow),
        result(12, "1", "ok"),
        call(20, Some("2"), "bash", bash),
        alert,
        decided(22, "2", EventKind::PolicyDecision, Effect::Deny),
        call(
            30,
            Some("3"),
            "send_mail",
            vec![Action::new(ActionKind::MessageSend, "cfo@x.example")],
        ),
        decided(31, "3", EventKind::PolicyDecision, Effect::Hold),
        decided(32, "3", EventKind::ApprovalDecision, Effect::Allow),
        call(
            40,
            Some("4"),
            "read_file",
            vec![Action::new(ActionKind::FileRead, "/etc/shadow")],
        ),
        decided(41, "4", EventKind::PolicyDecision, Effect::Hold),
        call(
            50,
            Some("5"),
            "delete_file",
            vec![Action::new(ActionKind::FileDelete, "/srv/x")],
        ),
        call(
            60,
            Some("6"),
            "run",
            vec![Action::new(ActionKind::ProcExec, "make")],
        ),
        decided(61, "6", EventKind::PolicyDecision, Effect::Allow),
        result(62, "6", "error"),
        call(65, None, "status", vec![]),
        odd_alert,
        report,
    ]
}

fn indexed(events: Vec<Event>) -> Vec<(u64, Event)> {
    (100..).zip(events).collect()
}

fn incident(
    id: &str,
    state: State,
    severity: Severity,
    owner: Option<&str>,
    alerts: Vec<String>,
) -> Incident {
    Incident {
        id: id.into(),
        title: format!("incident {id}"),
        agent: "repo-assistant".into(),
        sessions: BTreeSet::from(["s-1".to_string()]),
        workflow: Some("release".into()),
        severity,
        reasons: vec!["rule brig-hidden-copy is high".into()],
        state,
        owner: owner.map(String::from),
        verdict: None,
        legal_hold: false,
        classes: BTreeSet::from(["pii".to_string()]),
        outcomes: BTreeSet::from([Outcome::CopiedOut]),
        resources: BTreeSet::from(["/srv/data".to_string()]),
        identities: BTreeSet::from(["agent:repo-assistant".to_string()]),
        rules: BTreeSet::from(["brig-hidden-copy".to_string()]),
        alerts,
        times: Times {
            first_harmful: Some(T + 20),
            detected: Some(T + 21),
            ..Times::default()
        },
    }
}

/// One incident per state that maps differently, and per severity.
fn incidents(events: &[(u64, Event)]) -> Vec<Incident> {
    let id_of = |kind: EventKind| {
        events
            .iter()
            .find(|(_, e)| e.kind == kind)
            .map(|(_, e)| e.id.to_string())
            .unwrap()
    };
    let alert = id_of(EventKind::Alert);
    let report = id_of(EventKind::HumanReport);
    let mut open = incident(
        "INC-open",
        State::Open,
        Severity::Advisory,
        None,
        vec![alert.clone()],
    );
    open.times.first_harmful = None;
    let mut contained = incident(
        "INC-contained",
        State::Contained,
        Severity::SecurityIncident,
        None,
        vec![alert, "0190b1a0-0000-7000-8000-00000000dead".into()],
    );
    contained.times.contained = Some(T + 1_000_000_000);
    let recovered = incident(
        "INC-recovered",
        State::Recovered,
        Severity::PolicyViolation,
        Some("sam"),
        vec![report.clone()],
    );
    let mut closed = incident(
        "INC-closed",
        State::Closed,
        Severity::ReportableBreach,
        Some("dana"),
        vec![report.clone()],
    );
    closed.verdict = Some("True positive".into());
    closed.times.closed = Some(T + 9_000_000_000);
    let mut odd = incident(
        "INC-odd",
        State::Closed,
        Severity::Advisory,
        Some("dana"),
        vec![report],
    );
    odd.verdict = Some("won't fix".into());
    vec![open, contained, recovered, closed, odd]
}

fn export() -> (Vec<(u64, Event)>, Vec<Value>) {
    let events = indexed(events());
    let incidents = incidents(&events);
    let out = to_ocsf(&events, &incidents);
    (events, out)
}

/// The named attributes' values, `null` where absent: `pick(o, "status_id action_id")`.
fn pick(o: &Value, names: &str) -> Value {
    names
        .split(' ')
        .map(|n| o.get(n).cloned().unwrap_or(Value::Null))
        .collect()
}

/// The members of array attribute `k`, none when it is absent.
fn items<'v>(v: &'v Value, k: &str) -> impl Iterator<Item = &'v Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

fn of_class(out: &[Value], class_uid: u64) -> Vec<&Value> {
    out.iter().filter(|o| o["class_uid"] == class_uid).collect()
}

/// The API Activity of call `id`.
fn api(out: &[Value], id: &str) -> Value {
    of_class(out, 6003)
        .into_iter()
        .find(|o| o["api"]["request"]["uid"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no API Activity for call {id}"))
}

// ---- Checks against the derived lists ----

fn require(path: &str, v: &Value, keys: &[&str], one_of: &[&str]) {
    for k in keys {
        assert!(v.get(*k).is_some(), "{path}.{k} is required: {v}");
    }
    if !one_of.is_empty() {
        assert!(
            one_of.iter().any(|k| v.get(*k).is_some()),
            "{path} needs one of {one_of:?}: {v}"
        );
    }
}

fn object(path: &str, v: &Value, name: &str) {
    let (_, req, one) = derived::OBJECTS.iter().find(|(n, ..)| *n == name).unwrap();
    require(path, v, req, one);
}

fn id_in(path: &str, v: &Value, allowed: &[u64]) {
    if let Some(x) = v.get(path.rsplit('.').next().unwrap()) {
        let n = x
            .as_u64()
            .unwrap_or_else(|| panic!("{path} is not an id: {x}"));
        assert!(
            allowed.contains(&n),
            "{path} = {n} is not one of {allowed:?}"
        );
    }
}

fn check_base(o: &Value) {
    use derived::*;
    require("", o, BASE_REQUIRED, &[]);
    let class = o["class_uid"].as_u64().unwrap();
    let (_, _, category, req, one) = CLASSES
        .iter()
        .find(|c| c.1 == class)
        .expect("a known class");
    require("", o, req, one);
    assert_eq!(o["category_uid"], *category);
    let activity = o["activity_id"].as_u64().unwrap();
    assert_eq!(
        o["type_uid"],
        class * 100 + activity,
        "type_uid = class_uid*100 + activity_id"
    );
    id_in("severity_id", o, SEVERITY_IDS);
    id_in("action_id", o, ACTION_IDS);
    id_in("disposition_id", o, DISPOSITION_IDS);
    assert!(o["time"].is_i64());
    let m = &o["metadata"];
    object("metadata", m, "metadata");
    object("metadata.product", &m["product"], "product");
    assert_eq!(m["version"], OCSF_VERSION);
    assert_eq!(OCSF_VERSION, "1.8.0");
    assert_eq!(m["product"]["name"], "Brig");
    assert_eq!(m["product"]["vendor_name"], "Brig");
    assert_eq!(m["product"]["version"], env!("CARGO_PKG_VERSION"));
    // A profile's attributes appear only with the profile declared: the control's
    // outcome (`security_control`), and a finding's actor (`host`).
    let declared = m["profiles"].as_array().cloned().unwrap_or_default();
    if o.get("action_id").is_some() {
        assert!(declared.contains(&json!("security_control")), "{o}");
    }
    if (2000..3000).contains(&class) && o.get("actor").is_some() {
        assert!(declared.contains(&json!("host")), "{o}");
    }
    if let Some(a) = o.get("actor") {
        object("actor", a, "actor");
        if let Some(s) = a.get("session") {
            object("actor.session", s, "session");
        }
    }
    for r in items(o, "resources") {
        object("resources[]", r, "resource_details");
        id_in("role_id", r, ROLE_IDS);
    }
}

fn check_api(o: &Value) {
    id_in("activity_id", o, derived::API_ACTIVITY_IDS);
    id_in("status_id", o, derived::ACTIVITY_STATUS_IDS);
    object("api", &o["api"], "api");
    if let Some(r) = o["api"].get("request") {
        object("api.request", r, "request");
    }
    object("src_endpoint", &o["src_endpoint"], "network_endpoint");
    if o["activity_id"] == 99 {
        assert!(
            o["activity_name"].is_string(),
            "Other names its activity: {o}"
        );
    }
}

fn check_file(o: &Value) {
    id_in("activity_id", o, derived::FILE_ACTIVITY_IDS);
    id_in("status_id", o, derived::ACTIVITY_STATUS_IDS);
    for f in ["file", "file_result"] {
        if let Some(file) = o.get(f) {
            object(f, file, "file");
            id_in("type_id", file, derived::FILE_TYPE_IDS);
        }
    }
    object("device", &o["device"], "device");
    id_in("type_id", &o["device"], derived::DEVICE_TYPE_IDS);
}

fn check_finding_info(path: &str, fi: &Value) {
    object(path, fi, "finding_info");
    if let Some(a) = fi.get("analytic") {
        object("analytic", a, "analytic");
        id_in("type_id", a, derived::ANALYTIC_TYPE_IDS);
    }
    for t in items(fi, "tags") {
        object("tags[]", t, "key_value_object");
    }
    for r in items(fi, "related_events") {
        object("related_events[]", r, "related_event");
    }
}

fn check_detection(o: &Value) {
    id_in("activity_id", o, derived::FINDING_ACTIVITY_IDS);
    id_in("status_id", o, derived::DETECTION_STATUS_IDS);
    check_finding_info("finding_info", &o["finding_info"]);
    for ev in items(o, "evidences") {
        object("evidences[]", ev, "evidences");
        object("evidences[].api", &ev["api"], "api");
        object("evidences[].actor", &ev["actor"], "actor");
    }
}

fn check_incident(o: &Value) {
    id_in("activity_id", o, derived::FINDING_ACTIVITY_IDS);
    id_in("status_id", o, derived::INCIDENT_STATUS_IDS);
    id_in("verdict_id", o, derived::VERDICT_IDS);
    let list = o["finding_info_list"].as_array().expect("an array");
    assert!(!list.is_empty());
    for fi in list {
        check_finding_info("finding_info_list[]", fi);
    }
    if let Some(a) = o.get("assignee") {
        object("assignee", a, "user");
    }
    if let Some(g) = o.get("assignee_group") {
        object("assignee_group", g, "group");
    }
}

#[test]
fn objects_have_the_required_attributes_and_known_ids() {
    let (_, out) = export();
    let mut per_class: BTreeMap<u64, usize> = BTreeMap::new();
    for o in &out {
        check_base(o);
        let class = o["class_uid"].as_u64().unwrap();
        *per_class.entry(class).or_default() += 1;
        match class {
            6003 => check_api(o),
            1001 => check_file(o),
            2004 => check_detection(o),
            2005 => check_incident(o),
            other => panic!("unexpected class {other}"),
        }
    }
    // 7 calls; a write, a move, a delete and 6 of bash's 8 actions; 2 alerts; 5 incidents.
    assert_eq!(
        per_class,
        BTreeMap::from([(1001, 9), (2004, 2), (2005, 5), (6003, 7)])
    );
}

#[test]
fn calls_carry_their_decisions() {
    let (events, out) = export();
    // Allowed by policy, tool ok.
    let w = api(&out, "1");
    assert_eq!(
        pick(&w, "status_id action_id disposition_id"),
        json!([1, 1, 1])
    );
    assert_eq!(w["activity_id"], 3, "a write is an Update");
    assert_eq!(w["api"]["operation"], "write_file");
    assert_eq!(
        w["actor"],
        json!({"app_name": "repo-assistant", "session": {"uid": "s-1"}})
    );
    assert_eq!(w["src_endpoint"], json!({"name": "repo-assistant"}));
    assert_eq!(w["metadata"]["profiles"], json!(["security_control"]));
    assert_eq!(w["metadata"]["correlation_uid"], "s-1/1");
    assert_eq!(w["unmapped"], json!({"workflow": "release"}));
    assert_eq!(
        w["message"],
        "write_file: file.write /srv/app/config.yaml; file.move /srv/app/a.yaml -> /srv/app/b.yaml"
    );
    // Denied: Failure, Denied, Blocked; the gravest action (a delete) names the activity.
    let b = api(&out, "2");
    assert_eq!(
        pick(&b, "status_id action_id disposition_id"),
        json!([2, 2, 2])
    );
    assert_eq!(b["status_detail"], "Deny for a reason");
    assert_eq!(b["activity_id"], 4);
    // Held, then approved by a person: Approved.
    let m = api(&out, "3");
    assert_eq!(pick(&m, "status_id disposition_id"), json!([1, 8]));
    assert_eq!(
        pick(&m, "activity_id activity_name"),
        json!([99, "message.send"])
    );
    // Held and never decided: status Unknown, Delayed.
    let r = api(&out, "4");
    assert_eq!(
        pick(&r, "status_id action_id disposition_id"),
        json!([0, 0, 14])
    );
    assert_eq!(r["activity_id"], 2, "a read");
    // No decision in the slice: Unknown, and no security control claimed.
    let d = api(&out, "5");
    assert_eq!(d["status_id"], 0);
    assert!(d.get("action_id").is_none() && d.get("disposition_id").is_none());
    assert!(d["metadata"].get("profiles").is_none());
    // Allowed, but the tool failed.
    let f = api(&out, "6");
    assert_eq!(pick(&f, "status_id disposition_id"), json!([2, 1]));
    assert_eq!(f["status_detail"], "the tool returned an error");
    // A call without actions or call id: Unknown activity, no request, no correlation.
    let s = of_class(&out, 6003)
        .into_iter()
        .find(|o| o["api"]["operation"] == "status")
        .unwrap();
    assert_eq!(s["activity_id"], 0);
    assert!(s["api"].get("request").is_none() && s["metadata"].get("correlation_uid").is_none());
    // Back to the ledger, to the nanosecond.
    let (index, e) = &events[0];
    assert_eq!(w["metadata"]["uid"], e.id.to_string());
    assert_eq!(w["metadata"]["original_event_uid"], e.id.to_string());
    assert_eq!(w["metadata"]["sequence"], *index);
    assert_eq!(
        w["metadata"]["original_time"],
        "2026-12-05T01:02:03.123456799Z"
    );
    assert_eq!(w["metadata"]["event_code"], "tool.call");
    assert_eq!(w["metadata"]["log_source"], "mcp-proxy");
    assert_eq!(w["time"], 1_796_432_523_123_i64, "milliseconds, floored");
}

#[test]
fn file_actions_become_file_system_activities() {
    let (events, out) = export();
    let bash_id = events[3].1.id.to_string();
    let files: Vec<&Value> = of_class(&out, 1001)
        .into_iter()
        .filter(|o| o["metadata"]["original_event_uid"] == bash_id)
        .collect();
    let seen: Vec<(u64, &str, u64, &str)> = files
        .iter()
        .map(|o| {
            (
                o["activity_id"].as_u64().unwrap(),
                o["file"]["path"].as_str().unwrap(),
                o["file"]["type_id"].as_u64().unwrap(),
                o["metadata"]["uid"].as_str().unwrap(),
            )
        })
        .collect();
    let uid = |n: usize| format!("{bash_id}/{n}");
    let expected = [
        (1, "/dev/shm/.x", 1, uid(0)),     // copy creates its destination
        (4, "/srv/data/a.csv", 1, uid(1)), // delete
        (5, "/srv/a", 1, uid(2)),          // move: Rename
        (7, "/srv/run.sh", 1, uid(3)),     // chmod: Set Security
        (1, "/srv/new/", 2, uid(4)),       // a folder
        (1, "/tmp/d.tgz", 1, uid(5)),      // the archive; the one without dest, and egress: none
    ];
    assert_eq!(
        seen,
        expected
            .iter()
            .map(|(a, p, t, u)| (*a, *p, *t, u.as_str()))
            .collect::<Vec<_>>()
    );
    for f in &files {
        assert_eq!(
            pick(f, "status_id disposition_id"),
            json!([2, 2]),
            "the call was denied"
        );
        assert!(
            f.get("file_result").is_none(),
            "no result for a denied change"
        );
        assert_eq!(f["device"], json!({"type_id": 0, "name": "mcp-proxy"}));
        assert_eq!(f["metadata"]["correlation_uid"], "s-1/2");
    }
    assert_eq!(files[4]["file"]["name"], "new");
    assert_eq!(
        files[3]["unmapped"]["action_attrs"],
        json!({"mode": "0777"})
    );
    assert_eq!(files[2]["message"], "file.move /srv/a -> /srv/b");
    // The allowed write: Update, and it declares where it stands.
    let w = of_class(&out, 1001)
        .into_iter()
        .find(|o| o["file"]["path"] == "/srv/app/config.yaml")
        .unwrap();
    assert_eq!(
        pick(w, "activity_id type_uid status_id"),
        json!([3, 100103, 1])
    );
    assert_eq!(w["file"]["name"], "config.yaml");
    // An allowed rename says where the file went.
    let mv = of_class(&out, 1001)
        .into_iter()
        .find(|o| o["file"]["path"] == "/srv/app/a.yaml")
        .unwrap();
    assert_eq!(mv["activity_id"], 5);
    assert_eq!(
        mv["file_result"],
        json!({"name": "b.yaml", "path": "/srv/app/b.yaml", "type_id": 1})
    );
}

#[test]
fn alerts_become_detection_findings() {
    let (events, out) = export();
    let d = of_class(&out, 2004);
    let a = d[0];
    assert_eq!(a["severity_id"], 4, "high");
    assert_eq!(
        pick(a, "activity_id status_id is_alert"),
        json!([1, 1, true])
    );
    let fi = &a["finding_info"];
    assert_eq!(fi["uid"], events[4].1.id.to_string());
    assert_eq!(fi["title"], "Copy to a hidden place");
    assert_eq!(
        fi["analytic"],
        json!({"uid": "brig-hidden-copy", "name": "Copy to a hidden place", "type_id": 1})
    );
    assert_eq!(
        fi["tags"],
        json!([
            {"name": "attack", "value": "exfiltration"},
            {"name": "attack", "value": "t1048"},
            {"name": "tag", "value": "brig"}
        ])
    );
    assert_eq!(
        fi["related_events"],
        json!([{"uid": "0190b1a0-0000-7000-8000-000000000002"}])
    );
    // Its call was denied (the decision came after the alert, still in the slice).
    assert_eq!(pick(a, "action_id disposition_id"), json!([2, 2]));
    assert_eq!(
        a["evidences"],
        json!([{
            "actor": {"app_name": "repo-assistant", "session": {"uid": "s-1"}},
            "api": {"operation": "bash", "request": {"uid": "2"}}
        }])
    );
    assert_eq!(
        a["metadata"]["profiles"],
        json!(["host", "security_control"])
    );
    assert_eq!(
        a["resources"],
        json!([{"name": "/srv/data", "role_id": 1}, {"name": "/dev/shm/.x", "role_id": 4}])
    );
    assert_eq!(
        a["unmapped"],
        json!({"workflow": "release", "rule_kind": "sigma", "blocking": true})
    );
    // A level Sigma does not have: Unknown severity; no rule title: the rule id.
    let odd = d[1];
    assert_eq!(odd["severity_id"], 0);
    assert_eq!(odd["finding_info"]["title"], "odd");
    assert!(odd.get("evidences").is_none() && odd.get("action_id").is_none());
    assert_eq!(odd["metadata"]["profiles"], json!(["host"]));
}

#[test]
fn incidents_become_incident_findings() {
    let (events, out) = export();
    let inc: BTreeMap<String, &Value> = of_class(&out, 2005)
        .into_iter()
        .map(|o| {
            (
                o["metadata"]["correlation_uid"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                o,
            )
        })
        .collect();
    let triple = |id: &str| {
        let o = inc[id];
        (
            o["activity_id"].as_u64().unwrap(),
            o["status_id"].as_u64().unwrap(),
            o["severity_id"].as_u64().unwrap(),
        )
    };
    assert_eq!(triple("INC-open"), (1, 1, 2), "Create, New, advisory → Low");
    assert_eq!(
        triple("INC-contained"),
        (2, 2, 4),
        "Update, In Progress, security incident → High"
    );
    assert_eq!(
        triple("INC-recovered"),
        (2, 4, 3),
        "Update, Resolved, policy violation → Medium"
    );
    assert_eq!(
        triple("INC-closed"),
        (3, 5, 5),
        "Close, Closed, reportable breach → Critical"
    );

    let open = inc["INC-open"];
    assert_eq!(open["assignee_group"], json!({"name": "unassigned"}));
    assert!(open.get("assignee").is_none());
    assert_eq!(open["is_suspected_breach"], false);
    assert_eq!(open["metadata"]["uid"], "INC-open/open");
    assert_eq!(
        open["time"],
        (T + 21) / 1_000_000,
        "detected, the latest step"
    );
    assert_eq!(open["start_time"], (T + 21) / 1_000_000);
    assert_eq!(open["message"], "incident INC-open");
    assert_eq!(open["desc"], "rule brig-hidden-copy is high");
    assert_eq!(open["unmapped"]["outcomes"], json!(["copied_out"]));
    assert_eq!(open["unmapped"]["state"], "open");

    let contained = inc["INC-contained"];
    assert_eq!(contained["time"], (T + 1_000_000_000) / 1_000_000);
    assert_eq!(
        contained["start_time"],
        (T + 20) / 1_000_000,
        "first harmful event"
    );
    let list = contained["finding_info_list"].as_array().unwrap();
    assert_eq!(list[0]["uid"], events[4].1.id.to_string());
    assert_eq!(list[0]["analytic"]["uid"], "brig-hidden-copy");
    assert_eq!(
        list[1],
        json!({"uid": "0190b1a0-0000-7000-8000-00000000dead"}),
        "not in the slice: the id alone"
    );

    let closed = inc["INC-closed"];
    assert_eq!(closed["assignee"], json!({"name": "dana"}));
    assert_eq!(
        pick(closed, "verdict_id verdict"),
        json!([2, "True positive"])
    );
    assert_eq!(closed["is_suspected_breach"], true);
    assert_eq!(
        closed["finding_info_list"][0]["title"],
        "reported by a person: deleted the customer table"
    );
    assert_eq!(
        pick(inc["INC-odd"], "verdict_id verdict"),
        json!([99, "won't fix"])
    );
}

#[test]
fn output_is_deterministic() {
    let events = indexed(events());
    let incidents = incidents(&events);
    let a = serde_json::to_string(&to_ocsf(&events, &incidents)).unwrap();
    let b = serde_json::to_string(&to_ocsf(&events, &incidents)).unwrap();
    assert_eq!(a, b);
    assert!(to_ocsf(&[], &[]).is_empty());
}

// ---- Validation against the OCSF 1.8.0 schema file ----

fn schema() -> Option<Value> {
    let Some(path) = std::env::var_os("BRIG_OCSF_SCHEMA") else {
        // Outside the test script: say so loudly, but do not fail a plain `cargo test`
        // on a machine without Python. CI always runs through scripts/test.sh.
        assert!(
            std::env::var_os("CI").is_none(),
            "BRIG_OCSF_SCHEMA is not set: run scripts/test.sh (it installs ocsf-json-schema==1.2.0 from PyPI) or point it at ocsf_json_schema/ocsf/1.8.0.json"
        );
        eprintln!(
            "skipped: BRIG_OCSF_SCHEMA not set (scripts/test.sh installs the OCSF 1.8.0 schema)"
        );
        return None;
    };
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read BRIG_OCSF_SCHEMA {}: {e}",
            path.to_string_lossy()
        )
    });
    let s: Value = serde_json::from_str(&text).expect("the schema is JSON");
    assert_eq!(
        s["version"], "1.8.0",
        "BRIG_OCSF_SCHEMA must be the 1.8.0 export"
    );
    Some(s)
}

/// Checks OCSF events against the compiled schema (classes, objects, dictionary types).
struct Validator<'s> {
    schema: &'s Value,
    profiles: Vec<String>,
    errors: Vec<String>,
}

impl<'s> Validator<'s> {
    fn check(schema: &'s Value, event: &Value) -> Vec<String> {
        let profiles = event["metadata"]["profiles"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut v = Validator {
            schema,
            profiles,
            errors: Vec::new(),
        };
        match v.class(event["class_uid"].as_u64().unwrap_or(0)) {
            Some(class) => {
                v.attributes("", class, event);
                if class["category_uid"] != event["category_uid"] {
                    v.errors.push("category_uid is not the class's".into());
                }
            }
            None => v.errors.push(format!("no class {}", event["class_uid"])),
        }
        v.errors
    }

    fn class(&self, uid: u64) -> Option<&'s Value> {
        self.schema["classes"]
            .as_object()?
            .values()
            .find(|c| c["uid"] == uid)
    }

    /// Only attributes without a profile, or of a declared profile, apply.
    fn applies(&self, def: &Value) -> bool {
        match def.get("profiles").and_then(Value::as_array) {
            None => true,
            Some(ps) => ps.is_empty() || ps.iter().any(|p| self.profiles.iter().any(|d| p == d)),
        }
    }

    fn attributes(&mut self, path: &str, def: &'s Value, v: &Value) {
        let Some(obj) = v.as_object() else {
            return self.errors.push(format!("{path}: not an object"));
        };
        let attrs = def["attributes"].as_object().expect("attributes");
        for (k, val) in obj {
            let p = format!("{path}.{k}");
            match attrs.get(k) {
                None => self
                    .errors
                    .push(format!("{p}: not an attribute of {}", def["name"])),
                Some(a) if !self.applies(a) => self.errors.push(format!(
                    "{p}: belongs to profile {} not declared",
                    a["profiles"]
                )),
                Some(a) if a.get("@deprecated").is_some() => {
                    self.errors.push(format!("{p}: deprecated"))
                }
                Some(a) => self.value(&p, a, val),
            }
        }
        for (k, a) in attrs {
            if a["requirement"] == "required" && self.applies(a) && !obj.contains_key(k) {
                self.errors
                    .push(format!("{path}.{k}: required by {}", def["name"]));
            }
        }
        self.constraints(path, def, obj);
    }

    fn constraints(&mut self, path: &str, def: &Value, obj: &serde_json::Map<String, Value>) {
        let Some(c) = def.get("constraints").and_then(Value::as_object) else {
            return;
        };
        for (kind, keys) in c {
            let keys: Vec<&str> = keys
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            let n = keys.iter().filter(|k| obj.contains_key(**k)).count();
            let ok = match kind.as_str() {
                "at_least_one" => n >= 1,
                "just_one" => n == 1,
                other => {
                    self.errors
                        .push(format!("{path}: unknown constraint {other}"));
                    true
                }
            };
            if !ok {
                self.errors.push(format!("{path}: {kind} of {keys:?}"));
            }
        }
    }

    fn value(&mut self, path: &str, a: &'s Value, v: &Value) {
        if a["is_array"] == true {
            match v.as_array() {
                Some(items) => {
                    for (i, x) in items.iter().enumerate() {
                        self.one(&format!("{path}[{i}]"), a, x);
                    }
                }
                None => self.errors.push(format!("{path}: not an array")),
            }
        } else if v.is_array() {
            self.errors
                .push(format!("{path}: an array where one value belongs"));
        } else {
            self.one(path, a, v);
        }
    }

    fn one(&mut self, path: &str, a: &'s Value, v: &Value) {
        let t = a["type"].as_str().unwrap_or("");
        if t == "object_t" {
            let name = a["object_type"].as_str().unwrap_or("");
            // `object` is the schema's free-form object (`unmapped`).
            if name == "object" {
                if !v.is_object() {
                    self.errors.push(format!("{path}: not an object"));
                }
                return;
            }
            let def = &self.schema["objects"][name];
            return self.attributes(path, def, v);
        }
        let ok = match self.base_type(t).as_str() {
            "string_t" => v.is_string(),
            "integer_t" | "long_t" => v.is_i64() || v.is_u64(),
            "float_t" => v.is_number(),
            "boolean_t" => v.is_boolean(),
            "json_t" => true,
            other => {
                self.errors.push(format!("{path}: unknown type {other}"));
                true
            }
        };
        if !ok {
            self.errors.push(format!("{path}: {v} is not a {t}"));
        }
        if let Some(e) = a.get("enum").and_then(Value::as_object) {
            let key = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !e.contains_key(&key) {
                self.errors.push(format!(
                    "{path}: {key} is not one of {:?}",
                    e.keys().collect::<Vec<_>>()
                ));
            }
        }
    }

    /// A dictionary type down to its base (`file_name_t` → `string_t`).
    fn base_type(&self, t: &str) -> String {
        let types = &self.schema["dictionary"]["types"]["attributes"];
        let mut t = t.to_string();
        while let Some(parent) = types[&t]["type"].as_str() {
            if parent == t {
                break;
            }
            t = parent.to_string();
        }
        t
    }
}

/// Required attributes without a profile, and constraints, of a class or object.
fn schema_required(def: &Value) -> (BTreeSet<String>, Vec<String>) {
    let req = def["attributes"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, a)| {
            // `"profiles": null` is how a class says "no profile" for an inherited one.
            a["requirement"] == "required" && a["profiles"].as_array().is_none_or(Vec::is_empty)
        })
        .map(|(k, _)| k.clone())
        .collect();
    let one = def["constraints"]["at_least_one"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    (req, one)
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn enum_ids(def: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> = def["enum"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.parse().unwrap())
        .collect();
    ids.sort_unstable();
    ids
}

#[test]
fn objects_validate_against_the_ocsf_1_8_0_schema() {
    let Some(schema) = schema() else { return };
    let (_, out) = export();
    let mut errors = Vec::new();
    for o in &out {
        for e in Validator::check(&schema, o) {
            errors.push(format!("{} {}: {e}", o["class_uid"], o["metadata"]["uid"]));
        }
    }
    assert!(
        errors.is_empty(),
        "{} problems:\n{}",
        errors.len(),
        errors.join("\n")
    );

    // The derived lists say what the schema says.
    let classes = &schema["classes"];
    for (name, uid, category, req, one) in derived::CLASSES {
        let c = &classes[*name];
        assert_eq!(
            (&c["uid"], &c["category_uid"]),
            (&json!(uid), &json!(category)),
            "{name}"
        );
        let (sreq, sone) = schema_required(c);
        let mut ours = set(derived::BASE_REQUIRED);
        ours.extend(set(req));
        assert_eq!(sreq, ours, "required attributes of {name}");
        assert_eq!(
            sone,
            set(one).into_iter().collect::<Vec<_>>(),
            "constraint of {name}"
        );
    }
    for (name, req, one) in derived::OBJECTS {
        let (sreq, sone) = schema_required(&schema["objects"][*name]);
        assert_eq!(sreq, set(req), "required attributes of {name}");
        assert_eq!(
            sone,
            one.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            "constraint of {name}"
        );
    }
    let attr = |class: &str, a: &str| classes[class]["attributes"][a].clone();
    let obj = |o: &str, a: &str| schema["objects"][o]["attributes"][a].clone();
    for (def, ours) in [
        (
            attr("api_activity", "activity_id"),
            derived::API_ACTIVITY_IDS,
        ),
        (
            attr("file_activity", "activity_id"),
            derived::FILE_ACTIVITY_IDS,
        ),
        (
            attr("detection_finding", "activity_id"),
            derived::FINDING_ACTIVITY_IDS,
        ),
        (
            attr("incident_finding", "activity_id"),
            derived::FINDING_ACTIVITY_IDS,
        ),
        (attr("api_activity", "severity_id"), derived::SEVERITY_IDS),
        (
            attr("api_activity", "status_id"),
            derived::ACTIVITY_STATUS_IDS,
        ),
        (
            attr("file_activity", "status_id"),
            derived::ACTIVITY_STATUS_IDS,
        ),
        (
            attr("detection_finding", "status_id"),
            derived::DETECTION_STATUS_IDS,
        ),
        (
            attr("incident_finding", "status_id"),
            derived::INCIDENT_STATUS_IDS,
        ),
        (attr("api_activity", "action_id"), derived::ACTION_IDS),
        (
            attr("api_activity", "disposition_id"),
            derived::DISPOSITION_IDS,
        ),
        (attr("incident_finding", "verdict_id"), derived::VERDICT_IDS),
        (obj("file", "type_id"), derived::FILE_TYPE_IDS),
        (obj("device", "type_id"), derived::DEVICE_TYPE_IDS),
        (obj("analytic", "type_id"), derived::ANALYTIC_TYPE_IDS),
        (obj("resource_details", "role_id"), derived::ROLE_IDS),
    ] {
        assert_eq!(enum_ids(&def), ours, "{}", def["caption"]);
    }
}
