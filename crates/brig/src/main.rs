//! `brig`: incident response for AI agents. One binary; this file is only the command line.
//! Each subcommand lives in its own module and calls into the library crates.

#![forbid(unsafe_code)]

mod approvals;
mod contain;
mod detect;
mod drill;
mod erase;
mod evidence;
mod exit;
mod hook;
mod hunt;
mod incidents;
mod ingest;
mod init;
mod ledger_cmd;
mod mcp_proxy;
mod metrics;
mod postmortem;
mod readiness;
mod report;
mod rollback;
mod serve;
mod siem;
mod util;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::exit::Exit;

const ABOUT: &str = "Incident response for AI agents.

Brig records every agent action in a tamper-evident ledger (an RFC 6962 Merkle log with
C2SP signed checkpoints) that anyone can verify offline with one public key.";

const EXIT_CODES: &str = "Exit codes:
  0  success
  1  error (bad arguments, unreadable files, store failure); nothing already recorded is lost
  2  command-line usage error; brig hook: Brig could not decide, the action is denied
     (fail closed: the coding agents block the action on exit code 2)
  3  brig ingest: some input lines were rejected (the valid ones were recorded);
     brig rollback apply: some paths were left alone as conflicts
  4  verification failed: the ledger, a proof or an evidence bundle does not check out
  5  brig hunt: copies of protected data, or persistence, were found
  6  brig drill: a scenario failed one of its checks
  7  brig readiness: a pre-incident control failed or could not be known";

#[derive(Parser)]
#[command(name = "brig", version, about = ABOUT, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a data directory with an empty ledger and a new Ed25519 signing key.
    ///
    /// Prints the verifier key (vkey). Keep a copy outside the data directory: auditors
    /// verify checkpoints and proofs with it alone.
    Init(init::InitArgs),
    /// Append events from a JSONL file (Brig's event JSON, one object per line) or `-` for stdin.
    ///
    /// Each valid line is recorded durably; each invalid line is reported with its line number
    /// and reason and skipped. Events whose `id` is already recorded are skipped as duplicates.
    /// A signed checkpoint is made at the end (and every --checkpoint-interval seconds).
    Ingest(ingest::IngestArgs),
    /// Inspect, checkpoint, prove and verify the ledger.
    #[command(subcommand)]
    Ledger(ledger_cmd::LedgerCommand),
    /// Stand in front of an MCP server (stdio): record every message, decide every tool call.
    ///
    /// Give your agent's MCP client this command instead of the server's, with the server's
    /// command line after `--`. Every tool call is recorded durably before it is forwarded,
    /// checked against containment and policy, and refused with a readable tool error when
    /// denied. Example:
    ///   brig mcp-proxy --agent notes-bot -- npx @modelcontextprotocol/server-filesystem ~/notes
    #[command(verbatim_doc_comment)]
    McpProxy(mcp_proxy::McpProxyArgs),
    /// Be a coding agent's hook (Claude Code, Gemini CLI, Cursor, Codex): decide each tool call
    /// before it runs, record prompts and results. `brig hook install` sets it up.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Kill switch: deny every further tool call of an agent, a workflow, or every agent.
    ///
    /// Takes effect at the next call through any running proxy that shares the data
    /// directory. Recorded in the ledger with who, when and why.
    Contain(contain::ContainArgs),
    /// Lift a containment (an operator action with a reason, recorded in the ledger).
    Release(contain::ContainArgs),
    /// Run the detection rules over a file of events (Brig JSONL or OTLP/JSON GenAI traces).
    ///
    /// Prints one line per alert (`--json`: one JSON object per line) and a summary on
    /// stderr. Without --rules, Brig's built-in pack applies. Example:
    ///   brig detect --input sessions.otlp.jsonl --json
    #[command(verbatim_doc_comment)]
    Detect(detect::DetectArgs),
    /// Tool calls held for a human decision: list, approve, deny.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCommand),
    /// Incidents opened from alerts and reports: list, show, timeline, and the lifecycle.
    ///
    /// Gateways file their alerts into incidents as they are raised (grouped by agent within
    /// an hour by default), grade them, and run the playbook — evidence, then containment —
    /// at security_incident and above. Example:
    ///   brig incidents list
    ///   brig incidents show INC-0193 --register brig.toml
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Incidents(incidents::IncidentsCommand),
    /// Report something an agent did (a person's report): it opens or joins an incident.
    ///
    /// Example:
    ///   brig report-incident --agent billing-bot --summary "mailed the customer list to a
    ///   gmail address" --resource /data/customers.csv --resource mallory@gmail.com
    ///   --happened copied --attach screenshot.png
    #[command(verbatim_doc_comment)]
    ReportIncident(report::ReportArgs),
    /// A blameless post-mortem of an incident, written from the record (Markdown or HTML).
    ///
    /// Summary, impact, timeline (in HTML, an SVG chart), detection and response timings, a
    /// suggested root-cause category with its evidence, ability / opportunity / incentive,
    /// what worked and what did not, corrective actions to assign, reporting obligations.
    /// Example:
    ///   brig postmortem --incident INC-0193 --format html --register brig.toml -o pm.html
    #[command(verbatim_doc_comment)]
    Postmortem(postmortem::PostmortemArgs),
    /// Evidence bundles that anyone can verify offline: export, verify, show, custody.
    ///
    /// Examples:
    ///   brig evidence export --incident INC-0193 -o inc-0193.tar.zst
    ///   brig evidence verify inc-0193.tar.zst --key ledger.vkey
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Evidence(evidence::EvidenceCommand),
    /// An incident's or agent's events as a timeline: Timesketch JSONL/CSV, or OCSF for SIEMs.
    ///
    /// Example:
    ///   brig timeline --incident INC-0193 --format timesketch-csv -o inc.csv
    #[command(verbatim_doc_comment)]
    Timeline(evidence::TimelineArgs),
    /// Undo an agent's file changes from the pre-images the gateway recorded.
    ///
    /// Examples:
    ///   brig rollback plan --incident INC-0193
    ///   brig rollback apply --incident INC-0193 --canary 3
    ///   brig rollback verify --incident INC-0193
    #[command(subcommand, verbatim_doc_comment)]
    Rollback(rollback::RollbackCommand),
    /// Rehearse incident response: scheming agents played through a real gateway, scored.
    ///
    /// Each scenario (the source checklist's incident patterns and tabletop cases, plus a
    /// benign control) runs in a sandbox with known content: a real `brig mcp-proxy` with
    /// Brig's default policies and rule pack in front of the MCP reference filesystem server
    /// (or Brig's built-in sandbox server when Node.js is missing), a scripted agent
    /// through it. Scored from the sandbox's ledger: detected (which rules, time to
    /// detect), contained (before which call, time to contain), evidence exported and
    /// verified offline, rollback restoring the workspace's baseline hash, stealth copies
    /// hunted. Exit 6 when any check fails. Results are recorded in the data directory's
    /// ledger when there is one (for `brig metrics` and `brig readiness`). Examples:
    ///   brig drill                                  # every scenario, about a minute
    ///   brig drill --scenario stealth-backup --keep --json
    ///   brig drill --policy ./policies --workflow support
    #[command(verbatim_doc_comment)]
    Drill(drill::DrillArgs),
    /// Hunt for what an agent left behind: stealth copies of protected data, and persistence.
    ///
    /// Copies are found by content (size, then partial and full BLAKE3), whatever their name,
    /// also inside archives. Examples:
    ///   brig hunt copies --protected /data/customers --scan /home /tmp --json
    ///   brig hunt persistence --since 2026-03-01T09:00:00Z --scan /srv/repos
    #[command(verbatim_doc_comment)]
    #[command(subcommand)]
    Hunt(hunt::HuntCommand),
    /// The metrics that matter: time to detect, contain and restore (mean, p90), forensic
    /// coverage, workflows with a tested rollback, repeat incidents, impact, drill scores.
    ///
    /// Read from the ledger and the incidents; `--help` says what each figure measures.
    /// Example:
    ///   brig metrics --since 2026-01-01T00:00:00Z --register brig.toml
    #[command(verbatim_doc_comment)]
    Metrics(metrics::MetricsArgs),
    /// Score the deployment against the checklist's pre-incident controls: each item pass,
    /// fail or unknown, with what was found and the fix.
    ///
    /// Policies are probed as the gateway decides; the rest is read from the register, the
    /// ledger and its drill results. Exit 7 unless every item passes. Example:
    ///   brig readiness --register brig.toml --policy policies/ --json
    #[command(verbatim_doc_comment)]
    Readiness(readiness::ReadinessArgs),
    /// Record what an agent that does not go through the gateway changes in directories.
    ///
    /// A baseline snapshot, then every change (seen through inotify, confirmed by an
    /// incremental snapshot) is a ledger event with the before and after state of each path,
    /// evaluated by the detection rules, and undoable with `brig rollback`. A before-image
    /// can be missed for a change made before the baseline finished, and a path changed twice
    /// between two looks shows only its first and last state. Example:
    ///   brig watch ~/projects/site --agent site-bot --for 3600
    #[command(verbatim_doc_comment)]
    Watch(watch::WatchArgs),
    /// The control plane: Brig's HTTP API (/v1) with tokens and roles, on this data directory.
    ///
    /// Health at /healthz and /readyz, Prometheus metrics at /metrics, the OpenAPI document
    /// at /v1/openapi.json. OpenTelemetry GenAI traces (OTLP/HTTP, protobuf or JSON) at
    /// /v1/traces, also on the standard OTLP port with --otlp-listen: passive (detect, alert,
    /// open incidents; nothing can be blocked). SIGINT or SIGTERM stops it gracefully
    /// (in-flight writes finished, a last checkpoint signed). Example:
    ///   brig tokens create --name alice --role operator
    ///   brig serve --listen 127.0.0.1:7878 --otlp-listen 127.0.0.1:4318
    #[command(verbatim_doc_comment)]
    Serve(serve::ServeArgs),
    /// API tokens for `brig serve`: create, list, revoke.
    #[command(subcommand)]
    Tokens(serve::TokensCommand),
    /// Send alerts and incident changes (or every event) to a SIEM as OCSF: a file, syslog
    /// (UDP, TCP, TLS) or an HTTP collector (Splunk HEC, generic JSON); nothing lost while
    /// it is down.
    ///
    /// Examples:
    ///   brig siem forward --to syslog+tcp://siem.example.com:514
    ///   brig siem status
    #[command(subcommand, verbatim_doc_comment)]
    Siem(siem::SiemCommand),
}

/// Where the state lives. Shared by every command that touches state.
#[derive(Args, Clone, Debug)]
pub struct DataArgs {
    /// Data directory (created by `brig init`): the signing key, and the ledger database
    /// unless the state is in PostgreSQL.
    #[arg(long, env = "BRIG_DATA", default_value = brig_store::DEFAULT_DATA_DIR, value_name = "DIR")]
    pub data: PathBuf,
    /// Keep or find the state in this PostgreSQL database (postgres://user:pass@host/db)
    /// instead of the data directory's ledger.db. Default: what `brig init` recorded.
    #[arg(
        long,
        env = "BRIG_DATABASE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database: Option<String>,
}

impl DataArgs {
    /// The data directory, its state where `--database` or `brig init` says.
    pub fn open(&self) -> Result<brig_store::DataDir, brig_store::DataDirError> {
        brig_store::DataDir::open_with(&self.data, self.database.as_deref())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => init::run(a),
        Command::Ingest(a) => ingest::run(a),
        Command::Ledger(c) => ledger_cmd::run(c),
        Command::McpProxy(a) => mcp_proxy::run_proxy(a),
        Command::Hook(c) => hook::run(c),
        Command::Watch(a) => watch::run(a),
        Command::Serve(a) => serve::serve(a),
        Command::Tokens(c) => serve::tokens(c),
        Command::Siem(c) => siem::run(c),
        Command::Contain(a) => contain::contain(a),
        Command::Release(a) => contain::release(a),
        Command::Approvals(c) => approvals::run(c),
        Command::Detect(a) => detect::run(a),
        Command::Incidents(c) => incidents::run(c),
        Command::ReportIncident(a) => report::run(a),
        Command::Postmortem(a) => postmortem::run(a),
        Command::Evidence(c) => evidence::run(c),
        Command::Timeline(a) => evidence::timeline(a),
        Command::Rollback(c) => rollback::run(c),
        Command::Hunt(c) => hunt::run(c),
        Command::Metrics(a) => metrics::run(a),
        Command::Readiness(a) => readiness::run(a),
        Command::Drill(a) => drill::run(a),
    };
    match result {
        Ok(Exit::Ok) => ExitCode::SUCCESS,
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("brig: error: {e:#}");
            ExitCode::from(Exit::Error as u8)
        }
    }
}
