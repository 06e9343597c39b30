//! [`Store`]: the one handle on Brig's state, whichever backend keeps it.
//!
//! Every component reads and writes through `Store`; it dispatches to the embedded SQLite
//! file ([`SqliteStore`], the default) or to a PostgreSQL database ([`PgStore`], for many
//! processes on many hosts). The two answer every question identically; what differs is
//! how processes learn of each other's changes ([`Changes`]).

use std::cell::RefCell;
use std::path::Path;
use std::time::Duration;

use brig_ledger::merkle::Hash;
use brig_ledger::store::{
    AppendTx, LeafRow, LedgerStore, StoreError, StoredBlob, StoredCheckpoint,
};
use brig_model::{Blob, EventId};
use fallible_iterator::FallibleIterator;

use crate::incidents::{self, IncidentRow, NoteRow};
use crate::postgres::{self as pg, PgIncidentTx, PgStore};
use crate::sqlite::backend;
use crate::tokens::TokenRow;
use crate::{Approval, Containment, Scope, SqliteStore};

/// Brig's state: the ledger and the working tables beside it.
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(Box<PgStore>),
}

/// Calls the same method on whichever backend this is.
macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => pg::off_runtime(|| $e),
        }
    };
}

impl Store {
    /// Opens the SQLite database at `path` (created when `create`).
    pub fn sqlite(path: &Path, create: bool) -> Result<Store, StoreError> {
        SqliteStore::open(path, create).map(Store::Sqlite)
    }

    /// Connects to PostgreSQL at `url` and brings the schema up to date.
    pub fn postgres(url: &str) -> Result<Store, StoreError> {
        pg::off_runtime(|| PgStore::open(url)).map(|p| Store::Postgres(Box::new(p)))
    }

    /// `sqlite` or `postgresql`, for messages and metrics.
    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgresql",
        }
    }

    /// How long a write waits for another writer's lock before it fails.
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<(), StoreError> {
        each!(self, s => s.set_busy_timeout(timeout))
    }

    /// A listener for other processes' changes (new ledger entries, containment).
    pub fn changes(&self) -> Result<Changes, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(Changes(Listener::Poll)),
            Store::Postgres(p) => pg::off_runtime(|| {
                let mut client = pg::connect(p.url())?;
                client
                    .batch_execute(&format!(
                        "LISTEN {}; LISTEN {};",
                        pg::CHANNEL_LEDGER,
                        pg::CHANNEL_CONTAINMENT
                    ))
                    .map_err(pg::backend)?;
                Ok(Changes(Listener::Notify(Box::new(pg::Conn::new(client)))))
            }),
        }
    }

    /// Marks `scope` contained (replacing an earlier reason).
    pub fn contain(&mut self, c: &Containment) -> Result<(), StoreError> {
        each!(self, s => s.contain(c))
    }

    /// Lifts containment of `scope`; false when it was not contained.
    pub fn release(&mut self, scope: &Scope) -> Result<bool, StoreError> {
        each!(self, s => s.release(scope))
    }

    /// The containment that stops this agent, if any: everything, its workflow, or itself.
    pub fn containment_of(
        &mut self,
        agent: &str,
        workflow: Option<&str>,
    ) -> Result<Option<Containment>, StoreError> {
        each!(self, s => s.containment_of(agent, workflow))
    }

    /// The quarantined path globs.
    pub fn quarantines(&mut self) -> Result<Vec<Containment>, StoreError> {
        each!(self, s => s.quarantines())
    }

    /// Every contained scope.
    pub fn containments(&mut self) -> Result<Vec<Containment>, StoreError> {
        each!(self, s => s.containments())
    }

    /// Queues a held call.
    pub fn add_approval(&mut self, a: &Approval) -> Result<(), StoreError> {
        each!(self, s => s.add_approval(a))
    }

    pub fn approval(&mut self, id: &str) -> Result<Option<Approval>, StoreError> {
        each!(self, s => s.approval(id))
    }

    /// Approvals, oldest first; only pending ones unless `all`.
    pub fn approvals(&mut self, all: bool) -> Result<Vec<Approval>, StoreError> {
        each!(self, s => s.approvals(all))
    }

    /// Settles a pending approval. False when it was no longer pending (someone else, a
    /// timeout or containment settled it first).
    pub fn settle_approval(
        &mut self,
        id: &str,
        status: &str,
        by: &str,
        reason: &str,
        at_nanos: i64,
    ) -> Result<bool, StoreError> {
        each!(self, s => s.settle_approval(id, status, by, reason, at_nanos))
    }

    /// What detection remembers of `agent` (see [`Store::remember_seen`]).
    pub fn seen_of(&mut self, agent: &str) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        each!(self, s => s.seen_of(agent))
    }

    /// Records facts detection learned: (agent, thing, value). A thing already known keeps
    /// its first time and takes the new value.
    pub fn remember_seen(
        &mut self,
        facts: &[(String, String, Option<i64>)],
        at_nanos: i64,
    ) -> Result<(), StoreError> {
        each!(self, s => s.remember_seen(facts, at_nanos))
    }

    /// Runs `f` in one write transaction that other groupers wait for (SQLite: `BEGIN
    /// IMMEDIATE`; PostgreSQL: an advisory lock): committed when `f` succeeds, rolled back
    /// when it fails. Grouping an alert is a read-then-write that several gateways may do
    /// at once.
    pub fn incident_tx<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&IncidentTx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Store::Sqlite(s) => {
                let tx = s.begin_incidents()?;
                let itx = IncidentTx(TxInner::Sqlite(tx));
                let out = f(&itx)?;
                if let TxInner::Sqlite(tx) = itx.0 {
                    tx.commit().map_err(backend)?;
                }
                Ok(out)
            }
            Store::Postgres(p) => pg::off_runtime(|| {
                let tx = p.begin_incidents()?;
                let itx = IncidentTx(TxInner::Postgres(PgIncidentTx(RefCell::new(tx))));
                let out = f(&itx)?;
                if let TxInner::Postgres(tx) = itx.0 {
                    tx.0.into_inner().commit().map_err(pg::backend)?;
                }
                Ok(out)
            }),
        }
    }

    /// Writes an incident (outside a grouping transaction: lifecycle changes).
    pub fn put_incident(&mut self, row: &IncidentRow) -> Result<(), StoreError> {
        each!(self, s => s.put_incident(row))
    }

    /// The incident `id`, or the one incident whose id starts with `id` (ids are long;
    /// people type a prefix).
    pub fn incident(&mut self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        each!(self, s => s.incident(id))
    }

    /// Incidents, newest first; closed ones only when `all`.
    pub fn incidents(&mut self, all: bool, limit: usize) -> Result<Vec<IncidentRow>, StoreError> {
        each!(self, s => s.incidents(all, limit))
    }

    pub fn add_incident_note(&mut self, n: &NoteRow) -> Result<i64, StoreError> {
        each!(self, s => s.add_incident_note(n))
    }

    pub fn incident_notes(&mut self, incident: &str) -> Result<Vec<NoteRow>, StoreError> {
        each!(self, s => s.incident_notes(incident))
    }

    /// Ledger indices of the events of `session`, in order, at most `limit` (the first ones).
    pub fn session_events(&mut self, session: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.session_events(session, limit))
    }

    /// Ledger indices of the latest events of `session`, oldest first, at most `limit` (what
    /// a process that sees one event of a session reads to know the session so far).
    pub fn recent_session_events(
        &mut self,
        session: &str,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.recent_session_events(session, limit))
    }

    /// Ledger indices of `agent`'s most recent events, oldest first, at most `limit`.
    pub fn recent_agent_events(
        &mut self,
        agent: &str,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.recent_agent_events(agent, limit))
    }

    /// Ledger indices of `agent`'s events (of one session when `session` is given) whose
    /// time is within `from_nanos..=to_nanos`, oldest first, at most `limit`.
    pub fn agent_events(
        &mut self,
        agent: &str,
        session: Option<&str>,
        from_nanos: i64,
        to_nanos: i64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.agent_events(agent, session, from_nanos, to_nanos, limit))
    }

    /// Ledger indices from `from_idx` on of the events of the given kinds (`response.action`,
    /// …): what a responder did after something happened, whoever it was attributed to.
    pub fn kinds_since(
        &mut self,
        from_idx: u64,
        kinds: &[&str],
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        each!(self, s => s.kinds_since(from_idx, kinds, limit))
    }

    /// Adds a token; an error when the name is taken.
    pub fn add_token(&mut self, t: &TokenRow, hash: &[u8; 32]) -> Result<(), StoreError> {
        each!(self, s => s.add_token(t, hash))
    }

    /// The live (not revoked) token whose secret hashes to `hash`.
    pub fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        each!(self, s => s.token_by_hash(hash))
    }

    /// Every token, revoked ones included, by name.
    pub fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        each!(self, s => s.tokens())
    }

    /// A gateway's heartbeat: its row created, or `last_seen` refreshed (and a silent mark
    /// cleared); nothing once it has stopped.
    pub fn gateway_beat(&mut self, g: &crate::GatewayRow) -> Result<(), StoreError> {
        each!(self, s => s.gateway_beat(g))
    }

    /// A gateway's clean exit.
    pub fn gateway_stopped(&mut self, id: &str, at_nanos: i64) -> Result<(), StoreError> {
        each!(self, s => s.gateway_stopped(id, at_nanos))
    }

    /// Gateways with no heartbeat for `misses` of their intervals at `now_nanos`, not
    /// stopped and not yet reported silent.
    pub fn silent_gateways(
        &mut self,
        now_nanos: i64,
        misses: u32,
    ) -> Result<Vec<crate::GatewayRow>, StoreError> {
        each!(self, s => s.silent_gateways(now_nanos, misses))
    }

    /// Marks a gateway reported silent; false when it already was (once per gap).
    pub fn gateway_silent(&mut self, id: &str, at_nanos: i64) -> Result<bool, StoreError> {
        each!(self, s => s.gateway_silent(id, at_nanos))
    }

    /// One gateway by id.
    pub fn gateway(&mut self, id: &str) -> Result<Option<crate::GatewayRow>, StoreError> {
        each!(self, s => s.gateway(id))
    }

    /// Every gateway ever seen, oldest first.
    pub fn gateways(&mut self) -> Result<Vec<crate::GatewayRow>, StoreError> {
        each!(self, s => s.gateways())
    }

    /// Revokes a live token; false when there is no live token of that name.
    pub fn revoke_token(&mut self, name: &str, at_nanos: i64) -> Result<bool, StoreError> {
        each!(self, s => s.revoke_token(name, at_nanos))
    }

    /// Deletes a payload blob's bytes (content and salt) for an erasure already recorded in
    /// the ledger (`brig ledger erase`); events and checkpoints rows are untouched. False
    /// when it was not there.
    pub fn erase_blob(&mut self, index: u64, part: &str) -> Result<bool, StoreError> {
        each!(self, s => s.erase_blob(index, part))
    }
}

impl LedgerStore for Store {
    fn begin_append(&mut self) -> Result<Box<dyn AppendTx + '_>, StoreError> {
        each!(self, s => s.begin_append())
    }
    fn size(&mut self) -> Result<u64, StoreError> {
        each!(self, s => s.size())
    }
    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        each!(self, s => s.node(level, index))
    }
    fn leaf(&mut self, index: u64) -> Result<Option<LeafRow>, StoreError> {
        each!(self, s => s.leaf(index))
    }
    fn scan(
        &mut self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(LeafRow) -> bool,
    ) -> Result<(), StoreError> {
        each!(self, s => s.scan(from, to, f))
    }
    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError> {
        each!(self, s => s.find_event(id))
    }
    fn blob(&mut self, index: u64, part: &str) -> Result<Option<Blob>, StoreError> {
        each!(self, s => s.blob(index, part))
    }
    fn scan_blobs(&mut self, f: &mut dyn FnMut(StoredBlob) -> bool) -> Result<(), StoreError> {
        each!(self, s => s.scan_blobs(f))
    }
    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<u64, StoreError> {
        each!(self, s => s.add_checkpoint(cp))
    }
    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        each!(self, s => s.checkpoints())
    }
    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        each!(self, s => s.latest_checkpoint())
    }
    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        each!(self, s => s.meta(key))
    }
    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        each!(self, s => s.set_meta(key, value))
    }
}

/// The incident transaction: find the open incident of a key, write it back.
pub struct IncidentTx<'a>(TxInner<'a>);

enum TxInner<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(PgIncidentTx<'a>),
}

impl IncidentTx<'_> {
    /// The newest incident of `key` that is not closed and had an alert at or after
    /// `since_nanos`.
    pub fn find_open(
        &self,
        key: &str,
        since_nanos: i64,
    ) -> Result<Option<IncidentRow>, StoreError> {
        match &self.0 {
            TxInner::Sqlite(tx) => incidents::find_open(tx, key, since_nanos),
            TxInner::Postgres(tx) => {
                pg::find_open_incident(&mut *tx.0.borrow_mut(), key, since_nanos)
            }
        }
    }

    pub fn get(&self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        match &self.0 {
            TxInner::Sqlite(tx) => incidents::get(tx, id),
            TxInner::Postgres(tx) => pg::get_incident(&mut *tx.0.borrow_mut(), id),
        }
    }

    pub fn put(&self, row: &IncidentRow) -> Result<(), StoreError> {
        match &self.0 {
            TxInner::Sqlite(tx) => incidents::put(tx, row),
            TxInner::Postgres(tx) => pg::put_incident(&mut *tx.0.borrow_mut(), row),
        }
    }
}

/// Hears of other processes' changes to the ledger and the kill switch.
///
/// On PostgreSQL a dedicated connection `LISTEN`s, and [`Changes::wait`] returns as soon as
/// a change is committed anywhere. On SQLite there is no cross-process signal: `wait`
/// sleeps a short poll interval and the caller looks again (the same as a spurious wakeup).
pub struct Changes(Listener);

enum Listener {
    Poll,
    Notify(Box<pg::Conn>),
}

/// How often SQLite's readers look again.
const POLL: Duration = Duration::from_millis(100);

impl Changes {
    /// Waits until something may have changed, at most `timeout`. `Ok(true)`: a change was
    /// announced; `Ok(false)`: look anyway (timeout or polling). An error means the
    /// notice channel is lost (the database went away): callers treat that as unknown
    /// state.
    pub fn wait(&mut self, timeout: Duration) -> Result<bool, StoreError> {
        match &mut self.0 {
            Listener::Poll => {
                std::thread::sleep(timeout.min(POLL));
                Ok(false)
            }
            Listener::Notify(client) => pg::off_runtime(|| {
                let got = {
                    let mut n = client.notifications();
                    let got = n
                        .timeout_iter(timeout)
                        .next()
                        .map_err(pg::backend)?
                        .is_some();
                    // Several notices may be queued; one wakeup reads them all.
                    while let Ok(Some(_)) = n.iter().next() {}
                    got
                };
                if client.is_closed() {
                    return Err(StoreError::Backend(
                        "postgresql: the notification connection was closed".into(),
                    ));
                }
                Ok(got)
            }),
        }
    }
}
