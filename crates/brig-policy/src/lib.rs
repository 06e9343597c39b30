//! Brig's policy engine: Cedar policies over normalized actions.
//!
//! The gateway calls [`PolicyEngine::decide`] before forwarding each agent tool call. A
//! [`Request`] names the agent, its workflow, the tool, the declared task and every
//! normalized [`Action`](brig_model::Action) the call performs, each with the facts the
//! gateway knows about its target ([`ActionFacts`]: inside the served directories? one of
//! Brig's own files? which data classes?). The answer is a [`Decision`]: allow, deny, or
//! hold for a human's approval, with the ids of the policies that determined it.
//!
//! # Policies
//!
//! Policies are Cedar (<https://www.cedarpolicy.com>) files, `*.cedar` in one directory,
//! checked against Brig's schema ([`SCHEMA_SRC`]): principals are `Agent`s (in a
//! `Workflow`), actions are named after the normalized actions (`Action::"file.write"`,
//! `Action::"net.egress"`, … and `Action::"tool.call"` for calls that normalize to
//! nothing), resources are `File`, `Host`, `Recipient`, `Process`, `Setting`, `Dataset`
//! and `Tool`. A file that does not parse or does not validate is refused with a
//! [`PolicyError`] naming the file, line and reason.
//!
//! Each policy's id is its `@id("…")` annotation, else `<file name>#<index in file>`.
//!
//! # Decisions
//!
//! For each action, in order:
//! 1. **Guard**: a fixed `forbid` on `context.brig_owned` is evaluated before any other
//!    policy. It cannot be overridden or approved: → [`Effect::Deny`].
//! 2. **Policies**: Cedar's rules: any satisfied `forbid` denies, otherwise a satisfied
//!    `permit` allows, otherwise deny by default.
//! 3. **Approval gates**: a `forbid` annotated `@approval("required")` turns what would
//!    otherwise be allowed into [`Effect::Hold`]. If a plain `forbid` also applies, or no
//!    `permit` would allow the action even with approval, the decision is Deny.
//! 4. **Fail closed**: any error (an entity that cannot be built, a policy that errors
//!    while evaluating) → Deny, with the error as the reason.
//!
//! A call's decision is the most restrictive of its actions' (Deny > Hold > Allow). A
//! call with no actions is evaluated as one `tool.call` on `Tool::"<tool name>"`.

#![forbid(unsafe_code)]

mod engine;
mod error;
mod load;
mod request;
mod schema;

pub use brig_model::Effect;
pub use engine::{Decision, PolicyEngine};
pub use error::PolicyError;
pub use request::{ActionFacts, Request};
pub use schema::{
    cedar_action, resource_type, schema, ResourceType, BUILTIN_POLICIES_SRC, GUARD_POLICY_ID,
    SCHEMA_SRC, TOOL_CALL,
};
