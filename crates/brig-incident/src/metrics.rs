//! The metrics that matter (section 9 of the source checklist), computed from the record.
//!
//! Everything here is read from the store and the ledger — incidents and their lifecycle
//! times, the tools their alerts came through, drill results, recorded evidence
//! verifications — and then computed by [`compute`], a pure function of what was read, so
//! that `brig metrics` and the server's `/metrics` give the same figures.
//!
//! What each figure measures:
//!
//! - **time to detect**: an incident's first harmful event (the earliest event one of its
//!   alerts matched, or the time a person reported) to its detection (the incident opened);
//! - **time to contain**: the first harmful event to the `contained` step (the playbook's
//!   containment, or `brig incidents step ID contained`);
//! - **time to restore**: detection to the `recovered` step (recorded by a successful
//!   `brig rollback verify --incident ID`, or by hand);
//!
//! each as a mean and a 90th percentile (nearest rank) over the incidents that reached both
//! points, with their count.
//! - **forensic coverage**: incidents with a recorded successful verification of one of
//!   their evidence bundles (`brig evidence verify FILE --record`), over all incidents;
//! - **tested rollback**: workflows with a passed drill whose rollback was verified, over
//!   every workflow known (the register's, and those of incidents and drills).

use std::collections::{BTreeMap, BTreeSet};

use brig_model::{Event, EventKind, NewEvent};
use brig_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::drills::DrillRecord;
use crate::{desk, Incident};

/// The `attrs.action` of a recorded evidence verification.
pub const VERIFY_ACTION: &str = "evidence.verify";

/// At most this many incidents are read (newest first).
pub const MAX_INCIDENTS: usize = 10_000;
/// At most this many alert, report and operator events are read for one computation.
pub const MAX_EVENTS: usize = 200_000;

/// A recorded verification of an evidence bundle.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    /// The incident the bundle is of (its manifest's scope), if it is an incident's.
    pub incident: Option<String>,
    /// The agent of the bundle's scope.
    pub agent: String,
    /// Everything in the bundle checked out.
    pub ok: bool,
    /// SHA-256 (hex) of the bundle's `manifest.json`: which bundle was checked.
    pub manifest_sha256: String,
    /// The verifier key used (`origin+hash+key`), when known.
    pub key: Option<String>,
}

impl Verification {
    /// The `operator.action` event that records it.
    pub fn event(&self, actor: &str) -> NewEvent {
        let mut e = NewEvent::new(
            "brig-evidence",
            self.agent.clone(),
            EventKind::OperatorAction,
        );
        e.attrs.insert("action".into(), Value::from(VERIFY_ACTION));
        e.attrs.insert("actor".into(), Value::from(actor));
        if let Some(i) = &self.incident {
            e.attrs.insert("incident".into(), Value::from(i.as_str()));
        }
        e.attrs.insert("ok".into(), Value::from(self.ok));
        e.attrs.insert(
            "manifest_sha256".into(),
            Value::from(self.manifest_sha256.as_str()),
        );
        if let Some(k) = &self.key {
            e.attrs.insert("key".into(), Value::from(k.as_str()));
        }
        e
    }

    /// Reads a verification back from a ledger event; `None` for any other event.
    pub fn from_event(e: &Event) -> Option<Verification> {
        if e.kind != EventKind::OperatorAction || e.attrs.get("action")?.as_str()? != VERIFY_ACTION
        {
            return None;
        }
        let text = |k: &str| e.attrs.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Verification {
            incident: text("incident"),
            agent: e.agent.clone(),
            ok: e.attrs.get("ok").and_then(Value::as_bool).unwrap_or(false),
            manifest_sha256: text("manifest_sha256").unwrap_or_default(),
            key: text("key"),
        })
    }
}

/// What the figures are computed from, as read from the store.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    pub incidents: Vec<Incident>,
    /// Tool names of each incident's alert and report events, by incident id.
    pub tools: BTreeMap<String, BTreeSet<String>>,
    pub drills: Vec<DrillRecord>,
    pub verifications: Vec<Verification>,
    /// Workflows declared in the risk register.
    pub register_workflows: Vec<String>,
    /// A read stopped at its bound: older records were left out.
    pub cut: bool,
}

/// Why metrics could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error(transparent)]
    Desk(#[from] desk::DeskError),
}

/// Reads what [`compute`] needs: every incident (closed ones too, newest
/// [`MAX_INCIDENTS`]), the tools of their alerts, drill results and verifications (the
/// first [`MAX_EVENTS`] events of each kind).
pub fn read(store: &mut Store, register_workflows: Vec<String>) -> Result<Inputs, MetricsError> {
    let rows = store.incidents(true, MAX_INCIDENTS)?;
    let mut cut = rows.len() == MAX_INCIDENTS;
    let incidents = rows
        .iter()
        .map(desk::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let owner: BTreeMap<&str, &str> = incidents
        .iter()
        .flat_map(|i| i.alerts.iter().map(|a| (a.as_str(), i.id.as_str())))
        .collect();
    let mut tools: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut drills = Vec::new();
    let mut verifications = Vec::new();
    let kinds = [
        EventKind::Alert.as_str(),
        EventKind::HumanReport.as_str(),
        EventKind::OperatorAction.as_str(),
    ];
    let indices = store.kinds_since(0, &kinds, MAX_EVENTS)?;
    cut |= indices.len() == MAX_EVENTS;
    for idx in indices {
        let Some(row) = brig_ledger::store::LedgerStore::leaf(store, idx)? else {
            continue;
        };
        let Ok(e) = Event::from_leaf(&row.leaf) else {
            continue;
        };
        if let Some(d) = DrillRecord::from_event(&e) {
            drills.push(d);
        } else if let Some(v) = Verification::from_event(&e) {
            verifications.push(v);
        } else if let (Some(inc), Some(tool)) = (owner.get(e.id.to_string().as_str()), &e.tool) {
            tools
                .entry(inc.to_string())
                .or_default()
                .insert(tool.clone());
        }
    }
    Ok(Inputs {
        incidents,
        tools,
        drills,
        verifications,
        register_workflows,
        cut,
    })
}

/// A duration figure over some incidents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    /// How many incidents reached both points.
    pub count: usize,
    pub mean_seconds: Option<f64>,
    /// 90th percentile, nearest rank: the smallest value at least 90% of the values are
    /// less than or equal to.
    pub p90_seconds: Option<f64>,
}

impl Durations {
    fn of(mut secs: Vec<f64>) -> Durations {
        if secs.is_empty() {
            return Durations::default();
        }
        secs.sort_by(f64::total_cmp);
        let n = secs.len();
        let rank = (0.9 * n as f64).ceil() as usize;
        Durations {
            count: n,
            mean_seconds: Some(secs.iter().sum::<f64>() / n as f64),
            p90_seconds: Some(secs[rank.clamp(1, n) - 1]),
        }
    }
}

/// A share of things that meet a bar, with the ones that do not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Share {
    pub met: usize,
    pub total: usize,
    /// `met / total`; `None` when there is nothing to measure.
    pub ratio: Option<f64>,
    /// What does not meet it (incident ids, workflow names), sorted.
    pub missing: Vec<String>,
}

impl Share {
    fn of(all: &BTreeSet<String>, met: impl Fn(&str) -> bool) -> Share {
        let missing: Vec<String> = all.iter().filter(|x| !met(x)).cloned().collect();
        let met = all.len() - missing.len();
        Share {
            met,
            total: all.len(),
            ratio: (!all.is_empty()).then(|| met as f64 / all.len() as f64),
            missing,
        }
    }
}

/// The last result of one drill scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillScore {
    pub scenario: String,
    pub workflow: String,
    pub upstream: String,
    pub passed: bool,
    pub ttd_ms: Option<f64>,
    pub ttc_ms: Option<f64>,
    pub rollback_verified: bool,
    /// When it ran (ns since the Unix epoch).
    pub at: i64,
}

/// Every figure `brig metrics` shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Incidents detected at or after this time (ns), when asked.
    pub since: Option<i64>,
    pub incidents: usize,
    pub time_to_detect: Durations,
    pub time_to_contain: Durations,
    pub time_to_restore: Durations,
    pub forensic_coverage: Share,
    pub tested_rollback: Share,
    /// Agents with more than one incident, with their counts.
    pub repeat_by_agent: BTreeMap<String, usize>,
    /// Tools (connectors, MCP servers' tools) that more than one incident's alerts came
    /// through, with their counts.
    pub repeat_by_connector: BTreeMap<String, usize>,
    /// Incidents by what happened to data: exposed, altered, copied_out, evasion.
    pub by_outcome: BTreeMap<String, usize>,
    /// Incidents by data class touched.
    pub by_class: BTreeMap<String, usize>,
    pub by_severity: BTreeMap<String, usize>,
    pub by_state: BTreeMap<String, usize>,
    /// Incidents by severity and state: (severity, state) → count.
    pub by_severity_state: Vec<(String, String, usize)>,
    /// Incidents by rule that fired (`human-report` for a person's report).
    pub by_rule: BTreeMap<String, usize>,
    /// Per scenario, its last drill result.
    pub drills: Vec<DrillScore>,
    /// Some records were beyond the bounded reads and left out.
    pub cut: bool,
}

fn seconds(from: Option<i64>, to: Option<i64>) -> Option<f64> {
    // A step recorded before its start (clock skew between hosts) counts as instant.
    Some((to? - from?).max(0) as f64 / 1e9)
}

fn count<'a>(items: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for x in items {
        *m.entry(x.to_string()).or_default() += 1;
    }
    m
}

/// Computes every figure from what was read. `since` (ns) keeps the incidents detected at
/// or after it and the drills run at or after it.
pub fn compute(inputs: &Inputs, since: Option<i64>) -> Metrics {
    let after = |t: Option<i64>| since.is_none_or(|s| t.is_some_and(|t| t >= s));
    let incidents: Vec<&Incident> = inputs
        .incidents
        .iter()
        .filter(|i| after(i.times.detected))
        .collect();
    let drills: Vec<&DrillRecord> = inputs.drills.iter().filter(|d| after(Some(d.at))).collect();
    let figure = |f: &dyn Fn(&Incident) -> Option<f64>| {
        Durations::of(incidents.iter().filter_map(|i| f(i)).collect())
    };

    let verified: BTreeSet<&str> = inputs
        .verifications
        .iter()
        .filter(|v| v.ok)
        .filter_map(|v| v.incident.as_deref())
        .collect();
    let ids: BTreeSet<String> = incidents.iter().map(|i| i.id.clone()).collect();

    let mut workflows: BTreeSet<String> = inputs.register_workflows.iter().cloned().collect();
    workflows.extend(incidents.iter().filter_map(|i| i.workflow.clone()));
    workflows.extend(drills.iter().map(|d| d.workflow.clone()));
    let tested: BTreeSet<&str> = drills
        .iter()
        .filter(|d| d.passed && d.rollback_verified)
        .map(|d| d.workflow.as_str())
        .collect();

    let repeats = |m: BTreeMap<String, usize>| m.into_iter().filter(|(_, n)| *n > 1).collect();
    let no_tools = BTreeSet::new();
    let connectors = incidents
        .iter()
        .flat_map(|i| inputs.tools.get(&i.id).unwrap_or(&no_tools).iter())
        .map(String::as_str);

    let mut by_severity_state: BTreeMap<(String, String), usize> = BTreeMap::new();
    for i in &incidents {
        *by_severity_state
            .entry((i.severity.as_str().into(), i.state.as_str().into()))
            .or_default() += 1;
    }

    let mut last: BTreeMap<&str, &DrillRecord> = BTreeMap::new();
    for d in &drills {
        let e = last.entry(d.scenario.as_str()).or_insert(d);
        if d.at >= e.at {
            *e = d;
        }
    }

    Metrics {
        since,
        incidents: incidents.len(),
        time_to_detect: figure(&|i| seconds(i.times.first_harmful, i.times.detected)),
        time_to_contain: figure(&|i| seconds(i.times.first_harmful, i.times.contained)),
        time_to_restore: figure(&|i| seconds(i.times.detected, i.times.recovered)),
        forensic_coverage: Share::of(&ids, |id| verified.contains(id)),
        tested_rollback: Share::of(&workflows, |w| tested.contains(w)),
        repeat_by_agent: repeats(count(incidents.iter().map(|i| i.agent.as_str()))),
        repeat_by_connector: repeats(count(connectors)),
        by_outcome: count(
            incidents
                .iter()
                .flat_map(|i| i.outcomes.iter().map(|o| o.as_str())),
        ),
        by_class: count(
            incidents
                .iter()
                .flat_map(|i| i.classes.iter().map(String::as_str)),
        ),
        by_severity: count(incidents.iter().map(|i| i.severity.as_str())),
        by_state: count(incidents.iter().map(|i| i.state.as_str())),
        by_severity_state: by_severity_state
            .into_iter()
            .map(|((s, t), n)| (s, t, n))
            .collect(),
        by_rule: count(
            incidents
                .iter()
                .flat_map(|i| i.rules.iter().map(String::as_str)),
        ),
        drills: last
            .into_values()
            .map(|d| DrillScore {
                scenario: d.scenario.clone(),
                workflow: d.workflow.clone(),
                upstream: d.upstream.clone(),
                passed: d.passed,
                ttd_ms: d.ttd_ms,
                ttc_ms: d.ttc_ms,
                rollback_verified: d.rollback_verified,
                at: d.at,
            })
            .collect(),
        cut: inputs.cut,
    }
}

/// Reads and computes in one go.
pub fn metrics(
    store: &mut Store,
    register_workflows: Vec<String>,
    since: Option<i64>,
) -> Result<Metrics, MetricsError> {
    Ok(compute(&read(store, register_workflows)?, since))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p90_is_nearest_rank() {
        let d = Durations::of((1..=10).map(f64::from).collect());
        assert_eq!(d.count, 10);
        assert_eq!(d.mean_seconds, Some(5.5));
        assert_eq!(d.p90_seconds, Some(9.0));
        let one = Durations::of(vec![4.0]);
        assert_eq!(one.p90_seconds, Some(4.0));
        assert_eq!(Durations::of(vec![]).mean_seconds, None);
    }

    #[test]
    fn shares_name_what_is_missing() {
        let all: BTreeSet<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let s = Share::of(&all, |x| x == "b");
        assert_eq!((s.met, s.total), (1, 3));
        assert_eq!(s.missing, vec!["a", "c"]);
        assert!(Share::of(&BTreeSet::new(), |_| true).ratio.is_none());
    }
}
