//! `brig serve`: Brig's control plane over HTTP.
//!
//! One process owns a data directory's ledger writer and answers, under `/v1` (JSON,
//! described by the OpenAPI document at `/v1/openapi.json`, generated from the handlers):
//! ingest of events, the gateway's decision as a service (for agent frameworks that ask
//! before each tool call), the kill switch, incidents and ledger checkpoints. Every request
//! but the health, readiness, metrics and OpenAPI endpoints carries a bearer token whose
//! role decides what it may do ([`auth`]); operator actions are recorded in the ledger with
//! the token's name.
//!
//! `/v1/stream` follows the ledger as server-sent events: every new event, alerts and
//! containment changes typed as such.
//!
//! `/v1/traces` takes OpenTelemetry traces (OTLP/HTTP, protobuf or JSON): agents that emit
//! GenAI spans rather than calling through a gateway are recorded and watched by the same
//! rules and incident response, passively ([`serve_with`] also opens it alone on the
//! standard OTLP port).
//!
//! Built so far: SQLite (the data directory) as the backend. Not yet: PostgreSQL, approvals,
//! evidence and rollback over HTTP, remote gateways, per-token rate limits.

#![forbid(unsafe_code)]

pub mod auth;
pub mod console;
mod metrics;
mod otlp;
mod routes;
mod stream;
pub mod watchdog;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brig_gateway::guard::Guard;
use brig_ledger::appender::{Appender, Checkpointing};
use brig_store::{DataDir, Store};

pub use metrics::Metrics;
pub use routes::{app, ApiDoc};

/// Largest request body accepted, in bytes.
pub const MAX_BODY: usize = 16 << 20;

/// A checkpoint is signed at least this often while events arrive.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(10);

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("store: {0}")]
    Store(#[from] brig_ledger::store::StoreError),
    #[error("policies: {0}")]
    Policy(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("serving: {0}")]
    Serve(std::io::Error),
}

/// Connections in the read pool.
const POOL: usize = 4;

/// A few store connections; each use takes a free one (or waits on one in turn).
pub struct Pool {
    stores: Vec<Mutex<Store>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Pool {
    fn open(dir: &DataDir, n: usize) -> Result<Pool, ServerError> {
        let stores = (0..n.max(1))
            .map(|_| dir.store().map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Pool {
            stores,
            next: Default::default(),
        })
    }

    /// Runs `f` on a connection. Blocks: call it off the async threads.
    pub fn with<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        for s in &self.stores {
            if let Ok(mut g) = s.try_lock() {
                return f(&mut g);
            }
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.stores.len();
        let mut g = self.stores[i].lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
}

/// What every handler shares.
pub struct State {
    pub data: DataDir,
    pub appender: Arc<Appender>,
    /// Token lookups and reads: a few connections, so that requests do not queue behind
    /// one another's round trips (PostgreSQL) or reads (SQLite).
    pub store: Pool,
    /// Containment first, then policy: the gateway's guard, for `/v1/decide`.
    pub guard: Mutex<Guard>,
    pub metrics: Metrics,
    /// Per-token request budgets.
    pub limiter: auth::RateLimiter,
    /// Set when the server is stopping: endless responses (`/v1/stream`) end, so that
    /// graceful shutdown does not wait on them forever.
    pub closing: std::sync::atomic::AtomicBool,
    /// The rule pack evaluating each call `/v1/decide` sees (blocking rules deny it).
    pub detection: Option<Arc<brig_gateway::detection::Detection>>,
    /// Incident response to the alerts decide raises (grading, incidents, the playbook).
    pub response: Option<Arc<brig_gateway::response::Response>>,
    /// The web console's signed-in sessions.
    pub console: console::Sessions,
}

impl State {
    /// Opens the data directory's ledger writer, store and guard (the built-in policy, or
    /// the Cedar policies in `policies`).
    pub fn open(dir: DataDir, policies: Option<&Path>) -> Result<Arc<State>, ServerError> {
        Self::open_with(dir, policies, None, None)
    }

    /// [`State::open`], with the rule pack and incident response for `/v1/decide`.
    pub fn open_with(
        dir: DataDir,
        policies: Option<&Path>,
        detection: Option<Arc<brig_gateway::detection::Detection>>,
        response: Option<brig_gateway::response::ResponseConfig>,
    ) -> Result<Arc<State>, ServerError> {
        Self::open_guarding(dir, policies, detection, response, &[])
    }

    /// [`State::open_with`], with the other files the server runs by (`config`: the risk
    /// register, a rules directory) guarded as Brig's own, as the data directory and the
    /// policies are.
    pub fn open_guarding(
        dir: DataDir,
        policies: Option<&Path>,
        detection: Option<Arc<brig_gateway::detection::Detection>>,
        response: Option<brig_gateway::response::ResponseConfig>,
        config: &[&Path],
    ) -> Result<Arc<State>, ServerError> {
        let mut writer = dir.store()?;
        writer.set_busy_timeout(Duration::from_secs(30))?;
        let appender = Arc::new(Appender::start(
            brig_ledger::Ledger::new(writer),
            Some(Checkpointing {
                signer: dir.signer()?,
                interval: CHECKPOINT_EVERY,
            }),
        ));
        let config: Vec<&Path> = policies.into_iter().chain(config.iter().copied()).collect();
        let own = brig_gateway::policy::brig_owned(dir.root(), &config, &[]);
        let policy = brig_gateway::policy::CedarPolicy::load(policies, Vec::new(), own)
            .map_err(|e| ServerError::Policy(e.to_string()))?;
        let guard = Guard::new(
            dir.store()?,
            Box::new(policy),
            brig_gateway::guard::normalizer(Vec::new()),
        );
        let response = match (&detection, response) {
            (Some(_), Some(config)) => Some(brig_gateway::response::Response::start(
                &dir,
                &config,
                appender.clone(),
            )?),
            _ => None,
        };
        Ok(Arc::new(State {
            detection,
            response,
            store: Pool::open(&dir, POOL)?,
            guard: Mutex::new(guard),
            appender,
            metrics: Metrics::new(),
            limiter: Default::default(),
            console: Default::default(),
            closing: Default::default(),
            data: dir,
        }))
    }
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish and signs a last
/// checkpoint. `ready` gets the bound address (port 0 picks a free one).
pub async fn serve(
    state: Arc<State>,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr),
) -> Result<(), ServerError> {
    serve_with(state, listen, None, shutdown, |addr, _| ready(addr)).await
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr, source })
}

/// [`serve`], and with `otlp` a second listener answering only OTLP/HTTP's `/v1/traces`
/// (the standard OTLP port, 4318, for exporters configured with an endpoint alone);
/// `ready` gets both bound addresses.
pub async fn serve_with(
    state: Arc<State>,
    listen: SocketAddr,
    otlp: Option<SocketAddr>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(SocketAddr, Option<SocketAddr>),
) -> Result<(), ServerError> {
    let listener = bind(listen).await?;
    let addr = listener.local_addr().map_err(ServerError::Serve)?;
    let otlp_listener = match otlp {
        Some(a) => Some(bind(a).await?),
        None => None,
    };
    let otlp_addr = match &otlp_listener {
        Some(l) => Some(l.local_addr().map_err(ServerError::Serve)?),
        None => None,
    };
    ready(addr, otlp_addr);
    let stopping = state.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stopping
            .closing
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stop.send(true);
    });
    let on_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let main = axum::serve(listener, app(state.clone()))
        .with_graceful_shutdown(on_stop(stopped.clone()))
        .into_future();
    let side = async {
        match otlp_listener {
            Some(l) => {
                axum::serve(l, otlp::app(state.clone()))
                    .with_graceful_shutdown(on_stop(stopped.clone()))
                    .await
            }
            None => Ok(()),
        }
    };
    // Gateways that stop beating raise alerts while the server runs.
    let watchdog = watchdog::start(state.clone());
    let (main, side) = tokio::join!(main, side);
    let _ = tokio::task::spawn_blocking(move || watchdog.join()).await;
    main.and(side).map_err(ServerError::Serve)?;
    // Every handler has returned: the last of their writes are queued; finish them.
    if let Some(r) = &state.response {
        r.finish();
    }
    if let Ok(mut state) = Arc::try_unwrap(state) {
        // The responder's handle on the writer goes first, so the writer is the last.
        state.response.take();
        if let Ok(appender) = Arc::try_unwrap(state.appender) {
            if let Err(e) = appender.finish() {
                tracing::error!(error = %e, "final checkpoint failed");
            }
        }
    }
    Ok(())
}
