//! The protobuf encoding of OTLP reads to the same events as OTLP/JSON: the development
//! corpus re-encoded as protobuf `ExportTraceServiceRequest`s (ids as bytes, attributes as
//! typed `AnyValue`s) goes through `otlp::proto::decode` and the one mapping.

use std::path::PathBuf;

use brig_detect::otlp::{self, proto};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value;

fn corpus(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn any(v: &Value) -> AnyValue {
    use any_value::Value as V;
    let value = if let Some(s) = v.get("stringValue") {
        V::StringValue(s.as_str().unwrap().into())
    } else if let Some(i) = v.get("intValue") {
        V::IntValue(match i {
            Value::String(s) => s.parse().unwrap(),
            n => n.as_i64().unwrap(),
        })
    } else if let Some(b) = v.get("boolValue") {
        V::BoolValue(b.as_bool().unwrap())
    } else if let Some(d) = v.get("doubleValue") {
        V::DoubleValue(d.as_f64().unwrap())
    } else {
        panic!("attribute value not in the corpus's forms: {v}")
    };
    AnyValue { value: Some(value) }
}

fn kvs(list: &Value) -> Vec<KeyValue> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|kv| KeyValue {
            key: kv["key"].as_str().unwrap().into(),
            value: Some(any(&kv["value"])),
        })
        .collect()
}

/// 0 (unset) when absent.
fn nanos(v: &Value) -> u64 {
    v.as_str()
        .map_or_else(|| v.as_u64().unwrap_or(0), |s| s.parse().unwrap())
}

/// One OTLP/JSON document as the protobuf message it stands for.
fn to_protobuf(doc: &Value) -> Vec<u8> {
    let resource_spans = doc["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rs| ResourceSpans {
            resource: Some(Resource {
                attributes: kvs(&rs["resource"]["attributes"]),
                ..Default::default()
            }),
            scope_spans: rs["scopeSpans"]
                .as_array()
                .unwrap()
                .iter()
                .map(|ss| ScopeSpans {
                    spans: ss["spans"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|s| Span {
                            trace_id: unhex(s["traceId"].as_str().unwrap()),
                            span_id: unhex(s["spanId"].as_str().unwrap()),
                            name: s["name"].as_str().unwrap_or_default().into(),
                            start_time_unix_nano: nanos(&s["startTimeUnixNano"]),
                            end_time_unix_nano: nanos(&s["endTimeUnixNano"]),
                            attributes: kvs(&s["attributes"]),
                            status: s["status"]["code"].as_i64().map(|c| Status {
                                code: if c == 2 {
                                    status::StatusCode::Error as i32
                                } else {
                                    c as i32
                                },
                                ..Default::default()
                            }),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest { resource_spans }.encode_to_vec()
}

#[test]
fn protobuf_and_json_exports_map_to_the_same_events() {
    let mut spans = 0;
    for (i, line) in corpus("sessions.otlp.jsonl").lines().enumerate() {
        let doc: Value = serde_json::from_str(line).unwrap();
        let from_json = otlp::read_document(&doc, i + 1).unwrap();
        let decoded = proto::decode(&to_protobuf(&doc)).unwrap();
        spans += decoded.iter().map(|r| r.spans.len()).sum::<usize>();
        assert_eq!(decoded, otlp::from_json(&doc).unwrap(), "line {}", i + 1);
        let mapped = otlp::map(&decoded);
        assert!(mapped.rejected.is_empty());
        assert_eq!(
            mapped.events().collect::<Vec<_>>(),
            from_json,
            "line {}",
            i + 1
        );
    }
    assert!(spans > 400, "the whole corpus was compared ({spans} spans)");
}

#[test]
fn a_span_without_its_required_attributes_is_rejected_alone() {
    let line = corpus("sessions.otlp.jsonl")
        .lines()
        .next()
        .unwrap()
        .to_string();
    let mut doc: Value = serde_json::from_str(&line).unwrap();
    let spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
        .as_array_mut()
        .unwrap();
    let n = spans.len();
    // The first tool span loses its tool name.
    let tool = spans
        .iter_mut()
        .find(|s| s.to_string().contains("\"execute_tool\""))
        .unwrap();
    let id = tool["spanId"].as_str().unwrap().to_string();
    tool["attributes"]
        .as_array_mut()
        .unwrap()
        .retain(|kv| kv["key"] != "gen_ai.tool.name");
    let mapped = otlp::map(&proto::decode(&to_protobuf(&doc)).unwrap());
    assert_eq!(mapped.rejected.len(), 1);
    assert_eq!(mapped.rejected[0].span_id, id);
    assert_eq!(mapped.rejected[0].reason, "no gen_ai.tool.name");
    assert_eq!(mapped.spans.len(), n - 1, "every other span is read");
}

#[test]
fn chat_outputs_and_mcp_attributes_are_kept() {
    use brig_model::EventKind;
    let kv = |k: &str, v: &str| serde_json::json!({"key": k, "value": {"stringValue": v}});
    let doc = serde_json::json!({"resourceSpans": [{"resource": {"attributes": [kv("service.name", "svc")]},
        "scopeSpans": [{"spans": [
            {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "0000000000000001",
             "startTimeUnixNano": "1765000000000000000", "attributes": [
                kv("gen_ai.operation.name", "chat"), kv("gen_ai.response.model", "m-1"),
                kv("gen_ai.output.messages", r#"[{"role":"assistant","parts":[{"type":"text","content":"done"}]}]"#)]},
            {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "0000000000000002",
             "startTimeUnixNano": "1765000000000000001", "attributes": [
                kv("mcp.method.name", "tools/call"), kv("mcp.session.id", "mcp-9"),
                kv("gen_ai.tool.name", "read_file"), kv("gen_ai.tool.call.arguments", r#"{"path":"/etc/hosts"}"#)]},
            {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "0000000000000003",
             "startTimeUnixNano": "1765000000000000002", "attributes": [
                kv("mcp.method.name", "tools/list"), kv("mcp.session.id", "mcp-9")]}]}]}]});
    let events: Vec<_> = otlp::map(&proto::decode(&to_protobuf(&doc)).unwrap())
        .events()
        .collect();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            EventKind::ModelOutput,
            EventKind::ToolCall,
            EventKind::ProtocolMessage
        ]
    );
    assert_eq!(events[0].payload["text"], "done");
    assert_eq!(events[0].attrs["model"], "m-1");
    assert_eq!(events[0].agent, "svc");
    assert_eq!(
        events[1].session.as_deref(),
        Some("mcp-9"),
        "no conversation id: the MCP session"
    );
    assert_eq!(events[1].attrs["mcp_method"], "tools/call");
    assert_eq!(events[2].attrs["method"], "tools/list");
}
