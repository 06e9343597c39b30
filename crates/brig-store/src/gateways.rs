//! Running gateways and their heartbeats: the watchdog's table.
//!
//! Every gateway (`brig mcp-proxy`, local or remote) writes a row when it starts and
//! refreshes `last_seen` every few seconds; a clean exit sets `stopped`. A row whose
//! heartbeat is overdue and that never stopped is a gateway that was killed or hung: `brig
//! serve`'s watchdog alerts on it once (`silent`), until it beats again.

use brig_ledger::store::StoreError;
use rusqlite::{params, OptionalExtension};

use crate::postgres::PgStore;
use crate::sqlite::{backend, SqliteStore};

/// One gateway as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayRow {
    /// The gateway process's own id (a UUIDv7 chosen at start).
    pub id: String,
    pub agent: String,
    /// The Brig session the gateway records under.
    pub session: String,
    pub pid: i64,
    pub host: String,
    pub started_nanos: i64,
    pub last_seen_nanos: i64,
    /// How often it promised to beat, in milliseconds.
    pub interval_ms: i64,
    pub stopped_nanos: Option<i64>,
    /// When the watchdog reported it silent (cleared by its next heartbeat).
    pub silent_nanos: Option<i64>,
}

const COLUMNS: &str =
    "id, agent, session, pid, host, started, last_seen, interval_ms, stopped, silent";

/// A beat: the row is created, or its `last_seen` and interval refreshed (a silent mark
/// cleared: the gap is over).
const BEAT: &str =
    "INSERT INTO gateways (id, agent, session, pid, host, started, last_seen, interval_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen,
         interval_ms = excluded.interval_ms, silent = NULL
     WHERE gateways.stopped IS NULL";

/// Overdue gateways: no beat for `misses` intervals, not stopped, not yet reported.
const SILENT: &str =
    "SELECT id, agent, session, pid, host, started, last_seen, interval_ms, stopped, silent
     FROM gateways WHERE stopped IS NULL AND silent IS NULL
       AND last_seen + interval_ms * 1000000 * $2 < $1 ORDER BY last_seen";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GatewayRow> {
    Ok(GatewayRow {
        id: r.get(0)?,
        agent: r.get(1)?,
        session: r.get(2)?,
        pid: r.get(3)?,
        host: r.get(4)?,
        started_nanos: r.get(5)?,
        last_seen_nanos: r.get(6)?,
        interval_ms: r.get(7)?,
        stopped_nanos: r.get(8)?,
        silent_nanos: r.get(9)?,
    })
}

fn pg_row(r: &postgres::Row) -> GatewayRow {
    GatewayRow {
        id: r.get(0),
        agent: r.get(1),
        session: r.get(2),
        pid: r.get(3),
        host: r.get(4),
        started_nanos: r.get(5),
        last_seen_nanos: r.get(6),
        interval_ms: r.get(7),
        stopped_nanos: r.get(8),
        silent_nanos: r.get(9),
    }
}

/// SQLite spells placeholders `?N`.
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl SqliteStore {
    pub fn gateway_beat(&mut self, g: &GatewayRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(&sqlite_sql(BEAT))
            .and_then(|mut s| {
                s.execute(params![
                    g.id,
                    g.agent,
                    g.session,
                    g.pid,
                    g.host,
                    g.started_nanos,
                    g.last_seen_nanos,
                    g.interval_ms
                ])
            })
            .map(|_| ())
            .map_err(backend)
    }

    pub fn gateway_stopped(&mut self, id: &str, at_nanos: i64) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE gateways SET stopped = ?2 WHERE id = ?1 AND stopped IS NULL",
                params![id, at_nanos],
            )
            .map(|_| ())
            .map_err(backend)
    }

    pub fn silent_gateways(
        &mut self,
        now_nanos: i64,
        misses: u32,
    ) -> Result<Vec<GatewayRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&sqlite_sql(SILENT))
            .map_err(backend)?;
        let rows = stmt
            .query_map(params![now_nanos, i64::from(misses)], row)
            .map_err(backend)?;
        rows.map(|r| r.map_err(backend)).collect()
    }

    pub fn gateway_silent(&mut self, id: &str, at_nanos: i64) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE gateways SET silent = ?2 WHERE id = ?1 AND silent IS NULL",
                params![id, at_nanos],
            )
            .map(|n| n > 0)
            .map_err(backend)
    }

    pub fn gateway(&mut self, id: &str) -> Result<Option<GatewayRow>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM gateways WHERE id = ?1"),
                [id],
                row,
            )
            .optional()
            .map_err(backend)
    }

    pub fn gateways(&mut self) -> Result<Vec<GatewayRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM gateways ORDER BY started"))
            .map_err(backend)?;
        let rows = stmt.query_map([], row).map_err(backend)?;
        rows.map(|r| r.map_err(backend)).collect()
    }
}

impl PgStore {
    pub fn gateway_beat(&mut self, g: &GatewayRow) -> Result<(), StoreError> {
        self.all(
            BEAT,
            &[
                &g.id,
                &g.agent,
                &g.session,
                &g.pid,
                &g.host,
                &g.started_nanos,
                &g.last_seen_nanos,
                &g.interval_ms,
            ],
        )
        .map(|_| ())
    }

    pub fn gateway_stopped(&mut self, id: &str, at_nanos: i64) -> Result<(), StoreError> {
        self.all(
            "UPDATE gateways SET stopped = $2 WHERE id = $1 AND stopped IS NULL",
            &[&id, &at_nanos],
        )
        .map(|_| ())
    }

    pub fn silent_gateways(
        &mut self,
        now_nanos: i64,
        misses: u32,
    ) -> Result<Vec<GatewayRow>, StoreError> {
        Ok(self
            .all(SILENT, &[&now_nanos, &i64::from(misses)])?
            .iter()
            .map(pg_row)
            .collect())
    }

    pub fn gateway_silent(&mut self, id: &str, at_nanos: i64) -> Result<bool, StoreError> {
        // Two servers on one database: only the one whose update lands reports it.
        Ok(!self
            .all(
                "UPDATE gateways SET silent = $2 WHERE id = $1 AND silent IS NULL RETURNING id",
                &[&id, &at_nanos],
            )?
            .is_empty())
    }

    pub fn gateway(&mut self, id: &str) -> Result<Option<GatewayRow>, StoreError> {
        Ok(self
            .all(
                &format!("SELECT {COLUMNS} FROM gateways WHERE id = $1"),
                &[&id],
            )?
            .first()
            .map(pg_row))
    }

    pub fn gateways(&mut self) -> Result<Vec<GatewayRow>, StoreError> {
        Ok(self
            .all(
                &format!("SELECT {COLUMNS} FROM gateways ORDER BY started"),
                &[],
            )?
            .iter()
            .map(pg_row)
            .collect())
    }
}
