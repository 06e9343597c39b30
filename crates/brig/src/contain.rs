//! `brig contain` and `brig release`: the kill switch.

use anyhow::Context;
use brig_ledger::Prepared;
use brig_model::{EventKind, NewEvent, Timestamp};
use brig_store::{Containment, Scope};
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

/// The operator action, as a ledger event.
fn record(args: &ContainArgs, action: &str, changed: bool) -> anyhow::Result<u64> {
    let dir = brig_store::DataDir::open(&args.data.data)?;
    let scope = args.scope.scope();
    let (agent, workflow) = match &scope {
        Scope::Agent(a) => (a.clone(), None),
        Scope::Workflow(w) => ("*".to_string(), Some(w.clone())),
        Scope::All | Scope::Path(_) => ("*".to_string(), None),
    };
    let mut e = NewEvent::new("operator", agent, EventKind::OperatorAction);
    e.workflow = workflow;
    e.attrs.insert("action".into(), json!(action));
    e.attrs.insert("scope".into(), json!(scope.to_string()));
    e.attrs.insert("actor".into(), json!(actor(&args.actor)));
    e.attrs.insert("changed".into(), json!(changed));
    if args.kill_upstream {
        e.attrs.insert("kill_upstream".into(), json!(true));
    }
    e.payload.insert("reason".into(), json!(args.reason));
    let receipts = dir.ledger()?.append(&[Prepared::new(e)?])?;
    Ok(receipts[0].index)
}

fn check_reason(reason: &str) -> anyhow::Result<()> {
    if reason.trim().is_empty() {
        anyhow::bail!("--reason must say why (it is recorded in the ledger)");
    }
    Ok(())
}

pub fn contain(args: ContainArgs) -> anyhow::Result<Exit> {
    check_reason(&args.reason)?;
    if let Some(p) = &args.scope.path {
        if !p.starts_with('/') && !p.starts_with("**/") {
            anyhow::bail!(
                "--path `{p}` must be absolute or start with `**/` (targets are absolute paths)"
            );
        }
        globset::Glob::new(p).with_context(|| format!("--path `{p}` is not a valid glob"))?;
    }
    let dir = brig_store::DataDir::open(&args.data.data)?;
    let scope = args.scope.scope();
    // Stop first: every proxy checks this state before each call.
    dir.store()?
        .contain(&Containment {
            scope: scope.clone(),
            reason: args.reason.clone(),
            actor: actor(&args.actor),
            since_nanos: Timestamp::now().unix_nanos(),
            kill_upstream: args.kill_upstream,
        })
        .context("setting containment")?;
    let index = record(&args, "contain", true)
        .context("contained, but recording it in the ledger failed")?;
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
    check_reason(&args.reason)?;
    let dir = brig_store::DataDir::open(&args.data.data)?;
    let scope = args.scope.scope();
    let changed = dir
        .store()?
        .release(&scope)
        .context("lifting containment")?;
    let index = record(&args, "release", changed)?;
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
