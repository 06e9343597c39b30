//! The PostgreSQL backend: many Brig processes, on many hosts, sharing one ledger.
//!
//! Every table of the SQLite backend exists here with the same columns, so the two
//! backends answer the same questions the same way (`tests/backends.rs` runs one suite on
//! both).
//!
//! **One sequencer.** The ledger is one Merkle log, so its leaf indices must be gapless and
//! each append must see every leaf before it. An append therefore takes a transaction-level
//! advisory lock (`pg_advisory_xact_lock`) before it reads the tree size, and holds it until
//! commit or rollback. A sequence was the other choice, and the wrong one: it hands out
//! numbers without ordering the hashing, leaves gaps when a transaction rolls back, and two
//! writers with adjacent numbers would each compute a root without the other's leaf. The
//! advisory lock serializes appends across servers exactly as `BEGIN IMMEDIATE` does across
//! processes on SQLite; group commit keeps that lock from bounding throughput.
//!
//! **Durability.** An append's receipts are returned after `COMMIT` returns, with the
//! server's `synchronous_commit` (on by default): the commit record is flushed to the WAL.
//!
//! **Change notices.** An append sends `NOTIFY brig_ledger` and a containment change
//! `NOTIFY brig_containment` inside their transactions, so listeners hear of them exactly
//! when they are committed ([`crate::Changes`]).
//!
//! Rows of an append are buffered and written by one `INSERT … SELECT FROM unnest(…)` per
//! table, before any read inside the transaction and at commit: one round trip per batch
//! instead of one per row.

use std::cell::RefCell;
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use brig_ledger::merkle::Hash;
use brig_ledger::store::{
    hash_at, node_location, AppendTx, LeafRow, LedgerStore, NewLeafRow, StoreError, StoredBlob,
    StoredCheckpoint,
};
use brig_model::{Blob, EventId, SALT_LEN};
use postgres::{Client, Config, NoTls, Row, Statement, Transaction};

use crate::incidents::{IncidentRow, NoteRow};
use crate::tokens::TokenRow;
use crate::{Approval, Containment, Scope};

/// The advisory lock every ledger append holds until it commits: the ledger's single
/// sequencer. A maintenance job that must stop appends for a while (a logical backup that
/// wants a quiet tail) takes it with `pg_advisory_lock`; writers then wait, and gateways
/// deny calls they cannot record. Brig's keys spell "brig" in their high bytes (the 64-bit
/// key space is shared by the database's users).
pub const SEQUENCER_LOCK: i64 = 0x6272_6967_0000_0001;
const LOCK_SEQUENCER: i64 = SEQUENCER_LOCK;
const LOCK_INCIDENTS: i64 = 0x6272_6967_0000_0002;
const LOCK_MIGRATE: i64 = 0x6272_6967_0000_0003;

/// The channels Brig notifies on.
pub(crate) const CHANNEL_LEDGER: &str = "brig_ledger";
pub(crate) const CHANNEL_CONTAINMENT: &str = "brig_containment";

/// Schema migrations, applied in order; `brig_schema.version` records how many ran. The
/// first is the whole of the SQLite backend's first seven.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE events(
        idx      BIGINT PRIMARY KEY,
        id       BYTEA NOT NULL UNIQUE,
        ts       BIGINT NOT NULL,
        kind     TEXT NOT NULL,
        agent    TEXT NOT NULL,
        session  TEXT,
        workflow TEXT,
        leaf     BYTEA NOT NULL,
        hashes   BYTEA NOT NULL
    );
    CREATE INDEX events_session ON events(session, idx);
    CREATE INDEX events_agent ON events(agent, idx);
    CREATE TABLE blobs(
        idx    BIGINT NOT NULL,
        part   TEXT NOT NULL,
        digest BYTEA NOT NULL,
        salt   BYTEA NOT NULL,
        data   BYTEA NOT NULL,
        PRIMARY KEY (idx, part)
    );
    CREATE TABLE checkpoints(
        seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        size    BIGINT NOT NULL,
        root    BYTEA NOT NULL,
        note    TEXT NOT NULL,
        created BIGINT NOT NULL
    );
    CREATE TABLE containment(
        scope         TEXT PRIMARY KEY,
        reason        TEXT NOT NULL,
        actor         TEXT NOT NULL,
        since         BIGINT NOT NULL,
        kill_upstream BOOLEAN NOT NULL DEFAULT false
    );
    CREATE TABLE approvals(
        id          TEXT PRIMARY KEY,
        event_index BIGINT NOT NULL,
        agent       TEXT NOT NULL,
        workflow    TEXT,
        tool        TEXT NOT NULL,
        summary     TEXT NOT NULL,
        policies    TEXT NOT NULL,
        status      TEXT NOT NULL,
        created     BIGINT NOT NULL,
        decided     BIGINT,
        decided_by  TEXT,
        reason      TEXT
    );
    CREATE INDEX approvals_status ON approvals(status);
    CREATE TABLE detect_seen(
        agent TEXT NOT NULL,
        thing TEXT NOT NULL,
        value BIGINT,
        first BIGINT NOT NULL,
        PRIMARY KEY (agent, thing)
    );
    CREATE TABLE incidents(
        id         TEXT PRIMARY KEY,
        key        TEXT NOT NULL,
        agent      TEXT NOT NULL,
        state      TEXT NOT NULL,
        severity   INTEGER NOT NULL,
        opened     BIGINT NOT NULL,
        last_alert BIGINT NOT NULL,
        doc        TEXT NOT NULL
    );
    CREATE INDEX incidents_key ON incidents(key, last_alert);
    CREATE TABLE incident_notes(
        seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        incident   TEXT NOT NULL,
        ts         BIGINT NOT NULL,
        author     TEXT NOT NULL,
        privileged BOOLEAN NOT NULL,
        text       TEXT NOT NULL
    );
    CREATE INDEX incident_notes_incident ON incident_notes(incident, seq);
    CREATE TABLE tokens(
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL,
        agent      TEXT,
        hash       BYTEA NOT NULL UNIQUE,
        created    BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        revoked    BIGINT
    );",
    // 2: per-token limits of `brig serve` (as SQLite's 8).
    "ALTER TABLE tokens ADD COLUMN rate BIGINT;
     ALTER TABLE tokens ADD COLUMN max_body BIGINT;",
    // 3: running gateways and their heartbeats (as SQLite's 9; see `gateways.rs`).
    "CREATE TABLE gateways(
        id          TEXT PRIMARY KEY,
        agent       TEXT NOT NULL,
        session     TEXT NOT NULL,
        pid         BIGINT NOT NULL,
        host        TEXT NOT NULL,
        started     BIGINT NOT NULL,
        last_seen   BIGINT NOT NULL,
        interval_ms BIGINT NOT NULL,
        stopped     BIGINT,
        silent      BIGINT
    );",
];

pub(crate) fn backend(e: postgres::Error) -> StoreError {
    // The server's own message (with its detail) says more than the client's summary.
    match e.as_db_error() {
        Some(db) => StoreError::Backend(format!("postgresql: {}", db.message())),
        None => StoreError::Backend(format!("postgresql: {e}")),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The connection URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                if userinfo.contains(':') {
                    format!("{scheme}://{user}:***@{host}")
                } else {
                    format!("{scheme}://{userinfo}@{host}")
                }
            }
            None => url.to_string(),
        },
        None => "(a PostgreSQL connection string)".to_string(),
    }
}

/// Connects to `url` (a `postgres://` URL or a libpq key=value string). TLS is not
/// negotiated: reach the server over loopback, a Unix socket or a tunnel.
pub(crate) fn connect(url: &str) -> Result<Client, StoreError> {
    let mut config = Config::from_str(url).map_err(|e| {
        StoreError::Backend(format!(
            "`{}` is not a PostgreSQL connection URL: {e}",
            redact(url)
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        config.application_name("brig");
    }
    config.connect(NoTls).map_err(|e| {
        StoreError::Backend(format!(
            "cannot connect to PostgreSQL at {}: {e}",
            redact(url)
        ))
    })
}

/// Creates a new, empty database `brig_<random>` on the server `admin_url` points at and
/// returns its URL (the same URL with the database name replaced). For tests, drills and
/// benchmarks that each need a ledger of their own on one server.
pub fn scratch_database(admin_url: &str) -> Result<String, StoreError> {
    let mut tag = [0u8; 6];
    getrandom::getrandom(&mut tag).map_err(|e| StoreError::Backend(e.to_string()))?;
    let name: String = std::iter::once("brig_".to_string())
        .chain(tag.iter().map(|b| format!("{b:02x}")))
        .collect();
    // A thread of its own: tests call this from inside async runtimes of every flavor.
    let admin = admin_url.to_string();
    let create = format!("CREATE DATABASE {name}");
    std::thread::spawn(move || connect(&admin)?.batch_execute(&create).map_err(backend))
        .join()
        .map_err(|_| StoreError::Backend("creating a scratch database panicked".into()))??;
    with_database_name(admin_url, &name)
}

/// `url` naming database `name` instead of its own.
fn with_database_name(url: &str, name: &str) -> Result<String, StoreError> {
    let bad = || StoreError::Backend(format!("`{}` is not a postgres:// URL", redact(url)));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let (authority, tail) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// Runs blocking database work where it may block. The client runs its own small runtime
/// and blocks on it, which panics on an async runtime's worker thread (an HTTP handler of
/// the proxy or the server); there the work is announced to tokio with `block_in_place`,
/// which moves the worker's other tasks elsewhere while it runs.
pub(crate) fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// A connection that may be dropped anywhere. `postgres::Client` closes its connection with
/// a blocking call when dropped, which panics on an async runtime's thread (a server's
/// handler, a stream ending); there the close moves to a thread of its own.
pub(crate) struct Conn(Option<Client>);

impl Conn {
    pub(crate) fn new(client: Client) -> Conn {
        Conn(Some(client))
    }
}

impl std::ops::Deref for Conn {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.0.as_ref().expect("a live connection")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Client {
        self.0.as_mut().expect("a live connection")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                std::thread::spawn(move || drop(client));
            }
        }
    }
}

/// The statements an append runs, prepared once per connection.
struct Prepared {
    size: Statement,
    node: Statement,
    find: Statement,
    find_many: Statement,
    leaves: Statement,
    blobs: Statement,
}

impl Prepared {
    fn on(client: &mut Client) -> Result<Prepared, StoreError> {
        Ok(Prepared {
            size: prep(client, "SELECT COALESCE(MAX(idx) + 1, 0) FROM events")?,
            node: prep(client, "SELECT hashes FROM events WHERE idx = $1")?,
            find: prep(client, "SELECT idx FROM events WHERE id = $1")?,
            find_many: prep(client, "SELECT id, idx FROM events WHERE id = ANY($1)")?,
            leaves: prep(
                client,
                "INSERT INTO events (idx, id, ts, kind, agent, session, workflow, leaf, hashes)
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bigint[], $4::text[],
                     $5::text[], $6::text[], $7::text[], $8::bytea[], $9::bytea[])",
            )?,
            blobs: prep(
                client,
                "INSERT INTO blobs (idx, part, digest, salt, data)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::bytea[], $4::bytea[],
                     $5::bytea[])",
            )?,
        })
    }
}

fn set_lock_timeout(client: &mut Client, timeout: Duration) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "SET lock_timeout = {}",
            timeout.as_millis().max(1)
        ))
        .map_err(backend)
}

/// A ledger and Brig's state in one PostgreSQL database.
pub struct PgStore {
    client: Conn,
    prepared: Prepared,
    url: String,
    /// Set again on a new connection ([`PgStore::live`]).
    lock_timeout: Option<Duration>,
}

impl PgStore {
    /// Connects and brings the schema up to date (migrations run under an advisory lock,
    /// so servers starting together do not race).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let mut client = connect(url)?;
        migrate(&mut client)?;
        let prepared = Prepared::on(&mut client)?;
        Ok(PgStore {
            client: Conn::new(client),
            prepared,
            url: url.to_string(),
            lock_timeout: None,
        })
    }

    /// Replaces a connection the server closed (a restart, a failover, an administrator's
    /// `pg_terminate_backend`) with a new one, before the next use. The operation that met
    /// the closed connection failed with its error; without this every later one would
    /// too, and a long-running `brig serve` or gateway would stay broken after the
    /// database came back.
    fn live(&mut self) -> Result<(), StoreError> {
        if !self.client.is_closed() {
            return Ok(());
        }
        let mut client = connect(&self.url)?;
        let prepared = Prepared::on(&mut client)?;
        if let Some(t) = self.lock_timeout {
            set_lock_timeout(&mut client, t)?;
        }
        self.client = Conn::new(client);
        self.prepared = prepared;
        Ok(())
    }

    /// The URL this store was opened with (listeners open their own connection to it).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How long a statement waits for a lock (the ledger's sequencer among them) before it
    /// fails.
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<(), StoreError> {
        self.live()?;
        self.lock_timeout = Some(timeout);
        set_lock_timeout(&mut self.client, timeout)
    }

    fn opt(&mut self, sql: &str, p: &[&(dyn postgres::types::ToSql + Sync)]) -> MaybeRow {
        self.live()?;
        self.client.query_opt(sql, p).map_err(backend)
    }

    pub(crate) fn all(
        &mut self,
        sql: &str,
        p: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<Row>, StoreError> {
        self.live()?;
        self.client.query(sql, p).map_err(backend)
    }

    fn exec(
        &mut self,
        sql: &str,
        p: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.live()?;
        self.client.execute(sql, p).map_err(backend)
    }

    pub fn contain(&mut self, c: &Containment) -> Result<(), StoreError> {
        self.live()?;
        let mut tx = self.client.transaction().map_err(backend)?;
        tx.execute(
            "INSERT INTO containment (scope, reason, actor, since, kill_upstream)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (scope) DO UPDATE SET reason = excluded.reason,
                 actor = excluded.actor, since = excluded.since,
                 kill_upstream = excluded.kill_upstream",
            &[
                &c.scope.key(),
                &c.reason,
                &c.actor,
                &c.since_nanos,
                &c.kill_upstream,
            ],
        )
        .map_err(backend)?;
        tx.batch_execute(&format!("NOTIFY {CHANNEL_CONTAINMENT}"))
            .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    pub fn release(&mut self, scope: &Scope) -> Result<bool, StoreError> {
        self.live()?;
        let mut tx = self.client.transaction().map_err(backend)?;
        let n = tx
            .execute("DELETE FROM containment WHERE scope = $1", &[&scope.key()])
            .map_err(backend)?;
        tx.batch_execute(&format!("NOTIFY {CHANNEL_CONTAINMENT}"))
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(n > 0)
    }

    pub fn containment_of(
        &mut self,
        agent: &str,
        workflow: Option<&str>,
    ) -> Result<Option<Containment>, StoreError> {
        let keys = [
            Scope::All.key(),
            Scope::Agent(agent.to_string()).key(),
            workflow.map_or_else(String::new, |w| Scope::Workflow(w.to_string()).key()),
        ];
        self.opt(
            "SELECT scope, reason, actor, since, kill_upstream FROM containment
             WHERE scope IN ($1, $2, $3) ORDER BY since LIMIT 1",
            &[&keys[0], &keys[1], &keys[2]],
        )?
        .map(|r| containment_row(&r))
        .transpose()
    }

    pub fn quarantines(&mut self) -> Result<Vec<Containment>, StoreError> {
        self.all(
            "SELECT scope, reason, actor, since, kill_upstream FROM containment
             WHERE starts_with(scope, 'path:') ORDER BY since",
            &[],
        )?
        .iter()
        .map(containment_row)
        .collect()
    }

    pub fn containments(&mut self) -> Result<Vec<Containment>, StoreError> {
        self.all(
            "SELECT scope, reason, actor, since, kill_upstream FROM containment ORDER BY since",
            &[],
        )?
        .iter()
        .map(containment_row)
        .collect()
    }

    pub fn add_approval(&mut self, a: &Approval) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO approvals (id, event_index, agent, workflow, tool, summary, policies,
                 status, created, decided, decided_by, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                &a.id,
                &to_i64(a.event_index),
                &a.agent,
                &a.workflow,
                &a.tool,
                &a.summary,
                &a.policies,
                &a.status,
                &a.created_nanos,
                &a.decided_nanos,
                &a.decided_by,
                &a.reason,
            ],
        )
        .map(|_| ())
    }

    pub fn approval(&mut self, id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(self
            .opt(&format!("{APPROVAL_COLUMNS} WHERE id = $1"), &[&id])?
            .map(|r| approval_row(&r)))
    }

    pub fn approvals(&mut self, all: bool) -> Result<Vec<Approval>, StoreError> {
        let sql = if all {
            format!("{APPROVAL_COLUMNS} ORDER BY created")
        } else {
            format!("{APPROVAL_COLUMNS} WHERE status = 'pending' ORDER BY created")
        };
        Ok(self.all(&sql, &[])?.iter().map(approval_row).collect())
    }

    pub fn settle_approval(
        &mut self,
        id: &str,
        status: &str,
        by: &str,
        reason: &str,
        at_nanos: i64,
    ) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE approvals SET status = $2, decided_by = $3, reason = $4, decided = $5
             WHERE id = $1 AND status = 'pending'",
            &[&id, &status, &by, &reason, &at_nanos],
        )
        .map(|n| n == 1)
    }

    pub fn seen_of(&mut self, agent: &str) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        Ok(self
            .all(
                "SELECT thing, value FROM detect_seen WHERE agent = $1",
                &[&agent],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    pub fn remember_seen(
        &mut self,
        facts: &[(String, String, Option<i64>)],
        at_nanos: i64,
    ) -> Result<(), StoreError> {
        self.live()?;
        let mut tx = self.client.transaction().map_err(backend)?;
        let stmt = tx
            .prepare(
                "INSERT INTO detect_seen(agent, thing, value, first) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (agent, thing) DO UPDATE SET value = excluded.value",
            )
            .map_err(backend)?;
        for (agent, thing, value) in facts {
            tx.execute(&stmt, &[agent, thing, value, &at_nanos])
                .map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    /// Runs `f` in one transaction holding the incidents lock (see
    /// [`crate::Store::incident_tx`]).
    pub(crate) fn begin_incidents(&mut self) -> Result<Transaction<'_>, StoreError> {
        self.live()?;
        let mut tx = self.client.transaction().map_err(backend)?;
        tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({LOCK_INCIDENTS})"))
            .map_err(backend)?;
        Ok(tx)
    }

    pub fn put_incident(&mut self, row: &IncidentRow) -> Result<(), StoreError> {
        self.live()?;
        put_incident(&mut *self.client, row)
    }

    pub fn incident(&mut self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        self.live()?;
        if let Some(row) = get_incident(&mut *self.client, id)? {
            return Ok(Some(row));
        }
        let rows: Vec<IncidentRow> = self
            .all(
                &format!("{INCIDENT_COLUMNS} WHERE starts_with(id, $1) ORDER BY id LIMIT 2"),
                &[&id],
            )?
            .iter()
            .map(incident_row)
            .collect();
        match rows.len() {
            1 => Ok(rows.into_iter().next()),
            0 => Ok(None),
            _ => Err(StoreError::Backend(format!(
                "incident id `{id}` is ambiguous: give more of it"
            ))),
        }
    }

    pub fn incidents(&mut self, all: bool, limit: usize) -> Result<Vec<IncidentRow>, StoreError> {
        let filter = if all { "" } else { "WHERE state <> 'closed'" };
        Ok(self
            .all(
                &format!("{INCIDENT_COLUMNS} {filter} ORDER BY opened DESC LIMIT $1"),
                &[&(limit as i64)],
            )?
            .iter()
            .map(incident_row)
            .collect())
    }

    pub fn add_incident_note(&mut self, n: &NoteRow) -> Result<i64, StoreError> {
        let row = self
            .opt(
                "INSERT INTO incident_notes (incident, ts, author, privileged, text)
                 VALUES ($1, $2, $3, $4, $5) RETURNING seq",
                &[&n.incident, &n.ts_nanos, &n.author, &n.privileged, &n.text],
            )?
            .ok_or_else(|| StoreError::Backend("a note insert returned no row".into()))?;
        Ok(row.get(0))
    }

    pub fn incident_notes(&mut self, incident: &str) -> Result<Vec<NoteRow>, StoreError> {
        Ok(self
            .all(
                "SELECT seq, incident, ts, author, privileged, text FROM incident_notes
                 WHERE incident = $1 ORDER BY seq",
                &[&incident],
            )?
            .iter()
            .map(|r| NoteRow {
                seq: r.get(0),
                incident: r.get(1),
                ts_nanos: r.get(2),
                author: r.get(3),
                privileged: r.get(4),
                text: r.get(5),
            })
            .collect())
    }

    pub fn session_events(&mut self, session: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.indices(
            "SELECT idx FROM events WHERE session = $1 ORDER BY idx LIMIT $2",
            session,
            limit,
        )
    }

    pub fn recent_session_events(
        &mut self,
        session: &str,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut v = self.indices(
            "SELECT idx FROM events WHERE session = $1 ORDER BY idx DESC LIMIT $2",
            session,
            limit,
        )?;
        v.reverse();
        Ok(v)
    }

    pub fn recent_agent_events(
        &mut self,
        agent: &str,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut v = self.indices(
            "SELECT idx FROM events WHERE agent = $1 ORDER BY idx DESC LIMIT $2",
            agent,
            limit,
        )?;
        v.reverse();
        Ok(v)
    }

    pub fn agent_events(
        &mut self,
        agent: &str,
        session: Option<&str>,
        from_nanos: i64,
        to_nanos: i64,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .all(
                "SELECT idx FROM events WHERE agent = $1 AND ($2::text IS NULL OR session = $2)
                 AND ts BETWEEN $3 AND $4 ORDER BY idx LIMIT $5",
                &[&agent, &session, &from_nanos, &to_nanos, &(limit as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
    }

    pub fn kinds_since(
        &mut self,
        from_idx: u64,
        kinds: &[&str],
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let kinds: Vec<&str> = kinds.to_vec();
        Ok(self
            .all(
                "SELECT idx FROM events WHERE idx >= $1 AND kind = ANY($2) ORDER BY idx LIMIT $3",
                &[&to_i64(from_idx), &kinds, &(limit as i64)],
            )?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
    }

    fn indices(&mut self, sql: &str, key: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        Ok(self
            .all(sql, &[&key, &(limit as i64)])?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect())
    }

    pub fn add_token(&mut self, t: &TokenRow, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.live()?;
        self.client
            .execute(
                "INSERT INTO tokens (name, role, agent, hash, created, created_by, rate, max_body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &t.name,
                    &t.role,
                    &t.agent,
                    &&hash[..],
                    &t.created_nanos,
                    &t.created_by,
                    &t.rate.map(i64::from),
                    &t.max_body.map(|b| b.min(i64::MAX as u64) as i64),
                ],
            )
            .map(|_| ())
            .map_err(|e| {
                if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
                    StoreError::Backend(format!("a token named `{}` exists already", t.name))
                } else {
                    backend(e)
                }
            })
    }

    pub fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        Ok(self
            .opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1 AND revoked IS NULL"),
                &[&&hash[..]],
            )?
            .map(|r| token_row(&r)))
    }

    pub fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        Ok(self
            .all(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY name"),
                &[],
            )?
            .iter()
            .map(token_row)
            .collect())
    }

    /// Deletes payload part `part` of the event at `index` (an erasure the ledger records
    /// first), then vacuums `blobs` so the dead row's space is reclaimed. PostgreSQL does
    /// not zero freed space: the bytes can linger in data pages until reused, in the WAL
    /// and in backups (see ARCHITECTURE.md). Returns false when there was nothing to delete.
    pub fn erase_blob(&mut self, index: u64, part: &str) -> Result<bool, StoreError> {
        let n = self.exec(
            "DELETE FROM blobs WHERE idx = $1 AND part = $2",
            &[&to_i64(index), &part],
        )?;
        if n > 0 {
            self.client.batch_execute("VACUUM blobs").map_err(backend)?;
        }
        Ok(n > 0)
    }

    pub fn revoke_token(&mut self, name: &str, at_nanos: i64) -> Result<bool, StoreError> {
        self.exec(
            "UPDATE tokens SET revoked = $2 WHERE name = $1 AND revoked IS NULL",
            &[&name, &at_nanos],
        )
        .map(|n| n > 0)
    }
}

/// At most one row.
type MaybeRow = Result<Option<Row>, StoreError>;

fn prep(client: &mut Client, sql: &str) -> Result<Statement, StoreError> {
    client.prepare(sql).map_err(backend)
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({LOCK_MIGRATE})"))
        .map_err(backend)?;
    let fresh: bool = tx
        .query_one("SELECT to_regclass('brig_schema') IS NULL", &[])
        .map_err(backend)?
        .get(0);
    if fresh {
        tx.batch_execute("CREATE TABLE brig_schema(version INTEGER NOT NULL)")
            .map_err(backend)?;
    }
    let version: i32 = tx
        .query_opt("SELECT version FROM brig_schema", &[])
        .map_err(backend)?
        .map_or(0, |r| r.get(0));
    let version = version.max(0) as usize;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {version}, newer than this Brig knows ({}): upgrade Brig",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.batch_execute(sql).map_err(|e| {
            StoreError::Backend(format!("schema migration {} failed: {}", i + 1, backend(e)))
        })?;
    }
    tx.execute("DELETE FROM brig_schema", &[])
        .map_err(backend)?;
    tx.execute(
        "INSERT INTO brig_schema(version) VALUES ($1)",
        &[&(MIGRATIONS.len() as i32)],
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}

const INCIDENT_COLUMNS: &str =
    "SELECT id, key, agent, state, severity, opened, last_alert, doc FROM incidents";

fn incident_row(r: &Row) -> IncidentRow {
    IncidentRow {
        id: r.get(0),
        key: r.get(1),
        agent: r.get(2),
        state: r.get(3),
        severity: r.get::<_, i32>(4).clamp(0, 3) as u8,
        opened_nanos: r.get(5),
        last_alert_nanos: r.get(6),
        doc: r.get(7),
    }
}

pub(crate) fn find_open_incident(
    c: &mut impl postgres::GenericClient,
    key: &str,
    since_nanos: i64,
) -> Result<Option<IncidentRow>, StoreError> {
    Ok(c.query_opt(
        &format!(
            "{INCIDENT_COLUMNS} WHERE key = $1 AND last_alert >= $2 AND state <> 'closed'
             ORDER BY last_alert DESC LIMIT 1"
        ),
        &[&key, &since_nanos],
    )
    .map_err(backend)?
    .map(|r| incident_row(&r)))
}

pub(crate) fn get_incident(
    c: &mut impl postgres::GenericClient,
    id: &str,
) -> Result<Option<IncidentRow>, StoreError> {
    Ok(
        c.query_opt(&format!("{INCIDENT_COLUMNS} WHERE id = $1"), &[&id])
            .map_err(backend)?
            .map(|r| incident_row(&r)),
    )
}

pub(crate) fn put_incident(
    c: &mut impl postgres::GenericClient,
    row: &IncidentRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO incidents (id, key, agent, state, severity, opened, last_alert, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, severity = excluded.severity,
             last_alert = excluded.last_alert, doc = excluded.doc",
        &[
            &row.id,
            &row.key,
            &row.agent,
            &row.state,
            &i32::from(row.severity),
            &row.opened_nanos,
            &row.last_alert_nanos,
            &row.doc,
        ],
    )
    .map(|_| ())
    .map_err(backend)
}

/// The incident transaction's PostgreSQL half (interior mutability: the closure gets a
/// shared reference, as it does on SQLite).
pub(crate) struct PgIncidentTx<'a>(pub(crate) RefCell<Transaction<'a>>);

fn containment_row(r: &Row) -> Result<Containment, StoreError> {
    let key: String = r.get(0);
    let scope = Scope::from_key(&key)
        .ok_or_else(|| StoreError::Damaged(format!("unknown containment scope `{key}`")))?;
    Ok(Containment {
        scope,
        reason: r.get(1),
        actor: r.get(2),
        since_nanos: r.get(3),
        kill_upstream: r.get(4),
    })
}

const APPROVAL_COLUMNS: &str = "SELECT id, event_index, agent, workflow, tool, summary, policies,
    status, created, decided, decided_by, reason FROM approvals";

fn approval_row(r: &Row) -> Approval {
    Approval {
        id: r.get(0),
        event_index: r.get::<_, i64>(1) as u64,
        agent: r.get(2),
        workflow: r.get(3),
        tool: r.get(4),
        summary: r.get(5),
        policies: r.get(6),
        status: r.get(7),
        created_nanos: r.get(8),
        decided_nanos: r.get(9),
        decided_by: r.get(10),
        reason: r.get(11),
    }
}

const TOKEN_COLUMNS: &str = "name, role, agent, created, created_by, revoked, rate, max_body";

fn token_row(r: &Row) -> TokenRow {
    TokenRow {
        name: r.get(0),
        role: r.get(1),
        agent: r.get(2),
        created_nanos: r.get(3),
        created_by: r.get(4),
        revoked_nanos: r.get(5),
        rate: r
            .get::<_, Option<i64>>(6)
            .map(|v| v.clamp(0, u32::MAX as i64) as u32),
        max_body: r.get::<_, Option<i64>>(7).map(|v| v.max(0) as u64),
    }
}

fn blob_from_row(digest: Vec<u8>, salt: Vec<u8>, data: Vec<u8>) -> Result<Blob, StoreError> {
    let digest: [u8; 32] = digest
        .try_into()
        .map_err(|_| StoreError::Damaged("a blob digest is not 32 bytes".into()))?;
    let salt: [u8; SALT_LEN] = salt
        .try_into()
        .map_err(|_| StoreError::Damaged(format!("a blob salt is not {SALT_LEN} bytes")))?;
    Ok(Blob { digest, salt, data })
}

fn checkpoint_row(r: &Row) -> Result<StoredCheckpoint, StoreError> {
    let seq: i64 = r.get(0);
    let root: Vec<u8> = r.get(2);
    let root = <Hash>::try_from(root.as_slice()).map_err(|_| {
        StoreError::Damaged(format!(
            "checkpoint #{seq} has a root of {} bytes",
            root.len()
        ))
    })?;
    Ok(StoredCheckpoint {
        seq: seq as u64,
        size: r.get::<_, i64>(1) as u64,
        root,
        note: r.get(3),
        created_nanos: r.get(4),
    })
}

/// Rows of an append waiting to be written (see the module docs).
#[derive(Default)]
struct Pending {
    idx: Vec<i64>,
    id: Vec<Vec<u8>>,
    ts: Vec<i64>,
    kind: Vec<String>,
    agent: Vec<String>,
    session: Vec<Option<String>>,
    workflow: Vec<Option<String>>,
    leaf: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
    b_idx: Vec<i64>,
    b_part: Vec<String>,
    b_digest: Vec<Vec<u8>>,
    b_salt: Vec<Vec<u8>>,
    b_data: Vec<Vec<u8>>,
}

struct PgAppend<'c> {
    tx: Transaction<'c>,
    prepared: &'c Prepared,
    pending: Pending,
}

impl PgAppend<'_> {
    fn flush(&mut self) -> Result<(), StoreError> {
        let p = std::mem::take(&mut self.pending);
        if !p.idx.is_empty() {
            self.tx
                .execute(
                    &self.prepared.leaves,
                    &[
                        &p.idx,
                        &p.id,
                        &p.ts,
                        &p.kind,
                        &p.agent,
                        &p.session,
                        &p.workflow,
                        &p.leaf,
                        &p.hashes,
                    ],
                )
                .map_err(backend)?;
        }
        if !p.b_idx.is_empty() {
            self.tx
                .execute(
                    &self.prepared.blobs,
                    &[&p.b_idx, &p.b_part, &p.b_digest, &p.b_salt, &p.b_data],
                )
                .map_err(backend)?;
        }
        Ok(())
    }
}

impl AppendTx for PgAppend<'_> {
    fn size(&mut self) -> Result<u64, StoreError> {
        self.flush()?;
        let r = self
            .tx
            .query_one(&self.prepared.size, &[])
            .map_err(backend)?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        self.flush()?;
        let (row, offset) = node_location(level, index);
        let hashes: Vec<u8> = self
            .tx
            .query_opt(&self.prepared.node, &[&to_i64(row)])
            .map_err(backend)?
            .map(|r| r.get(0))
            .ok_or_else(|| missing_row(row, level, index))?;
        hash_at(&hashes, offset, row)
    }

    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError> {
        self.flush()?;
        Ok(self
            .tx
            .query_opt(&self.prepared.find, &[&&id.as_bytes()[..]])
            .map_err(backend)?
            .map(|r| r.get::<_, i64>(0) as u64))
    }

    fn find_events(&mut self, ids: &[EventId]) -> Result<HashMap<EventId, u64>, StoreError> {
        self.flush()?;
        let keys: Vec<&[u8]> = ids.iter().map(|id| &id.as_bytes()[..]).collect();
        let rows = self
            .tx
            .query(&self.prepared.find_many, &[&keys])
            .map_err(backend)?;
        // The rows name ids by their bytes: find each among those asked for.
        let asked: HashMap<&[u8], EventId> =
            ids.iter().map(|id| (&id.as_bytes()[..], *id)).collect();
        let mut found = HashMap::with_capacity(rows.len());
        for r in rows {
            let raw: &[u8] = r.get(0);
            if let Some(id) = asked.get(raw) {
                found.insert(*id, r.get::<_, i64>(1) as u64);
            }
        }
        Ok(found)
    }

    fn insert_leaf(&mut self, row: &NewLeafRow<'_>) -> Result<(), StoreError> {
        let p = &mut self.pending;
        p.idx.push(to_i64(row.index));
        p.id.push(row.id.as_bytes().to_vec());
        p.ts.push(row.ts_nanos);
        p.kind.push(row.kind.to_string());
        p.agent.push(row.agent.to_string());
        p.session.push(row.session.map(str::to_string));
        p.workflow.push(row.workflow.map(str::to_string));
        p.leaf.push(row.leaf.to_vec());
        p.hashes.push(row.hashes.to_vec());
        Ok(())
    }

    fn insert_blob(&mut self, index: u64, part: &str, blob: &Blob) -> Result<(), StoreError> {
        let p = &mut self.pending;
        p.b_idx.push(to_i64(index));
        p.b_part.push(part.to_string());
        p.b_digest.push(blob.digest.to_vec());
        p.b_salt.push(blob.salt.to_vec());
        p.b_data.push(blob.data.clone());
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.flush()?;
        self.tx
            .batch_execute(&format!("NOTIFY {CHANNEL_LEDGER}"))
            .map_err(backend)?;
        self.tx.commit().map_err(backend)
    }
}

fn missing_row(row: u64, level: u32, index: u64) -> StoreError {
    StoreError::Damaged(format!(
        "row {row} (holding subtree level {level} #{index}) is missing"
    ))
}

impl LedgerStore for PgStore {
    fn begin_append(&mut self) -> Result<Box<dyn AppendTx + '_>, StoreError> {
        self.live()?;
        let mut tx = self.client.transaction().map_err(backend)?;
        tx.batch_execute(&format!("SELECT pg_advisory_xact_lock({LOCK_SEQUENCER})"))
            .map_err(backend)?;
        Ok(Box::new(PgAppend {
            tx,
            prepared: &self.prepared,
            pending: Pending::default(),
        }))
    }

    fn size(&mut self) -> Result<u64, StoreError> {
        self.live()?;
        let r = self
            .client
            .query_one(&self.prepared.size, &[])
            .map_err(backend)?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        let (row, offset) = node_location(level, index);
        self.live()?;
        let hashes: Vec<u8> = self
            .client
            .query_opt(&self.prepared.node, &[&to_i64(row)])
            .map_err(backend)?
            .map(|r| r.get(0))
            .ok_or_else(|| missing_row(row, level, index))?;
        hash_at(&hashes, offset, row)
    }

    fn leaf(&mut self, index: u64) -> Result<Option<LeafRow>, StoreError> {
        Ok(self
            .opt(
                "SELECT leaf, hashes FROM events WHERE idx = $1",
                &[&to_i64(index)],
            )?
            .map(|r| LeafRow {
                index,
                leaf: r.get(0),
                hashes: r.get(1),
            }))
    }

    fn scan(
        &mut self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(LeafRow) -> bool,
    ) -> Result<(), StoreError> {
        // Pages keep memory bounded on a long ledger without holding a cursor open.
        const PAGE: i64 = 4096;
        let (mut next, to) = (to_i64(from), to_i64(to));
        while next < to {
            let rows = self.all(
                "SELECT idx, leaf, hashes FROM events WHERE idx >= $1 AND idx < $2
                 ORDER BY idx LIMIT $3",
                &[&next, &to, &PAGE],
            )?;
            let Some(last) = rows.last() else { break };
            next = last.get::<_, i64>(0) + 1;
            let full = rows.len() as i64 == PAGE;
            for r in rows {
                let row = LeafRow {
                    index: r.get::<_, i64>(0) as u64,
                    leaf: r.get(1),
                    hashes: r.get(2),
                };
                if !f(row) {
                    return Ok(());
                }
            }
            if !full {
                break;
            }
        }
        Ok(())
    }

    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError> {
        self.live()?;
        Ok(self
            .client
            .query_opt(&self.prepared.find, &[&&id.as_bytes()[..]])
            .map_err(backend)?
            .map(|r| r.get::<_, i64>(0) as u64))
    }

    fn blob(&mut self, index: u64, part: &str) -> Result<Option<Blob>, StoreError> {
        self.opt(
            "SELECT digest, salt, data FROM blobs WHERE idx = $1 AND part = $2",
            &[&to_i64(index), &part],
        )?
        .map(|r| blob_from_row(r.get(0), r.get(1), r.get(2)))
        .transpose()
    }

    fn scan_blobs(&mut self, f: &mut dyn FnMut(StoredBlob) -> bool) -> Result<(), StoreError> {
        const PAGE: i64 = 1024;
        let mut after: (i64, String) = (-1, String::new());
        loop {
            let rows = self.all(
                "SELECT idx, part, digest, salt, data FROM blobs WHERE (idx, part) > ($1, $2)
                 ORDER BY idx, part LIMIT $3",
                &[&after.0, &after.1, &PAGE],
            )?;
            let full = rows.len() as i64 == PAGE;
            for r in rows {
                after = (r.get(0), r.get(1));
                let stored = StoredBlob {
                    index: after.0 as u64,
                    part: after.1.clone(),
                    blob: blob_from_row(r.get(2), r.get(3), r.get(4))?,
                };
                if !f(stored) {
                    return Ok(());
                }
            }
            if !full {
                return Ok(());
            }
        }
    }

    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<u64, StoreError> {
        let r = self
            .opt(
                "INSERT INTO checkpoints (size, root, note, created) VALUES ($1, $2, $3, $4)
                 RETURNING seq",
                &[&to_i64(cp.size), &&cp.root[..], &cp.note, &cp.created_nanos],
            )?
            .ok_or_else(|| StoreError::Backend("a checkpoint insert returned no row".into()))?;
        Ok(r.get::<_, i64>(0) as u64)
    }

    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.all(
            "SELECT seq, size, root, note, created FROM checkpoints ORDER BY seq",
            &[],
        )?
        .iter()
        .map(checkpoint_row)
        .collect()
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.opt(
            "SELECT seq, size, root, note, created FROM checkpoints ORDER BY seq DESC LIMIT 1",
            &[],
        )?
        .map(|r| checkpoint_row(&r))
        .transpose()
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .opt("SELECT value FROM meta WHERE key = $1", &[&key])?
            .map(|r| r.get(0)))
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[&key, &value],
        )
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, with_database_name};

    #[test]
    fn scratch_urls_keep_everything_but_the_name() {
        assert_eq!(
            with_database_name("postgres://u:p@h:5/postgres?sslmode=disable", "brig_1").unwrap(),
            "postgres://u:p@h:5/brig_1?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgresql://h", "x").unwrap(),
            "postgresql://h/x"
        );
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://brig:s3cret@db.example:5432/brig"),
            "postgres://brig:***@db.example:5432/brig"
        );
        assert_eq!(
            redact("postgres://brig@127.0.0.1/brig"),
            "postgres://brig@127.0.0.1/brig"
        );
        assert!(!redact("host=x password=s3cret").contains("s3cret"));
    }
}
