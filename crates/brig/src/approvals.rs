//! `brig approvals`: the queue of tool calls held for a human decision.

use brig_ledger::Prepared;
use brig_model::Timestamp;
use clap::{Args, Subcommand};
use serde_json::json;

use crate::exit::Exit;
use crate::DataArgs;

#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// Calls waiting for a decision (with --all, every approval and how it ended).
    List(ListArgs),
    /// Let a held call run.
    Approve(DecideArgs),
    /// Refuse a held call (the agent reads the reason).
    Deny(DecideArgs),
}

#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long)]
    all: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct DecideArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The approval id (from `brig approvals list`).
    id: String,
    /// Why (required: it goes into the ledger, and the agent reads it on a deny).
    #[arg(long)]
    reason: String,
    /// Who decides [default: $USER]
    #[arg(long)]
    actor: Option<String>,
}

pub fn run(cmd: ApprovalsCommand) -> anyhow::Result<Exit> {
    match cmd {
        ApprovalsCommand::List(a) => list(a),
        ApprovalsCommand::Approve(a) => decide(a, true),
        ApprovalsCommand::Deny(a) => decide(a, false),
    }
}

fn list(a: ListArgs) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let approvals = dir.store()?.approvals(a.all)?;
    if a.json {
        for x in &approvals {
            println!(
                "{}",
                json!({"id": x.id, "status": x.status, "agent": x.agent, "workflow": x.workflow,
                       "tool": x.tool, "actions": x.summary, "policies": x.policies,
                       "ledger_index": x.event_index,
                       "created": Timestamp::from_unix_nanos(x.created_nanos),
                       "decided_by": x.decided_by, "reason": x.reason})
            );
        }
    } else if approvals.is_empty() {
        println!("no {}approvals", if a.all { "" } else { "pending " });
    } else {
        for x in &approvals {
            println!(
                "{}  {:<9} {}  {} {}: {}  (held by {}; call at ledger index {})",
                x.id,
                x.status,
                Timestamp::from_unix_nanos(x.created_nanos),
                x.agent,
                x.tool,
                x.summary,
                x.policies,
                x.event_index
            );
        }
    }
    Ok(Exit::Ok)
}

fn decide(a: DecideArgs, approve: bool) -> anyhow::Result<Exit> {
    let dir = a.data.open()?;
    let mut store = dir.store()?;
    let actor = crate::util::actor(&a.actor);
    let (approval, e) =
        brig_gateway::approval::settle_by_operator(&mut store, &a.id, approve, &actor, &a.reason)?;
    let index = dir.ledger()?.append(&[Prepared::new(e)?])?[0].index;
    let status = if approve { "approved" } else { "denied" };
    println!(
        "{status} {} ({}: {}) — ledger event {index}",
        a.id, approval.tool, approval.summary
    );
    Ok(Exit::Ok)
}
