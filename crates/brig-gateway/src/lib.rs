//! Brig's gateway: it stands in the path of an agent's tools.
//!
//! [`stdio`] is the MCP proxy for servers spoken to over stdin/stdout: the agent's MCP client
//! starts `brig mcp-proxy … -- CMD` instead of the server, Brig starts the server as its
//! child and relays JSON-RPC both ways. Every message is recorded in the ledger; every
//! `tools/call` is recorded *durably before it is forwarded* (write-ahead), checked against
//! containment (the kill switch) and policy, and either forwarded or answered with a tool
//! error the agent can read. When Brig cannot decide — the ledger cannot be written, the
//! containment state cannot be read — the call is denied: the gateway fails closed.

pub mod guard;
pub mod jsonrpc;
pub mod lines;
pub mod policy;
pub mod stdio;
