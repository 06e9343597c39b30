//! The forwarder: follow the ledger from the sink's cursor, one bounded batch at a time.
//!
//! Read `batch` events past the cursor → records → send, retrying with exponential backoff
//! and full jitter until the sink acknowledges → move the cursor (fsynced) → next batch.
//! Nothing further is read while a batch is undelivered (backpressure); a stop request is
//! honoured between batches and during backoff sleeps, never between a delivery and its
//! cursor write.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brig_ledger::store::LedgerStore;
use brig_store::Store;
use tracing::{info, warn};

use crate::cursor::Cursor;
use crate::records::{self, Selection};
use crate::sink::{SendError, Sink};
use crate::SiemError;

/// Where a sink without a cursor starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// The ledger's first event.
    Beginning,
    /// Only events appended from now on.
    Now,
}

/// How to forward.
#[derive(Clone, Debug)]
pub struct Options {
    /// The cursor's name.
    pub name: String,
    /// The sink's text, recorded in the cursor.
    pub sink: String,
    pub selection: Selection,
    pub start: Start,
    /// Keep following the ledger (until stopped) instead of stopping when caught up.
    pub follow: bool,
    /// Ledger events read per batch (the bound on memory).
    pub batch: usize,
    /// Skip (and record) a batch the sink rejects instead of stopping.
    pub skip_rejected: bool,
    /// First retry delay; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Give up after this long without delivering a batch [None: never].
    pub retry_for: Option<Duration>,
}

impl Options {
    pub fn new(name: &str, sink: &str) -> Self {
        Options {
            name: name.to_string(),
            sink: sink.to_string(),
            selection: Selection::Alerts,
            start: Start::Beginning,
            follow: true,
            batch: 500,
            skip_rejected: false,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(30),
            retry_for: None,
        }
    }
}

/// A stop request (a signal, a server shutting down), checked between batches and while
/// waiting.
#[derive(Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// The flag itself, for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    pub fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Sleeps `d` unless stopped first; false when stopped.
    fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while !self.is_set() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        false
    }
}

/// What a run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Outcome {
    /// The cursor at the end: events before it are delivered (or skipped).
    pub cursor: u64,
    /// The ledger's size when last looked at.
    pub ledger_size: u64,
    pub events_read: u64,
    pub records_sent: u64,
    pub batches: u64,
    pub retries: u64,
    pub skipped: u64,
}

/// Forwards from the cursor of `opts.name` until caught up (`follow` false) or stopped.
pub fn forward(
    data: &Path,
    store: &mut Store,
    sink: &mut Sink,
    opts: &Options,
    stop: &Stop,
) -> Result<Outcome, SiemError> {
    let mut cursor = match Cursor::load(data, &opts.name)? {
        Some(c) if c.sink != opts.sink => {
            return Err(SiemError::NameTaken {
                name: opts.name.clone(),
                sink: c.sink,
            })
        }
        Some(c) => c,
        None => {
            let next = match opts.start {
                Start::Beginning => 0,
                Start::Now => store.size()?,
            };
            let mut c = Cursor {
                name: opts.name.clone(),
                sink: opts.sink.clone(),
                next,
                updated: String::new(),
                skipped: 0,
            };
            c.save(data)?;
            c
        }
    };
    let mut out = Outcome {
        cursor: cursor.next,
        ..Outcome::default()
    };
    // Without --follow: what is there now, not what keeps arriving.
    let target = if opts.follow {
        None
    } else {
        Some(store.size()?)
    };
    let mut changes = if opts.follow {
        Some(store.changes()?)
    } else {
        None
    };
    info!(sink = %opts.name, cursor = cursor.next, "forwarding");
    while !stop.is_set() {
        let size = store.size()?;
        out.ledger_size = size;
        let end = target.map_or(size, |t| t.min(size));
        if cursor.next >= end {
            match &mut changes {
                None => break,
                Some(c) => {
                    c.wait(Duration::from_secs(1))?;
                    continue;
                }
            }
        }
        let from = cursor.next;
        let to = end.min(from + opts.batch.max(1) as u64);
        let events = records::read(store, from, to)?;
        let recs = records::records(store, &events, opts.selection)?;
        if !recs.is_empty() {
            match deliver(sink, &recs, opts, stop, &mut out, (from, to))? {
                Delivery::Done => out.records_sent += recs.len() as u64,
                Delivery::Stopped => break,
                Delivery::Rejected(detail) => {
                    warn!(sink = %opts.name, from, to, %detail, "rejected batch skipped (--skip-rejected)");
                    cursor.record_skip(data, from, to, &detail)?;
                    out.skipped += to - from;
                }
            }
        }
        cursor.next = to;
        cursor.save(data)?;
        out.cursor = to;
        out.events_read += to - from;
        out.batches += 1;
        info!(sink = %opts.name, from, to, records = recs.len(), lag = size.saturating_sub(to), "delivered");
    }
    out.cursor = cursor.next;
    Ok(out)
}

enum Delivery {
    Done,
    Stopped,
    /// Rejected and `--skip-rejected`: the detail to record.
    Rejected(String),
}

/// Sends one batch until it is acknowledged, rejected, given up on, or the run is stopped.
fn deliver(
    sink: &mut Sink,
    recs: &[records::Record],
    opts: &Options,
    stop: &Stop,
    out: &mut Outcome,
    (from, to): (u64, u64),
) -> Result<Delivery, SiemError> {
    let started = Instant::now();
    let mut delay = opts.min_backoff;
    loop {
        match sink.send(recs) {
            Ok(()) => return Ok(Delivery::Done),
            Err(SendError::Reject(detail)) if opts.skip_rejected => {
                return Ok(Delivery::Rejected(detail))
            }
            Err(SendError::Reject(detail)) => return Err(SiemError::Rejected { from, to, detail }),
            Err(SendError::Retry(last)) => {
                if opts
                    .retry_for
                    .is_some_and(|limit| started.elapsed() >= limit)
                {
                    return Err(SiemError::GaveUp {
                        from,
                        to,
                        secs: started.elapsed().as_secs(),
                        last,
                    });
                }
                let wait = jitter(delay);
                out.retries += 1;
                warn!(sink = %opts.name, from, to, error = %last, retry_in_ms = wait.as_millis() as u64, "delivery failed; retrying");
                if !stop.sleep(wait) {
                    return Ok(Delivery::Stopped);
                }
                delay = (delay * 2).min(opts.max_backoff);
            }
        }
    }
}

/// Between half and all of `d`, so many forwarders do not retry in step.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 8];
    let r = match getrandom::getrandom(&mut b) {
        Ok(()) => u64::from_le_bytes(b) as f64 / u64::MAX as f64,
        Err(_) => 0.5,
    };
    d.mul_f64(0.5 + 0.5 * r)
}
