//! `brig contain` and `brig release`: the kill switch.

use anyhow::Context;
use brig_incident::switch::{self, Order};
use brig_store::Scope;
use clap::Args;
use serde_json::json;

use crate::exit::Exit;
use crate::util::actor;
use crate::DataArgs;

#[derive(Args)]
#[group(id = "scope", required = true, multiple = false)]
pub struct ScopeArgs {
    /// This agent.
    #[arg(long, group = "scope", value_name = "ID")]
    agent: Option<String>,
    /// Every agent of this workflow.
    #[arg(long, group = "scope", value_name = "W")]
    workflow: Option<String>,
    /// Every agent.
    #[arg(long, group = "scope")]
    all: bool,
    /// Quarantine a path glob: no agent may touch what it matches (the playbook's
    /// `quarantine` setting does this on its own).
    #[arg(long, group = "scope", value_name = "GLOB")]
    path: Option<String>,
}

impl ScopeArgs {
    fn scope(&self) -> Scope {
        match (&self.agent, &self.workflow, &self.path) {
            (Some(a), _, _) => Scope::Agent(a.clone()),
            (_, Some(w), _) => Scope::Workflow(w.clone()),
            (_, _, Some(p)) => Scope::Path(p.clone()),
            _ => Scope::All,
        }
    }
}

#[derive(Args)]
pub struct ContainArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    /// Why (required: it goes into the ledger).
    #[arg(long)]
    reason: String,
    /// Who is acting [default: $USER]
    #[arg(long)]
    actor: Option<String>,
    /// Also stop the upstream MCP server process behind each affected proxy (brig contain).
    #[arg(long)]
    kill_upstream: bool,
    #[arg(long)]
    json: bool,
}

impl ContainArgs {
    fn order(&self) -> Order {
        Order {
            scope: self.scope.scope(),
            reason: self.reason.clone(),
            actor: actor(&self.actor),
            kill_upstream: self.kill_upstream,
        }
    }
}

pub fn contain(args: ContainArgs) -> anyhow::Result<Exit> {
    let dir = args.data.open()?;
    let scope = args.scope.scope();
    let index = switch::contain(&dir, &args.order()).context("containing")?;
    if args.json {
        println!(
            "{}",
            json!({"contained": scope.to_string(), "ledger_index": index})
        );
    } else {
        println!("contained {scope}: every further tool call is denied (ledger event {index})");
    }
    Ok(Exit::Ok)
}

pub fn release(args: ContainArgs) -> anyhow::Result<Exit> {
    let dir = args.data.open()?;
    let scope = args.scope.scope();
    let (changed, index) = switch::release(&dir, &args.order()).context("lifting containment")?;
    if args.json {
        println!(
            "{}",
            json!({"released": scope.to_string(), "was_contained": changed, "ledger_index": index})
        );
    } else if changed {
        println!("released {scope} (ledger event {index})");
    } else {
        println!("{scope} was not contained; recorded the request anyway (ledger event {index})");
    }
    Ok(Exit::Ok)
}
