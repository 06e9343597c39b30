//! Group commit: one writer thread, many submitters, one fsync per group.
//!
//! Submitters prepare events on their own threads ([`Prepared::new`] does the JSON, the
//! salting and the hashing) and hand batches to the writer. The writer takes every batch
//! that is waiting, appends them all in one durable transaction, then answers each
//! submitter. Under load, groups grow and the fsync cost is shared; when idle, a single
//! event is committed at once. A batch nobody waits for ([`Appender::submit_deferred`]: a
//! proxy's record of a server's answer, say) starts no commit of its own: it joins the next
//! one somebody waits for, or is committed within [`DEFER_AT_MOST`], so the next
//! write-ahead record seldom queues behind its fsync. The writer also signs a checkpoint
//! every `interval` when the tree has grown, and a last one when the appender is closed.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ledger::{Ledger, LedgerError, Prepared, Receipt};
use crate::note::NoteSigner;
use crate::store::{LedgerStore, StoredCheckpoint};

/// Most events committed in one transaction.
const MAX_GROUP: usize = 16_384;

/// The writer's answer to one submission.
pub type AppendResult = Result<Vec<Receipt>, String>;

/// Called once with a submission's outcome, on the writer thread: keep it short.
type Reply = Box<dyn FnOnce(AppendResult) + Send>;

struct Job {
    batch: Vec<Prepared>,
    reply: Reply,
    /// Nobody waits for it: it may wait for the next waited-for job (or [`DEFER_AT_MOST`]).
    deferred: bool,
}

/// Longest a deferred submission waits for a commit that someone waits for.
pub const DEFER_AT_MOST: Duration = Duration::from_millis(10);

/// Checkpoint policy for the writer.
pub struct Checkpointing {
    pub signer: NoteSigner,
    /// Sign a new checkpoint when this much time has passed and the tree grew.
    pub interval: Duration,
}

/// What the writer did, returned by [`Appender::finish`].
#[derive(Debug, Default)]
pub struct AppenderStats {
    pub appended: u64,
    pub duplicates: u64,
    pub commits: u64,
    /// Time the writer spent inside append transactions (hashing, writing, fsync).
    pub busy: Duration,
    pub last_checkpoint: Option<StoredCheckpoint>,
    /// Timed checkpoints that could not be stored (retried at the next tick), and why the
    /// last one failed.
    pub checkpoint_failures: u64,
    pub last_checkpoint_error: Option<String>,
}

/// Handle to the writer thread.
pub struct Appender {
    jobs: Option<SyncSender<Job>>,
    writer: Option<JoinHandle<Result<AppenderStats, LedgerError>>>,
}

impl Appender {
    /// Starts the writer thread over `ledger`.
    pub fn start<S: LedgerStore + 'static>(
        ledger: Ledger<S>,
        checkpointing: Option<Checkpointing>,
    ) -> Self {
        let (jobs, rx) = mpsc::sync_channel::<Job>(64);
        let writer = std::thread::Builder::new()
            .name("brig-ledger-writer".into())
            .spawn(move || write_loop(ledger, rx, checkpointing))
            .expect("cannot start the ledger writer thread");
        Appender {
            jobs: Some(jobs),
            writer: Some(writer),
        }
    }

    /// Queues a batch; the returned receiver yields its receipts once they are durable.
    pub fn submit(&self, batch: Vec<Prepared>) -> Receiver<AppendResult> {
        let (reply, rx) = mpsc::sync_channel(1);
        self.submit_then(batch, move |result| {
            let _ = reply.send(result);
        });
        rx
    }

    /// Queues a batch; `then` is called with its receipts once they are durable (or with
    /// the error). For callers that cannot block on a channel, such as async tasks.
    pub fn submit_then(
        &self,
        batch: Vec<Prepared>,
        then: impl FnOnce(AppendResult) + Send + 'static,
    ) {
        self.send(Job {
            batch,
            reply: Box::new(then),
            deferred: false,
        });
    }

    /// Queues a batch nobody waits for: it is committed together with the next batch
    /// somebody does wait for, or within [`DEFER_AT_MOST`], whichever comes first (so it
    /// never costs a commit of its own while waited-for work is coming). Order is kept.
    /// `then` is called once it is durable (or with the error).
    pub fn submit_deferred(
        &self,
        batch: Vec<Prepared>,
        then: impl FnOnce(AppendResult) + Send + 'static,
    ) {
        self.send(Job {
            batch,
            reply: Box::new(then),
            deferred: true,
        });
    }

    fn send(&self, job: Job) {
        let stopped = || Err("the ledger writer has stopped".to_string());
        match &self.jobs {
            Some(jobs) => {
                if let Err(mpsc::SendError(job)) = jobs.send(job) {
                    (job.reply)(stopped());
                }
            }
            None => (job.reply)(stopped()),
        }
    }

    /// Appends and waits until durable.
    pub fn append(&self, batch: Vec<Prepared>) -> AppendResult {
        self.submit(batch)
            .recv()
            .unwrap_or_else(|_| Err("the ledger writer has stopped".into()))
    }

    /// Stops accepting work, lets the writer finish what is queued, signs a last checkpoint.
    pub fn finish(mut self) -> Result<AppenderStats, LedgerError> {
        self.jobs.take();
        match self.writer.take().map(|w| w.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(LedgerError::Writer("the writer thread panicked".into())),
            None => Ok(AppenderStats::default()),
        }
    }
}

impl Drop for Appender {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn write_loop<S: LedgerStore>(
    mut ledger: Ledger<S>,
    rx: Receiver<Job>,
    checkpointing: Option<Checkpointing>,
) -> Result<AppenderStats, LedgerError> {
    let mut stats = AppenderStats::default();
    let tick = checkpointing
        .as_ref()
        .map_or(Duration::from_secs(3600), |c| c.interval);
    let mut last_checkpoint = Instant::now();
    let mut dirty = false;
    // Deferred jobs held for the next waited-for one (or their deadline), oldest first.
    let mut held: Vec<Job> = Vec::new();
    let mut held_since = Instant::now();
    loop {
        let wait = if held.is_empty() {
            tick
        } else {
            DEFER_AT_MOST.saturating_sub(held_since.elapsed()).min(tick)
        };
        let mut next = match rx.recv_timeout(wait) {
            Ok(job) => Some(job),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if held.is_empty() {
            held_since = Instant::now();
        }
        let mut group = std::mem::take(&mut held);
        let mut events: usize = group.iter().map(|j| j.batch.len()).sum();
        let mut waited_for = false;
        while let Some(job) = next {
            waited_for |= !job.deferred;
            events += job.batch.len();
            group.push(job);
            next = if events < MAX_GROUP {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        let due = !group.is_empty() && held_since.elapsed() >= DEFER_AT_MOST;
        if waited_for || due || events >= MAX_GROUP {
            commit_group(&mut ledger, group, &mut stats);
            dirty = true;
        } else {
            held = group;
        }
        if let Some(c) = &checkpointing {
            if dirty && last_checkpoint.elapsed() >= c.interval {
                // A checkpoint that cannot be stored now (the database restarting, a full
                // disk) is tried again at the next tick: the events are durable already,
                // and ending the writer here would refuse every later event for good.
                match ledger.checkpoint(&c.signer) {
                    Ok(cp) => {
                        stats.last_checkpoint = Some(cp);
                        dirty = false;
                    }
                    Err(e) => {
                        stats.checkpoint_failures += 1;
                        stats.last_checkpoint_error = Some(e.to_string());
                    }
                }
                last_checkpoint = Instant::now();
            }
        }
    }
    if !held.is_empty() {
        commit_group(&mut ledger, held, &mut stats);
    }
    if let Some(c) = &checkpointing {
        stats.last_checkpoint = Some(ledger.checkpoint(&c.signer)?);
    }
    Ok(stats)
}

/// Appends every job's events in one transaction and answers each job with its share.
fn commit_group<S: LedgerStore>(
    ledger: &mut Ledger<S>,
    group: Vec<Job>,
    stats: &mut AppenderStats,
) {
    let mut all = Vec::with_capacity(group.iter().map(|j| j.batch.len()).sum());
    let mut replies = Vec::with_capacity(group.len());
    for job in group {
        replies.push((job.batch.len(), job.reply));
        all.extend(job.batch);
    }
    let started = Instant::now();
    let result = ledger.append(&all);
    stats.busy += started.elapsed();
    match result {
        Ok(receipts) => {
            stats.commits += 1;
            let mut rest = receipts.as_slice();
            for (n, reply) in replies {
                let (mine, tail) = rest.split_at(n);
                rest = tail;
                for r in mine {
                    if r.duplicate {
                        stats.duplicates += 1;
                    } else {
                        stats.appended += 1;
                    }
                }
                reply(Ok(mine.to_vec()));
            }
        }
        Err(e) => {
            let msg = e.to_string();
            for (_, reply) in replies {
                reply(Err(msg.clone()));
            }
        }
    }
}
