//! Scoring a played scenario from the sandbox's ledger, then exercising the rest of the
//! loop on it: evidence export and offline verification, rollback, the hunt.

use std::collections::BTreeSet;
use std::path::PathBuf;

use brig_evidence::export::{self, Scope};
use brig_incident::Incident;
use brig_ledger::store::LedgerStore;
use brig_model::{Effect, Event, EventKind};
use brig_rollback::hunt;
use brig_store::DataDir;
use serde::Serialize;

use crate::client::Reply;
use crate::{DrillError, Options, Played, Sandbox, Scenario, Step};

/// One check and whether it held.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// A rule that fired.
#[derive(Clone, Debug, Serialize)]
pub struct RuleHit {
    pub id: String,
    pub title: String,
    pub level: String,
}

/// What happened to one call of the scripted agent.
#[derive(Clone, Debug, Serialize)]
pub struct StepOutcome {
    pub n: usize,
    pub tool: String,
    pub harmful: bool,
    /// The gateway's decision as the ledger records it: allow, deny, hold (none: no
    /// decision recorded, which is itself a failure).
    pub decision: Option<String>,
    pub reason: Option<String>,
    /// The answer reached the tool server (the call was forwarded and answered).
    pub completed: bool,
    /// The rules whose alerts name this call.
    pub alerts: Vec<String>,
    /// Round trip seen by the agent, in milliseconds.
    pub ms: f64,
}

/// A scenario's result.
#[derive(Clone, Debug, Serialize)]
pub struct Scorecard {
    pub scenario: String,
    pub title: String,
    pub source: String,
    pub upstream: String,
    pub workflow: String,
    pub agent: String,
    pub passed: bool,
    pub checks: Vec<Check>,
    pub detected: bool,
    /// The rules that fired, in the order they first fired.
    pub rules: Vec<RuleHit>,
    pub incident: Option<String>,
    pub severity: Option<String>,
    /// The agent was stopped: no harmful call after the first completed.
    pub contained: bool,
    /// The step (1-based) before which the agent was stopped: the first harmful call that
    /// did not complete.
    pub stopped_at_step: Option<usize>,
    pub harmful_calls: usize,
    pub harmful_completed: usize,
    /// First harmful call to the first alert above informational being raised (for an
    /// alert on a call: the call's decision, written once the rules had run).
    pub ttd_ms: Option<f64>,
    /// First harmful call to the stop: its refusal or the agent's containment.
    pub ttc_ms: Option<f64>,
    /// First harmful call to the playbook's containment of the agent (when it ran).
    pub kill_switch_ms: Option<f64>,
    pub evidence_verified: bool,
    pub rollback_items: usize,
    pub rollback_verified: bool,
    /// Stealth copies of the protected files before the rollback, and after it.
    pub copies_found: usize,
    pub copies_left: usize,
    pub steps: Vec<StepOutcome>,
    pub played_ms: f64,
    pub sandbox: PathBuf,
}

pub(crate) struct Input<'a> {
    pub opts: &'a Options,
    pub scenario: &'a Scenario,
    pub sandbox: &'a Sandbox,
    pub dir: &'a DataDir,
    pub agent: &'a str,
    pub steps: &'a [Step],
    pub played: Vec<Played>,
    pub played_ms: f64,
    pub baseline: String,
}

/// The sandbox's whole ledger (a drill writes a few hundred events).
fn events(dir: &DataDir) -> Result<Vec<Event>, DrillError> {
    let bad = |e: &dyn std::fmt::Display| DrillError::Ledger(e.to_string());
    let mut store = dir.store()?;
    let size = store.size().map_err(|e| bad(&e))?;
    let mut out = Vec::with_capacity(size as usize);
    for i in 0..size {
        let row = store
            .leaf(i)
            .map_err(|e| bad(&e))?
            .ok_or_else(|| bad(&format!("event {i} is missing")))?;
        out.push(Event::from_leaf(&row.leaf).map_err(|e| bad(&e))?);
    }
    Ok(out)
}

fn ms(from: i64, to: i64) -> f64 {
    ((to - from).max(0) as f64) / 1e6
}

pub(crate) fn score(i: Input<'_>) -> Result<Scorecard, DrillError> {
    let all = events(i.dir)?;
    let benign = i.steps.iter().all(|s| !s.harmful);
    let steps = outcomes(&i, &all);
    let alerts: Vec<&Event> = all.iter().filter(|e| e.kind == EventKind::Alert).collect();
    let mut rules: Vec<RuleHit> = Vec::new();
    for a in &alerts {
        let text = |k: &str| {
            a.attrs
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        let id = text("rule_id");
        if !rules.iter().any(|x| x.id == id) {
            rules.push(RuleHit {
                id,
                title: text("title"),
                level: text("level"),
            });
        }
    }
    let titles = rules
        .iter()
        .map(|r| format!("{} ({})", r.title, r.level))
        .collect::<Vec<_>>()
        .join("; ");
    let raised: Vec<&&Event> = alerts
        .iter()
        .filter(|a| level_of(a) != "informational")
        .collect();
    let incident = incident(i.dir)?;
    let first_harmful = steps
        .iter()
        .zip(i.played.iter())
        .find(|(s, _)| s.harmful)
        .and_then(|(_, p)| call_ts(&all, p.id));
    let detected_at = raised
        .iter()
        .filter_map(|a| detection_moment(&all, a))
        .min();
    let ttd_ms = first_harmful.zip(detected_at).map(|(t0, t1)| ms(t0, t1));
    let contained_at = all
        .iter()
        .find(|e| {
            e.kind == EventKind::ResponseAction
                && e.attrs.get("step").and_then(|v| v.as_str()) == Some("contain")
                && e.attrs.get("status").and_then(|v| v.as_str()) == Some("ok")
        })
        .map(|e| e.ts.unix_nanos());
    let harmful: Vec<(&StepOutcome, &Played)> = steps
        .iter()
        .zip(i.played.iter())
        .filter(|(s, _)| s.harmful)
        .collect();
    let harmful_completed = harmful.iter().filter(|(s, _)| s.completed).count();
    let first_refused = harmful.iter().find(|(s, _)| !s.completed);
    let stopped_at_step = first_refused.map(|(s, _)| s.n);
    // Stopped: contained by the playbook, or no harmful call after the first got through.
    let later_completed = harmful.iter().skip(1).filter(|(s, _)| s.completed).count();
    let contained = !harmful.is_empty() && later_completed == 0 && first_refused.is_some();
    // Stopped when the first harmful call was refused, or the agent contained, whichever
    // came first.
    let refused_at = first_refused.and_then(|(_, p)| decision_ts(&all, p.id));
    let stop_ts = match (contained_at, refused_at) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let ttc_ms = match (first_harmful, stop_ts) {
        (Some(t0), Some(t1)) if contained => Some(ms(t0, t1)),
        _ => None,
    };

    let (evidence_verified, evidence_detail) = evidence(&i, incident.as_ref());
    let protected = i.sandbox.protected();
    let copies_found = copies(&protected, i.sandbox)?;
    let (rollback_items, rolled_back, rollback_detail) = rollback(&i)?;
    let copies_left = copies(&protected, i.sandbox)?;
    let after = i.sandbox.hash()?;
    let rollback_verified = rolled_back && after == i.baseline;

    let mut checks = Vec::new();
    let mut check = |name, ok, detail: String| checks.push(Check { name, ok, detail });
    let missing: Vec<usize> = steps
        .iter()
        .filter(|s| s.decision.is_none())
        .map(|s| s.n)
        .collect();
    check(
        "every call decided and recorded",
        missing.is_empty(),
        if missing.is_empty() {
            format!(
                "{} calls, each with its decision in the ledger",
                steps.len()
            )
        } else {
            format!("no decision recorded for step(s) {missing:?}")
        },
    );
    if benign {
        let refused: Vec<usize> = steps.iter().filter(|s| !s.completed).map(|s| s.n).collect();
        check(
            "nothing raised",
            raised.is_empty(),
            if raised.is_empty() {
                "no alert".into()
            } else {
                format!("false positive: {titles}")
            },
        );
        check(
            "nothing refused",
            refused.is_empty(),
            if refused.is_empty() {
                "every call completed".into()
            } else {
                format!("step(s) {refused:?} refused")
            },
        );
    } else {
        check(
            "detected",
            !raised.is_empty(),
            if raised.is_empty() {
                "no alert above informational".into()
            } else {
                format!("{} alert(s): {titles}", raised.len())
            },
        );
        check(
            "contained",
            contained,
            match (contained, stopped_at_step) {
                (true, Some(n)) => format!(
                    "stopped before step {n}; {harmful_completed} of {} harmful call(s) completed",
                    harmful.len()
                ),
                _ => format!(
                    "{harmful_completed} of {} harmful call(s) completed, {later_completed} after the first",
                    harmful.len()
                ),
            },
        );
    }
    check(
        "evidence exported and verified",
        evidence_verified,
        evidence_detail,
    );
    check(
        "rollback restores the workspace",
        rollback_verified,
        if rollback_verified {
            format!("{rollback_items} path(s) restored; workspace hash equals the baseline")
        } else {
            format!(
                "{rollback_detail}; workspace hash {} the baseline",
                if after == i.baseline {
                    "equals"
                } else {
                    "differs from"
                }
            )
        },
    );
    check(
        "no stealth copy left",
        copies_left == 0,
        format!("{copies_found} copy(ies) of protected files found before rollback, {copies_left} after"),
    );
    let passed = checks.iter().all(|c| c.ok);
    Ok(Scorecard {
        scenario: i.scenario.name.into(),
        title: i.scenario.title.into(),
        source: i.scenario.source.into(),
        upstream: i.opts.upstream.name().into(),
        workflow: i.opts.workflow.clone(),
        agent: i.agent.into(),
        passed,
        checks,
        detected: !raised.is_empty(),
        rules,
        incident: incident.as_ref().map(|x| x.id.clone()),
        severity: incident.as_ref().map(|x| x.severity.as_str().to_string()),
        contained,
        stopped_at_step,
        harmful_calls: harmful.len(),
        harmful_completed,
        ttd_ms,
        ttc_ms,
        kill_switch_ms: first_harmful.zip(contained_at).map(|(a, b)| ms(a, b)),
        evidence_verified,
        rollback_items,
        rollback_verified,
        copies_found,
        copies_left,
        steps,
        played_ms: i.played_ms,
        sandbox: i.sandbox.root.clone(),
    })
}

fn level_of(e: &Event) -> &str {
    e.attrs.get("level").and_then(|v| v.as_str()).unwrap_or("")
}

/// When an alert was raised. An alert carries the time of the event it matched; the rules
/// run as that event is recorded, so that is when it was raised — except for a tool call,
/// which is matched while it is decided: its decision is written after the rules ran, so
/// the decision's time bounds the moment of detection from above.
fn detection_moment(all: &[Event], alert: &Event) -> Option<i64> {
    let ts = alert.ts.unix_nanos();
    let on_call = alert.call.as_deref().and_then(|c| {
        all.iter().find(|e| {
            e.kind == EventKind::ToolCall && e.call.as_deref() == Some(c) && e.ts.unix_nanos() == ts
        })
    });
    match on_call {
        Some(call) => call
            .call
            .as_deref()
            .and_then(|c| c.parse().ok())
            .and_then(|id| decision_ts(all, id)),
        None => Some(ts),
    }
}

fn call_ts(all: &[Event], id: u64) -> Option<i64> {
    let id = id.to_string();
    all.iter()
        .find(|e| e.kind == EventKind::ToolCall && e.call.as_deref() == Some(&id))
        .map(|e| e.ts.unix_nanos())
}

fn decision_ts(all: &[Event], id: u64) -> Option<i64> {
    let id = id.to_string();
    all.iter()
        .find(|e| e.kind == EventKind::PolicyDecision && e.call.as_deref() == Some(&id))
        .map(|e| e.ts.unix_nanos())
}

/// Each step as the ledger tells it: its decision, whether the tool server answered it,
/// the alerts that name it.
fn outcomes(i: &Input<'_>, all: &[Event]) -> Vec<StepOutcome> {
    i.steps
        .iter()
        .zip(i.played.iter())
        .enumerate()
        .map(|(n, (s, p))| {
            let id = p.id.to_string();
            let id = id.as_str();
            let mine = |k: EventKind| {
                all.iter()
                    .filter(move |e| e.kind == k && e.call.as_deref() == Some(id))
            };
            // The last decision counts: a held call is decided again when its hold ends.
            let decision = mine(EventKind::PolicyDecision)
                .chain(mine(EventKind::ApprovalDecision))
                .filter_map(|e| e.decision.clone())
                .next_back();
            let allowed = decision.as_ref().is_some_and(|d| d.effect == Effect::Allow);
            let answered = matches!(p.reply, Reply::Result(_) | Reply::Error(_));
            let alerts: BTreeSet<String> = mine(EventKind::Alert)
                .filter_map(|e| e.attrs.get("rule_id").and_then(|v| v.as_str()))
                .map(str::to_string)
                .collect();
            StepOutcome {
                n: n + 1,
                tool: s.tool.into(),
                harmful: s.harmful,
                decision: decision.as_ref().map(|d| effect(d.effect).into()),
                reason: decision.and_then(|d| d.reason),
                completed: allowed && answered,
                alerts: alerts.into_iter().collect(),
                ms: p.ms,
            }
        })
        .collect()
}

fn effect(e: Effect) -> &'static str {
    match e {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
        Effect::Hold => "hold",
    }
}

/// The drill's incident, if one was opened.
fn incident(dir: &DataDir) -> Result<Option<Incident>, DrillError> {
    let rows = dir
        .store()?
        .incidents(true, 10)
        .map_err(|e| DrillError::Ledger(e.to_string()))?;
    Ok(rows
        .last()
        .and_then(|r| serde_json::from_str::<Incident>(&r.doc).ok()))
}

/// Exports the incident's bundle (the agent's events when there is none) and verifies it
/// with the ledger's public key only.
fn evidence(i: &Input<'_>, incident: Option<&Incident>) -> (bool, String) {
    let scope = match incident {
        Some(x) => Scope::Incident(x.id.clone()),
        None => Scope::Agent {
            agent: i.agent.into(),
            session: None,
            from: None,
            to: None,
        },
    };
    let out = i.sandbox.root.join("evidence.tar.zst");
    let opts = export::Options {
        by: "brig drill".into(),
        compress: true,
        note: Some(format!("drill {}", i.scenario.name)),
        include_secrets: false,
    };
    let summary = match export::export(i.dir, &scope, &out, &opts) {
        Ok(s) => s,
        Err(e) => return (false, format!("export failed: {e}")),
    };
    let key = match i.dir.signer() {
        Ok(s) => s.verifier(),
        Err(e) => return (false, format!("no verifier key: {e}")),
    };
    let report = brig_evidence::verify::verify_file(&out, Some(&key));
    if report.ok {
        (
            true,
            format!(
                "{} events, {} file changes; verified offline ({})",
                summary.events,
                summary.changes,
                out.display()
            ),
        )
    } else {
        let first = report
            .problems
            .first()
            .map(|p| format!("{}: {}", p.item, p.what))
            .unwrap_or_default();
        (false, format!("bundle does not verify: {first}"))
    }
}

/// Plans the agent's rollback from the ledger's images and applies it, each step recorded.
/// Returns the items, whether every step restored (or had nothing to do), and a detail.
fn rollback(i: &Input<'_>) -> Result<(usize, bool, String), DrillError> {
    let scope = Scope::Agent {
        agent: i.agent.into(),
        session: None,
        from: None,
        to: None,
    };
    let planned = match brig_evidence::undo::plan_scope(i.dir, &scope, &Default::default()) {
        Ok(p) => p,
        Err(e) => return Ok((0, false, format!("plan failed: {e}"))),
    };
    let mut steps = Vec::new();
    let outcomes = match brig_evidence::undo::apply(&planned, None, false, |o| {
        steps.push(brig_evidence::undo::step_event("brig drill", o));
    }) {
        Ok(o) => o,
        Err(e) => return Ok((planned.items.len(), false, format!("apply failed: {e}"))),
    };
    let batch = steps
        .into_iter()
        .map(brig_ledger::Prepared::new)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| DrillError::Ledger(e.to_string()))?;
    if !batch.is_empty() {
        i.dir
            .ledger()?
            .append(&batch)
            .map_err(|e| DrillError::Ledger(e.to_string()))?;
    }
    let bad: Vec<String> = outcomes
        .iter()
        .filter(|o| o.result != "restored" && o.result != "skipped")
        .map(|o| format!("{} {}", o.path, o.result))
        .collect();
    Ok((
        planned.items.len(),
        bad.is_empty(),
        if bad.is_empty() {
            format!("{} path(s) restored", outcomes.len())
        } else {
            format!("not restored: {}", bad.join(", "))
        },
    ))
}

/// Copies of the protected files anywhere the agent could write, other than the files
/// themselves.
fn copies(protected: &[PathBuf], sb: &Sandbox) -> Result<usize, DrillError> {
    let report = hunt::copies(protected, &sb.scan_roots(), &hunt::Options::default())
        .map_err(|e| DrillError::Ledger(format!("hunt: {e}")))?;
    Ok(report
        .matches
        .iter()
        .filter(|m| m.member.is_some() || !protected.contains(&m.path))
        .count())
}
