//! Incidents: what a team works, built from the alerts Brig records.
//!
//! An alert is a signal; an incident is a case. This crate
//!
//! - grades each alert into a [`Severity`] with the reasons for it ([`grade`]): the rule's
//!   level gives a floor, what happened raises it (classified data touched, altered or copied
//!   outside its boundary; attempts to hide, persist or evade shutdown);
//! - groups alerts into incidents by agent, session or workflow within a window ([`desk`]),
//!   keeping each incident's lifecycle (first harmful event, detected, acknowledged,
//!   contained, eradicated, recovered, closed), owner, notes and verdict in the store, every
//!   change also an `incident.transition` event in the ledger;
//! - runs the playbook when an incident is grave enough ([`playbook`]): evidence first (a
//!   state snapshot in the ledger and a signed checkpoint), then containment of the agent,
//!   its workflow frozen, its held approvals cancelled, named paths quarantined, each step a
//!   `response.action` event with its timing;
//! - answers the incident commander's first questions from the ledger ([`questions`]);
//! - lists the reporting obligations an incident may trigger, with deadlines
//!   ([`clocks`]: candidates for legal review, not legal advice);
//! - pushes incidents to a webhook, TheHive or DFIR-IRIS ([`notify`]).

#![forbid(unsafe_code)]

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use brig_register::Severity;

pub mod clocks;
pub mod desk;
pub mod drills;
pub mod grade;
pub mod metrics;
pub mod notify;
pub mod playbook;
pub mod postmortem;
pub mod questions;
pub mod readiness;
pub mod switch;

/// Something that happened in an incident that makes it graver than its rules' levels say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Classified data was read or reached (exposed to the agent).
    Exposed,
    /// Data was changed, deleted, moved or had its permissions changed.
    Altered,
    /// Data left its boundary: sent, uploaded or copied to an outside destination.
    CopiedOut,
    /// The agent tried to hide, persist, or evade monitoring or shutdown.
    Evasion,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Exposed => "exposed",
            Outcome::Altered => "altered",
            Outcome::CopiedOut => "copied_out",
            Outcome::Evasion => "evasion",
        }
    }
}

/// Where an incident is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Open,
    Acknowledged,
    Contained,
    Eradicated,
    Recovered,
    Closed,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::Contained => "contained",
            State::Eradicated => "eradicated",
            State::Recovered => "recovered",
            State::Closed => "closed",
        }
    }
}

/// When each step of an incident's life happened (ns since the Unix epoch).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Times {
    /// The earliest event an alert of the incident matched.
    pub first_harmful: Option<i64>,
    /// The first alert.
    pub detected: Option<i64>,
    pub acknowledged: Option<i64>,
    pub contained: Option<i64>,
    pub eradicated: Option<i64>,
    pub recovered: Option<i64>,
    pub closed: Option<i64>,
}

impl Times {
    /// Each step with its name, in lifecycle order.
    pub fn steps(&self) -> [(&'static str, Option<i64>); 7] {
        [
            ("first harmful event", self.first_harmful),
            ("detected", self.detected),
            ("acknowledged", self.acknowledged),
            ("contained", self.contained),
            ("eradicated", self.eradicated),
            ("recovered", self.recovered),
            ("closed", self.closed),
        ]
    }
}

/// An incident as the store keeps it (its JSON is the `doc` column).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// `INC-` and a UUIDv7: sortable by opening time.
    pub id: String,
    pub title: String,
    pub agent: String,
    /// The sessions its alerts came from.
    pub sessions: BTreeSet<String>,
    pub workflow: Option<String>,
    pub severity: Severity,
    /// Why the severity is what it is, one line per reason, in the order they were found.
    pub reasons: Vec<String>,
    pub state: State,
    pub owner: Option<String>,
    /// `true_positive`, `false_positive`, `benign`, … once closed.
    pub verdict: Option<String>,
    pub legal_hold: bool,
    /// Data classes (from the risk register) of what the incident's alerts touched.
    pub classes: BTreeSet<String>,
    pub outcomes: BTreeSet<Outcome>,
    /// Targets the alerts' events reached (paths, hosts, addresses, datasets).
    pub resources: BTreeSet<String>,
    /// The agents, workflows and people involved (`agent:…`, `workflow:…`, `reporter:…`).
    pub identities: BTreeSet<String>,
    /// Rule ids that fired (and `human-report` for a person's report).
    pub rules: BTreeSet<String>,
    /// Ids of the incident's alert and report events, in the order they joined.
    pub alerts: Vec<String>,
    pub times: Times,
}
