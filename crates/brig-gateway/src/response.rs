//! The gateway's incident response: alerts filed into incidents, and the playbook run when
//! one is grave enough — containment in milliseconds, evidence first.
//!
//! When a call's own alerts would make the playbook contain the agent (graded as if the
//! call ran: see [`brig_incident::grade`]), the call is denied on the spot (policy
//! `brig.playbook`) and the agent is held in this process at once; the responder thread
//! then, once the call's record is durable, files the alerts, writes the evidence snapshot
//! and a checkpoint, and sets containment in the store, where every other gateway sees it.
//! Alerts raised by other events (results, prompts) are filed the same way, off the relay
//! path.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use brig_incident::grade::Signal;
use brig_incident::playbook::{grave, Responder, Sink};
use brig_ledger::appender::Appender;
use brig_model::NewEvent;
use brig_register::Register;
use brig_store::DataDir;

/// The policy id of a call denied because the playbook is containing its agent.
pub const PLAYBOOK_POLICY: &str = "brig.playbook";

/// What the proxy's response needs to know (set at start).
#[derive(Clone, Debug, Default)]
pub struct ResponseConfig {
    pub register: Option<Arc<Register>>,
    /// The policy directory in force (`None`: the built-in default).
    pub policies: Option<PathBuf>,
}

/// Writes through the proxy's ledger writer, waiting until durable.
struct AppenderSink(Arc<Appender>);

impl Sink for AppenderSink {
    fn record(&self, events: Vec<NewEvent>) -> Result<Vec<u64>, String> {
        self.0
            .append(brig_incident::playbook::prepare(events)?)
            .map(|r| r.iter().map(|r| r.index).collect())
    }

    fn record_later(&self, events: Vec<NewEvent>) {
        match brig_incident::playbook::prepare(events) {
            Ok(p) => self.0.submit_deferred(p, |r| {
                if let Err(e) = r {
                    eprintln!("brig mcp-proxy: incident events not recorded: {e}");
                }
            }),
            Err(e) => eprintln!("brig mcp-proxy: incident events not recorded: {e}"),
        }
    }
}

struct Job {
    signals: Vec<Signal>,
}

/// The process's incident desk and playbook.
pub struct Response {
    register: Option<Arc<Register>>,
    playbook: brig_register::Playbook,
    /// Agents this process is containing while the responder writes the store row.
    holding: Arc<Mutex<HashMap<String, String>>>,
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Response(contain at {})", self.playbook.contain_at)
    }
}

impl Response {
    /// Starts the responder thread (its store and ledger connections are opened here, so a
    /// broken data directory stops the proxy from starting).
    pub fn start(
        data: &DataDir,
        config: &ResponseConfig,
        appender: Arc<Appender>,
    ) -> Result<Arc<Response>, brig_store::DataDirError> {
        let mut responder = Responder::new(
            data,
            config.register.clone(),
            config.policies.clone(),
            Arc::new(AppenderSink(appender)),
        )?;
        let playbook = responder.desk().playbook().clone();
        let holding: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let (tx, rx) = mpsc::channel::<Job>();
        let held = holding.clone();
        let thread = std::thread::spawn(move || {
            while let Ok(job) = rx.recv() {
                respond(&mut responder, &job, &held);
            }
            responder.finish();
        });
        Ok(Arc::new(Response {
            register: config.register.clone(),
            playbook,
            holding,
            jobs: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        }))
    }

    /// The risk register incident response grades with, if one was given.
    pub fn register(&self) -> Option<&Register> {
        self.register.as_deref()
    }

    /// Why this process is holding `agent` (containment on its way to the store).
    pub fn holding(&self, agent: &str) -> Option<String> {
        self.holding
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(agent)
            .cloned()
    }

    /// Would these alerts make the playbook contain their agent? If so, the agent is held
    /// here from now on, and the reason is returned.
    pub fn contain_now(&self, agent: &str, signals: &[Signal]) -> Option<String> {
        if !self.playbook.contain {
            return None;
        }
        let grave = signals.iter().find_map(|s| {
            let g = grave(s, self.register.as_deref(), &self.playbook)?;
            Some(format!(
                "the playbook contains {agent}: this call would make an incident of severity {} ({})",
                g.severity,
                g.reasons.last().map_or("", String::as_str)
            ))
        })?;
        self.holding
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(agent.to_string(), grave.clone());
        Some(grave)
    }

    /// Files alerts (events of kind `alert`) into incidents, off the caller's path.
    pub fn file(&self, alerts: &[NewEvent]) {
        if alerts.is_empty() {
            return;
        }
        let signals = alerts.iter().map(Signal::from_new).collect();
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        match jobs.as_ref() {
            Some(tx) if tx.send(Job { signals }).is_ok() => {}
            _ => eprintln!("brig mcp-proxy: incident response has stopped; alerts not filed"),
        }
    }

    /// The process's response, when the options ask for one.
    pub fn start_for(
        opts: &crate::ProxyOptions,
        data: &DataDir,
        appender: &Arc<Appender>,
    ) -> Result<Option<Arc<Response>>, brig_store::DataDirError> {
        opts.response
            .as_ref()
            .map(|config| Response::start(data, config, appender.clone()))
            .transpose()
    }

    /// Lets the responder finish what is queued (the proxy is stopping).
    pub fn finish(&self) {
        drop(self.jobs.lock().unwrap_or_else(|p| p.into_inner()).take());
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn respond(responder: &mut Responder, job: &Job, holding: &Mutex<HashMap<String, String>>) {
    match responder.handle(&job.signals) {
        Ok(handled) => {
            for h in handled {
                let contained = h.steps.iter().any(|s| {
                    s.step == "contain" && s.status == brig_incident::playbook::Status::Ok
                });
                for s in h
                    .steps
                    .iter()
                    .filter(|s| s.status == brig_incident::playbook::Status::Failed)
                {
                    eprintln!(
                        "brig mcp-proxy: playbook step {} of incident {} failed: {}",
                        s.step, h.filed.incident.id, s.detail
                    );
                }
                // The store now holds the agent; an operator's release there must take effect.
                if contained || h.steps.is_empty() {
                    holding
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&h.filed.incident.agent);
                }
            }
        }
        Err(e) => eprintln!("brig mcp-proxy: alerts not filed into incidents: {e}"),
    }
}
