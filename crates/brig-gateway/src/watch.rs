//! `brig watch`: what an agent that does not go through the gateway changes in a directory.
//!
//! A baseline snapshot of each directory first (content stored, as for pre-images); then
//! the file system's change notifications (inotify, through the `notify` crate) say *when*
//! to look again, and an incremental snapshot says *what* changed. Each look that finds
//! differences is one `file.change` event in the ledger, attributed to the agent, with the
//! pre- and post-image of every changed path — the same images rollback restores from — and
//! evaluated by the rule pack like any other event. A sweep also runs every `interval`
//! without a notification, for changes inotify does not report (a full event queue,
//! writes through a memory map, a directory created and filled before it was watched).
//!
//! **The window in which a before-image can be missed.** A path's pre-image is its state at
//! the previous look, not at the instant before the change. So: a change made before the
//! baseline finished is the baseline; a path changed twice between two looks (within
//! `settle`, or by a burst that keeps the directory busy) shows only its first and last
//! state; a change by a person or another process between two looks is attributed to the
//! agent as well; and a file rewritten within `snapshot::RACY_NS` of a look, keeping size
//! and times, is caught only at the next sweep. Watching observes — it cannot stop a change
//! the way the gateway does; it makes the change visible and undoable.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brig_model::{EventId, EventKind};
use brig_rollback::objects::Objects;
use brig_rollback::workspace::{Before, Workspace};
use brig_store::DataDir;
use notify::{RecursiveMode, Watcher};
use serde::Serialize;
use serde_json::json;

use crate::record::Recorder;
use crate::{finish_appender, start_appender, Identity, ProxyError};

/// How the watcher runs.
pub struct WatchOptions {
    pub who: Identity,
    pub dirs: Vec<PathBuf>,
    /// Quiet time after a notification before looking (a burst becomes one look).
    pub settle: Duration,
    /// Look at least this often, notification or not.
    pub interval: Duration,
    /// Stop after this long (`None`: until `stop`).
    pub duration: Option<Duration>,
    pub detection: Option<Arc<crate::detection::Detection>>,
    pub response: Option<crate::response::ResponseConfig>,
}

/// What a watch recorded.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Watched {
    pub session: String,
    /// Paths in the baseline snapshot.
    pub baseline_paths: usize,
    /// Looks that found changes (each a `file.change` event).
    pub batches: u64,
    /// Path changes recorded.
    pub changes: u64,
    /// Incremental snapshots taken after the baseline.
    pub looks: u64,
}

/// Longest a burst of notifications can postpone a look.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Watches until `stop` is set or the duration is over; `ready` is called once the baseline
/// is recorded and changes are being watched.
pub fn run(
    opts: WatchOptions,
    data: &DataDir,
    stop: &AtomicBool,
    ready: impl FnOnce(&Watched),
) -> Result<Watched, ProxyError> {
    let own = data
        .root()
        .canonicalize()
        .unwrap_or_else(|_| data.root().to_path_buf());
    let objects = Objects::open(&data.root().join("objects"))
        .map_err(|e| ProxyError::Images(e.to_string()))?;
    let workspace = Workspace::new(opts.dirs.clone(), vec![own.clone()]);
    let appender = start_appender(data)?;
    let session = EventId::new().to_string();
    let response = opts
        .response
        .as_ref()
        .map(|config| crate::response::Response::start(data, config, appender.clone()))
        .transpose()?;
    let rec = Recorder::new(
        appender.clone(),
        "brig-watch",
        opts.who.agent.clone(),
        opts.who.workflow.clone(),
        session.clone(),
    )
    .with_detection(opts.detection.clone())
    .with_response(response.clone());

    // Watching starts before the baseline, so nothing changed during it goes unnoticed.
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |ev| {
        let _ = tx.send(ev);
    })
    .map_err(|e| ProxyError::Watch(e.to_string()))?;
    for d in &opts.dirs {
        watcher
            .watch(d, RecursiveMode::Recursive)
            .map_err(|e| ProxyError::Watch(format!("{}: {e}", d.display())))?;
    }
    let mut base = workspace
        .before(&objects)
        .map_err(|e| ProxyError::Images(e.to_string()))?;
    let mut done = Watched {
        session,
        baseline_paths: base.stats.paths,
        ..Watched::default()
    };
    if let Some(task) = &opts.who.task {
        let mut e = rec.event(EventKind::AgentPrompt);
        e.payload.insert("task".into(), json!(task));
        rec.record(e);
    }
    let mut e = rec.event(EventKind::FileChange);
    e.attrs.insert("baseline".into(), json!(true));
    e.attrs.insert("watched".into(), json!(opts.dirs));
    e.attrs.insert("paths".into(), json!(base.stats.paths));
    rec.record_durably(vec![e]).map_err(ProxyError::Watch)?;
    ready(&done);

    let started = Instant::now();
    let mut next_sweep = started + opts.interval;
    let mut dirty: Option<(Instant, Instant)> = None; // (first, last) notification
    loop {
        let now = Instant::now();
        let over = opts.duration.is_some_and(|d| now >= started + d);
        if over || stop.load(Ordering::Relaxed) {
            break;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            // Reads (our own snapshots' among them) and Brig's own writes change nothing.
            Ok(Ok(ev))
                if matches!(ev.kind, notify::EventKind::Access(_))
                    || ev.paths.iter().all(|p| p.starts_with(&own)) => {}
            // An error (a full queue among them) is a reason to look, like a change.
            Ok(_) => {
                let t = Instant::now();
                dirty = Some(dirty.map_or((t, t), |(first, _)| (first, t)));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(ProxyError::Watch("the file system watcher stopped".into()))
            }
        }
        let now = Instant::now();
        let due = dirty
            .is_some_and(|(first, last)| now >= last + opts.settle || now >= first + MAX_DELAY);
        if due || now >= next_sweep {
            look(&workspace, &mut base, &objects, &rec, &mut done)?;
            dirty = None;
            next_sweep = Instant::now() + opts.interval;
        }
    }
    // A last look: what changed since the previous one is recorded before stopping.
    look(&workspace, &mut base, &objects, &rec, &mut done)?;
    drop(watcher);
    if let Some(r) = &response {
        r.finish();
    }
    drop(rec);
    finish_appender(appender);
    Ok(done)
}

/// Snapshots again; records what differs as one `file.change` event.
fn look(
    workspace: &Workspace,
    base: &mut Before,
    objects: &Objects,
    rec: &Recorder,
    done: &mut Watched,
) -> Result<(), ProxyError> {
    done.looks += 1;
    let (pre, post) = workspace
        .advance(base, objects)
        .map_err(|e| ProxyError::Images(e.to_string()))?;
    if pre.is_empty() {
        return Ok(());
    }
    let n = pre.len() as u64;
    let e = rec.observed_change(pre, post, None, "watch");
    done.batches += 1;
    done.changes += n;
    // Evaluated by the rule pack (alerts recorded with it, incidents filed), and durable
    // before the next look.
    rec.record_durably(rec.observed(e))
        .map_err(ProxyError::Watch)
}
