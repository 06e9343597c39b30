//! Just enough JSON-RPC 2.0 to relay MCP: classify a message, build errors and tool-error
//! results. Messages are relayed as the peers wrote them; Brig never rewrites what it forwards.

use serde_json::{json, Value};

/// JSON-RPC error codes Brig answers with.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const INTERNAL_ERROR: i64 = -32603;

/// What one line on the wire is.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// A `tools/call` request: the calls Brig decides on.
    ToolCall {
        id: Value,
        tool: String,
        arguments: Value,
    },
    /// Any other request (has an id and a method).
    Request { id: Value, method: String },
    /// A notification (a method, no id).
    Notification { method: String },
    /// A response (an id, a result or an error).
    Response { id: Value, is_error: bool },
    /// A JSON array of messages.
    Batch { len: usize },
    /// JSON, but not a JSON-RPC message Brig recognizes.
    Invalid { reason: String },
}

impl Message {
    pub fn classify(v: &Value) -> Message {
        let Some(obj) = v.as_object() else {
            return match v.as_array() {
                Some(a) => Message::Batch { len: a.len() },
                None => Message::Invalid {
                    reason: "a JSON-RPC message must be an object".into(),
                },
            };
        };
        let id = obj.get("id").cloned();
        match (obj.get("method").and_then(Value::as_str), id) {
            (Some("tools/call"), Some(id)) => {
                let params = obj.get("params");
                match params.and_then(|p| p.get("name")).and_then(Value::as_str) {
                    Some(tool) => Message::ToolCall {
                        id,
                        tool: tool.to_string(),
                        arguments: params
                            .and_then(|p| p.get("arguments"))
                            .cloned()
                            .unwrap_or(Value::Null),
                    },
                    None => Message::Invalid {
                        reason: "tools/call without params.name".into(),
                    },
                }
            }
            (Some(method), Some(id)) => Message::Request {
                id,
                method: method.to_string(),
            },
            (Some(method), None) => Message::Notification {
                method: method.to_string(),
            },
            (None, Some(id)) => Message::Response {
                id,
                is_error: obj.contains_key("error"),
            },
            (None, None) => Message::Invalid {
                reason: "neither a method nor an id".into(),
            },
        }
    }

    /// The method name, for requests and notifications.
    pub fn method(&self) -> Option<&str> {
        match self {
            Message::ToolCall { .. } => Some("tools/call"),
            Message::Request { method, .. } | Message::Notification { method } => Some(method),
            _ => None,
        }
    }
}

/// A JSON-RPC error response.
pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A `tools/call` result that tells the agent its call was not run, in words it can read.
pub fn tool_refusal(id: Value, text: &str) -> Value {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {"content": [{"type": "text", "text": text}], "isError": true}
    })
}

/// A stable text form of a JSON-RPC id, to match responses with requests.
pub fn id_key(id: &Value) -> String {
    id.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_mcp_messages() {
        let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"write_file","arguments":{"path":"a"}}});
        assert_eq!(
            Message::classify(&call),
            Message::ToolCall {
                id: json!(3),
                tool: "write_file".into(),
                arguments: json!({"path": "a"})
            }
        );
        assert!(matches!(
            Message::classify(&json!({"jsonrpc":"2.0","id":"a","method":"tools/list"})),
            Message::Request { .. }
        ));
        assert!(matches!(
            Message::classify(
                &json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{}})
            ),
            Message::Notification { .. }
        ));
        assert_eq!(
            Message::classify(&json!({"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}})),
            Message::Response {
                id: json!(3),
                is_error: true
            }
        );
        assert!(matches!(
            Message::classify(&json!([1, 2])),
            Message::Batch { len: 2 }
        ));
        assert!(matches!(
            Message::classify(&json!(7)),
            Message::Invalid { .. }
        ));
        assert!(matches!(
            Message::classify(&json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}})),
            Message::Invalid { .. }
        ));
    }
}
