//! Detection rules: Sigma (spec v2) detections and correlations over Brig's events.
//!
//! Rules are ordinary Sigma YAML with `logsource: product: brig` and a `category` from
//! [`view`]'s taxonomy; they match the flat documents [`view::documents`] builds from each
//! event (one per normalized action), so they read behaviour (`action`, `target`, `dest`,
//! `host`, `in_task`, `provenance` …) rather than tool-specific arguments. Correlations
//! (`event_count`, `value_count`, `temporal`, `temporal_ordered`) group by any field, in
//! practice `session` or `agent`, over sliding windows.
//!
//! Parsing and evaluation are the `rsigma` crates' (compiled matchers, per-rule indexes,
//! bounded correlation state). Brig adds the loading discipline — a rule that does not
//! parse or uses what the evaluator does not support is refused with its file, id and
//! reason, never dropped — the documents, the memory behind the enrichment fields, and
//! one extension: a rule with the top-level key `brig.blocking: true` asks the gateway to
//! deny the call it matches.

pub mod injection;
pub mod scope;
pub mod session;
pub mod view;
// Bounds checked before the YAML parser runs (its time grows with flow nesting).
mod shape;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use brig_model::NewEvent;
use rsigma_eval::event::JsonEvent;
use rsigma_eval::{CorrelationConfig, CorrelationEngine, EvaluationResult, LogSourceExtractor};
use rsigma_parser::SigmaCollection;
use serde::Serialize;
use serde_json::Value;

use session::Memory;

/// The custom attribute that makes a rule blocking.
pub const BLOCKING: &str = "brig.blocking";

/// Why a rule set was refused.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {reason}")]
    Parse { file: String, reason: String },
    #[error("{file}: rule {rule}: not supported: {reason}")]
    Unsupported {
        file: String,
        rule: String,
        reason: String,
    },
    #[error("{file}: rule {rule}: {reason}")]
    Invalid {
        file: String,
        rule: String,
        reason: String,
    },
    #[error("{dir}: no rule files (*.yml, *.yaml)")]
    Empty { dir: PathBuf },
}

/// A validated set of rules, ready to build detectors from.
#[derive(Clone, Debug)]
pub struct Rules {
    collection: SigmaCollection,
    blocking: HashSet<String>,
}

/// The built-in pack (`rules/` in the repository), compiled in.
const BUILTIN: &[(&str, &str)] = &include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// The built-in file of Brig's self-protection rule: the guard denying a call on Brig's own
/// files or processes is a critical alert. Gateways run it whatever rule set they are given
/// ([`Rules::with_self_protection`]), since the user's rules may not say it.
const SELF_PROTECTION_FILE: &str = "brig_tampering.yml";

impl Rules {
    /// Brig's built-in rule pack.
    pub fn builtin() -> Rules {
        Rules::from_sources(BUILTIN.iter().map(|(f, y)| (f.to_string(), y.to_string())))
            .expect("the built-in rule pack is valid (tested)")
    }

    /// Every `*.yml` / `*.yaml` under `dir` (recursively).
    pub fn load_dir(dir: &Path) -> Result<Rules, RuleError> {
        Rules::from_sources(dir_sources(dir)?)
    }

    /// Brig's self-protection rule alone: what a gateway runs with detection turned off.
    pub fn self_protection() -> Rules {
        Rules::from_sources([self_protection_source()])
            .expect("the built-in rule pack is valid (tested)")
    }

    /// `dir`'s rules plus Brig's self-protection rule, unless `dir` has a rule of its id (a
    /// user's own version of it then stands in its place).
    pub fn with_self_protection(dir: &Path) -> Result<Rules, RuleError> {
        let mut sources = dir_sources(dir)?;
        let own = Rules::from_sources(sources.clone())?;
        let guard = Rules::self_protection().titles();
        if guard.keys().all(|id| own.titles().contains_key(id)) {
            return Ok(own);
        }
        sources.push(self_protection_source());
        Rules::from_sources(sources)
    }

    /// Rules from (file name, YAML) pairs; any bad rule refuses the whole set.
    pub fn from_sources(
        sources: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Rules, RuleError> {
        let mut all = SigmaCollection::new();
        let mut ids = HashSet::new();
        let mut blocking = HashSet::new();
        let mut owner = std::collections::HashMap::new();
        for (file, yaml) in sources {
            shape::check(&yaml).map_err(|reason| RuleError::Parse {
                file: file.clone(),
                reason,
            })?;
            let c = rsigma_parser::parse_sigma_yaml(&yaml).map_err(|e| RuleError::Parse {
                file: file.clone(),
                reason: e.to_string(),
            })?;
            if let Some(reason) = c.errors.first() {
                return Err(RuleError::Parse {
                    file,
                    reason: reason.clone(),
                });
            }
            for r in &c.rules {
                let id = r.id.clone().unwrap_or_default();
                check_rule(&file, &id, r.logsource.product.as_deref())?;
                if !ids.insert(id.clone()) {
                    return Err(invalid(&file, &id, "duplicate rule id"));
                }
                if r.custom_attributes.get(BLOCKING).and_then(|v| v.as_bool()) == Some(true) {
                    blocking.insert(id);
                }
            }
            for r in &c.correlations {
                let id = r.id.clone().unwrap_or_default();
                if id.is_empty() {
                    return Err(invalid(&file, &r.title, "a correlation needs an `id`"));
                }
                if !ids.insert(id.clone()) {
                    return Err(invalid(&file, &id, "duplicate rule id"));
                }
            }
            for r in &c.rules {
                owner.insert(r.id.clone().unwrap_or_default(), file.clone());
            }
            for r in &c.correlations {
                owner.insert(r.id.clone().unwrap_or_default(), file.clone());
            }
            all.rules.extend(c.rules);
            all.correlations.extend(c.correlations);
            all.filters.extend(c.filters);
        }
        // Compiled once, as a whole; an unsupported construct is blamed on the file of the
        // rule that uses it.
        compile(&all).map_err(|(rule, reason)| RuleError::Unsupported {
            file: owner
                .get(&rule)
                .cloned()
                .unwrap_or_else(|| "(rule set)".into()),
            rule,
            reason,
        })?;
        Ok(Rules {
            collection: all,
            blocking,
        })
    }

    pub fn len(&self) -> usize {
        self.collection.rules.len() + self.collection.correlations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each rule's and correlation's title by id: incidents and metrics keep rule ids only,
    /// and people read titles.
    pub fn titles(&self) -> BTreeMap<String, String> {
        let rules = self.collection.rules.iter().map(|r| (&r.id, &r.title));
        let correlations = self
            .collection
            .correlations
            .iter()
            .map(|c| (&c.id, &c.title));
        rules
            .chain(correlations)
            .filter_map(|(id, title)| Some((id.clone()?, title.clone())))
            .collect()
    }

    /// A fresh rsigma engine compiled from these rules, configured exactly as a
    /// [`Detector`]'s (timestamps from `ts`, bounded correlation state, building blocks not
    /// emitted), for tools and benchmarks that evaluate [`view`] documents themselves. A
    /// `Detector` is this engine plus the documents, the memory behind them, and alerts.
    pub fn engine(&self) -> CorrelationEngine {
        compile(&self.collection).expect("validated when loaded")
    }

    /// A fresh detector (its own state) over these rules.
    pub fn detector(&self) -> Detector {
        let engine = compile(&self.collection).expect("validated when loaded");
        Detector {
            engine,
            memory: Memory::default(),
            blocking: self.blocking.clone(),
        }
    }

    /// A fresh detector that knows the organization's risk register: documents then carry
    /// the data classes of what calls touch and whether destinations are internal.
    pub fn detector_with(
        &self,
        register: Option<std::sync::Arc<brig_register::Register>>,
    ) -> Detector {
        let mut d = self.detector();
        d.memory.register = register;
        d
    }
}

fn invalid(file: &str, rule: &str, reason: &str) -> RuleError {
    RuleError::Invalid {
        file: file.to_string(),
        rule: rule.to_string(),
        reason: reason.to_string(),
    }
}

fn check_rule(file: &str, id: &str, product: Option<&str>) -> Result<(), RuleError> {
    if id.is_empty() {
        return Err(invalid(file, "(no id)", "every rule needs an `id`"));
    }
    if product != Some("brig") {
        return Err(invalid(
            file,
            id,
            "logsource.product must be `brig` (the only events Brig evaluates)",
        ));
    }
    Ok(())
}

/// (file name, YAML) of every rule file under `dir`, in name order; none is an error.
fn dir_sources(dir: &Path) -> Result<Vec<(String, String)>, RuleError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    if files.is_empty() {
        return Err(RuleError::Empty {
            dir: dir.to_path_buf(),
        });
    }
    files.sort();
    let mut sources = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|source| RuleError::Read {
            path: f.clone(),
            source,
        })?;
        sources.push((f.display().to_string(), text));
    }
    Ok(sources)
}

fn self_protection_source() -> (String, String) {
    let (file, yaml) = BUILTIN
        .iter()
        .find(|(f, _)| *f == SELF_PROTECTION_FILE)
        .expect("rules/brig_tampering.yml is built in");
    (format!("(built in) {file}"), yaml.to_string())
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RuleError> {
    let read = |source| RuleError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yml" | "yaml")
        ) {
            out.push(path);
        }
    }
    Ok(())
}

/// Correlation state entries kept (all rules and groups), and per group.
const STATE_ENTRIES: usize = 100_000;
const GROUP_ENTRIES: usize = 1_000;

fn compile(c: &SigmaCollection) -> Result<CorrelationEngine, (String, String)> {
    let config = CorrelationConfig {
        timestamp_fields: vec!["ts".into()],
        max_state_entries: STATE_ENTRIES,
        max_group_entries: Some(GROUP_ENTRIES),
        // Building blocks of correlations (`generate: false`) are not alerts themselves.
        emit_detections: false,
        ..CorrelationConfig::default()
    };
    let mut engine = CorrelationEngine::new(config);
    engine.set_logsource_extractor(Some(LogSourceExtractor::new()));
    engine.set_correlation_event_mode(rsigma_eval::CorrelationEventMode::Refs);
    for r in &c.rules {
        engine.add_rule(r).map_err(|e| {
            (
                r.id.clone().unwrap_or_else(|| r.title.clone()),
                e.to_string(),
            )
        })?;
    }
    for r in &c.correlations {
        engine.add_correlation(r).map_err(|e| {
            (
                r.id.clone().unwrap_or_else(|| r.title.clone()),
                e.to_string(),
            )
        })?;
    }
    Ok(engine)
}

/// One rule hit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    pub rule_id: String,
    pub title: String,
    pub level: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `detection` or the correlation type (`event_count`, `temporal_ordered` …).
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub agent: String,
    /// Ids of the events (for traces: spans) that matched; for a correlation, those its
    /// window holds.
    pub events: Vec<String>,
    /// The rule asks the gateway to deny the call.
    pub blocking: bool,
    /// Data classes (from the risk register) the session had touched when the rule fired,
    /// this event included: what incidents grade by.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
}

/// Evaluates events one at a time, in order, keeping session and correlation state.
pub struct Detector {
    engine: CorrelationEngine,
    memory: Memory,
    blocking: HashSet<String>,
}

impl Detector {
    /// Evaluates one event (`id` names it in alerts: its event id, or its span id).
    pub fn observe(&mut self, e: &NewEvent, id: &str) -> Vec<Alert> {
        let secs =
            e.ts.map(|t| t.unix_nanos().div_euclid(1_000_000_000))
                .unwrap_or(0);
        let mut alerts: Vec<Alert> = Vec::new();
        let mut classes = None;
        for mut doc in view::documents(e, id, &mut self.memory) {
            if let Value::Object(m) = &mut doc {
                m.insert("ts".into(), Value::from(secs));
            }
            let results = self.engine.process_event_at(&JsonEvent::borrow(&doc), secs);
            if !results.is_empty() && classes.is_none() {
                classes = Some(self.session_classes(e));
            }
            for r in results {
                let mut a = self.alert(e, id, &r);
                a.classes
                    .clone_from(classes.as_ref().unwrap_or(&Vec::new()));
                if !alerts
                    .iter()
                    .any(|x| x.rule_id == a.rule_id && x.events == a.events)
                {
                    alerts.push(a);
                }
            }
        }
        alerts
    }

    fn session_classes(&mut self, e: &NewEvent) -> Vec<String> {
        if self.memory.register.is_none() {
            return Vec::new();
        }
        let key = view::session_key(e);
        self.memory.session(&key).classes.iter().cloned().collect()
    }

    /// The directories the agent works in (a proxy's served roots): hidden places are
    /// judged below them (`target_hidden`, `dest_hidden`).
    pub fn set_roots(&mut self, roots: &[std::path::PathBuf]) {
        self.memory.roots = roots
            .iter()
            .map(|r| r.to_string_lossy().trim_end_matches('/').to_string())
            .collect::<Vec<_>>()
            .into();
    }

    /// What detection learned that should outlive this process (first uses, tool
    /// descriptions, call counts); taken once.
    pub fn take_learned(&mut self) -> Vec<session::Fact> {
        self.memory.take_learned()
    }

    /// Has this detector loaded or learned anything about `agent`?
    pub fn knows(&self, agent: &str) -> bool {
        self.memory.knows(agent)
    }

    /// Restores what an earlier process learned about `agent`: (thing, value) pairs as
    /// [`session::Fact`] has them.
    pub fn preload(&mut self, agent: &str, facts: impl IntoIterator<Item = (String, Option<i64>)>) {
        self.memory.preload(agent, facts);
    }

    fn alert(&self, e: &NewEvent, id: &str, r: &EvaluationResult) -> Alert {
        let rule_id = r.header.rule_id.clone().unwrap_or_default();
        let (kind, events) = match &r.body {
            rsigma_eval::result::ResultBody::Detection(_) => {
                ("detection".to_string(), vec![id.to_string()])
            }
            rsigma_eval::result::ResultBody::Correlation(c) => {
                let mut ids: Vec<String> = c
                    .event_refs
                    .iter()
                    .flatten()
                    .filter_map(|r| r.id.clone())
                    .collect();
                ids.dedup();
                if ids.is_empty() {
                    ids.push(id.to_string());
                }
                (correlation_type(&c.correlation_type), ids)
            }
        };
        Alert {
            blocking: self.blocking.contains(&rule_id),
            rule_id,
            title: r.header.rule_title.clone(),
            level: r
                .header
                .level
                .as_ref()
                .map(|l| format!("{l:?}").to_lowercase())
                .unwrap_or_else(|| "medium".into()),
            tags: r.header.tags.clone(),
            kind,
            session: e.session.clone(),
            agent: e.agent.clone(),
            events,
            classes: Vec::new(),
        }
    }
}

fn correlation_type(t: &impl Serialize) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "correlation".into())
}
