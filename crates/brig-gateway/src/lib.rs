//! Brig's gateway: it stands in the path of an agent's tools.
//!
//! Two transports, one logic. [`stdio`] is the MCP proxy for servers spoken to over
//! stdin/stdout: the agent's MCP client starts `brig mcp-proxy … -- CMD` instead of the
//! server, Brig starts the server as its child and relays JSON-RPC both ways. [`http`] is
//! the same proxy for MCP's Streamable HTTP transport: Brig listens where the agent's
//! client connects and relays to the server's URL, SSE streams included.
//!
//! Every message is recorded in the ledger ([`record`]). Every `tools/call` ([`call`]) is
//! normalized, checked against containment (the kill switch) and policy ([`guard`]), and
//! recorded *durably before it is forwarded* (write-ahead); then it is forwarded, answered
//! with a tool error the agent can read, or held for a human ([`approval`]). When Brig
//! cannot decide — the ledger cannot be written, the containment state cannot be read —
//! the call is denied: the gateway fails closed.
//!
//! Every event also passes the rule pack ([`detection`]): alerts are recorded next to the
//! event that raised them, and a blocking rule denies the very call it matches.
//!
//! Calls are decided as they arrive and their records committed in groups, so a client
//! that sends many calls at once pays for one fsync per group, not per call.

#![forbid(unsafe_code)]

pub mod approval;
pub mod call;
pub mod detection;
pub mod guard;
pub mod heartbeat;
pub mod hook;
pub mod http;
pub mod images;
pub mod jsonrpc;
pub mod lines;
pub mod policy;
pub mod record;
pub mod remote;
pub mod response;
/// Public so that the SSE parser of upstream streams can be fuzzed and tested from outside
/// the crate (`fuzz/`); the proxies are its only users.
pub mod sse;
pub mod stdio;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use brig_ledger::appender::{Appender, Checkpointing};
use brig_store::DataDir;

/// Who the agent is and what it was asked to do.
#[derive(Clone, Debug)]
pub struct Identity {
    pub agent: String,
    pub workflow: Option<String>,
    /// The task as declared to the agent (recorded; policies read it).
    pub task: Option<String>,
}

/// What both transports share.
#[derive(Clone, Debug)]
pub struct ProxyOptions {
    pub who: Identity,
    /// Largest message accepted from either side, in bytes.
    pub max_message_bytes: usize,
    /// How long a call held for approval waits for a decision before it is refused.
    pub approval_timeout: Duration,
    /// The rule pack evaluating every event inline (`None`: no detection).
    pub detection: Option<Arc<detection::Detection>>,
    /// Incident response to the alerts (`None`: alerts are recorded, nothing more).
    pub response: Option<response::ResponseConfig>,
    /// The directories a command line may change: snapshotted before and after each call
    /// that runs one, so every change it makes has a pre-image (empty: none).
    pub workspace: Vec<std::path::PathBuf>,
    /// How often the proxy says it is alive ([`heartbeat`]; `None`: it does not).
    pub heartbeat: Option<Duration>,
}

/// Errors that stop a proxy (per-message problems never do).
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no upstream command given (brig mcp-proxy … -- CMD ARGS…)")]
    NoCommand,
    #[error("cannot start the upstream server `{cmd}`: {source}")]
    Spawn { cmd: String, source: std::io::Error },
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("ledger store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("the object store for pre-images: {0}")]
    Images(String),
    #[error("watching: {0}")]
    Watch(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("upstream URL `{url}`: {reason}")]
    Upstream { url: String, reason: String },
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Longest a call waits for another process's lock on the ledger before it is denied.
const LEDGER_WAIT: Duration = Duration::from_secs(2);

/// How often the ledger writer signs a checkpoint while the ledger grows.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Starts the ledger writer a proxy records through.
fn start_appender(data: &DataDir) -> Result<Arc<Appender>, ProxyError> {
    let mut store = data.store()?;
    store.set_busy_timeout(LEDGER_WAIT)?;
    Ok(Arc::new(Appender::start(
        brig_ledger::Ledger::new(store),
        Some(Checkpointing {
            signer: data.signer()?,
            interval: CHECKPOINT_EVERY,
        }),
    )))
}

/// Lets the writer finish what is queued and sign a last checkpoint (when this is the
/// last handle).
fn finish_appender(appender: Arc<Appender>) {
    if let Ok(appender) = Arc::try_unwrap(appender) {
        if let Err(e) = appender.finish() {
            eprintln!("brig mcp-proxy: final checkpoint failed: {e}");
        }
    }
}
