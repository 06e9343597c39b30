//! `brig watch`: record what an agent outside the gateway changes in directories.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use brig_gateway::watch::{self, WatchOptions};
use brig_gateway::Identity;
use clap::Args;

use crate::exit::Exit;
use crate::mcp_proxy::DetectionArgs;
use crate::DataArgs;

#[derive(Args)]
pub struct WatchArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The agent whose changes these are (every change is attributed to it).
    #[arg(long, value_name = "ID")]
    agent: String,
    /// The workflow the agent runs in.
    #[arg(long, value_name = "W")]
    workflow: Option<String>,
    /// The task the agent was given, as declared (detection judges changes against it).
    #[arg(long, value_name = "TEXT")]
    task: Option<String>,
    #[command(flatten)]
    detection: DetectionArgs,
    /// Quiet time after a change notification before looking, in milliseconds (a burst of
    /// writes becomes one record).
    #[arg(long, default_value_t = 300, value_name = "MS")]
    settle_ms: u64,
    /// Look at least this often even without a notification, in seconds.
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    interval: u64,
    /// Stop after this many seconds [default: until SIGINT or SIGTERM].
    #[arg(long = "for", value_name = "SECS")]
    duration: Option<u64>,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
    /// The directories to watch (recursively).
    #[arg(required = true, value_name = "DIR")]
    dirs: Vec<PathBuf>,
}

pub fn run(a: WatchArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut dirs = Vec::new();
    for d in &a.dirs {
        let c = d
            .canonicalize()
            .with_context(|| format!("cannot watch {}", d.display()))?;
        if !c.is_dir() {
            bail!("cannot watch {}: not a directory", d.display());
        }
        dirs.push(c);
    }
    let (detection, response) = a.detection.load(Some(&dir), &dirs, None, "brig watch")?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing a signal handler")?;
    }
    let opts = WatchOptions {
        who: Identity {
            agent: a.agent.clone(),
            workflow: a.workflow.clone(),
            task: a.task.clone(),
        },
        dirs: dirs.clone(),
        settle: Duration::from_millis(a.settle_ms),
        interval: Duration::from_secs(a.interval.max(1)),
        duration: a.duration.map(Duration::from_secs),
        detection,
        response,
    };
    let done = watch::run(opts, &dir, &stop, |w| {
        eprintln!(
            "brig watch: {} paths in the baseline of {}; watching for changes by {} (session {}; stop with Ctrl-C)",
            w.baseline_paths,
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            a.agent,
            w.session
        );
    })
    .context("brig watch")?;
    if a.json {
        println!("{}", serde_json::to_string(&done)?);
    } else {
        println!(
            "recorded {} change(s) in {} record(s) over {} look(s); session {}",
            done.changes, done.batches, done.looks, done.session
        );
        if done.changes > 0 {
            println!(
                "undo them with: brig rollback plan --agent {} --session {}",
                a.agent, done.session
            );
        }
    }
    Ok(Exit::Ok)
}
