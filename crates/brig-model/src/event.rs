//! The event: one type for everything that enters the ledger.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::action::Action;
use crate::canonical::{canonical_json, CanonicalError};
use crate::ids::EventId;
use crate::payload::{Blob, PayloadRef};
use crate::time::Timestamp;

/// Version of the event schema written into every leaf (`"v"`).
pub const SCHEMA_VERSION: u32 = 1;

/// Longest identifier (agent, session, workflow, source, tool, call id) in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// Largest canonical leaf in bytes. Bulk belongs in payloads, which are not in the leaf.
pub const MAX_LEAF_LEN: usize = 64 * 1024;

/// Longest payload part name, in bytes.
const MAX_PART_NAME_LEN: usize = 64;

/// What kind of thing happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A prompt or declared task given to the agent (system or user message).
    #[serde(rename = "agent.prompt")]
    AgentPrompt,
    /// Text or a plan the model produced.
    #[serde(rename = "model.output")]
    ModelOutput,
    /// The agent asked to run a tool.
    #[serde(rename = "tool.call")]
    ToolCall,
    /// A tool returned (result or error).
    #[serde(rename = "tool.result")]
    ToolResult,
    /// A protocol message not otherwise typed (MCP initialize, tools/list, notifications).
    #[serde(rename = "protocol.message")]
    ProtocolMessage,
    /// Brig's policy decided on a call: allow, deny, or hold for approval.
    #[serde(rename = "policy.decision")]
    PolicyDecision,
    /// A held call is waiting for a human.
    #[serde(rename = "approval.request")]
    ApprovalRequest,
    /// A human approved or denied a held call.
    #[serde(rename = "approval.decision")]
    ApprovalDecision,
    /// A file changed (observed by a watcher or diffed after a call).
    #[serde(rename = "file.change")]
    FileChange,
    /// An operator did something: contain, release, erase, token changes.
    #[serde(rename = "operator.action")]
    OperatorAction,
    /// Brig responded on its own: containment, playbook step.
    #[serde(rename = "response.action")]
    ResponseAction,
    /// A person reported something the agent did.
    #[serde(rename = "human.report")]
    HumanReport,
    /// A detection rule fired.
    #[serde(rename = "alert")]
    Alert,
    /// An incident changed state or severity.
    #[serde(rename = "incident.transition")]
    IncidentTransition,
}

impl EventKind {
    pub const ALL: &'static [EventKind] = &[
        EventKind::AgentPrompt,
        EventKind::ModelOutput,
        EventKind::ToolCall,
        EventKind::ToolResult,
        EventKind::ProtocolMessage,
        EventKind::PolicyDecision,
        EventKind::ApprovalRequest,
        EventKind::ApprovalDecision,
        EventKind::FileChange,
        EventKind::OperatorAction,
        EventKind::ResponseAction,
        EventKind::HumanReport,
        EventKind::Alert,
        EventKind::IncidentTransition,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::AgentPrompt => "agent.prompt",
            EventKind::ModelOutput => "model.output",
            EventKind::ToolCall => "tool.call",
            EventKind::ToolResult => "tool.result",
            EventKind::ProtocolMessage => "protocol.message",
            EventKind::PolicyDecision => "policy.decision",
            EventKind::ApprovalRequest => "approval.request",
            EventKind::ApprovalDecision => "approval.decision",
            EventKind::FileChange => "file.change",
            EventKind::OperatorAction => "operator.action",
            EventKind::ResponseAction => "response.action",
            EventKind::HumanReport => "human.report",
            EventKind::Alert => "alert",
            EventKind::IncidentTransition => "incident.transition",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a policy or approval decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
    /// Held until a human approves or denies.
    Hold,
}

/// A decision and why it was taken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub effect: Effect,
    /// Ids of the policies or rules that determined the effect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An event as it arrives: payloads inline, id and time optional.
///
/// This is Brig's event JSON, one object per line in `brig ingest` files:
///
/// ```json
/// {"source":"mcp-proxy","agent":"repo-assistant","session":"s-42","kind":"tool.call",
///  "tool":"write_file","call":"7",
///  "actions":[{"action":"file.write","target":"/srv/app/config.yaml"}],
///  "payload":{"arguments":{"path":"/srv/app/config.yaml","content":"…"}}}
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<EventId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<Timestamp>,
    pub source: String,
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payload: BTreeMap<String, Value>,
}

/// An event as the ledger records it: the leaf.
///
/// Fields that rules and timelines need stay here in the clear; payloads are replaced by
/// [`PayloadRef`]s. Its canonical JSON is what the Merkle tree hashes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    // Fields are declared in RFC 8785 key order (sorted), so that plain serde output is
    // already canonical in the common case; see `Event::canonical_bytes`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    pub agent: String,
    /// Small metadata rules and timelines need (status, exit code, rule id, severity …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attrs: BTreeMap<String, Value>,
    /// Correlates a call with its decision, approval and result (JSON-RPC id, tool call id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub id: EventId,
    pub kind: EventKind,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub payload: BTreeMap<String, PayloadRef>,
    /// Payload parts that hold secrets, with the kinds found in each ([`crate::secrets`]),
    /// never the values. Set when the event is sealed, so it is bound by the leaf hash;
    /// absent (and the leaf byte for byte as before) when no part holds one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, BTreeSet<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    pub source: String,
    /// Tool name as the agent called it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    pub ts: Timestamp,
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
}

/// Why an event was refused. Names the field and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("field `{field}`: {reason}")]
    Field { field: String, reason: String },
    #[error("event is {size} bytes without its payloads; the limit is {MAX_LEAF_LEN} (put bulk into `payload`)")]
    TooLarge { size: usize },
    #[error(transparent)]
    Canonical(#[from] CanonicalError),
}

fn field_err(field: impl Into<String>, reason: impl Into<String>) -> ValidationError {
    ValidationError::Field {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_name(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(field_err(field, "must not be empty"));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(field_err(
            field,
            format!("{} bytes long; the limit is {MAX_NAME_LEN}", value.len()),
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(field_err(
            field,
            format!("contains control character U+{:04X}", c as u32),
        ));
    }
    Ok(())
}

fn check_opt_name(field: &str, value: &Option<String>) -> Result<(), ValidationError> {
    value.as_deref().map_or(Ok(()), |v| check_name(field, v))
}

fn check_part_name(name: &str) -> Result<(), ValidationError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_PART_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(field_err(
            format!("payload.{name}"),
            format!("part names are 1-{MAX_PART_NAME_LEN} characters of a-z 0-9 _ . -"),
        ))
    }
}

impl NewEvent {
    /// A minimal event; set the optional fields directly.
    pub fn new(source: impl Into<String>, agent: impl Into<String>, kind: EventKind) -> Self {
        NewEvent {
            v: None,
            id: None,
            ts: None,
            source: source.into(),
            agent: agent.into(),
            workflow: None,
            session: None,
            kind,
            tool: None,
            call: None,
            actions: Vec::new(),
            decision: None,
            attrs: BTreeMap::new(),
            payload: BTreeMap::new(),
        }
    }

    /// Checks every field, assigns id and time when missing, and moves each payload part into
    /// a salted blob. Returns the leaf event and the blobs to store beside it, each with its
    /// part name, in part-name order.
    pub fn seal(self) -> Result<(Event, Vec<(String, Blob)>), ValidationError> {
        self.validate()?;
        let mut blobs = Vec::with_capacity(self.payload.len());
        let mut payload = BTreeMap::new();
        let mut secrets = BTreeMap::new();
        for (name, value) in self.payload {
            let kinds = crate::secrets::scan_value(&value);
            if !kinds.is_empty() {
                secrets.insert(name.clone(), kinds);
            }
            let bytes = if plain_value(&value) {
                serde_json::to_vec(&value).map_err(CanonicalError::from)?
            } else {
                canonical_json(&value)?
            };
            let blob = Blob::seal(bytes);
            payload.insert(name.clone(), blob.payload_ref());
            blobs.push((name, blob));
        }
        let event = Event {
            v: SCHEMA_VERSION,
            id: self.id.unwrap_or_default(),
            ts: self.ts.unwrap_or_else(Timestamp::now),
            source: self.source,
            agent: self.agent,
            workflow: self.workflow,
            session: self.session,
            kind: self.kind,
            tool: self.tool,
            call: self.call,
            actions: self.actions,
            decision: self.decision,
            attrs: self.attrs,
            payload,
            secrets,
        };
        Ok((event, blobs))
    }

    /// Checks the event as [`NewEvent::seal`] does, without sealing it (no salting or
    /// hashing): for a sender that must refuse an event before it travels.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(v) = self.v {
            if v != SCHEMA_VERSION {
                return Err(field_err(
                    "v",
                    format!(
                        "schema version {v} is not supported; this Brig writes {SCHEMA_VERSION}"
                    ),
                ));
            }
        }
        check_name("source", &self.source)?;
        check_name("agent", &self.agent)?;
        check_opt_name("workflow", &self.workflow)?;
        check_opt_name("session", &self.session)?;
        check_opt_name("tool", &self.tool)?;
        check_opt_name("call", &self.call)?;
        match self.kind {
            EventKind::ToolCall | EventKind::ToolResult if self.tool.is_none() => {
                return Err(field_err(
                    "tool",
                    format!("required for {} events", self.kind),
                ));
            }
            EventKind::PolicyDecision | EventKind::ApprovalDecision if self.decision.is_none() => {
                return Err(field_err(
                    "decision",
                    format!("required for {} events", self.kind),
                ));
            }
            _ => {}
        }
        for (i, a) in self.actions.iter().enumerate() {
            if a.target.is_empty() {
                return Err(field_err(
                    format!("actions[{i}].target"),
                    "must not be empty",
                ));
            }
        }
        for name in self.payload.keys() {
            check_part_name(name)?;
        }
        Ok(())
    }
}

impl Event {
    /// The leaf bytes: RFC 8785 canonical JSON. Refuses leaves over [`MAX_LEAF_LEN`].
    ///
    /// Fast path: with fields declared in sorted order and maps kept sorted, serde's output
    /// *is* the RFC 8785 form (same string escaping) unless a float or a key that sorts
    /// differently in UTF-16 appears in the free-form `attrs`; those events go through the
    /// general canonicalizer. Tests hold the two paths equal.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, ValidationError> {
        let bytes = if self.serde_form_is_canonical() {
            serde_json::to_vec(self)
                .map_err(|e| ValidationError::Canonical(CanonicalError::from(e)))?
        } else {
            canonical_json(self)?
        };
        if bytes.len() > MAX_LEAF_LEN {
            return Err(ValidationError::TooLarge { size: bytes.len() });
        }
        Ok(bytes)
    }

    fn serde_form_is_canonical(&self) -> bool {
        self.attrs.iter().all(plain_entry)
            && self.actions.iter().all(|a| a.attrs.iter().all(plain_entry))
    }

    /// Parses leaf bytes and checks they are exactly the canonical form of what they say.
    pub fn from_leaf(bytes: &[u8]) -> Result<Event, String> {
        let event: Event = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let again = canonical_json(&event).map_err(|e| e.to_string())?;
        if again != bytes {
            return Err("leaf is valid JSON but not in canonical (RFC 8785) form".into());
        }
        Ok(event)
    }
}

/// True when serde writes this map entry exactly as RFC 8785 would: no floats (number
/// formatting differs), no key characters at or above U+E000 (UTF-16 order differs from
/// code-point order only there), and nested objects already in key order.
fn plain_entry((key, value): (&String, &Value)) -> bool {
    plain_key(key) && plain_value(value)
}

fn plain_key(key: &str) -> bool {
    key.chars().all(|c| c < '\u{E000}')
}

fn plain_value(v: &Value) -> bool {
    match v {
        Value::Number(n) => !n.is_f64(),
        Value::Array(a) => a.iter().all(plain_value),
        // serde_json keeps object keys sorted unless some crate in the build enables its
        // `preserve_order` feature (Cedar does); then keys come in insertion order.
        Value::Object(o) => o.keys().is_sorted() && o.iter().all(plain_entry),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::ActionKind;
    use serde_json::json;

    fn call() -> NewEvent {
        let mut e = NewEvent::new("mcp-proxy", "repo-assistant", EventKind::ToolCall);
        e.session = Some("s-1".into());
        e.tool = Some("write_file".into());
        e.actions
            .push(Action::new(ActionKind::FileWrite, "/srv/app/config.yaml"));
        e.payload.insert(
            "arguments".into(),
            json!({"path": "/srv/app/config.yaml", "content": "debug: true\n"}),
        );
        e
    }

    #[test]
    fn seal_moves_payloads_out_of_the_leaf() {
        let (event, blobs) = call().seal().unwrap();
        let leaf = String::from_utf8(event.canonical_bytes().unwrap()).unwrap();
        assert!(!leaf.contains("debug: true"), "{leaf}");
        assert_eq!(blobs.len(), 1);
        assert_eq!(event.payload["arguments"], blobs[0].1.payload_ref());
        assert_eq!(blobs[0].0, "arguments");
        assert_eq!(
            blobs[0].1.data,
            br#"{"content":"debug: true\n","path":"/srv/app/config.yaml"}"#
        );
        assert_eq!(
            Event::from_leaf(leaf.as_bytes()).unwrap(),
            event,
            "leaf parses back to the same event"
        );
    }

    #[test]
    fn same_event_same_bytes() {
        let (event, _) = call().seal().unwrap();
        let json = serde_json::to_string_pretty(&event).unwrap();
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.canonical_bytes().unwrap(),
            event.canonical_bytes().unwrap()
        );
    }

    #[test]
    fn non_canonical_leaf_is_refused() {
        let (event, _) = call().seal().unwrap();
        let pretty = serde_json::to_vec_pretty(&event).unwrap();
        assert!(Event::from_leaf(&pretty).unwrap_err().contains("canonical"));
    }

    #[test]
    fn validation_names_the_field() {
        let mut e = call();
        e.agent = String::new();
        assert_eq!(
            e.seal().unwrap_err().to_string(),
            "field `agent`: must not be empty"
        );
        let mut e = call();
        e.tool = None;
        assert!(e.seal().unwrap_err().to_string().contains("`tool`"));
        let mut e = call();
        e.session = Some("a\u{7}b".into());
        assert!(e.seal().unwrap_err().to_string().contains("U+0007"));
        let mut e = call();
        e.payload.insert("Bad Name".into(), json!(1));
        assert!(e
            .seal()
            .unwrap_err()
            .to_string()
            .contains("payload.Bad Name"));
    }

    #[test]
    fn unknown_fields_and_kinds_are_refused() {
        let err = serde_json::from_str::<NewEvent>(
            r#"{"source":"x","agent":"a","kind":"tool.call","tool":"t","colour":"red"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
        let err =
            serde_json::from_str::<NewEvent>(r#"{"source":"x","agent":"a","kind":"tool.cal"}"#)
                .unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `tool.cal`"),
            "{err}"
        );
    }

    #[test]
    fn oversize_leaf_is_refused() {
        let mut e = call();
        e.attrs
            .insert("note".into(), json!("x".repeat(MAX_LEAF_LEN)));
        let (event, _) = e.seal().unwrap();
        assert!(matches!(
            event.canonical_bytes(),
            Err(ValidationError::TooLarge { .. })
        ));
    }

    #[test]
    fn fast_canonical_path_equals_rfc8785() {
        let mut e = call();
        e.call = Some("7".into());
        e.workflow = Some("w".into());
        e.decision = Some(Decision {
            effect: Effect::Hold,
            policies: vec!["p1".into()],
            reason: Some("needs approval: \"quoted\"\n\u{1}\u{7f}\u{2028}é".into()),
        });
        e.actions[0].dest = Some("/tmp/x".into());
        e.actions[0].attrs.insert("mode".into(), json!("0777"));
        e.attrs.insert("exit_code".into(), json!(-1));
        e.attrs.insert(
            "nested".into(),
            json!({"A": "x", "z": [1, {"a": true, "b": null}]}),
        );
        let (event, _) = e.clone().seal().unwrap();
        assert!(event.serde_form_is_canonical());
        assert_eq!(
            event.canonical_bytes().unwrap(),
            canonical_json(&event).unwrap()
        );
        // Floats, keys past U+E000 and objects whose keys are out of order (as parsed when a
        // crate in the build turns on serde_json's `preserve_order`) take the general path,
        // and still come out canonical.
        let unsorted: Value = serde_json::from_str(r#"{"z": 1, "a": {"y": 2, "b": 3}}"#).unwrap();
        let keys_kept_in_input_order = !unsorted.as_object().unwrap().keys().is_sorted();
        for (k, v) in [
            ("ratio", json!(0.000001)),
            ("big", json!(1e21)),
            ("\u{10000}", json!(1)),
            ("\u{e000}", json!(2)),
            ("unsorted", unsorted),
        ] {
            let mut e2 = e.clone();
            e2.attrs.insert(k.into(), v);
            let (event, _) = e2.seal().unwrap();
            if k != "unsorted" || keys_kept_in_input_order {
                assert!(!event.serde_form_is_canonical(), "{k}");
            }
            assert_eq!(
                event.canonical_bytes().unwrap(),
                canonical_json(&event).unwrap()
            );
            assert!(Event::from_leaf(&event.canonical_bytes().unwrap()).is_ok());
        }
    }

    #[test]
    fn seal_records_which_parts_hold_secrets_and_never_the_values() {
        let mut e = call();
        e.payload.insert(
            "result".into(),
            json!({"stdout": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\npassword=hunter2x"}),
        );
        let (event, _) = e.seal().unwrap();
        let leaf = String::from_utf8(event.canonical_bytes().unwrap()).unwrap();
        assert!(
            leaf.contains(r#""secrets":{"result":["aws-access-key-id","password-field"]}"#),
            "{leaf}"
        );
        assert!(!leaf.contains("AKIAIOSFODNN7EXAMPLE") && !leaf.contains("hunter2x"));
        assert_eq!(Event::from_leaf(leaf.as_bytes()).unwrap(), event);
        // No secret: no field, so leaves written before the field existed read the same.
        let (plain, _) = call().seal().unwrap();
        let bytes = plain.canonical_bytes().unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("secrets"));
        assert!(Event::from_leaf(&bytes).is_ok());
    }

    #[test]
    fn kinds_round_trip() {
        for k in EventKind::ALL {
            let j = serde_json::to_string(k).unwrap();
            assert_eq!(j, format!("\"{}\"", k.as_str()));
        }
    }
}
