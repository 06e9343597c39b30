//! API tokens of `brig serve`: who may call the control plane, in which role.
//!
//! Only the SHA-256 of each token's secret is stored: the secret is 32 random bytes, so a
//! plain hash cannot be reversed or guessed, and a stolen database yields no usable token.
//! A revoked token stays listed (with when) so that the ledger's references to its name
//! still resolve.

use brig_ledger::store::StoreError;
use rusqlite::{params, OptionalExtension};

use crate::sqlite::{backend, SqliteStore};

/// One token as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRow {
    pub name: String,
    /// `agent`, `operator` or `auditor`.
    pub role: String,
    /// The identity an agent token may act as.
    pub agent: Option<String>,
    pub created_nanos: i64,
    pub created_by: String,
    pub revoked_nanos: Option<i64>,
    /// Most requests per second the token may make (`None`: no limit of its own).
    pub rate: Option<u32>,
    /// Largest request body the token may send, in bytes (`None`: the server's limit).
    pub max_body: Option<u64>,
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRow> {
    Ok(TokenRow {
        name: r.get(0)?,
        role: r.get(1)?,
        agent: r.get(2)?,
        created_nanos: r.get(3)?,
        created_by: r.get(4)?,
        revoked_nanos: r.get(5)?,
        rate: r
            .get::<_, Option<i64>>(6)?
            .map(|v| v.clamp(0, u32::MAX as i64) as u32),
        max_body: r.get::<_, Option<i64>>(7)?.map(|v| v.max(0) as u64),
    })
}

const COLUMNS: &str = "name, role, agent, created, created_by, revoked, rate, max_body";

impl SqliteStore {
    /// Adds a token; an error when the name is taken.
    pub fn add_token(&mut self, t: &TokenRow, hash: &[u8; 32]) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO tokens (name, role, agent, hash, created, created_by, rate, max_body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    t.name,
                    t.role,
                    t.agent,
                    &hash[..],
                    t.created_nanos,
                    t.created_by,
                    t.rate.map(i64::from),
                    t.max_body.map(|b| b.min(i64::MAX as u64) as i64)
                ],
            )
            .map(|_| ())
            .map_err(|e| match e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                {
                    StoreError::Backend(format!("a token named `{}` exists already", t.name))
                }
                e => backend(e),
            })
    }

    /// The live (not revoked) token whose secret hashes to `hash`.
    pub fn token_by_hash(&mut self, hash: &[u8; 32]) -> Result<Option<TokenRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM tokens WHERE hash = ?1 AND revoked IS NULL"
            ))
            .and_then(|mut s| s.query_row([&hash[..]], token_row).optional())
            .map_err(backend)
    }

    /// Every token, revoked ones included, by name.
    pub fn tokens(&mut self) -> Result<Vec<TokenRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM tokens ORDER BY name"))
            .map_err(backend)?;
        let rows = stmt.query_map([], token_row).map_err(backend)?;
        rows.map(|r| r.map_err(backend)).collect()
    }

    /// Revokes a live token; false when there is no live token of that name.
    pub fn revoke_token(&mut self, name: &str, at_nanos: i64) -> Result<bool, StoreError> {
        self.conn
            .execute(
                "UPDATE tokens SET revoked = ?2 WHERE name = ?1 AND revoked IS NULL",
                params![name, at_nanos],
            )
            .map(|n| n > 0)
            .map_err(backend)
    }
}
