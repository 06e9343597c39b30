//! Brig's detection crate.
//!
//! [`normalize()`] turns a tool call (a tool name and its JSON arguments) into the
//! normalized actions of [`brig_model::Action`]; rules and policy read those actions, never
//! tool-specific arguments (the mapping table and its limits are in the
//! [`normalize`](mod@normalize) module). [`otlp`] reads agent sessions from OpenTelemetry
//! GenAI traces into the same events. [`rules`] evaluates Sigma rules and correlations over
//! them, inline in the gateway or offline in `brig detect`.

#![forbid(unsafe_code)]

pub mod normalize;
pub mod otlp;
pub mod rules;

pub use normalize::{normalize, ToolContext};

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary:
/// how every bounded read of untrusted text in this crate is cut.
pub fn head(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
