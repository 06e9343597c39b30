//! Severity from what happened, with the reasons.
//!
//! A rule's level gives a floor — `low` and `informational` are `advisory`, `medium` a
//! `policy_violation`, `high` and `critical` a `security_incident` — and what the alerted
//! events did raises it:
//!
//! | what happened | at least |
//! |---|---|
//! | classified data reached (read, listed, exported to the agent) | `policy_violation` |
//! | classified data changed, deleted, moved or re-permissioned | `security_incident` |
//! | an attempt to hide, persist, or evade monitoring or shutdown | `security_incident` |
//! | classified data copied outside its boundary (an outside host, address or path) | `security_incident` |
//! | … and the data is personal (`pii`, `phi`, `pci`, `customer`) or `export_controlled` | `reportable_breach` |
//!
//! An incident's severity is the highest grade of its alerts, and never goes down.
//!
//! A signal whose call was stopped before it ran (denied by policy, a blocking rule or
//! containment) is an attempt: its reasons say so, it adds no [`Outcome`] (nothing
//! happened), and it is graded at most `security_incident` — an attempted exfiltration is
//! serious, but it is not a breach to report.

use std::collections::BTreeSet;

use brig_model::{Action, ActionKind, Event, EventKind, NewEvent};
use brig_register::Register;
use serde_json::Value;

use crate::{Outcome, Severity};

/// Classes whose loss is usually a notifiable breach.
const REPORTABLE_CLASSES: &[&str] = &["pii", "phi", "pci", "customer", "export_controlled"];

/// Tags of rules about hiding, persisting, or evading oversight and shutdown.
const EVASION_TAGS: &[&str] = &[
    "attack.defense-evasion",
    "attack.persistence",
    "attack.t1489",
    "attack.t1562",
];

/// What the grading needs of an alert (or of a person's report).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signal {
    /// The alert (or report) event's id.
    pub id: String,
    pub rule: String,
    pub title: String,
    /// The rule's Sigma level (`informational` … `critical`).
    pub level: String,
    pub tags: Vec<String>,
    /// Classes the session had touched when the rule fired.
    pub classes: BTreeSet<String>,
    /// The actions of the event that raised the alert.
    pub actions: Vec<Action>,
    pub agent: String,
    pub session: Option<String>,
    pub workflow: Option<String>,
    pub ts_nanos: i64,
    /// Ids of the events the rule matched (the first harmful event is among them).
    pub matched: Vec<String>,
    /// The call was not run (denied, blocked or contained): an attempt.
    pub prevented: bool,
}

impl Signal {
    /// The signal of an `alert` event as the gateway builds it (before it is stored).
    pub fn from_new(e: &NewEvent) -> Signal {
        let mut s = from_attrs(&e.attrs);
        s.id = e.id.map(|i| i.to_string()).unwrap_or_default();
        s.actions.clone_from(&e.actions);
        s.agent.clone_from(&e.agent);
        s.session.clone_from(&e.session);
        s.workflow.clone_from(&e.workflow);
        s.ts_nanos = e.ts.map_or(0, |t| t.unix_nanos());
        s
    }

    /// The signal of a stored `alert` event; `None` for other kinds.
    pub fn from_event(e: &Event) -> Option<Signal> {
        if e.kind != EventKind::Alert {
            return None;
        }
        let mut s = from_attrs(&e.attrs);
        s.id = e.id.to_string();
        s.actions.clone_from(&e.actions);
        s.agent.clone_from(&e.agent);
        s.session.clone_from(&e.session);
        s.workflow.clone_from(&e.workflow);
        s.ts_nanos = e.ts.unix_nanos();
        Some(s)
    }
}

fn from_attrs(attrs: &std::collections::BTreeMap<String, Value>) -> Signal {
    let text = |k: &str| {
        attrs
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let list = |k: &str| -> Vec<String> {
        attrs
            .get(k)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    Signal {
        rule: text("rule_id"),
        title: text("title"),
        level: text("level"),
        tags: list("tags"),
        classes: list("classes").into_iter().collect(),
        matched: list("matched"),
        prevented: attrs.get("prevented").and_then(Value::as_bool) == Some(true),
        ..Signal::default()
    }
}

/// A signal's severity and why.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graded {
    pub severity: Severity,
    pub reasons: Vec<String>,
    pub outcomes: BTreeSet<Outcome>,
    pub classes: BTreeSet<String>,
    /// Targets and destinations the signal's actions reached.
    pub resources: BTreeSet<String>,
}

impl Graded {
    fn raise(&mut self, to: Severity, reason: String) {
        self.severity = self.severity.max(to);
        if !self.reasons.contains(&reason) {
            self.reasons.push(reason);
        }
    }
}

/// The floor a rule level gives.
pub fn level_floor(level: &str) -> Severity {
    match level {
        "critical" | "high" => Severity::SecurityIncident,
        "medium" => Severity::PolicyViolation,
        _ => Severity::Advisory,
    }
}

/// Grades one signal, with the register's data classes and boundary when there is one.
pub fn grade(s: &Signal, register: Option<&Register>) -> Graded {
    let mut g = Graded {
        classes: s.classes.clone(),
        ..Graded::default()
    };
    let floor = level_floor(&s.level);
    g.raise(
        floor,
        format!(
            "rule {} ({}) is level {}: {} at least",
            s.rule, s.title, s.level, floor
        ),
    );
    let stopped = if s.prevented {
        " (stopped before it ran)"
    } else {
        ""
    };
    for a in &s.actions {
        g.resources.insert(a.target.clone());
        if let Some(d) = &a.dest {
            g.resources.insert(d.clone());
        }
        let target_classes = register
            .map(|r| r.classes_of(&a.target))
            .unwrap_or_default();
        g.classes.extend(target_classes.iter().cloned());
        if !target_classes.is_empty() {
            grade_classified(&mut g, a, &target_classes, stopped, s.prevented);
        }
        if leaves_boundary(a, register) && !g.classes.is_empty() {
            let classes = g.classes.clone();
            copied_out(&mut g, a, &classes, stopped, s.prevented);
        }
    }
    if s.tags.iter().any(|t| is_evasion_tag(t)) || s.actions.iter().any(is_evasion_action) {
        if !s.prevented {
            g.outcomes.insert(Outcome::Evasion);
        }
        g.raise(
            Severity::SecurityIncident,
            format!(
                "the agent tried to hide, persist or evade oversight or shutdown ({}){stopped}",
                s.title
            ),
        );
    }
    g
}

fn is_evasion_tag(t: &str) -> bool {
    EVASION_TAGS
        .iter()
        .any(|e| t == *e || t.strip_prefix(e).is_some_and(|r| r.starts_with('.')))
}

fn is_evasion_action(a: &Action) -> bool {
    matches!(
        a.action,
        ActionKind::MonitorTamper | ActionKind::PersistSchedule
    )
}

fn classes_text(c: &BTreeSet<String>) -> String {
    c.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn grade_classified(
    g: &mut Graded,
    a: &Action,
    classes: &BTreeSet<String>,
    stopped: &str,
    prevented: bool,
) {
    let what = classes_text(classes);
    let verb = |done: &str, attempt: &str| {
        if prevented {
            attempt.to_string()
        } else {
            done.to_string()
        }
    };
    let altering = a.action.mutates()
        && !matches!(
            a.action,
            ActionKind::FileCopy | ActionKind::BackupCreate | ActionKind::ArchiveCreate
        );
    if altering {
        if !prevented {
            g.outcomes.insert(Outcome::Altered);
        }
        g.raise(
            Severity::SecurityIncident,
            format!(
                "the agent {} {what} data: {a}{stopped}",
                verb("altered", "tried to alter")
            ),
        );
    } else {
        if !prevented {
            g.outcomes.insert(Outcome::Exposed);
        }
        g.raise(
            Severity::PolicyViolation,
            format!(
                "the agent {} {what} data: {a}{stopped}",
                verb("reached", "tried to reach")
            ),
        );
    }
}

/// Does the action send or put data outside the organization's boundary?
fn leaves_boundary(a: &Action, register: Option<&Register>) -> bool {
    let outward = matches!(
        a.action,
        ActionKind::NetEgress | ActionKind::MessageSend | ActionKind::DataExport
    ) || (matches!(
        a.action,
        ActionKind::FileCopy | ActionKind::BackupCreate | ActionKind::ArchiveCreate
    ) && a.dest.as_deref().is_some_and(|d| !d.starts_with('/')));
    if !outward {
        return false;
    }
    let dest = a.dest.as_deref().unwrap_or(&a.target);
    match register {
        Some(r) => !r.is_internal(dest),
        // Without a register every destination is outside: fail towards the graver reading.
        None => true,
    }
}

fn copied_out(
    g: &mut Graded,
    a: &Action,
    classes: &BTreeSet<String>,
    stopped: &str,
    prevented: bool,
) {
    let what = classes_text(classes);
    let copied = if prevented { "tried to copy" } else { "copied" };
    let dest = a.dest.as_deref().unwrap_or(&a.target);
    let reportable = classes
        .iter()
        .any(|c| REPORTABLE_CLASSES.contains(&c.as_str()));
    let to = if reportable && !prevented {
        Severity::ReportableBreach
    } else {
        Severity::SecurityIncident
    };
    if !prevented {
        g.outcomes.insert(Outcome::CopiedOut);
    }
    g.raise(
        to,
        format!("the agent {copied} {what} data outside its boundary, to {dest}{stopped}"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn register() -> Register {
        Register::parse(
            r#"
internal_domains = ["contoso.com"]
[[resource]]
name = "vault"
paths = ["/srv/secrets/**"]
classes = ["secrets"]
[[resource]]
name = "crm"
paths = ["/data/customers/**"]
classes = ["pii"]
"#,
            "t.toml",
        )
        .unwrap()
    }

    fn signal(level: &str, actions: Vec<Action>) -> Signal {
        Signal {
            rule: "r".into(),
            title: "t".into(),
            level: level.into(),
            actions,
            ..Signal::default()
        }
    }

    #[test]
    fn level_is_the_floor() {
        let g = grade(&signal("medium", vec![]), None);
        assert_eq!(g.severity, Severity::PolicyViolation);
        assert_eq!(
            grade(&signal("low", vec![]), None).severity,
            Severity::Advisory
        );
        assert_eq!(
            grade(&signal("critical", vec![]), None).severity,
            Severity::SecurityIncident
        );
    }

    #[test]
    fn altering_secrets_is_a_security_incident() {
        let r = register();
        let a = Action::new(ActionKind::FileWrite, "/srv/secrets/db.env");
        let g = grade(&signal("low", vec![a]), Some(&r));
        assert_eq!(g.severity, Severity::SecurityIncident);
        assert!(g.outcomes.contains(&Outcome::Altered));
        assert!(
            g.reasons.iter().any(|r| r.contains("altered secrets data")),
            "{:?}",
            g.reasons
        );
    }

    #[test]
    fn pii_out_is_reportable_unless_stopped() {
        let r = register();
        let mut s = signal(
            "medium",
            vec![Action::new(
                ActionKind::NetEgress,
                "https://paste.example.net/x",
            )],
        );
        s.classes.insert("pii".into());
        let g = grade(&s, Some(&r));
        assert_eq!(g.severity, Severity::ReportableBreach);
        assert!(g.outcomes.contains(&Outcome::CopiedOut));
        s.prevented = true;
        let g = grade(&s, Some(&r));
        assert_eq!(g.severity, Severity::SecurityIncident);
        assert!(g.outcomes.is_empty());
        assert!(
            g.reasons.iter().any(|r| r.contains("tried to copy pii")),
            "{:?}",
            g.reasons
        );
    }

    #[test]
    fn internal_destinations_are_not_out() {
        let r = register();
        let mut s = signal(
            "low",
            vec![Action::new(ActionKind::MessageSend, "bob@contoso.com")],
        );
        s.classes.insert("pii".into());
        assert_eq!(grade(&s, Some(&r)).severity, Severity::Advisory);
    }

    #[test]
    fn evasion_raises() {
        let mut s = signal("low", vec![]);
        s.tags.push("attack.t1562.001".into());
        let g = grade(&s, None);
        assert_eq!(g.severity, Severity::SecurityIncident);
        assert!(g.outcomes.contains(&Outcome::Evasion));
    }
}
