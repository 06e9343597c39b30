//! Agent sessions from OpenTelemetry traces (OTLP/JSON, GenAI semantic conventions).
//!
//! Many agent runtimes already emit traces; Brig reads them as it reads its own events, so
//! detection runs the same way on a trace file as on a live gateway. The mapping:
//!
//! | span | event |
//! |---|---|
//! | `gen_ai.operation.name = invoke_agent` | `agent.prompt`: payload `task` = the user messages of `gen_ai.input.messages` (the declared task), `system` = the system messages |
//! | `gen_ai.operation.name = execute_tool` | `tool.call` (tool `gen_ai.tool.name`, call `gen_ai.tool.call.id`, payload `arguments` = `gen_ai.tool.call.arguments` parsed as JSON, actions normalized) and, when the span carries `gen_ai.tool.call.result` or an error, a `tool.result` (payload `result`, attrs `status` `ok`/`error`, `error_type`) |
//! | any other span | nothing |
//!
//! The session is `gen_ai.conversation.id`, else the trace id; the agent is
//! `gen_ai.agent.name`, else the resource's `service.name`. Each event keeps the span it
//! came from in attrs `trace_id` and `span_id`, so an alert names spans an analyst can
//! find in their tracing tool. Events are returned in time order within each trace.
//!
//! Input is one `ExportTraceServiceRequest` JSON document, or one per line (JSONL).

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

/// Reads one `ExportTraceServiceRequest`.
pub fn read_document(doc: &Value, line: usize) -> Result<Vec<NewEvent>, OtlpError> {
    let resources = doc
        .get("resourceSpans")
        .and_then(Value::as_array)
        .ok_or(OtlpError::NotOtlp { line })?;
    let mut events = Vec::new();
    for rs in resources {
        let resource = attributes(rs.pointer("/resource/attributes"));
        let mut spans: Vec<&Value> = rs
            .get("scopeSpans")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|ss| ss.get("spans").and_then(Value::as_array))
            .flatten()
            .collect();
        spans.sort_by_key(|s| start_nanos(s).unwrap_or(0));
        for span in spans {
            events.extend(span_events(span, &resource, line)?);
        }
    }
    Ok(events)
}

fn span_events(
    span: &Value,
    resource: &BTreeMap<String, Value>,
    line: usize,
) -> Result<Vec<NewEvent>, OtlpError> {
    let attrs = attributes(span.get("attributes"));
    let text = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
    let span_id = span
        .get("spanId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let trace_id = span
        .get("traceId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let bad = |reason: String| OtlpError::Span {
        line,
        span: span_id.clone(),
        reason,
    };
    let ts = start_nanos(span)
        .and_then(|n| i64::try_from(n).ok())
        .map(Timestamp::from_unix_nanos)
        .ok_or_else(|| bad("no valid startTimeUnixNano".into()))?;
    let agent = text("gen_ai.agent.name")
        .or_else(|| {
            resource
                .get("service.name")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown-agent".into());
    let session = text("gen_ai.conversation.id").unwrap_or_else(|| trace_id.clone());
    let base = |kind: EventKind| {
        let mut e = NewEvent::new(SOURCE, agent.clone(), kind);
        e.ts = Some(ts);
        e.session = Some(session.clone());
        e.attrs.insert("trace_id".into(), json!(trace_id));
        e.attrs.insert("span_id".into(), json!(span_id));
        if let Some(id) = text("gen_ai.agent.id") {
            e.attrs.insert("agent_id".into(), json!(id));
        }
        e
    };
    match text("gen_ai.operation.name").as_deref() {
        Some("invoke_agent") => {
            let mut e = base(EventKind::AgentPrompt);
            if let Some(messages) = text("gen_ai.input.messages") {
                let messages: Value = serde_json::from_str(&messages)
                    .map_err(|err| bad(format!("gen_ai.input.messages is not JSON: {err}")))?;
                for (role, key) in [("user", "task"), ("system", "system")] {
                    let said = role_text(&messages, role);
                    if !said.is_empty() {
                        e.payload.insert(key.into(), json!(said));
                    }
                }
            }
            Ok(vec![e])
        }
        Some("execute_tool") => {
            let tool = text("gen_ai.tool.name").ok_or_else(|| bad("no gen_ai.tool.name".into()))?;
            let call = text("gen_ai.tool.call.id").unwrap_or_else(|| span_id.clone());
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
            let error = text("error.type")
                .or_else(|| (span.pointer("/status/code") == Some(&json!(2))).then(String::new));
            let result = attrs.get("gen_ai.tool.call.result");
            if result.is_none() && error.is_none() {
                return Ok(vec![c]);
            }
            let mut r = base(EventKind::ToolResult);
            if let Some(end) = span
                .get("endTimeUnixNano")
                .and_then(nanos)
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
        _ => Ok(Vec::new()),
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

fn start_nanos(span: &Value) -> Option<u64> {
    span.get("startTimeUnixNano").and_then(nanos)
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
        return nanos(i).map_or_else(|| i.clone(), |n| json!(n));
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
