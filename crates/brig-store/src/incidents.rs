//! Incidents' working state, and reading an incident's events back from the ledger.
//!
//! The store keeps each incident as a JSON document (its shape belongs to `brig-incident`)
//! beside the columns lookups need. Grouping an alert into an incident is a read-then-write
//! that several gateway processes may do at once, so it runs in one `BEGIN IMMEDIATE`
//! transaction ([`crate::Store::incident_tx`]).

use brig_ledger::store::StoreError;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use crate::sqlite::{backend, SqliteStore};

/// One incident as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRow {
    pub id: String,
    /// What its alerts share: `agent:…`, `session:…` or `workflow:…`.
    pub key: String,
    pub agent: String,
    pub state: String,
    /// 0 advisory … 3 reportable breach.
    pub severity: u8,
    pub opened_nanos: i64,
    pub last_alert_nanos: i64,
    /// The incident's JSON document.
    pub doc: String,
}

/// A note on an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteRow {
    pub seq: i64,
    pub incident: String,
    pub ts_nanos: i64,
    pub author: String,
    /// Legally privileged (kept apart, shown only when asked for).
    pub privileged: bool,
    pub text: String,
}

const COLUMNS: &str =
    "SELECT id, key, agent, state, severity, opened, last_alert, doc FROM incidents";

fn incident_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRow> {
    Ok(IncidentRow {
        id: r.get(0)?,
        key: r.get(1)?,
        agent: r.get(2)?,
        state: r.get(3)?,
        severity: r.get::<_, i64>(4)?.clamp(0, 3) as u8,
        opened_nanos: r.get(5)?,
        last_alert_nanos: r.get(6)?,
        doc: r.get(7)?,
    })
}

pub(crate) fn put(conn: &rusqlite::Connection, row: &IncidentRow) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO incidents (id, key, agent, state, severity, opened, last_alert, doc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, severity = excluded.severity,
             last_alert = excluded.last_alert, doc = excluded.doc",
    )
    .and_then(|mut s| {
        s.execute(params![
            row.id,
            row.key,
            row.agent,
            row.state,
            row.severity,
            row.opened_nanos,
            row.last_alert_nanos,
            row.doc
        ])
    })
    .map(|_| ())
    .map_err(backend)
}

/// The newest incident of `key` that is not closed and had an alert at or after
/// `since_nanos`.
pub(crate) fn find_open(
    conn: &rusqlite::Connection,
    key: &str,
    since_nanos: i64,
) -> Result<Option<IncidentRow>, StoreError> {
    conn.prepare_cached(&format!(
        "{COLUMNS} WHERE key = ?1 AND last_alert >= ?2 AND state <> 'closed'
         ORDER BY last_alert DESC LIMIT 1"
    ))
    .and_then(|mut s| {
        s.query_row(params![key, since_nanos], incident_row)
            .optional()
    })
    .map_err(backend)
}

pub(crate) fn get(
    conn: &rusqlite::Connection,
    id: &str,
) -> Result<Option<IncidentRow>, StoreError> {
    conn.prepare_cached(&format!("{COLUMNS} WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id], incident_row).optional())
        .map_err(backend)
}

impl SqliteStore {
    /// Starts the incident transaction (see [`crate::Store::incident_tx`]).
    pub(crate) fn begin_incidents(&mut self) -> Result<Transaction<'_>, StoreError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(backend)
    }

    /// Writes an incident (outside a grouping transaction: lifecycle changes).
    pub fn put_incident(&mut self, row: &IncidentRow) -> Result<(), StoreError> {
        put(&self.conn, row)
    }

    /// The incident `id`, or the one incident whose id starts with `id` (ids are long;
    /// people type a prefix).
    pub fn incident(&mut self, id: &str) -> Result<Option<IncidentRow>, StoreError> {
        if let Some(row) = get(&self.conn, id)? {
            return Ok(Some(row));
        }
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "{COLUMNS} WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 2"
            ))
            .map_err(backend)?;
        let rows: Vec<IncidentRow> = stmt
            .query_map([id], incident_row)
            .and_then(|r| r.collect())
            .map_err(backend)?;
        match rows.len() {
            1 => Ok(rows.into_iter().next()),
            0 => Ok(None),
            _ => Err(StoreError::Backend(format!(
                "incident id `{id}` is ambiguous: give more of it"
            ))),
        }
    }

    /// Incidents, newest first; closed ones only when `all`.
    pub fn incidents(&mut self, all: bool, limit: usize) -> Result<Vec<IncidentRow>, StoreError> {
        let filter = if all { "" } else { "WHERE state <> 'closed'" };
        let mut stmt = self
            .conn
            .prepare_cached(&format!("{COLUMNS} {filter} ORDER BY opened DESC LIMIT ?1"))
            .map_err(backend)?;
        let rows = stmt
            .query_map([limit as i64], incident_row)
            .and_then(|r| r.collect())
            .map_err(backend);
        rows
    }

    pub fn add_incident_note(&mut self, n: &NoteRow) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO incident_notes (incident, ts, author, privileged, text)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![n.incident, n.ts_nanos, n.author, n.privileged, n.text],
            )
            .map_err(backend)?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn incident_notes(&mut self, incident: &str) -> Result<Vec<NoteRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT seq, incident, ts, author, privileged, text FROM incident_notes
                 WHERE incident = ?1 ORDER BY seq",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map([incident], |r| {
                Ok(NoteRow {
                    seq: r.get(0)?,
                    incident: r.get(1)?,
                    ts_nanos: r.get(2)?,
                    author: r.get(3)?,
                    privileged: r.get(4)?,
                    text: r.get(5)?,
                })
            })
            .and_then(|r| r.collect())
            .map_err(backend);
        rows
    }

    /// Ledger indices of the events of `session`, in order, at most `limit` (the first ones).
    pub fn session_events(&mut self, session: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.indices(
            "SELECT idx FROM events WHERE session = ?1 ORDER BY idx LIMIT ?2",
            session,
            limit,
        )
    }

    /// Ledger indices of the latest events of `session`, oldest first, at most `limit`.
    pub fn recent_session_events(
        &mut self,
        session: &str,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut v = self.indices(
            "SELECT idx FROM events WHERE session = ?1 ORDER BY idx DESC LIMIT ?2",
            session,
            limit,
        )?;
        v.reverse();
        Ok(v)
    }

    /// Ledger indices of `agent`'s most recent events, oldest first, at most `limit`.
    pub fn recent_agent_events(
        &mut self,
        agent: &str,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut v = self.indices(
            "SELECT idx FROM events WHERE agent = ?1 ORDER BY idx DESC LIMIT ?2",
            agent,
            limit,
        )?;
        v.reverse();
        Ok(v)
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
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx FROM events WHERE agent = ?1 AND (?2 IS NULL OR session = ?2) \
                 AND ts BETWEEN ?3 AND ?4 ORDER BY idx LIMIT ?5",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![agent, session, from_nanos, to_nanos, limit as i64],
                |r| r.get::<_, i64>(0),
            )
            .and_then(|r| r.map(|x| x.map(|i| i as u64)).collect())
            .map_err(backend);
        rows
    }

    /// Ledger indices from `from_idx` on of the events of the given kinds (`response.action`,
    /// …): what a responder did after something happened, whoever it was attributed to.
    pub fn kinds_since(
        &mut self,
        from_idx: u64,
        kinds: &[&str],
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for kind in kinds {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT idx FROM events WHERE idx >= ?1 AND kind = ?2 ORDER BY idx LIMIT ?3",
                )
                .map_err(backend)?;
            let rows: Vec<i64> = stmt
                .query_map(params![from_idx as i64, kind, limit as i64], |r| r.get(0))
                .and_then(|r| r.collect())
                .map_err(backend)?;
            out.extend(rows.into_iter().map(|i| i as u64));
        }
        out.sort_unstable();
        out.truncate(limit);
        Ok(out)
    }

    fn indices(&mut self, sql: &str, key: &str, limit: usize) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(backend)?;
        let rows = stmt
            .query_map(params![key, limit as i64], |r| r.get::<_, i64>(0))
            .and_then(|r| r.map(|x| x.map(|i| i as u64)).collect())
            .map_err(backend);
        rows
    }
}
