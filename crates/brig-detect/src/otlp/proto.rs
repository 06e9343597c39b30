//! OTLP protobuf (`application/x-protobuf`): an `ExportTraceServiceRequest` decoded with the
//! `opentelemetry-proto` messages and turned into the same [`Span`]s the JSON reader makes,
//! so both encodings go through one mapping ([`super::map`]). Also the response message.

use std::collections::BTreeMap;

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use prost::Message;
use serde_json::{json, Value};

use super::{ResourceSpans, Span};

/// The body is not a protobuf `ExportTraceServiceRequest`.
#[derive(Debug, thiserror::Error)]
#[error("not a protobuf ExportTraceServiceRequest: {0}")]
pub struct DecodeError(#[from] prost::DecodeError);

/// The spans of a protobuf `ExportTraceServiceRequest`.
pub fn decode(body: &[u8]) -> Result<Vec<ResourceSpans>, DecodeError> {
    let req = ExportTraceServiceRequest::decode(body)?;
    Ok(req
        .resource_spans
        .into_iter()
        .map(|rs| ResourceSpans {
            resource: rs
                .resource
                .map(|r| attributes(r.attributes))
                .unwrap_or_default(),
            spans: rs
                .scope_spans
                .into_iter()
                .flat_map(|ss| ss.spans)
                .map(|s| Span {
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    start_nanos: Some(s.start_time_unix_nano).filter(|n| *n > 0),
                    end_nanos: Some(s.end_time_unix_nano).filter(|n| *n > 0),
                    failed: s
                        .status
                        .is_some_and(|st| st.code == StatusCode::Error as i32),
                    attrs: attributes(s.attributes),
                })
                .collect(),
        })
        .collect())
}

/// An `ExportTraceServiceResponse`: empty when every span was accepted, else the count
/// rejected and why (OTLP's partial success).
pub fn encode_response(rejected: i64, message: &str) -> Vec<u8> {
    let partial_success =
        (rejected > 0 || !message.is_empty()).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: message.to_string(),
        });
    ExportTraceServiceResponse { partial_success }.encode_to_vec()
}

/// Lowercase hex, as OTLP/JSON writes ids.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attributes(list: Vec<KeyValue>) -> BTreeMap<String, Value> {
    list.into_iter()
        .map(|kv| (kv.key, kv.value.map_or(Value::Null, any_value)))
        .collect()
}

/// An `AnyValue` as the JSON reader renders it (bytes as base64, as OTLP/JSON writes them).
fn any_value(v: AnyValue) -> Value {
    use any_value::Value as V;
    match v.value {
        None => Value::Null,
        Some(V::StringValue(s)) => json!(s),
        Some(V::BoolValue(b)) => json!(b),
        Some(V::IntValue(i)) => json!(i),
        Some(V::DoubleValue(d)) => json!(d),
        Some(V::ArrayValue(a)) => Value::Array(a.values.into_iter().map(any_value).collect()),
        Some(V::KvlistValue(kv)) => Value::Object(attributes(kv.values).into_iter().collect()),
        Some(V::BytesValue(b)) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
    }
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error answer (details left out).
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// A `google.rpc.Status` with this gRPC code (3: invalid argument) and message.
pub fn encode_status(code: i32, message: &str) -> Vec<u8> {
    RpcStatus {
        code,
        message: message.to_string(),
    }
    .encode_to_vec()
}
