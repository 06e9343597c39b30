//! Brig's detection crate.
//!
//! For now it holds the first stage of detection: [`normalize()`], which turns a tool call
//! (a tool name and its JSON arguments) into the normalized actions of
//! [`brig_model::Action`]. Rules and policy read those actions, never tool-specific
//! arguments. The mapping table and its limits are in the [`normalize`](mod@normalize) module.
//! [`otlp`] reads agent sessions from OpenTelemetry GenAI traces into the same events.

pub mod normalize;
pub mod otlp;
pub mod rules;

pub use normalize::{normalize, ToolContext};
