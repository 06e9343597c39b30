//! The gateway's heartbeat: proof of life, so that an agent cannot escape the gateway by
//! crashing or freezing it.
//!
//! A running proxy says every few seconds that it is alive — into the store's `gateways`
//! table when it has a data directory, through `POST /v1/gateways/heartbeat` when it runs
//! against a control plane — on a thread of its own, so a busy relay does not delay it and
//! a frozen process (SIGSTOP, a deadlock of the whole process) stops it. A clean exit says
//! so last. `brig serve`'s watchdog alerts on a gateway whose beats stopped without that.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use brig_model::{EventId, Timestamp};
use brig_store::{GatewayRow, Store};
use serde_json::json;

use crate::remote::ControlPlane;

/// How often a gateway beats unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Longest a heartbeat waits for the local store's write lock: a beat is skipped, never
/// queued behind a long write.
const STORE_WAIT: Duration = Duration::from_secs(2);

/// Where the beats go.
pub enum Pulse {
    /// This host's store.
    Local(Store),
    /// A control plane, with the gateway's agent token.
    Remote(Arc<ControlPlane>),
}

/// A running heartbeat; dropping it (a clean exit) marks the gateway stopped.
pub struct Heartbeat {
    running: Arc<Mutex<Option<Running>>>,
}

/// The beating thread and the way to stop it.
struct Running {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// Stops the beats, the last one saying the gateway stopped; once.
fn finish(running: &Mutex<Option<Running>>) {
    let taken = running.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(r) = taken {
        drop(r.stop);
        let _ = r.thread.join();
    }
}

/// This host's name, as the kernel has it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

impl Pulse {
    fn beat(&mut self, row: &GatewayRow) -> Result<(), String> {
        match self {
            Pulse::Local(s) => s.gateway_beat(row).map_err(|e| e.to_string()),
            Pulse::Remote(cp) => cp
                .heartbeat(&json!({
                    "id": row.id, "session": row.session, "pid": row.pid, "host": row.host,
                    "started": row.started_nanos, "interval_ms": row.interval_ms,
                }))
                .map_err(|e| e.to_string()),
        }
    }

    fn stopped(&mut self, row: &GatewayRow) -> Result<(), String> {
        match self {
            Pulse::Local(s) => s
                .gateway_stopped(&row.id, Timestamp::now().unix_nanos())
                .map_err(|e| e.to_string()),
            Pulse::Remote(cp) => cp
                .heartbeat(&json!({
                    "id": row.id, "session": row.session, "pid": row.pid, "host": row.host,
                    "started": row.started_nanos, "interval_ms": row.interval_ms,
                    "stopped": true,
                }))
                .map_err(|e| e.to_string()),
        }
    }
}

impl Heartbeat {
    /// Starts beating for `agent`'s gateway recording `session`, every `interval`.
    pub fn start(mut to: Pulse, agent: &str, session: &str, interval: Duration) -> Heartbeat {
        if let Pulse::Local(s) = &mut to {
            if let Err(e) = s.set_busy_timeout(STORE_WAIT) {
                eprintln!("brig mcp-proxy: heartbeat: {e}");
            }
        }
        let now = Timestamp::now().unix_nanos();
        let mut row = GatewayRow {
            id: EventId::new().to_string(),
            agent: agent.to_string(),
            session: session.to_string(),
            pid: i64::from(std::process::id()),
            host: host_name(),
            started_nanos: now,
            last_seen_nanos: now,
            interval_ms: interval.as_millis().clamp(1, i64::MAX as u128) as i64,
            stopped_nanos: None,
            silent_nanos: None,
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let mut failing = false;
            loop {
                row.last_seen_nanos = Timestamp::now().unix_nanos();
                match to.beat(&row) {
                    Ok(()) => failing = false,
                    Err(e) if !failing => {
                        failing = true;
                        eprintln!("brig mcp-proxy: heartbeat not recorded ({e}); retrying");
                    }
                    Err(_) => {}
                }
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            }
            if let Err(e) = to.stopped(&row) {
                eprintln!("brig mcp-proxy: the clean stop was not recorded ({e})");
            }
        });
        Heartbeat {
            running: Arc::new(Mutex::new(Some(Running { stop, thread }))),
        }
    }

    /// Being told to stop is a clean exit too: on SIGINT or SIGTERM (an MCP client ending
    /// its stdio server, a person's Ctrl-C) the gateway is marked stopped, then the process
    /// dies of the signal as it would have. SIGKILL, a crash or a freeze leave it silent.
    pub fn stop_on_signals(self) -> Self {
        use signal_hook::consts::{SIGINT, SIGTERM};
        match signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
            Ok(mut signals) => {
                let running = self.running.clone();
                std::thread::spawn(move || {
                    if let Some(sig) = signals.forever().next() {
                        finish(&running);
                        let _ = signal_hook::low_level::emulate_default_handler(sig);
                    }
                });
            }
            Err(e) => eprintln!("brig mcp-proxy: heartbeat: no signal handler ({e})"),
        }
        self
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        finish(&self.running);
    }
}
