//! `brig mcp-proxy`: stand in the path of an agent's MCP tools (stdio or Streamable HTTP).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::Context;
use brig_gateway::guard::{normalizer, Guard};
use brig_gateway::http::HttpOptions;
use brig_gateway::policy::CedarPolicy;
use brig_gateway::response::ResponseConfig;
use brig_gateway::{http, stdio, Identity, ProxyOptions};
use clap::Args;

use crate::exit::Exit;
use crate::DataArgs;

#[derive(Args)]
pub struct McpProxyArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The agent's identity (every event and decision is attributed to it).
    #[arg(long, value_name = "ID")]
    agent: String,
    /// The workflow the agent runs in (containment can freeze a whole workflow).
    #[arg(long, value_name = "W")]
    workflow: Option<String>,
    /// The task the agent was given, as declared (recorded; policies and rules read it).
    #[arg(long, value_name = "TEXT")]
    task: Option<String>,
    /// Directory of Cedar policies (*.cedar) [default: Brig's built-in policy]
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    detection: DetectionArgs,
    /// A directory the upstream serves or works in (repeatable) [default: the directories
    /// named in the upstream command line]. Shell commands are bracketed by incremental
    /// snapshots of these directories, so rollback can undo every change a command makes
    /// in them.
    #[arg(long, value_name = "DIR")]
    root: Vec<PathBuf>,
    /// Largest JSON-RPC message accepted from either side, in bytes.
    #[arg(long, default_value_t = 8 * 1024 * 1024, value_name = "BYTES")]
    max_message_bytes: usize,
    /// How long a call held for approval waits for `brig approvals approve|deny` before it
    /// is refused (seconds).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    approval_timeout: u64,
    /// Serve MCP's Streamable HTTP transport on this address (e.g. 127.0.0.1:7400) instead
    /// of stdio; the agent's client connects to http://ADDR/mcp. Needs --upstream-url.
    #[arg(
        long,
        value_name = "ADDR",
        requires = "upstream_url",
        conflicts_with = "command"
    )]
    listen: Option<std::net::SocketAddr>,
    /// The upstream MCP server's Streamable HTTP endpoint (http://HOST:PORT/PATH), with
    /// --listen.
    #[arg(long, value_name = "URL", requires = "listen")]
    upstream_url: Option<String>,
    /// Use the control plane at URL (`brig serve`) instead of a local data directory: calls
    /// are decided there, events recorded there, containment and approvals come from there.
    /// Needs an agent token in BRIG_TOKEN (or --token-file); stdio mode only.
    #[arg(long, value_name = "URL", conflicts_with_all = ["listen", "policy"])]
    server: Option<String>,
    /// A file holding the agent token for --server [default: $BRIG_TOKEN].
    #[arg(long, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
    /// With --server: when the control plane cannot be reached, let calls that only read
    /// files go on for this long after its last answer (they are reported when it is
    /// back). Writes and everything else are always refused while it is away [default: 0].
    #[arg(long, value_name = "SECS", requires = "server")]
    offline_grace_reads: Option<u64>,
    /// Seconds between the proxy's heartbeats (into the data directory's store, or to the
    /// control plane with --server). `brig serve` alerts on a proxy that misses three.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    heartbeat: u64,
    /// The upstream MCP server's command line, after `--` (stdio mode).
    #[arg(last = true, required_unless_present = "listen", value_name = "CMD")]
    command: Vec<OsString>,
}

/// Absolute, symlink-free form of a path when it exists; absolute otherwise.
fn absolute(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    })
}

/// The directories the upstream serves: as given, or those named on its command line.
fn served_roots(args: &McpProxyArgs) -> Vec<PathBuf> {
    if !args.root.is_empty() {
        return args.root.iter().map(|r| absolute(r)).collect();
    }
    args.command
        .iter()
        .skip(1)
        .map(Path::new)
        .filter(|p| p.is_dir())
        .map(absolute)
        .collect()
}

pub fn run_proxy(args: McpProxyArgs) -> anyhow::Result<Exit> {
    if let Some(url) = args.server.clone() {
        return run_remote(args, &url);
    }
    let dir = args.data.open()?;
    let roots = served_roots(&args);
    let brig_owned = args
        .detection
        .brig_owned(dir.root(), args.policy.as_deref(), &roots);
    let policy = CedarPolicy::load(args.policy.as_deref(), roots.clone(), brig_owned)
        .context("loading policies (brig mcp-proxy refuses to start without a valid set)")?;
    let guard = Guard::new(dir.store()?, Box::new(policy), normalizer(roots.clone()));
    let (detection, response) =
        args.detection
            .load(Some(&dir), &roots, args.policy.clone(), "brig mcp-proxy")?;
    let opts = options(&args, detection, response, roots);
    if let (Some(listen), Some(upstream)) = (args.listen, args.upstream_url.clone()) {
        http::run(
            opts,
            HttpOptions { listen, upstream },
            &dir,
            guard,
            |addr| {
                eprintln!(
                    "brig mcp-proxy: listening on http://{addr}{}",
                    http::ENDPOINT
                )
            },
        )
        .context("brig mcp-proxy")?;
        return Ok(Exit::Ok);
    }
    let code = stdio::run(
        opts,
        &args.command,
        &dir,
        guard,
        std::io::stdin(),
        Box::new(std::io::stdout()),
    )
    .context("brig mcp-proxy")?;
    Ok(if code == 0 { Exit::Ok } else { Exit::Error })
}

/// The proxy's options from its arguments.
fn options(
    args: &McpProxyArgs,
    detection: Detection,
    response: Option<ResponseConfig>,
    workspace: Vec<PathBuf>,
) -> ProxyOptions {
    ProxyOptions {
        who: Identity {
            agent: args.agent.clone(),
            workflow: args.workflow.clone(),
            task: args.task.clone(),
        },
        max_message_bytes: args.max_message_bytes,
        approval_timeout: std::time::Duration::from_secs(args.approval_timeout),
        detection,
        response,
        workspace,
        heartbeat: Some(std::time::Duration::from_secs(args.heartbeat.max(1))),
    }
}

/// `brig mcp-proxy --server URL`: the remote gateway (no data directory on this host).
fn run_remote(args: McpProxyArgs, url: &str) -> anyhow::Result<Exit> {
    let token = match &args.token_file {
        Some(f) => std::fs::read_to_string(f)
            .with_context(|| format!("reading the token from {}", f.display()))?,
        None => std::env::var("BRIG_TOKEN")
            .context("--server needs an agent token: set BRIG_TOKEN or pass --token-file")?,
    };
    let (cp, me) = brig_gateway::remote::ControlPlane::connect(url, &token)
        .with_context(|| format!("brig mcp-proxy refuses to start: the control plane at {url}"))?;
    if me.role != "agent" || me.agent.as_deref() != Some(args.agent.as_str()) {
        anyhow::bail!(
            "the token `{}` is a {} token{}; --server needs an agent token for --agent {}",
            me.name,
            me.role,
            me.agent
                .map(|a| format!(" for agent {a}"))
                .unwrap_or_default(),
            args.agent
        );
    }
    let roots = served_roots(&args);
    let (detection, _) = args.detection.load(None, &roots, None, "brig mcp-proxy")?;
    let opts = options(&args, detection, None, Vec::new());
    let remote = stdio::Remote {
        cp,
        grace_reads: args
            .offline_grace_reads
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs),
        normalize: normalizer(roots),
    };
    let code = stdio::run_with(
        opts,
        &args.command,
        stdio::Backend::Remote(remote),
        std::io::stdin(),
        Box::new(std::io::stdout()),
    )
    .context("brig mcp-proxy")?;
    Ok(if code == 0 { Exit::Ok } else { Exit::Error })
}

/// Inline detection and incident response, as the proxy and the watcher take them.
#[derive(Args)]
pub struct DetectionArgs {
    /// Directory of Sigma detection rules (*.yml, *.yaml, recursively) evaluated inline on
    /// every event [default: Brig's built-in pack]. Alerts are recorded in the ledger; a
    /// rule marked `brig.blocking: true` denies the call it matches. Brig's self-protection
    /// rule (built-in `brig_tampering.yml`) is added unless the directory has its id.
    #[arg(long, value_name = "DIR", conflicts_with = "no_detect")]
    rules: Option<PathBuf>,
    /// The risk register (brig.toml): data classes of resources, internal domains, the
    /// tools each workflow may use. Detection then knows what is classified and what is
    /// outside. A register that does not validate stops the command from starting.
    #[arg(long, value_name = "FILE", env = "BRIG_REGISTER")]
    register: Option<PathBuf>,
    /// Turn inline detection off (events are still recorded; calls still decided by policy).
    /// Brig's self-protection rule still runs: an agent going for Brig's own files or
    /// processes is still a critical alert, and is contained.
    #[arg(long)]
    no_detect: bool,
}

type Detection = Option<std::sync::Arc<brig_gateway::detection::Detection>>;

impl DetectionArgs {
    /// Brig's own files for a gateway on `data` with these rules, register and `policies`,
    /// its agents working in `projects` (see [`brig_gateway::policy::brig_owned`]).
    pub fn brig_owned(
        &self,
        data: &Path,
        policies: Option<&Path>,
        projects: &[PathBuf],
    ) -> Vec<PathBuf> {
        let mut config = self.config_files();
        config.extend(policies);
        brig_gateway::policy::brig_owned(data, &config, projects)
    }

    /// The register and rules directory given, if any.
    pub fn config_files(&self) -> Vec<&Path> {
        [self.register.as_deref(), self.rules.as_deref()]
            .into_iter()
            .flatten()
            .collect()
    }

    /// The rule pack (only the self-protection rule with --no-detect) and incident response
    /// to its alerts. `who` names the command in errors: it refuses to start on an invalid
    /// rule set or register.
    pub fn load(
        &self,
        dir: Option<&brig_store::DataDir>,
        roots: &[PathBuf],
        policies: Option<PathBuf>,
        who: &str,
    ) -> anyhow::Result<(Detection, Option<ResponseConfig>)> {
        // Loaded even without detection: a bad register must stop the command either way.
        let register = match &self.register {
            Some(f) => Some(std::sync::Arc::new(
                brig_register::Register::load(f).with_context(|| {
                    format!(
                        "loading the risk register ({who} refuses to start without a valid one)"
                    )
                })?,
            )),
            None => None,
        };
        let rules = match &self.rules {
            // The guard's alert is not the user's to switch off: see `Rules::self_protection`.
            _ if self.no_detect => brig_detect::rules::Rules::self_protection(),
            Some(d) => brig_detect::rules::Rules::with_self_protection(d).with_context(|| {
                format!(
                    "loading rules from {} ({who} refuses to start without a valid set)",
                    d.display()
                )
            })?,
            None => brig_detect::rules::Rules::builtin(),
        };
        let detection =
            brig_gateway::detection::Detection::new(&rules, register.clone(), roots, dir)?;
        // Incidents and the playbook follow the alerts.
        let response = ResponseConfig { register, policies };
        Ok((Some(detection), Some(response)))
    }
}
