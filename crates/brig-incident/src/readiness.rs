//! The readiness check: a deployment scored against the checklist's pre-incident controls
//! (section 8 of the source document), each item pass, fail or unknown, with what was found
//! and the fix.
//!
//! Policy items are answered by asking the policy set about probe tool calls the way the
//! gateway would ([`Probe`], decided by the caller's `decide`: normalization, then Cedar);
//! everything else is read from the risk register, the ledger (bounded reads), the drill
//! results recorded in it, and the data directory's files.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use brig_ledger::store::LedgerStore;
use brig_model::{Decision, Effect, Event, EventKind};
use brig_register::{Control, Register};
use brig_store::{DataDir, Store};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::drills::DrillRecord;

/// The directory the probe calls take as the upstream's served directory: policies see
/// destructive probes inside it (where a permissive set would let them through) and the
/// write probe outside it.
pub const PROBE_ROOT: &str = "/srv/brig-readiness-probe/workspace";
/// Where the write probe writes: outside the served directory and, unless a register
/// resource says otherwise, outside every declared resource.
pub const OUTSIDE_TARGET: &str = "/opt/brig-readiness-probe/outside.txt";
/// The agent id of the probe standing for an agent nobody declared.
pub const UNKNOWN_AGENT: &str = "brig-readiness-unknown-agent";
/// How many of the newest events the event checks read.
pub const RECENT_EVENTS: u64 = 50_000;
/// How far back a drill counts for "a kill switch tested".
pub const DRILL_DAYS: i64 = 90;
/// A signed checkpoint newer than this counts as recent even if the tree grew since.
pub const CHECKPOINT_HOURS: i64 = 24;

/// A tool call put to the policy set.
#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    pub agent: String,
    pub workflow: Option<String>,
    pub tool: String,
    pub arguments: Value,
}

/// An item's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Cannot be known from here (the register does not say).
    Unknown,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Unknown => "unknown",
        }
    }
}

/// One control of the checklist, assessed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Item {
    /// 1..=9, in the checklist's order.
    pub id: u8,
    pub control: String,
    pub status: Status,
    /// What was found.
    pub found: String,
    /// What to do about it (a command, or the register or policy change).
    pub fix: Option<String>,
}

/// The whole assessment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    pub items: Vec<Item>,
    pub passed: usize,
    pub total: usize,
    /// `passed / total`.
    pub score: f64,
}

impl Report {
    pub fn all_pass(&self) -> bool {
        self.passed == self.total
    }
}

/// What the assessment reads.
pub struct Context<'a> {
    pub dir: &'a DataDir,
    pub register: Option<&'a Register>,
    /// Where the policies come from, for messages (`the built-in default`, a directory).
    pub policy: String,
    /// Decides a probe as the gateway would (with [`PROBE_ROOT`] as the served directory).
    pub decide: &'a mut dyn FnMut(&Probe) -> Decision,
    /// Now, in ns since the Unix epoch.
    pub now: i64,
}

/// Why the assessment could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReadinessError {
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
}

/// Assesses every item.
pub fn assess(cx: &mut Context<'_>) -> Result<Report, ReadinessError> {
    let mut store = cx.dir.store()?;
    let drills =
        crate::drills::load(&mut store, crate::metrics::MAX_EVENTS).map_err(|e| match e {
            crate::drills::DrillsError::Store(s) => ReadinessError::Store(s),
            crate::drills::DrillsError::Ledger(m) => {
                ReadinessError::Store(brig_ledger::store::StoreError::Damaged(m))
            }
        })?;
    let recent = recent_events(&mut store)?;
    let items = vec![
        write_restricted(cx),
        identities_separate(cx.register),
        destructive_approval(cx),
        calls_logged(cx.register, &mut store, &recent)?,
        immutable_records(cx.dir, &mut store, cx.now)?,
        controls_declared(cx.register),
        kill_switch_tested(&drills, cx.now),
        rollback_tested(cx.register, &drills),
        workflows_registered(cx.register, &recent),
    ];
    let passed = items.iter().filter(|i| i.status == Status::Pass).count();
    Ok(Report {
        passed,
        total: items.len(),
        score: passed as f64 / items.len() as f64,
        items,
    })
}

fn item(id: u8, control: &str, status: Status, found: String, fix: Option<String>) -> Item {
    Item {
        id,
        control: control.into(),
        status,
        found,
        fix,
    }
}

/// Every (agent, workflow) the register declares.
fn register_agents(r: Option<&Register>) -> Vec<(String, Option<String>)> {
    r.into_iter()
        .flat_map(|r| r.workflows.iter())
        .flat_map(|w| w.agents.iter().map(|a| (a.clone(), Some(w.name.clone()))))
        .collect()
}

fn effect_str(d: &Decision) -> String {
    let by = if d.policies.is_empty() {
        String::new()
    } else {
        format!(" by {}", d.policies.join(", "))
    };
    let e = match d.effect {
        Effect::Allow => "allowed",
        Effect::Deny => "denied",
        Effect::Hold => "held for approval",
    };
    format!("{e}{by}")
}

fn write_restricted(cx: &mut Context<'_>) -> Item {
    const NAME: &str = "write permissions restricted";
    let mut agents = register_agents(cx.register);
    agents.push((UNKNOWN_AGENT.to_string(), None));
    let covered: Vec<String> = cx
        .register
        .map(|r| {
            r.resources_of(OUTSIDE_TARGET)
                .map(|x| x.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let mut allowed = Vec::new();
    for (agent, workflow) in &agents {
        let p = Probe {
            agent: agent.clone(),
            workflow: workflow.clone(),
            tool: "write_file".into(),
            arguments: json!({"path": OUTSIDE_TARGET, "content": "readiness probe"}),
        };
        let d = (cx.decide)(&p);
        if d.effect == Effect::Allow {
            allowed.push(format!("{agent} ({})", effect_str(&d)));
        }
    }
    let probe = format!(
        "a file write to {OUTSIDE_TARGET} (outside the served directory{}) by {} agent(s) and an unknown agent, under {}",
        if covered.is_empty() { " and every register resource" } else { "" },
        agents.len() - 1,
        cx.policy
    );
    if allowed.is_empty() {
        item(
            1,
            NAME,
            Status::Pass,
            format!("{probe}: denied or held for every one"),
            None,
        )
    } else {
        item(
            1,
            NAME,
            Status::Fail,
            format!("{probe}: allowed for {}", allowed.join(", ")),
            Some("permit file.write only `when { context.in_served_dir }` (as the built-in policy builtin.served-write does) in the policy directory, or run without --policy to use the built-in default".into()),
        )
    }
}

fn identities_separate(r: Option<&Register>) -> Item {
    const NAME: &str = "test and production identities separate";
    let Some(r) = r else {
        return item(
            2,
            NAME,
            Status::Unknown,
            "no risk register given".into(),
            Some("pass --register brig.toml with `environment = \"test\"` or `\"production\"` on each [[workflow]]".into()),
        );
    };
    let mut envs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut undeclared = Vec::new();
    for w in &r.workflows {
        match w.environment {
            Some(e) => {
                for a in &w.agents {
                    envs.entry(a).or_default().insert(e.as_str());
                }
            }
            None => undeclared.push(w.name.as_str()),
        }
    }
    let both: Vec<&str> = envs
        .iter()
        .filter(|(_, e)| e.len() > 1)
        .map(|(a, _)| *a)
        .collect();
    if !both.is_empty() {
        return item(
            2,
            NAME,
            Status::Fail,
            format!("agent id(s) used in test and production: {}", both.join(", ")),
            Some("give each environment its own agent ids (e.g. NAME-test) and list them under the workflows of that environment in the register".into()),
        );
    }
    if r.workflows.is_empty() || !undeclared.is_empty() {
        return item(
            2,
            NAME,
            Status::Unknown,
            if r.workflows.is_empty() {
                "the register declares no workflow".into()
            } else {
                format!("no environment declared for workflow(s) {}", undeclared.join(", "))
            },
            Some("add `environment = \"test\"` or `environment = \"production\"` to each [[workflow]] in the register".into()),
        );
    }
    item(
        2,
        NAME,
        Status::Pass,
        format!(
            "{} workflow(s) declare their environment; no agent id serves both",
            r.workflows.len()
        ),
        None,
    )
}

fn destructive_approval(cx: &mut Context<'_>) -> Item {
    const NAME: &str = "approval required for destructive actions";
    let (agent, workflow) = register_agents(cx.register)
        .into_iter()
        .next()
        .unwrap_or((UNKNOWN_AGENT.to_string(), None));
    let probes = [
        (
            "file deletion",
            "delete_file",
            json!({"path": format!("{PROBE_ROOT}/report.csv")}),
        ),
        (
            "rm -rf",
            "bash",
            json!({"command": format!("rm -rf {PROBE_ROOT}/data")}),
        ),
        (
            "payment",
            "send_payment",
            json!({"recipient": "acct-4711", "amount": 250, "currency": "EUR"}),
        ),
    ];
    let mut results = Vec::new();
    let mut allowed = Vec::new();
    for (what, tool, arguments) in probes {
        let d = (cx.decide)(&Probe {
            agent: agent.clone(),
            workflow: workflow.clone(),
            tool: tool.into(),
            arguments,
        });
        results.push(format!("{what}: {}", effect_str(&d)));
        if d.effect == Effect::Allow {
            allowed.push(what);
        }
    }
    let found = format!(
        "as {agent}, inside the served directory, under {}: {}",
        cx.policy,
        results.join("; ")
    );
    if allowed.is_empty() {
        item(3, NAME, Status::Pass, found, None)
    } else {
        item(
            3,
            NAME,
            Status::Fail,
            found,
            Some(format!(
                "gate {} with an `@approval(\"required\") forbid` on file.delete and payment.send (as the built-in policy builtin.needs-approval does)",
                allowed.join(", ")
            )),
        )
    }
}

/// The newest [`RECENT_EVENTS`] events, parsed.
fn recent_events(store: &mut Store) -> Result<Vec<(u64, Event)>, ReadinessError> {
    let size = store.size()?;
    let from = size.saturating_sub(RECENT_EVENTS);
    let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    let mut out = Vec::new();
    for idx in store.kinds_since(from, &kinds, RECENT_EVENTS as usize)? {
        if let Some(row) = store.leaf(idx)? {
            if let Ok(e) = Event::from_leaf(&row.leaf) {
                out.push((idx, e));
            }
        }
    }
    Ok(out)
}

fn calls_logged(
    r: Option<&Register>,
    store: &mut Store,
    recent: &[(u64, Event)],
) -> Result<Item, ReadinessError> {
    const NAME: &str = "every tool call logged";
    let agents: BTreeSet<String> = match r {
        Some(_) => register_agents(r).into_iter().map(|(a, _)| a).collect(),
        None => recent
            .iter()
            .filter(|(_, e)| e.kind == EventKind::ToolCall)
            .map(|(_, e)| e.agent.clone())
            .collect(),
    };
    let mut silent = Vec::new();
    for a in &agents {
        if !has_calls(store, a)? {
            silent.push(a.clone());
        }
    }
    let orphans = orphan_results(store, recent)?;
    let mut found = format!(
        "{} of {} agent(s) have tool calls in the ledger",
        agents.len() - silent.len(),
        agents.len()
    );
    if !silent.is_empty() {
        found += &format!(" (none from {})", silent.join(", "));
    }
    found += &format!(
        "; {} tool result(s) without their call among the last {RECENT_EVENTS} events",
        orphans.len()
    );
    if !orphans.is_empty() {
        found += &format!(" (ledger indices {})", list(&orphans, 5));
    }
    let status = if !silent.is_empty() || !orphans.is_empty() {
        Status::Fail
    } else if agents.is_empty() {
        Status::Unknown
    } else {
        Status::Pass
    };
    let fix = match status {
        Status::Pass => None,
        Status::Unknown => Some(
            "pass --register brig.toml, and route every agent through `brig mcp-proxy`".into(),
        ),
        Status::Fail => Some(format!(
            "route {} through the gateway: `brig mcp-proxy --agent AGENT -- <server command>` (or `brig watch` for an agent without MCP); results without calls mean a recorder outside Brig wrote them",
            if silent.is_empty() { "every agent".to_string() } else { silent.join(", ") }
        )),
    };
    Ok(item(4, NAME, status, found, fix))
}

fn list(v: &[u64], n: usize) -> String {
    let mut s: Vec<String> = v.iter().take(n).map(u64::to_string).collect();
    if v.len() > n {
        s.push("…".into());
    }
    s.join(", ")
}

/// Does `agent` have a recorded tool call among its newest events?
fn has_calls(store: &mut Store, agent: &str) -> Result<bool, ReadinessError> {
    for idx in store.recent_agent_events(agent, 5_000)?.into_iter().rev() {
        if let Some(row) = store.leaf(idx)? {
            if Event::from_leaf(&row.leaf).is_ok_and(|e| e.kind == EventKind::ToolCall) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Results among `recent` whose call is recorded neither there nor earlier in its session.
fn orphan_results(store: &mut Store, recent: &[(u64, Event)]) -> Result<Vec<u64>, ReadinessError> {
    let key = |e: &Event| (e.session.clone(), e.call.clone());
    let calls: HashSet<_> = recent
        .iter()
        .filter(|(_, e)| e.kind == EventKind::ToolCall)
        .map(|(_, e)| key(e))
        .collect();
    let mut orphans = Vec::new();
    for (idx, e) in recent
        .iter()
        .filter(|(_, e)| e.kind == EventKind::ToolResult)
    {
        if calls.contains(&key(e)) {
            continue;
        }
        // The call may be older than the window: look in the session.
        let mut found = false;
        if let Some(s) = &e.session {
            for i in store.session_events(s, 100_000)? {
                if i >= *idx {
                    break;
                }
                if let Some(row) = store.leaf(i)? {
                    if Event::from_leaf(&row.leaf)
                        .is_ok_and(|c| c.kind == EventKind::ToolCall && c.call == e.call)
                    {
                        found = true;
                        break;
                    }
                }
            }
        }
        if !found {
            orphans.push(*idx);
        }
    }
    Ok(orphans)
}

fn immutable_records(dir: &DataDir, store: &mut Store, now: i64) -> Result<Item, ReadinessError> {
    const NAME: &str = "immutable storage of records";
    let mut bad = Vec::new();
    let mut fixes = Vec::new();
    let verifier = dir.verifier()?;
    let report = brig_ledger::verify::verify(
        store,
        &verifier,
        verifier.name(),
        &brig_ledger::verify::VerifyOptions::default(),
    )?;
    let mut found = vec![format!(
        "ledger of {} events {}",
        report.events,
        if report.is_intact() {
            "verifies against its key".to_string()
        } else {
            format!("does NOT verify ({} problem(s))", report.problems.len())
        }
    )];
    if !report.is_intact() {
        bad.push("ledger");
        fixes.push(
            "run `brig ledger verify` for the problems and treat the ledger as tampered".into(),
        );
    }
    match store.latest_checkpoint()? {
        None => {
            found.push("no signed checkpoint".into());
            bad.push("checkpoint");
            fixes.push("`brig ledger checkpoint`".to_string());
        }
        Some(cp) => {
            let age_h = (now - cp.created_nanos) / 3_600_000_000_000;
            let covers = cp.size == report.events;
            found.push(format!(
                "newest signed checkpoint: size {}, {age_h} h old{}",
                cp.size,
                if covers { ", covers the tree" } else { "" }
            ));
            if !covers && age_h >= CHECKPOINT_HOURS {
                bad.push("checkpoint");
                fixes.push(
                    "`brig ledger checkpoint` (a gateway or `brig serve` signs them as it appends)"
                        .into(),
                );
            }
        }
    }
    for m in dir.modes() {
        match m.mode {
            Some(mode) if !m.is_loose() => {
                found.push(format!("{} mode {mode:o}", m.path.display()))
            }
            Some(mode) => {
                found.push(format!(
                    "{} mode {mode:o} (open to others)",
                    m.path.display()
                ));
                bad.push("mode");
                fixes.push(format!("chmod {:o} {}", m.wanted, m.path.display()));
            }
            None => {
                found.push(format!("{} missing", m.path.display()));
                bad.push("missing");
            }
        }
    }
    let status = if bad.is_empty() {
        Status::Pass
    } else {
        Status::Fail
    };
    Ok(item(
        5,
        NAME,
        status,
        found.join("; "),
        (!fixes.is_empty()).then(|| fixes.join("; ")),
    ))
}

fn controls_declared(r: Option<&Register>) -> Item {
    const NAME: &str = "memory, browsing, retries can be disabled";
    let fix = "in the register, under each [[workflow]]: `[workflow.controls]` with memory, browsing and retries each \"absent\" or \"off-switch\"";
    let Some(r) = r.filter(|r| !r.workflows.is_empty()) else {
        return item(
            6,
            NAME,
            Status::Fail,
            "no workflow declared: nothing says these can be disabled".into(),
            Some(format!("pass --register brig.toml; {fix}")),
        );
    };
    let mut problems = Vec::new();
    for w in &r.workflows {
        let c = w.controls.clone().unwrap_or_default();
        for (name, state) in c.each() {
            match state {
                None => problems.push(format!("{}: {name} not declared", w.name)),
                Some(Control::AlwaysOn) => {
                    problems.push(format!("{}: {name} cannot be disabled", w.name))
                }
                Some(_) => {}
            }
        }
    }
    if problems.is_empty() {
        item(
            6,
            NAME,
            Status::Pass,
            format!(
                "every workflow ({}) declares memory, browsing and retries absent or switchable",
                r.workflows.len()
            ),
            None,
        )
    } else {
        item(
            6,
            NAME,
            Status::Fail,
            problems.join("; "),
            Some(fix.to_string()),
        )
    }
}

fn kill_switch_tested(drills: &[DrillRecord], now: i64) -> Item {
    const NAME: &str = "kill switch tested";
    let since = now - DRILL_DAYS * 86_400 * 1_000_000_000;
    let last = drills
        .iter()
        .filter(|d| d.passed && d.contained && d.at >= since)
        .max_by_key(|d| d.at);
    match last {
        Some(d) => item(
            7,
            NAME,
            Status::Pass,
            format!(
                "drill `{}` ({}) contained the agent and passed, {} day(s) ago",
                d.scenario,
                d.workflow,
                (now - d.at) / 86_400_000_000_000
            ),
            None,
        ),
        None => item(
            7,
            NAME,
            Status::Fail,
            format!(
                "no passed drill that contained its agent in the last {DRILL_DAYS} days ({} drill result(s) recorded in all)",
                drills.len()
            ),
            Some("`brig drill`".into()),
        ),
    }
}

fn rollback_tested(r: Option<&Register>, drills: &[DrillRecord]) -> Item {
    const NAME: &str = "rollback tested per workflow";
    let Some(r) = r.filter(|r| !r.workflows.is_empty()) else {
        return item(
            8,
            NAME,
            Status::Unknown,
            "no workflow declared in a register".into(),
            Some("pass --register brig.toml, then `brig drill --workflow W` for each".into()),
        );
    };
    let tested: BTreeSet<&str> = drills
        .iter()
        .filter(|d| d.passed && d.rollback_verified)
        .map(|d| d.workflow.as_str())
        .collect();
    let missing: Vec<&str> = r
        .workflows
        .iter()
        .map(|w| w.name.as_str())
        .filter(|w| !tested.contains(w))
        .collect();
    if missing.is_empty() {
        item(
            8,
            NAME,
            Status::Pass,
            format!(
                "every workflow ({}) has a passed drill with its rollback verified",
                r.workflows.len()
            ),
            None,
        )
    } else {
        item(
            8,
            NAME,
            Status::Fail,
            format!(
                "no passed drill with a verified rollback for {}",
                missing.join(", ")
            ),
            Some(
                missing
                    .iter()
                    .map(|w| format!("`brig drill --workflow {w}`"))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        )
    }
}

fn workflows_registered(r: Option<&Register>, recent: &[(u64, Event)]) -> Item {
    const NAME: &str = "a risk register entry for every workflow";
    // What agents did (calls, observed changes), not Brig's own records.
    let seen: BTreeSet<&str> = recent
        .iter()
        .filter(|(_, e)| matches!(e.kind, EventKind::ToolCall | EventKind::FileChange))
        .filter_map(|(_, e)| e.workflow.as_deref())
        .collect();
    let declared: BTreeSet<&str> = r
        .into_iter()
        .flat_map(|r| r.workflows.iter().map(|w| w.name.as_str()))
        .collect();
    let missing: Vec<&str> = seen.difference(&declared).copied().collect();
    let fix = |m: &[&str]| {
        m.iter()
            .map(|w| format!("[[workflow]] name = \"{w}\""))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match (r, missing.is_empty()) {
        (_, false) => item(
            9,
            NAME,
            Status::Fail,
            format!(
                "workflow(s) in the ledger without a register entry: {}",
                missing.join(", ")
            ),
            Some(format!(
                "add to the register (with agents, tools, owner): {}",
                fix(&missing)
            )),
        ),
        (None, true) => item(
            9,
            NAME,
            Status::Unknown,
            "no risk register given, and no workflow named in the recent events".into(),
            Some("write a register (examples/brig.toml) and pass --register brig.toml".into()),
        ),
        (Some(_), true) => item(
            9,
            NAME,
            Status::Pass,
            format!(
                "{} workflow(s) named in the last {RECENT_EVENTS} events, each in the register",
                seen.len()
            ),
            None,
        ),
    }
}
