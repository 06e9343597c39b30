//! The embedded SQLite backend (WAL, `synchronous=FULL`).
//!
//! Durability: a commit in WAL mode with `synchronous=FULL` fsyncs the WAL before it
//! returns, so an acknowledged append survives a process kill and a power cut. Group commit
//! (many events per transaction) keeps that fsync from bounding throughput.
//!
//! Several processes may open the same file: appends take SQLite's write lock with
//! `BEGIN IMMEDIATE`, and the ledger re-reads the tree size inside that lock.

use std::path::Path;
use std::time::Duration;

use brig_ledger::merkle::Hash;
use brig_ledger::store::{
    hash_at, node_location, AppendTx, LeafRow, LedgerStore, NewLeafRow, StoreError, StoredBlob,
    StoredCheckpoint,
};
use brig_model::{Blob, EventId, SALT_LEN};
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: the ledger.
    "CREATE TABLE meta(
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE events(
        idx      INTEGER PRIMARY KEY,  -- leaf index, from 0
        id       BLOB NOT NULL,        -- UUIDv7, 16 bytes
        ts       INTEGER NOT NULL,     -- ns since the Unix epoch
        kind     TEXT NOT NULL,
        agent    TEXT NOT NULL,
        session  TEXT,
        workflow TEXT,
        leaf     BLOB NOT NULL,        -- canonical event JSON, exactly as hashed
        hashes   BLOB NOT NULL         -- leaf hash ++ hashes of the subtrees it completes
    );
    CREATE UNIQUE INDEX events_id ON events(id);
    CREATE TABLE blobs(
        idx    INTEGER NOT NULL,       -- the event this payload belongs to
        part   TEXT NOT NULL,          -- its name in the event's payload
        digest BLOB NOT NULL,          -- SHA-256(salt ++ data), as the leaf records it
        salt   BLOB NOT NULL,
        data   BLOB NOT NULL,
        PRIMARY KEY (idx, part)
    );
    CREATE TABLE checkpoints(
        seq     INTEGER PRIMARY KEY AUTOINCREMENT,
        size    INTEGER NOT NULL,
        root    BLOB NOT NULL,
        note    TEXT NOT NULL,         -- the signed note, byte for byte
        created INTEGER NOT NULL
    );",
    // 2: the kill switch. One row per contained scope; the history is in the ledger.
    "CREATE TABLE containment(
        scope  TEXT PRIMARY KEY,       -- 'agent:<id>', 'workflow:<id>' or 'all'
        reason TEXT NOT NULL,
        actor  TEXT NOT NULL,
        since  INTEGER NOT NULL        -- ns since the Unix epoch
    );",
    // 3: calls held for a human decision. The call itself (arguments and all) is in the
    // ledger at `event_index`; this is only the queue.
    "CREATE TABLE approvals(
        id          TEXT PRIMARY KEY,
        event_index INTEGER NOT NULL,  -- the held tool.call in the ledger
        agent       TEXT NOT NULL,
        workflow    TEXT,
        tool        TEXT NOT NULL,
        summary     TEXT NOT NULL,     -- the call's normalized actions, for people
        policies    TEXT NOT NULL,     -- the policies that held it, comma-separated
        status      TEXT NOT NULL,     -- pending | approved | denied | expired | cancelled
        created     INTEGER NOT NULL,
        decided     INTEGER,
        decided_by  TEXT,
        reason      TEXT
    );
    CREATE INDEX approvals_status ON approvals(status);",
    // 4: containment that also stops the upstream server process.
    "ALTER TABLE containment ADD COLUMN kill_upstream INTEGER NOT NULL DEFAULT 0;",
    // 5: what detection knows of each agent across sessions: first use of a tool, host or
    // kind of action; the digest of each tool description it was shown; its call count.
    // Derived from the ledger (it could be rebuilt from it); kept so that a new session
    // does not start from nothing.
    "CREATE TABLE detect_seen(
        agent TEXT NOT NULL,
        thing TEXT NOT NULL,           -- 'tool:<name>', 'host:<h>', 'action:<kind>', …
        value INTEGER,                 -- a digest or a count, for things that have one
        first INTEGER NOT NULL,        -- ns since the Unix epoch
        PRIMARY KEY (agent, thing)
    );",
    // 6: incidents. The working state of each incident (its JSON document in `doc`, with
    // the columns lookups need); every change is also an `incident.transition` event in
    // the ledger. Notes are kept here apart from the document so that privileged notes can
    // be withheld. The two event indexes let an incident's sessions be read without a scan.
    "CREATE TABLE incidents(
        id         TEXT PRIMARY KEY,
        key        TEXT NOT NULL,      -- what its alerts share: 'agent:…', 'session:…', 'workflow:…'
        agent      TEXT NOT NULL,
        state      TEXT NOT NULL,      -- open | acknowledged | contained | eradicated | recovered | closed
        severity   INTEGER NOT NULL,   -- 0 advisory … 3 reportable_breach
        opened     INTEGER NOT NULL,   -- ns since the Unix epoch
        last_alert INTEGER NOT NULL,
        doc        TEXT NOT NULL
    );
    CREATE INDEX incidents_key ON incidents(key, last_alert);
    CREATE TABLE incident_notes(
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        incident   TEXT NOT NULL,
        ts         INTEGER NOT NULL,
        author     TEXT NOT NULL,
        privileged INTEGER NOT NULL,
        text       TEXT NOT NULL
    );
    CREATE INDEX incident_notes_incident ON incident_notes(incident, seq);
    CREATE INDEX events_session ON events(session, idx);
    CREATE INDEX events_agent ON events(agent, idx);",
    // 7: API tokens of `brig serve`, stored as SHA-256 of the secret (never the secret).
    "CREATE TABLE tokens(
        name       TEXT PRIMARY KEY,
        role       TEXT NOT NULL,      -- agent | operator | auditor
        agent      TEXT,               -- an agent token's own identity
        hash       BLOB NOT NULL UNIQUE,
        created    INTEGER NOT NULL,   -- ns since the Unix epoch
        created_by TEXT NOT NULL,
        revoked    INTEGER             -- ns since the Unix epoch, once revoked
    );",
    // 8: per-token limits of `brig serve` (NULL: none of its own).
    "ALTER TABLE tokens ADD COLUMN rate INTEGER;      -- requests per second
     ALTER TABLE tokens ADD COLUMN max_body INTEGER;  -- bytes per request body",
    // 9: running gateways and their heartbeats (the watchdog's; see `gateways.rs`).
    "CREATE TABLE gateways(
        id          TEXT PRIMARY KEY,
        agent       TEXT NOT NULL,
        session     TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        host        TEXT NOT NULL,
        started     INTEGER NOT NULL,  -- ns since the Unix epoch
        last_seen   INTEGER NOT NULL,  -- ns, the latest heartbeat
        interval_ms INTEGER NOT NULL,  -- how often it beats
        stopped     INTEGER,           -- ns, a clean exit
        silent      INTEGER            -- ns, reported silent (cleared by a heartbeat)
    );",
];

/// How long a writer waits for another process's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A ledger database in one SQLite file.
pub struct SqliteStore {
    pub(crate) conn: Connection,
}

pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("sqlite: {e}"))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Opens (creating when `create`) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path, create: bool) -> Result<Self, StoreError> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| StoreError::Backend(format!("cannot open {}: {e}", path.display())))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -65536;
             PRAGMA mmap_size = 1073741824;
             PRAGMA wal_autocheckpoint = 8192;",
        )
        .map_err(backend)?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    /// How long a statement waits for another writer's lock before it fails (30 s unless
    /// set). The gateway sets it short: a tool call must be denied promptly, not hang, when
    /// the ledger cannot be written.
    pub fn set_busy_timeout(&mut self, timeout: Duration) -> Result<(), StoreError> {
        self.conn.busy_timeout(timeout).map_err(backend)
    }

    /// An in-memory store, for tests and benchmarks of the ledger logic.
    pub fn in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(backend)?;
        let mut store = SqliteStore { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        let version: usize = tx
            .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(backend)? as usize;
        if version > MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "the database has schema version {version}, newer than this Brig knows ({}): upgrade Brig",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).map_err(|e| {
                StoreError::Backend(format!("schema migration {} failed: {e}", i + 1))
            })?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
            .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    /// Marks `scope` contained (replacing an earlier reason).
    pub fn contain(&mut self, c: &Containment) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO containment (scope, reason, actor, since, kill_upstream)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (scope) DO UPDATE SET reason = excluded.reason,
                     actor = excluded.actor, since = excluded.since,
                     kill_upstream = excluded.kill_upstream",
                params![
                    c.scope.key(),
                    c.reason,
                    c.actor,
                    c.since_nanos,
                    c.kill_upstream
                ],
            )
            .map(|_| ())
            .map_err(backend)
    }

    /// Lifts containment of `scope`; false when it was not contained.
    pub fn release(&mut self, scope: &Scope) -> Result<bool, StoreError> {
        self.conn
            .execute("DELETE FROM containment WHERE scope = ?1", [scope.key()])
            .map(|n| n > 0)
            .map_err(backend)
    }

    /// The containment that stops this agent, if any: everything, its workflow, or itself.
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
        self.conn
            .prepare_cached(
                "SELECT scope, reason, actor, since, kill_upstream FROM containment
                 WHERE scope IN (?1, ?2, ?3) ORDER BY since LIMIT 1",
            )
            .and_then(|mut s| {
                s.query_row(params![keys[0], keys[1], keys[2]], containment_row)
                    .optional()
            })
            .map_err(backend)?
            .transpose()
    }

    /// The quarantined path globs.
    pub fn quarantines(&mut self) -> Result<Vec<Containment>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT scope, reason, actor, since, kill_upstream FROM containment
                 WHERE scope >= 'path:' AND scope < 'path;' ORDER BY since",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], containment_row).map_err(backend)?;
        rows.map(|r| r.map_err(backend).and_then(|x| x)).collect()
    }

    /// Every contained scope.
    pub fn containments(&mut self) -> Result<Vec<Containment>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT scope, reason, actor, since, kill_upstream FROM containment ORDER BY since",
            )
            .map_err(backend)?;
        let rows = stmt.query_map([], containment_row).map_err(backend)?;
        rows.map(|r| r.map_err(backend).and_then(|x| x)).collect()
    }

    /// Queues a held call.
    pub fn add_approval(&mut self, a: &Approval) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO approvals (id, event_index, agent, workflow, tool, summary, policies,
                     status, created, decided, decided_by, reason)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    a.id,
                    to_i64(a.event_index),
                    a.agent,
                    a.workflow,
                    a.tool,
                    a.summary,
                    a.policies,
                    a.status,
                    a.created_nanos,
                    a.decided_nanos,
                    a.decided_by,
                    a.reason
                ],
            )
            .map(|_| ())
            .map_err(backend)
    }

    pub fn approval(&mut self, id: &str) -> Result<Option<Approval>, StoreError> {
        self.conn
            .prepare_cached(&format!("{APPROVAL_COLUMNS} WHERE id = ?1"))
            .and_then(|mut s| s.query_row([id], approval_row).optional())
            .map_err(backend)
    }

    /// Approvals, oldest first; only pending ones unless `all`.
    pub fn approvals(&mut self, all: bool) -> Result<Vec<Approval>, StoreError> {
        let sql = if all {
            format!("{APPROVAL_COLUMNS} ORDER BY created")
        } else {
            format!("{APPROVAL_COLUMNS} WHERE status = 'pending' ORDER BY created")
        };
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt.query_map([], approval_row).map_err(backend)?;
        rows.map(|r| r.map_err(backend)).collect()
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
        self.conn
            .execute(
                "UPDATE approvals SET status = ?2, decided_by = ?3, reason = ?4, decided = ?5
                 WHERE id = ?1 AND status = 'pending'",
                params![id, status, by, reason, at_nanos],
            )
            .map(|n| n == 1)
            .map_err(backend)
    }

    /// What detection remembers of `agent` (see [`SqliteStore::remember_seen`]).
    pub fn seen_of(&mut self, agent: &str) -> Result<Vec<(String, Option<i64>)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT thing, value FROM detect_seen WHERE agent = ?1")
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![agent], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    }

    /// Records facts detection learned: (agent, thing, value). A thing already known keeps
    /// its first time and takes the new value.
    pub fn remember_seen(
        &mut self,
        facts: &[(String, String, Option<i64>)],
        at_nanos: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction().map_err(backend)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO detect_seen(agent, thing, value, first) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(agent, thing) DO UPDATE SET value = excluded.value",
                )
                .map_err(backend)?;
            for (agent, thing, value) in facts {
                stmt.execute(params![agent, thing, value, at_nanos])
                    .map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    /// Deletes payload part `part` of the event at `index` (an erasure the ledger records
    /// first). `secure_delete` overwrites the freed pages with zeros, and the WAL is
    /// checkpointed and truncated, so the bytes are gone from the files, not only unlinked.
    /// Returns false when there was nothing to delete.
    pub fn erase_blob(&mut self, index: u64, part: &str) -> Result<bool, StoreError> {
        self.conn
            .pragma_update(None, "secure_delete", true)
            .map_err(backend)?;
        let deleted = self
            .conn
            .execute(
                "DELETE FROM blobs WHERE idx = ?1 AND part = ?2",
                params![to_i64(index), part],
            )
            .map_err(backend);
        let _ = self.conn.pragma_update(None, "secure_delete", false);
        let deleted = deleted? > 0;
        if deleted {
            // A reader holding an old snapshot can keep frames in the WAL; then they go at
            // the next checkpoint, and the pages themselves are already zeroed.
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(backend)?;
        }
        Ok(deleted)
    }

    /// Direct access for tests that must damage the database the way an attacker would.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn size_of(conn: &Connection) -> Result<u64, StoreError> {
    conn.prepare_cached("SELECT COALESCE(MAX(idx) + 1, 0) FROM events")
        .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
        .map(|n| n as u64)
        .map_err(backend)
}

fn node_of(conn: &Connection, level: u32, index: u64) -> Result<Hash, StoreError> {
    let (row, offset) = node_location(level, index);
    let hashes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT hashes FROM events WHERE idx = ?1")
        .and_then(|mut s| s.query_row([to_i64(row)], |r| r.get(0)).optional())
        .map_err(backend)?;
    let hashes = hashes.ok_or_else(|| {
        StoreError::Damaged(format!(
            "row {row} (holding subtree level {level} #{index}) is missing"
        ))
    })?;
    hash_at(&hashes, offset, row)
}

fn find_event_in(conn: &Connection, id: &EventId) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT idx FROM events WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([&id.as_bytes()[..]], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map(|o| o.map(|i| i as u64))
        .map_err(backend)
}

fn blob_from_row(digest: Vec<u8>, salt: Vec<u8>, data: Vec<u8>) -> Result<Blob, StoreError> {
    let digest: [u8; 32] = digest
        .try_into()
        .map_err(|_| StoreError::Damaged("a blob digest is not 32 bytes".into()))?;
    let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| {
        StoreError::Damaged(format!(
            "blob {} has a salt that is not {SALT_LEN} bytes",
            hex(&digest)
        ))
    })?;
    Ok(Blob { digest, salt, data })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

struct SqliteAppend<'c> {
    tx: Transaction<'c>,
}

impl AppendTx for SqliteAppend<'_> {
    fn size(&mut self) -> Result<u64, StoreError> {
        size_of(&self.tx)
    }

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        node_of(&self.tx, level, index)
    }

    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError> {
        find_event_in(&self.tx, id)
    }

    fn insert_leaf(&mut self, row: &NewLeafRow<'_>) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO events (idx, id, ts, kind, agent, session, workflow, leaf, hashes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(row.index),
                    &row.id.as_bytes()[..],
                    row.ts_nanos,
                    row.kind,
                    row.agent,
                    row.session,
                    row.workflow,
                    row.leaf,
                    row.hashes,
                ])
            })
            .map(|_| ())
            .map_err(backend)
    }

    fn insert_blob(&mut self, index: u64, part: &str, blob: &Blob) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO blobs (idx, part, digest, salt, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(index),
                    part,
                    &blob.digest[..],
                    &blob.salt[..],
                    &blob.data
                ])
            })
            .map(|_| ())
            .map_err(backend)
    }

    fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().map_err(backend)
    }
}

impl LedgerStore for SqliteStore {
    fn begin_append(&mut self) -> Result<Box<dyn AppendTx + '_>, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)?;
        Ok(Box::new(SqliteAppend { tx }))
    }

    fn size(&mut self) -> Result<u64, StoreError> {
        size_of(&self.conn)
    }

    fn node(&mut self, level: u32, index: u64) -> Result<Hash, StoreError> {
        node_of(&self.conn, level, index)
    }

    fn leaf(&mut self, index: u64) -> Result<Option<LeafRow>, StoreError> {
        self.conn
            .prepare_cached("SELECT leaf, hashes FROM events WHERE idx = ?1")
            .and_then(|mut s| {
                s.query_row([to_i64(index)], |r| {
                    Ok(LeafRow {
                        index,
                        leaf: r.get(0)?,
                        hashes: r.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(backend)
    }

    fn scan(
        &mut self,
        from: u64,
        to: u64,
        f: &mut dyn FnMut(LeafRow) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, leaf, hashes FROM events WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
            )
            .map_err(backend)?;
        let mut rows = stmt.query([to_i64(from), to_i64(to)]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let row = LeafRow {
                index: r.get::<_, i64>(0).map_err(backend)? as u64,
                leaf: r.get(1).map_err(backend)?,
                hashes: r.get(2).map_err(backend)?,
            };
            if !f(row) {
                break;
            }
        }
        Ok(())
    }

    fn find_event(&mut self, id: &EventId) -> Result<Option<u64>, StoreError> {
        find_event_in(&self.conn, id)
    }

    fn blob(&mut self, index: u64, part: &str) -> Result<Option<Blob>, StoreError> {
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT digest, salt, data FROM blobs WHERE idx = ?1 AND part = ?2")
            .and_then(|mut s| {
                s.query_row(params![to_i64(index), part], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
            })
            .map_err(backend)?;
        row.map(|(digest, salt, data)| blob_from_row(digest, salt, data))
            .transpose()
    }

    fn scan_blobs(&mut self, f: &mut dyn FnMut(StoredBlob) -> bool) -> Result<(), StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT idx, part, digest, salt, data FROM blobs ORDER BY idx, part")
            .map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            let stored = StoredBlob {
                index: r.get::<_, i64>(0).map_err(backend)? as u64,
                part: r.get(1).map_err(backend)?,
                blob: blob_from_row(
                    r.get(2).map_err(backend)?,
                    r.get(3).map_err(backend)?,
                    r.get(4).map_err(backend)?,
                )?,
            };
            if !f(stored) {
                break;
            }
        }
        Ok(())
    }

    fn add_checkpoint(&mut self, cp: &StoredCheckpoint) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO checkpoints (size, root, note, created) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    to_i64(cp.size),
                    &cp.root[..],
                    cp.note,
                    cp.created_nanos
                ])
            })
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    fn checkpoints(&mut self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, size, root, note, created FROM checkpoints ORDER BY seq")
            .map_err(backend)?;
        let rows = stmt.query_map([], checkpoint_from_row).map_err(backend)?;
        rows.map(|r| r.map_err(backend).and_then(|x| x)).collect()
    }

    fn latest_checkpoint(&mut self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT seq, size, root, note, created FROM checkpoints ORDER BY seq DESC LIMIT 1",
            )
            .and_then(|mut s| s.query_row([], checkpoint_from_row).optional())
            .map_err(backend)?
            .transpose()
    }

    fn meta(&mut self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
            .map_err(backend)
    }

    fn set_meta(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )
            .map(|_| ())
            .map_err(backend)
    }
}

/// What is contained: one agent, one workflow, every agent, or a quarantined path glob
/// (no agent may touch what it matches).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Agent(String),
    Workflow(String),
    All,
    Path(String),
}

impl Scope {
    /// The stored form: `agent:ID`, `workflow:W`, `all`, `path:GLOB`.
    pub fn key(&self) -> String {
        match self {
            Scope::Agent(a) => format!("agent:{a}"),
            Scope::Workflow(w) => format!("workflow:{w}"),
            Scope::All => "all".into(),
            Scope::Path(p) => format!("path:{p}"),
        }
    }

    /// The scope of a stored form (`None`: not one).
    pub fn from_key(key: &str) -> Option<Scope> {
        match key.split_once(':') {
            Some(("agent", a)) => Some(Scope::Agent(a.into())),
            Some(("workflow", w)) => Some(Scope::Workflow(w.into())),
            Some(("path", p)) => Some(Scope::Path(p.into())),
            None if key == "all" => Some(Scope::All),
            _ => None,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Agent(a) => write!(f, "agent {a}"),
            Scope::Workflow(w) => write!(f, "workflow {w}"),
            Scope::All => f.write_str("every agent"),
            Scope::Path(p) => write!(f, "path {p}"),
        }
    }
}

/// A contained scope: who contained it, when and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Containment {
    pub scope: Scope,
    pub reason: String,
    pub actor: String,
    pub since_nanos: i64,
    /// Also stop the upstream server processes of the contained agents' proxies.
    pub kill_upstream: bool,
}

fn containment_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Containment, StoreError>> {
    let key: String = r.get(0)?;
    Ok(match Scope::from_key(&key) {
        Some(scope) => Ok(Containment {
            scope,
            reason: r.get(1)?,
            actor: r.get(2)?,
            since_nanos: r.get(3)?,
            kill_upstream: r.get(4)?,
        }),
        None => Err(StoreError::Damaged(format!(
            "unknown containment scope `{key}`"
        ))),
    })
}

/// A tool call held for a human decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub id: String,
    pub event_index: u64,
    pub agent: String,
    pub workflow: Option<String>,
    pub tool: String,
    pub summary: String,
    pub policies: String,
    /// `pending`, `approved`, `denied`, `expired` or `cancelled`.
    pub status: String,
    pub created_nanos: i64,
    pub decided_nanos: Option<i64>,
    pub decided_by: Option<String>,
    pub reason: Option<String>,
}

const APPROVAL_COLUMNS: &str = "SELECT id, event_index, agent, workflow, tool, summary, policies,
    status, created, decided, decided_by, reason FROM approvals";

fn approval_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Approval> {
    Ok(Approval {
        id: r.get(0)?,
        event_index: r.get::<_, i64>(1)? as u64,
        agent: r.get(2)?,
        workflow: r.get(3)?,
        tool: r.get(4)?,
        summary: r.get(5)?,
        policies: r.get(6)?,
        status: r.get(7)?,
        created_nanos: r.get(8)?,
        decided_nanos: r.get(9)?,
        decided_by: r.get(10)?,
        reason: r.get(11)?,
    })
}

type CheckpointRow = Result<StoredCheckpoint, StoreError>;

fn checkpoint_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CheckpointRow> {
    let seq: i64 = r.get(0)?;
    let root: Vec<u8> = r.get(2)?;
    Ok(match <Hash>::try_from(root.as_slice()) {
        Ok(root) => Ok(StoredCheckpoint {
            seq: seq as u64,
            size: r.get::<_, i64>(1)? as u64,
            root,
            note: r.get(3)?,
            created_nanos: r.get(4)?,
        }),
        Err(_) => Err(StoreError::Damaged(format!(
            "checkpoint #{seq} has a root of {} bytes",
            root.len()
        ))),
    })
}
