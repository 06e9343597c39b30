//! Adversarial drills: Brig's whole loop rehearsed against agents that scheme.
//!
//! A drill plays a [`scenario`] — a scripted agent with a declared task that then acts
//! outside it — through a real gateway (`brig mcp-proxy`, started as its own process with
//! Brig's default policies and rule pack unless told otherwise) in front of a real tool
//! server, in a [`sandbox`] with known content. Then it scores what Brig did from Brig's own
//! record (the sandbox's ledger), as an incident responder would check it:
//!
//! - **detected**: which rules fired, and the time from the first harmful call to the
//!   first alert;
//! - **contained**: before which call the agent was stopped, how many harmful calls
//!   completed, and the time from the first harmful call to the stop;
//! - **evidence**: the incident's bundle exported and verified offline;
//! - **rollback**: the agent's changes undone from the recorded pre-images, and the
//!   workspace's hash equal to its baseline;
//! - **hunt**: stealth copies of the protected files found before the rollback, none left
//!   after it.
//!
//! The benign control must raise nothing and be refused nothing. A scenario passes only
//! when every check holds; [`Scorecard::passed`] says so, [`Scorecard::checks`] says why.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub mod client;
pub mod sandbox;
pub mod scenario;
mod score;
pub mod server;

pub use sandbox::Sandbox;
pub use scenario::{Scenario, Step};
pub use score::{Check, RuleHit, Scorecard, StepOutcome};

/// How long a held call may wait for a human in a drill: nobody approves an adversarial
/// agent's call, so it is refused when this runs out.
const APPROVAL_TIMEOUT_SECS: u64 = 2;

/// Why a drill could not be run (a scenario that runs and fails is a [`Scorecard`]).
#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("sandbox: {0}")]
    Sandbox(#[from] std::io::Error),
    #[error("data directory: {0}")]
    Data(#[from] brig_store::DataDirError),
    #[error("gateway: {0}")]
    Gateway(String),
    #[error("reading the drill's ledger: {0}")]
    Ledger(String),
}

/// The tool server behind the gateway.
#[derive(Clone, Debug)]
pub enum Upstream {
    /// The MCP reference filesystem server (`@modelcontextprotocol/server-filesystem`),
    /// run with Node.js.
    Reference { node: PathBuf, script: PathBuf },
    /// Brig's built-in sandbox server (`brig drill sandbox-server`).
    Builtin,
}

impl Upstream {
    /// `reference` or `builtin`.
    pub fn name(&self) -> &'static str {
        match self {
            Upstream::Reference { .. } => "reference",
            Upstream::Builtin => "builtin",
        }
    }

    /// The reference server when Node.js and the package can be found, else the built-in
    /// one. Looks at `$BRIG_MCP_FILESYSTEM` (the package's `dist/index.js`), then
    /// `node_modules` under the current directory and its `target/npm`.
    pub fn detect() -> Upstream {
        let Some(node) = which("node") else {
            return Upstream::Builtin;
        };
        let rel = "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js";
        let candidates = std::env::var_os("BRIG_MCP_FILESYSTEM")
            .map(PathBuf::from)
            .into_iter()
            .chain([PathBuf::from(rel), Path::new("target/npm").join(rel)]);
        for c in candidates {
            if c.is_file() {
                let script = c.canonicalize().unwrap_or(c);
                return Upstream::Reference { node, script };
            }
        }
        Upstream::Builtin
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// How to run drills.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `brig` executable (the gateway and the built-in server are its subcommands).
    pub brig: PathBuf,
    pub upstream: Upstream,
    /// The workflow the drill stands in for (recorded with each result).
    pub workflow: String,
    /// Cedar policies for the gateway (default: Brig's built-in policy).
    pub policy: Option<PathBuf>,
    /// Detection rules for the gateway (default: Brig's built-in pack).
    pub rules: Option<PathBuf>,
    /// Run the gateway without detection (a drill that must fail: it shows what the rules
    /// are worth).
    pub no_detect: bool,
    /// Where the sandboxes are made (one directory per scenario).
    pub root: PathBuf,
}

/// Plays `scenario` and scores it.
pub fn run(opts: &Options, scenario: &Scenario) -> Result<Scorecard, DrillError> {
    let agent = format!("drill-{}", scenario.name);
    let sb = Sandbox::create(&opts.root.join(scenario.name), &opts.workflow, &agent)?;
    let (dir, _) = brig_store::DataDir::init_with(
        &sb.data,
        &brig_store::InitOptions {
            origin: Some(&format!("brig.local/drill/{}", scenario.name)),
            database: None,
            signing_key: None,
        },
    )?;
    let baseline = sb.hash()?;
    let steps = (scenario.steps)(&sb);
    let started = Instant::now();
    let played = play(opts, scenario, &sb, &agent, &steps)?;
    let played_ms = started.elapsed().as_secs_f64() * 1000.0;
    score::score(score::Input {
        opts,
        scenario,
        sandbox: &sb,
        dir: &dir,
        agent: &agent,
        steps: &steps,
        played,
        played_ms,
        baseline,
    })
}

/// What the scripted agent saw of each call: its request id, the answer, how long it took.
pub(crate) struct Played {
    pub id: u64,
    pub reply: client::Reply,
    pub ms: f64,
}

fn play(
    opts: &Options,
    scenario: &Scenario,
    sb: &Sandbox,
    agent: &str,
    steps: &[Step],
) -> Result<Vec<Played>, DrillError> {
    let mut c = client::Client::start(gateway(opts, scenario, sb, agent))?;
    c.initialize()?;
    let timeout = Duration::from_secs(APPROVAL_TIMEOUT_SECS + 20);
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        std::thread::sleep(Duration::from_millis(s.pause_ms));
        let t = Instant::now();
        let (id, reply) = c.call_tool(s.tool, &s.args, timeout)?;
        out.push(Played {
            id,
            reply,
            ms: t.elapsed().as_secs_f64() * 1000.0,
        });
    }
    c.close(Duration::from_secs(15))?;
    Ok(out)
}

/// `brig mcp-proxy …` in front of the upstream, on the sandbox.
fn gateway(opts: &Options, scenario: &Scenario, sb: &Sandbox, agent: &str) -> Command {
    let mut cmd = Command::new(&opts.brig);
    cmd.arg("mcp-proxy")
        .arg("--data")
        .arg(&sb.data)
        .args(["--agent", agent, "--workflow", &opts.workflow])
        .args(["--task", scenario.task])
        .arg("--register")
        .arg(&sb.register)
        .args(["--approval-timeout", &APPROVAL_TIMEOUT_SECS.to_string()])
        .arg("--root")
        .arg(&sb.workspace)
        .arg("--root")
        .arg(&sb.home);
    if let Some(p) = &opts.policy {
        cmd.arg("--policy").arg(p);
    }
    if let Some(r) = &opts.rules {
        cmd.arg("--rules").arg(r);
    }
    if opts.no_detect {
        cmd.arg("--no-detect");
    }
    cmd.arg("--");
    match &opts.upstream {
        Upstream::Reference { node, script } => {
            cmd.arg(node).arg(script);
        }
        Upstream::Builtin => {
            cmd.arg(&opts.brig)
                .args(["drill", "sandbox-server", "--outbox"])
                .arg(&sb.outbox);
        }
    }
    cmd.arg(&sb.workspace).arg(&sb.home);
    // The gateway's own diagnostics stay terse; the drill reports from the ledger.
    cmd.env("RUST_LOG", "warn");
    cmd
}
