//! Agent sessions from OpenTelemetry traces (OTLP, GenAI semantic conventions).
//!
//! Many agent runtimes already emit traces; Brig reads them as it reads its own events, so
//! detection runs the same way on a trace file (`brig detect --input`) as on spans exported
//! live to `brig serve` (`/v1/traces`). Both wire encodings come to one [`Span`] first —
//! OTLP/JSON here, protobuf in [`proto`] — and one mapping turns spans into events:
//!
//! | span | event |
//! |---|---|
//! | `gen_ai.operation.name = invoke_agent` | `agent.prompt`: payload `task` = the user messages of `gen_ai.input.messages` (the declared task), `system` = the system messages |
//! | `gen_ai.operation.name = execute_tool` (or `mcp.method.name = tools/call`) | `tool.call` (tool `gen_ai.tool.name`, required; call `gen_ai.tool.call.id`, payload `arguments` = `gen_ai.tool.call.arguments` parsed as JSON, actions normalized) and, when the span carries `gen_ai.tool.call.result` or an error, a `tool.result` (payload `result`, attrs `status` `ok`/`error`, `error_type`) |
//! | `gen_ai.operation.name = chat`, `text_completion` or `generate_content` | `model.output` when the span carries `gen_ai.output.messages`: payload `text` = the assistant's text parts, attr `model`; nothing otherwise |
//! | another MCP request (`mcp.method.name`) | `protocol.message`, attr `method` |
//! | any other span | nothing |
//!
//! The session is `gen_ai.conversation.id`, else `mcp.session.id`, else the trace id; the
//! agent is `gen_ai.agent.name`, else the resource's `service.name`. Each event keeps the
//! span it came from in attrs `trace_id` and `span_id` (and `mcp_method`, `mcp_session`
//! when present), so an alert names spans an analyst can find in their tracing tool. Events
//! are returned in time order within each resource.
//!
//! A span the mapping cannot read (no start time, an `execute_tool` span without
//! `gen_ai.tool.name`, input messages that are not JSON) is a [`Rejected`] span: a file
//! reader stops on it, the server counts and reports it.
//!
//! Input files are one `ExportTraceServiceRequest` JSON document, or one per line (JSONL).

pub mod proto;

use std::collections::BTreeMap;

use brig_model::{EventKind, NewEvent, Timestamp};
use serde_json::{json, Value};

use crate::normalize::{normalize, ToolContext};

/// `source` of events read from traces.
pub const SOURCE: &str = "otlp";

/// Why a trace document could not be read.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    #[error("line {line}: not JSON: {reason}")]
    Json { line: usize, reason: String },
    #[error("line {line}: not an OTLP ExportTraceServiceRequest (no `resourceSpans` array)")]
    NotOtlp { line: usize },
    #[error("line {line}: span {span}: {reason}")]
    Span {
        line: usize,
        span: String,
        reason: String,
    },
}

/// One span as the mapping reads it, whatever the wire encoding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Span {
    /// Lowercase hex, as OTLP/JSON writes it.
    pub trace_id: String,
    pub span_id: String,
    pub start_nanos: Option<u64>,
    pub end_nanos: Option<u64>,
    /// Status code ERROR.
    pub failed: bool,
    /// Attributes as plain JSON values.
    pub attrs: BTreeMap<String, Value>,
}

/// The spans of one resource (one process emitting them).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceSpans {
    pub resource: BTreeMap<String, Value>,
    pub spans: Vec<Span>,
}

/// A span the mapping could not read, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub span_id: String,
    pub reason: String,
}

/// One export mapped: the events of each span read (in time order; a span that is not a
/// GenAI operation has none), and the spans rejected.
#[derive(Debug, Default)]
pub struct Mapped {
    pub spans: Vec<Vec<NewEvent>>,
    pub rejected: Vec<Rejected>,
}

impl Mapped {
    /// Every event, in order.
    pub fn events(self) -> impl Iterator<Item = NewEvent> {
        self.spans.into_iter().flatten()
    }
}

/// Reads every GenAI span of a trace file (one document, or one per line) as events.
pub fn read(input: &str) -> Result<Vec<NewEvent>, OtlpError> {
    let trimmed = input.trim_start();
    // A pretty-printed single document spans many lines; JSONL has one per line.
    if let Ok(doc) = serde_json::from_str::<Value>(trimmed) {
        return read_document(&doc, 1);
    }
    let mut events = Vec::new();
    for (i, line) in input.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let doc: Value = serde_json::from_str(line).map_err(|e| OtlpError::Json {
            line: i + 1,
            reason: e.to_string(),
        })?;
        events.extend(read_document(&doc, i + 1)?);
    }
    Ok(events)
}

/// Reads one `ExportTraceServiceRequest`; the first span that cannot be read is an error.
pub fn read_document(doc: &Value, line: usize) -> Result<Vec<NewEvent>, OtlpError> {
    let mapped = map(&from_json(doc).ok_or(OtlpError::NotOtlp { line })?);
    if let Some(r) = mapped.rejected.into_iter().next() {
        return Err(OtlpError::Span {
            line,
            span: r.span_id,
            reason: r.reason,
        });
    }
    Ok(mapped.spans.into_iter().flatten().collect())
}

/// The spans of an OTLP/JSON `ExportTraceServiceRequest`; `None` when it is not one.
pub fn from_json(doc: &Value) -> Option<Vec<ResourceSpans>> {
    let resources = doc.get("resourceSpans").and_then(Value::as_array)?;
    Some(
        resources
            .iter()
            .map(|rs| ResourceSpans {
                resource: attributes(rs.pointer("/resource/attributes")),
                spans: rs
                    .get("scopeSpans")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|ss| ss.get("spans").and_then(Value::as_array))
                    .flatten()
                    .map(json_span)
                    .collect(),
            })
            .collect(),
    )
}

fn json_span(span: &Value) -> Span {
    let text = |k: &str| {
        span.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Span {
        trace_id: text("traceId"),
        span_id: text("spanId"),
        start_nanos: span.get("startTimeUnixNano").and_then(nanos),
        end_nanos: span.get("endTimeUnixNano").and_then(nanos),
        failed: span.pointer("/status/code") == Some(&json!(2)),
        attrs: attributes(span.get("attributes")),
    }
}

/// Maps an export's spans to events: each resource's spans in time order, each span
/// read or rejected on its own.
pub fn map(resources: &[ResourceSpans]) -> Mapped {
    let mut out = Mapped::default();
    for rs in resources {
        let mut spans: Vec<&Span> = rs.spans.iter().collect();
        spans.sort_by_key(|s| s.start_nanos.unwrap_or(0));
        for span in spans {
            match span_events(span, &rs.resource) {
                Ok(events) => out.spans.push(events),
                Err(reason) => out.rejected.push(Rejected {
                    span_id: span.span_id.clone(),
                    reason,
                }),
            }
        }
    }
    out
}

/// Operations whose spans carry a model's answer.
const CHAT: [&str; 3] = ["chat", "text_completion", "generate_content"];

/// The MCP method of a tool call.
const MCP_TOOLS_CALL: &str = "tools/call";

fn span_events(span: &Span, resource: &BTreeMap<String, Value>) -> Result<Vec<NewEvent>, String> {
    let attrs = &span.attrs;
    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let ts = span
        .start_nanos
        .filter(|n| *n > 0)
        .and_then(|n| i64::try_from(n).ok())
        .map(Timestamp::from_unix_nanos)
        .ok_or("no valid startTimeUnixNano")?;
    let agent = text("gen_ai.agent.name")
        .or_else(|| {
            resource
                .get("service.name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown-agent".into());
    let mcp_method = text("mcp.method.name");
    let mcp_session = text("mcp.session.id");
    let session = text("gen_ai.conversation.id")
        .or_else(|| mcp_session.clone())
        .unwrap_or_else(|| span.trace_id.clone());
    let base = |kind: EventKind| {
        let mut e = NewEvent::new(SOURCE, agent.clone(), kind);
        e.ts = Some(ts);
        e.session = Some(session.clone());
        e.attrs.insert("trace_id".into(), json!(span.trace_id));
        e.attrs.insert("span_id".into(), json!(span.span_id));
        if let Some(id) = text("gen_ai.agent.id") {
            e.attrs.insert("agent_id".into(), json!(id));
        }
        if let Some(m) = &mcp_method {
            e.attrs.insert("mcp_method".into(), json!(m));
        }
        if let Some(s) = &mcp_session {
            e.attrs.insert("mcp_session".into(), json!(s));
        }
        e
    };
    let operation = text("gen_ai.operation.name");
    match operation.as_deref() {
        Some("invoke_agent") => {
            let mut e = base(EventKind::AgentPrompt);
            if let Some(messages) = messages(attrs, "gen_ai.input.messages")? {
                for (role, key) in [("user", "task"), ("system", "system")] {
                    let said = role_text(&messages, role);
                    if !said.is_empty() {
                        e.payload.insert(key.into(), json!(said));
                    }
                }
            }
            Ok(vec![e])
        }
        Some("execute_tool") => tool_events(span, base),
        None if mcp_method.as_deref() == Some(MCP_TOOLS_CALL) => tool_events(span, base),
        Some(op) if CHAT.contains(&op) => {
            let Some(messages) = messages(attrs, "gen_ai.output.messages")? else {
                return Ok(Vec::new());
            };
            let mut e = base(EventKind::ModelOutput);
            e.payload
                .insert("text".into(), json!(role_text(&messages, "assistant")));
            if let Some(model) =
                text("gen_ai.response.model").or_else(|| text("gen_ai.request.model"))
            {
                e.attrs.insert("model".into(), json!(model));
            }
            Ok(vec![e])
        }
        None => Ok(match mcp_method.as_deref() {
            Some(m) => {
                let mut e = base(EventKind::ProtocolMessage);
                e.attrs.insert("method".into(), json!(m));
                vec![e]
            }
            None => Vec::new(),
        }),
        _ => Ok(Vec::new()),
    }
}

/// A `tool.call` and, when the span says how it ended, its `tool.result`.
fn tool_events(span: &Span, base: impl Fn(EventKind) -> NewEvent) -> Result<Vec<NewEvent>, String> {
    let attrs = &span.attrs;
    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let tool = text("gen_ai.tool.name").ok_or("no gen_ai.tool.name")?;
    let call = text("gen_ai.tool.call.id").unwrap_or_else(|| span.span_id.clone());
    let arguments = match attrs.get("gen_ai.tool.call.arguments") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(json!(s)),
        Some(other) => other.clone(),
        None => json!({}),
    };
    let mut c = base(EventKind::ToolCall);
    c.tool = Some(tool.clone());
    c.call = Some(call.clone());
    c.actions = normalize(&tool, &arguments, &ToolContext::default());
    c.payload.insert("arguments".into(), arguments);
    let error = text("error.type").or_else(|| span.failed.then(String::new));
    let result = attrs.get("gen_ai.tool.call.result");
    if result.is_none() && error.is_none() {
        return Ok(vec![c]);
    }
    let mut r = base(EventKind::ToolResult);
    if let Some(end) = span
        .end_nanos
        .and_then(|n| i64::try_from(n).ok())
        .map(Timestamp::from_unix_nanos)
    {
        r.ts = Some(end);
    }
    r.tool = Some(tool);
    r.call = Some(call);
    let status = if error.is_some() { "error" } else { "ok" };
    r.attrs.insert("status".into(), json!(status));
    if let Some(kind) = error.filter(|k| !k.is_empty()) {
        r.attrs.insert("error_type".into(), json!(kind));
    }
    if let Some(result) = result {
        r.payload.insert("result".into(), result.clone());
    }
    Ok(vec![c, r])
}

/// A messages attribute (a JSON string, or already structured), when present.
fn messages(attrs: &BTreeMap<String, Value>, key: &str) -> Result<Option<Value>, String> {
    match attrs.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map(Some)
            .map_err(|err| format!("{key} is not JSON: {err}")),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// The text parts of the messages with this role, joined by blank lines.
fn role_text(messages: &Value, role: &str) -> String {
    messages
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some(role))
        .flat_map(|m| {
            m.get("parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|p| p.get("content").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// OTLP/JSON writes 64-bit integers as decimal strings (numbers are accepted too).
fn nanos(v: &Value) -> Option<u64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// An OTLP attribute list as a map of plain JSON values.
fn attributes(list: Option<&Value>) -> BTreeMap<String, Value> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| {
            let key = kv.get("key")?.as_str()?;
            Some((key.to_string(), any_value(kv.get("value")?)))
        })
        .collect()
}

/// An OTLP `AnyValue` as plain JSON.
fn any_value(v: &Value) -> Value {
    if let Some(s) = v.get("stringValue") {
        return s.clone();
    }
    if let Some(b) = v.get("boolValue") {
        return b.clone();
    }
    if let Some(i) = v.get("intValue") {
        // A decimal string in OTLP/JSON; the same number as the protobuf reader's.
        let n = match i {
            Value::String(s) => s.parse::<i64>().ok(),
            other => other.as_i64(),
        };
        return n.map_or_else(|| i.clone(), |n| json!(n));
    }
    if let Some(d) = v.get("doubleValue") {
        return d.clone();
    }
    if let Some(a) = v.pointer("/arrayValue/values").and_then(Value::as_array) {
        return Value::Array(a.iter().map(any_value).collect());
    }
    if let Some(kv) = v.pointer("/kvlistValue/values") {
        return Value::Object(attributes(Some(kv)).into_iter().collect());
    }
    if let Some(b) = v.get("bytesValue") {
        return b.clone();
    }
    Value::Null
}
