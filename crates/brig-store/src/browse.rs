//! Reads for browsing the ledger by people (the web console): an incident's events paged by
//! ledger index and counted per time bucket, and the agents seen with their last activity.
//!
//! None of them loads more than a page of rows: an incident of 100,000 events is shown a page
//! at a time, and its overview is counted in SQL.

use brig_ledger::store::StoreError;
use rusqlite::types::Value as SqlValue;

use crate::postgres::{self as pg, PgStore};
use crate::sqlite::{backend, SqliteStore};
use crate::Store;

/// Which events: those of some sessions (an incident's), or else of one agent, within a time
/// range (ns since the Unix epoch, both ends included).
#[derive(Clone, Debug)]
pub struct Span {
    /// The sessions; when empty, every event of `agent`.
    pub sessions: Vec<String>,
    pub agent: String,
    pub from_nanos: i64,
    pub to_nanos: i64,
}

/// How many events a span holds and the times of its first and last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extent {
    pub events: u64,
    pub first_nanos: Option<i64>,
    pub last_nanos: Option<i64>,
}

/// Where in a span a page of events is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// The newest events.
    Latest,
    /// The events just before this ledger index.
    Before(u64),
    /// The events just after this ledger index.
    After(u64),
}

/// An agent as the ledger has seen it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentSeen {
    pub agent: String,
    /// Its latest event.
    pub last_index: u64,
    pub last_nanos: i64,
    /// The workflow of its latest event that names one (the kill switch's and the
    /// playbook's records of it may not).
    pub workflow: Option<String>,
}

/// The width of each of `buckets` equal buckets covering the span (at least 1 ns).
pub fn bucket_width(span: &Span, buckets: u32) -> i64 {
    let len = (span.to_nanos as i128 - span.from_nanos as i128 + 1).max(1);
    let n = i128::from(buckets.max(1));
    ((len + n - 1) / n).max(1) as i64
}

impl Store {
    /// How many events `span` holds, and when its first and last were recorded.
    pub fn span_extent(&mut self, span: &Span) -> Result<Extent, StoreError> {
        match self {
            Store::Sqlite(s) => s.span_extent(span),
            Store::Postgres(p) => pg::off_runtime(|| p.span_extent(span)),
        }
    }

    /// Ledger indices of one page of `span`'s events, oldest first, at most `limit`.
    pub fn span_page(
        &mut self,
        span: &Span,
        page: Page,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        match self {
            Store::Sqlite(s) => s.span_page(span, page, limit),
            Store::Postgres(p) => pg::off_runtime(|| p.span_page(span, page, limit)),
        }
    }

    /// `span`'s events counted in `buckets` equal time buckets (see [`bucket_width`]),
    /// counted by the database.
    pub fn span_buckets(&mut self, span: &Span, buckets: u32) -> Result<Vec<u64>, StoreError> {
        let mut out = vec![0u64; buckets.max(1) as usize];
        let counts = match self {
            Store::Sqlite(s) => s.span_buckets(span, buckets)?,
            Store::Postgres(p) => pg::off_runtime(|| p.span_buckets(span, buckets))?,
        };
        for (b, n) in counts {
            if let Some(slot) = usize::try_from(b).ok().and_then(|b| out.get_mut(b)) {
                *slot += n;
            }
        }
        Ok(out)
    }

    /// Every agent the ledger has seen (`*`, the operators' orders, aside), with its latest
    /// event, by name; at most `limit`. One index probe per agent, not a scan of the ledger.
    pub fn agents_seen(&mut self, limit: usize) -> Result<Vec<AgentSeen>, StoreError> {
        match self {
            Store::Sqlite(s) => s.agents_seen(limit),
            Store::Postgres(p) => pg::off_runtime(|| p.agents_seen(limit)),
        }
    }
}

/// The agents in name order, each found by a skip over the `events(agent, idx)` index.
const AGENTS_SQL: &str = "
    WITH RECURSIVE a(agent) AS (
        SELECT MIN(agent) FROM events
        UNION ALL
        SELECT (SELECT MIN(agent) FROM events WHERE agent > a.agent) FROM a
        WHERE a.agent IS NOT NULL
    )
    SELECT a.agent, e.idx, e.ts,
        (SELECT w.workflow FROM events w
         WHERE w.agent = a.agent AND w.workflow IS NOT NULL ORDER BY w.idx DESC LIMIT 1)
    FROM a
    JOIN events e ON e.idx = (SELECT MAX(idx) FROM events WHERE agent = a.agent)
    WHERE a.agent IS NOT NULL AND a.agent <> '*'
    ORDER BY a.agent LIMIT ";

impl SqliteStore {
    /// The WHERE clause of a span, its parameters pushed onto `params`.
    fn span_where(span: &Span, params: &mut Vec<SqlValue>) -> String {
        let mut sql = String::from("ts BETWEEN ? AND ? AND ");
        params.push(SqlValue::Integer(span.from_nanos));
        params.push(SqlValue::Integer(span.to_nanos));
        if span.sessions.is_empty() {
            sql.push_str("agent = ?");
            params.push(SqlValue::Text(span.agent.clone()));
        } else {
            let marks = vec!["?"; span.sessions.len()].join(", ");
            sql.push_str(&format!("session IN ({marks})"));
            params.extend(span.sessions.iter().cloned().map(SqlValue::Text));
        }
        sql
    }

    pub fn span_extent(&mut self, span: &Span) -> Result<Extent, StoreError> {
        let mut p = Vec::new();
        let w = Self::span_where(span, &mut p);
        let sql = format!("SELECT COUNT(*), MIN(ts), MAX(ts) FROM events WHERE {w}");
        self.conn
            .query_row(&sql, rusqlite::params_from_iter(p), |r| {
                Ok(Extent {
                    events: r.get::<_, i64>(0)? as u64,
                    first_nanos: r.get(1)?,
                    last_nanos: r.get(2)?,
                })
            })
            .map_err(backend)
    }

    pub fn span_page(
        &mut self,
        span: &Span,
        page: Page,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let mut p = Vec::new();
        let w = Self::span_where(span, &mut p);
        let (cond, order) = match page {
            Page::Latest => ("", "DESC"),
            Page::Before(i) => {
                p.push(SqlValue::Integer(i as i64));
                (" AND idx < ?", "DESC")
            }
            Page::After(i) => {
                p.push(SqlValue::Integer(i as i64));
                (" AND idx > ?", "ASC")
            }
        };
        p.push(SqlValue::Integer(limit as i64));
        let sql = format!("SELECT idx FROM events WHERE {w}{cond} ORDER BY idx {order} LIMIT ?");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let mut v: Vec<u64> = stmt
            .query_map(rusqlite::params_from_iter(p), |r| r.get::<_, i64>(0))
            .and_then(|r| r.map(|x| x.map(|i| i as u64)).collect())
            .map_err(backend)?;
        v.sort_unstable();
        Ok(v)
    }

    fn span_buckets(&mut self, span: &Span, buckets: u32) -> Result<Vec<(i64, u64)>, StoreError> {
        let width = bucket_width(span, buckets);
        let mut p = vec![SqlValue::Integer(span.from_nanos), SqlValue::Integer(width)];
        let w = Self::span_where(span, &mut p);
        let sql = format!("SELECT (ts - ?) / ? AS b, COUNT(*) FROM events WHERE {w} GROUP BY b");
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(p), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
            })
            .and_then(|r| r.collect())
            .map_err(backend);
        rows
    }

    pub fn agents_seen(&mut self, limit: usize) -> Result<Vec<AgentSeen>, StoreError> {
        let sql = format!("{AGENTS_SQL}{}", limit as i64);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(backend)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AgentSeen {
                    agent: r.get(0)?,
                    last_index: r.get::<_, i64>(1)? as u64,
                    last_nanos: r.get(2)?,
                    workflow: r.get(3)?,
                })
            })
            .and_then(|r| r.collect())
            .map_err(backend);
        rows
    }
}

impl PgStore {
    /// The WHERE clause of a span; parameters `$n`, `$n+1`, `$n+2` (from, to, the sessions or
    /// the agent).
    fn span_where(span: &Span, n: usize) -> String {
        let who = if span.sessions.is_empty() {
            format!("agent = ${}", n + 2)
        } else {
            format!("session = ANY(${})", n + 2)
        };
        format!("ts BETWEEN ${n} AND ${} AND {who}", n + 1)
    }

    fn span_rows(
        &mut self,
        sql: &str,
        span: &Span,
        extra: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let mut p: Vec<&(dyn postgres::types::ToSql + Sync)> = extra.to_vec();
        p.push(&span.from_nanos);
        p.push(&span.to_nanos);
        if span.sessions.is_empty() {
            p.push(&span.agent);
        } else {
            p.push(&span.sessions);
        }
        self.all(sql, &p)
    }

    pub fn span_extent(&mut self, span: &Span) -> Result<Extent, StoreError> {
        let sql = format!(
            "SELECT COUNT(*), MIN(ts), MAX(ts) FROM events WHERE {}",
            Self::span_where(span, 1)
        );
        let rows = self.span_rows(&sql, span, &[])?;
        let r = rows
            .first()
            .ok_or_else(|| StoreError::Backend("postgresql: COUNT returned no row".into()))?;
        Ok(Extent {
            events: r.get::<_, i64>(0) as u64,
            first_nanos: r.get(1),
            last_nanos: r.get(2),
        })
    }

    pub fn span_page(
        &mut self,
        span: &Span,
        page: Page,
        limit: usize,
    ) -> Result<Vec<u64>, StoreError> {
        let (at, cond, order) = match page {
            Page::Latest => (i64::MAX, "idx <= $2", "DESC"),
            Page::Before(i) => (i as i64, "idx < $2", "DESC"),
            Page::After(i) => (i as i64, "idx > $2", "ASC"),
        };
        let sql = format!(
            "SELECT idx FROM events WHERE {} AND {cond} ORDER BY idx {order} LIMIT $1",
            Self::span_where(span, 3)
        );
        let mut v: Vec<u64> = self
            .span_rows(&sql, span, &[&(limit as i64), &at])?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect();
        v.sort_unstable();
        Ok(v)
    }

    fn span_buckets(&mut self, span: &Span, buckets: u32) -> Result<Vec<(i64, u64)>, StoreError> {
        let width = bucket_width(span, buckets);
        let sql = format!(
            "SELECT (ts - $1) / $2 AS b, COUNT(*) FROM events WHERE {} GROUP BY b",
            Self::span_where(span, 3)
        );
        Ok(self
            .span_rows(&sql, span, &[&span.from_nanos, &width])?
            .iter()
            .map(|r| (r.get::<_, i64>(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    pub fn agents_seen(&mut self, limit: usize) -> Result<Vec<AgentSeen>, StoreError> {
        let sql = format!("{AGENTS_SQL}{}", limit as i64);
        Ok(self
            .all(&sql, &[])?
            .iter()
            .map(|r| AgentSeen {
                agent: r.get(0),
                last_index: r.get::<_, i64>(1) as u64,
                last_nanos: r.get(2),
                workflow: r.get(3),
            })
            .collect())
    }
}
