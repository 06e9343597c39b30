//! Who is calling: API tokens and their roles.
//!
//! A token is `brig_` followed by 32 random bytes in base64url; the store keeps only its
//! SHA-256 ([`brig_store::TokenRow`]). Every request is looked up afresh, so a revoked token
//! is refused from the next request on.
//!
//! | role | may |
//! |---|---|
//! | `agent` | ingest events and ask for decisions, for its own agent identity only |
//! | `operator` | everything a responder does: contain, release, read, export |
//! | `auditor` | read: containment, incidents, ledger checkpoints |

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A token's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Operator,
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "operator" => Some(Role::Operator),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }
}

/// The caller of one request, from its token.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The token's name (what the ledger records as the actor).
    pub name: String,
    pub role: Role,
    /// The identity an agent token acts as.
    pub agent: Option<String>,
}

/// Each token's request budget: a token bucket per token name, holding up to one second's
/// worth of requests and refilled at the token's rate.
#[derive(Default)]
pub struct RateLimiter {
    buckets: std::sync::Mutex<std::collections::HashMap<String, (f64, std::time::Instant)>>,
}

impl RateLimiter {
    /// Takes one request from `token`'s budget of `rate` per second; `Err(wait)` when it is
    /// spent, with how long until the next request would be allowed.
    pub fn take(&self, token: &str, rate: u32) -> Result<(), std::time::Duration> {
        let rate = f64::from(rate.max(1));
        let now = std::time::Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (level, last) = b.entry(token.to_string()).or_insert((rate, now));
        *level = (*level + now.duration_since(*last).as_secs_f64() * rate).min(rate);
        *last = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(std::time::Duration::from_secs_f64((1.0 - *level) / rate))
        }
    }
}

impl Caller {
    /// True when the caller may act as `agent` (an operator may act for any agent).
    pub fn may_act_as(&self, agent: &str) -> bool {
        match self.role {
            Role::Operator => true,
            Role::Agent => self.agent.as_deref() == Some(agent),
            Role::Auditor => false,
        }
    }
}

/// The SHA-256 the store keeps of a token's secret.
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A new token secret.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!(
        "brig_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

/// Why a token could not be created.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token name `{0}`: use letters, digits, `-`, `_` and `.` (1 to 64)")]
    BadName(String),
    #[error("an agent token needs the agent identity it acts as (--agent)")]
    NoAgent,
    #[error("only agent tokens act as an agent (--agent is for --role agent)")]
    AgentForOtherRole,
    #[error(
        "a limit of 0 would refuse every request: leave it out for no limit of the token's own"
    )]
    ZeroLimit,
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
}

/// A token's own limits (`None`: no limit of its own; the server's body limit always holds).
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// Requests per second (a burst of one second's worth is allowed).
    pub rate: Option<u32>,
    /// Bytes per request body.
    pub max_body: Option<u64>,
}

/// Creates a token; returns its secret, which is shown once and never stored.
pub fn create(
    store: &mut brig_store::Store,
    name: &str,
    role: Role,
    agent: Option<&str>,
    created_by: &str,
) -> Result<String, TokenError> {
    create_limited(store, name, role, agent, created_by, Limits::default())
}

/// [`create`], with limits of the token's own.
pub fn create_limited(
    store: &mut brig_store::Store,
    name: &str,
    role: Role,
    agent: Option<&str>,
    created_by: &str,
    limits: Limits,
) -> Result<String, TokenError> {
    if limits.rate == Some(0) || limits.max_body == Some(0) {
        return Err(TokenError::ZeroLimit);
    }
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return Err(TokenError::BadName(name.to_string()));
    }
    match (role, agent) {
        (Role::Agent, None) => return Err(TokenError::NoAgent),
        (Role::Operator | Role::Auditor, Some(_)) => return Err(TokenError::AgentForOtherRole),
        _ => {}
    }
    let secret = new_secret();
    store.add_token(
        &brig_store::TokenRow {
            name: name.to_string(),
            role: role.as_str().to_string(),
            agent: agent.map(str::to_string),
            created_nanos: brig_model::Timestamp::now().unix_nanos(),
            created_by: created_by.to_string(),
            revoked_nanos: None,
            rate: limits.rate,
            max_body: limits.max_body,
        },
        &hash(&secret),
    )?;
    Ok(secret)
}
