//! Inline detection: every event a proxy records passes the rule pack first, and an alert
//! is recorded with the event that raised it.
//!
//! A `tools/call` is evaluated while it is being decided, before anything is forwarded
//! (see [`crate::call::decide`]): a match of a rule marked `brig.blocking: true` turns the
//! decision into a denial (policy `brig.detect`), so the call that crosses the line is the
//! one that is stopped. Every other event (results, prompts, approval decisions, protocol
//! messages) is evaluated as it is recorded ([`crate::record::Recorder::record`]), which
//! keeps the detector's memory — the declared task, what results said, refusals — whole.
//!
//! One detector serves the whole process (its memory is per session, agent and workflow),
//! behind a mutex: evaluation costs microseconds, far less than the call's fsync.

use std::sync::{Arc, Mutex};

use brig_detect::rules::{Alert, Detector, Rules};
use brig_model::{Decision, Effect, EventId, EventKind, NewEvent};
use serde_json::json;

/// The policy id a blocking rule's denial carries.
pub const DETECT_POLICY: &str = "brig.detect";

/// The rule pack, evaluating a proxy's events.
pub struct Detection {
    detector: Mutex<Detector>,
    rules: usize,
}

impl std::fmt::Debug for Detection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Detection({} rules)", self.rules)
    }
}

impl Detection {
    pub fn new(rules: &Rules) -> Arc<Detection> {
        Arc::new(Detection {
            detector: Mutex::new(rules.detector()),
            rules: rules.len(),
        })
    }

    /// Evaluates one event (giving it its id now, so alerts can name it).
    pub fn observe(&self, e: &mut NewEvent) -> Vec<Alert> {
        let id = *e.id.get_or_insert_with(EventId::new);
        let mut d = self.detector.lock().unwrap_or_else(|p| p.into_inner());
        d.observe(e, &id.to_string())
    }
}

/// The `alert` event for one rule hit, in the cause's session.
pub fn alert_event(cause: &NewEvent, a: &Alert) -> NewEvent {
    let mut e = NewEvent::new(cause.source.clone(), cause.agent.clone(), EventKind::Alert);
    e.ts = cause.ts;
    e.workflow = cause.workflow.clone();
    e.session = cause.session.clone();
    e.tool = cause.tool.clone();
    e.call = cause.call.clone();
    e.actions = cause.actions.clone();
    e.attrs.insert("rule_id".into(), json!(a.rule_id));
    e.attrs.insert("title".into(), json!(a.title));
    e.attrs.insert("level".into(), json!(a.level));
    e.attrs.insert("rule_kind".into(), json!(a.kind));
    e.attrs.insert("matched".into(), json!(a.events));
    e.attrs.insert("blocking".into(), json!(a.blocking));
    if !a.tags.is_empty() {
        e.attrs.insert("tags".into(), json!(a.tags));
    }
    e
}

/// The decision after blocking rules: a blocking match denies a call policy allowed or
/// held; a denial stays a denial.
pub fn apply_blocking(decision: Decision, alerts: &[Alert]) -> Decision {
    let blocking: Vec<&Alert> = alerts.iter().filter(|a| a.blocking).collect();
    if blocking.is_empty() || decision.effect == Effect::Deny {
        return decision;
    }
    let mut policies = vec![DETECT_POLICY.to_string()];
    policies.extend(blocking.iter().map(|a| a.rule_id.clone()));
    let titles: Vec<&str> = blocking.iter().map(|a| a.title.as_str()).collect();
    Decision {
        effect: Effect::Deny,
        policies,
        reason: Some(format!(
            "detection rule matched this call: {}",
            titles.join("; ")
        )),
    }
}
