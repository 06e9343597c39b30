//! SIEM export: the ledger followed and forwarded, as OCSF JSON, to a file, syslog or an
//! HTTP collector.
//!
//! **One source of truth.** The ledger already is a durable, ordered, append-only log, so
//! the forwarder keeps no queue of its own: per sink it keeps a [`cursor`] (the index of the
//! next ledger event to deliver, written atomically and fsynced after each acknowledged
//! batch, in `siem/<name>.cursor` under the data directory). It reads at most one bounded
//! batch past the cursor, turns it into [`records`] (OCSF objects mapped by
//! `brig_evidence::ocsf`, the one mapping), hands it to the [`sink`], and only then moves the
//! cursor. When the SIEM is down it retries the same batch with exponential backoff and
//! jitter, and reads nothing further: the backlog stays in the ledger, which is the bounded
//! on-disk queue, and memory holds one batch.
//!
//! **What is sent.** By default the alerts (OCSF Detection Finding 2004) and, for every
//! `incident.transition` or `response.action` event, the incident's current state (Incident
//! Finding 2005, once per incident per batch, attributed to the last such event, whose
//! ledger index it carries as `metadata.sequence`); with
//! [`Selection::All`] every event that has an OCSF class (calls as API Activity 6003, their
//! file changes as File System Activity 1001, alerts, incidents). Other kinds (decisions,
//! results, prompts) have no OCSF class of their own: they set their call's outcome when
//! they fall in the same batch.
//!
//! **Delivery guarantees**, by sink:
//!
//! | sink | acknowledgement | guarantee |
//! |---|---|---|
//! | `http(s)://`, `hec+http(s)://` | the HTTP 2xx answer | at least once; exactly once unless the forwarder dies between the answer and the cursor's fsync (then that one batch is sent again) |
//! | `file:` | `fsync` of the file | the same: at least once, a crash between the two fsyncs repeats one batch |
//! | `syslog+tcp://`, `syslog+tls://` | the kernel accepted the bytes (RFC 6587 has no application acks) | at least once up to the receiver's socket; a receiver that dies with unread bytes loses them. A connection the peer closed is noticed before the next batch and reopened. |
//! | `syslog+udp://` | none | at most once: each record is sent once, in order; a datagram lost on the way is not known |
//!
//! Duplicates are recognisable: every OCSF object carries `metadata.uid` (the Brig event id,
//! or `INC-…/state`) and `metadata.sequence` (the ledger index).

#![forbid(unsafe_code)]

pub mod cursor;
pub mod forward;
pub mod records;
pub mod sink;

mod file;
mod http;
mod syslog;
mod tls;

pub use cursor::Cursor;
pub use forward::{forward, Options, Outcome, Start, Stop};
pub use records::{Record, Selection};
pub use sink::{Sink, SinkOptions, SinkSpec};

use std::path::PathBuf;

/// What can go wrong when forwarding.
#[derive(Debug, thiserror::Error)]
pub enum SiemError {
    #[error("`{spec}` is not a sink: {reason} (file:PATH, syslog+udp|tcp|tls://HOST:PORT, hec+http(s)://HOST:PORT/services/collector/event, http(s)://…)")]
    BadSink { spec: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Tls(String),
    #[error(transparent)]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("the cursor `{name}` belongs to the sink {sink}; give this sink another --name")]
    NameTaken { name: String, sink: String },
    #[error("ledger event {index} cannot be read: {reason}")]
    Damaged { index: u64, reason: String },
    #[error("the sink rejected ledger events {from}..{to} ({detail}); the cursor stays at {from}. Fix the cause and run again, or pass --skip-rejected to skip (and record) them")]
    Rejected { from: u64, to: u64, detail: String },
    #[error("gave up after {secs} s without delivering ledger events {from}..{to}: {last}")]
    GaveUp {
        from: u64,
        to: u64,
        secs: u64,
        last: String,
    },
}

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SiemError {
    let path = path.into();
    move |source| SiemError::Io { path, source }
}
