//! `brig rollback plan|apply|verify`: undo an agent's file changes from the pre-images the
//! gateway recorded, never over a later change by someone else.

use anyhow::Context;
use brig_evidence::undo;
use brig_ledger::Prepared;
use brig_rollback::git;
use brig_rollback::objects::Objects;
use brig_rollback::plan::{self, Action, Item, Outcome};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::evidence::ScopeArgs;
use crate::exit::Exit;
use crate::util::actor;
use crate::DataArgs;

#[derive(Subcommand)]
pub enum RollbackCommand {
    /// Every file change to undo in the scope, newest first, with diffs; conflicts marked.
    ///
    /// A conflict is a path whose state now is not what the agent left: a person or another
    /// process changed it since. Apply never overwrites a conflict.
    Plan(PlanArgs),
    /// Restore the pre-images: each file atomically, newest change first; conflicts are left
    /// as they are with the pre-image saved beside them (PATH.brig-preimage).
    ///
    /// Every step is recorded in the ledger. Running it again finishes an interrupted apply.
    /// Examples:
    ///   brig rollback apply --incident INC-0193 --dry-run
    ///   brig rollback apply --incident INC-0193 --canary 3
    #[command(verbatim_doc_comment)]
    Apply(ApplyArgs),
    /// Re-hash every path of the scope against its pre-image; exit 4 on any mismatch.
    Verify(PlanArgs),
}

#[derive(Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Only paths matching this glob (repeatable).
    #[arg(long)]
    pub include: Vec<String>,
    /// Leave out paths matching this glob (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// In git repositories the agent committed to, revert its commits (`git revert`, new
    /// commits on top: history kept) instead of rewinding the branch by restoring the files
    /// under `.git`; those files are then left to git.
    #[arg(long)]
    pub git_revert: bool,
    /// JSON: `{"items": [...], "git": [...]}` (plan), the outcomes (apply), the checks (verify).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Restore this many items first, verify them, and stop if any does not match.
    #[arg(long, value_name = "N")]
    pub canary: Option<usize>,
    /// Say what would be done; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Who is rolling back (default: $USER), for the ledger.
    #[arg(long)]
    pub actor: Option<String>,
}

pub fn run(cmd: RollbackCommand) -> anyhow::Result<Exit> {
    match cmd {
        RollbackCommand::Plan(a) => plan_cmd(a),
        RollbackCommand::Apply(a) => apply_cmd(a),
        RollbackCommand::Verify(a) => verify_cmd(a),
    }
}

/// The plan for the scope, the data directory it reads from, and the branches the agent
/// committed to.
struct Planned {
    dir: brig_store::DataDir,
    objects: Objects,
    items: Vec<Item>,
    branches: Vec<git::Branch>,
}

fn make_plan(a: &PlanArgs) -> anyhow::Result<Planned> {
    let dir = a.data.open()?;
    let sel = undo::Selection {
        include: a.include.clone(),
        exclude: a.exclude.clone(),
        git_revert: a.git_revert,
    };
    let p = undo::plan_scope(&dir, &a.scope.scope(), &sel)?;
    Ok(Planned {
        dir,
        objects: p.objects,
        items: p.items,
        branches: p.branches,
    })
}

fn plan_cmd(a: PlanArgs) -> anyhow::Result<Exit> {
    let Planned {
        items, branches, ..
    } = make_plan(&a)?;
    if a.json {
        println!("{}", json!({"items": items, "git": branches}));
        return Ok(Exit::Ok);
    }
    print_branches(&branches, a.git_revert);
    if items.is_empty() {
        println!("nothing to roll back: no recorded file change in this scope");
    }
    for i in &items {
        let what = match i.action {
            Action::Restore => "restore",
            Action::Nothing => "nothing to do",
            Action::Conflict => "CONFLICT",
        };
        println!(
            "{:<13} {:?} {}  (calls {}){}",
            what,
            i.change,
            i.path,
            i.calls
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(","),
            i.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        );
        if let Some(d) = &i.diff {
            for l in d.lines() {
                println!("    {l}");
            }
        }
    }
    let n = |x: Action| items.iter().filter(|i| i.action == x).count();
    println!(
        "\n{} to restore, {} conflicts, {} already in their pre-agent state",
        n(Action::Restore),
        n(Action::Conflict),
        n(Action::Nothing)
    );
    Ok(Exit::Ok)
}

/// The agent's commits, and what rollback does with them.
fn print_branches(branches: &[git::Branch], reverting: bool) {
    for b in branches {
        println!(
            "git {} branch {}: {} commit(s) by the agent{}",
            b.repo,
            b.branch,
            b.commits.len(),
            b.note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        for c in &b.commits {
            println!("    {} {}", &c.sha[..12.min(c.sha.len())], c.subject);
        }
        if !b.commits.is_empty() {
            println!(
                "    {}",
                if reverting {
                    "will be reverted with new commits (git revert); files under .git are left to git"
                } else {
                    "restoring .git below rewinds the branch; --git-revert reverts them with new commits instead"
                }
            );
        }
    }
}

/// Reverts the agent's commits, each branch an operator action in the ledger.
fn revert_branches(
    a: &ApplyArgs,
    branches: &[git::Branch],
    ledger: &mut brig_ledger::Ledger<brig_store::Store>,
    who: &str,
) -> anyhow::Result<Vec<git::Reverted>> {
    let mut out = Vec::new();
    for b in branches.iter().filter(|b| !b.commits.is_empty()) {
        let r = git::revert(b, a.dry_run, who);
        if !a.dry_run {
            let o = Outcome {
                path: format!("{} ({})", b.repo, b.branch),
                action: Action::Restore,
                result: format!("git {}", r.result),
                detail: Some(r.detail.clone()),
            };
            record(ledger, who, &o).context("a git revert could not be recorded in the ledger")?;
        }
        if !a.plan.json {
            println!(
                "git {:<10} {} ({}): {}",
                r.result, r.repo, r.branch, r.detail
            );
        }
        out.push(r);
    }
    Ok(out)
}

fn apply_cmd(a: ApplyArgs) -> anyhow::Result<Exit> {
    let Planned {
        dir,
        objects,
        items,
        branches,
    } = make_plan(&a.plan)?;
    let who = actor(&a.actor);
    let mut ledger = dir.ledger()?;
    // Commits first: git refuses to revert over uncommitted changes to tracked files.
    let reverted = if a.plan.git_revert {
        revert_branches(&a, &branches, &mut ledger, &who)?
    } else {
        Vec::new()
    };
    // A repository whose revert did not happen is left whole: restoring its files alone
    // would leave changes git then refuses to revert over.
    let untouched: Vec<String> = reverted
        .iter()
        .filter(|r| r.result == "refused" || r.result == "conflict")
        .map(|r| format!("{}/", r.repo))
        .collect();
    let items: Vec<Item> = items
        .into_iter()
        .filter(|i| !untouched.iter().any(|r| i.path.starts_with(r.as_str())))
        .collect();
    let mut record_err = None;
    let outcomes = plan::apply(&items, &objects, a.canary, a.dry_run, |o| {
        if a.dry_run || record_err.is_some() {
            return;
        }
        if let Err(e) = record(&mut ledger, &who, o) {
            record_err = Some(e);
        }
    })?;
    if let Some(e) = record_err {
        return Err(e.context("a rollback step could not be recorded in the ledger"));
    }
    if a.plan.json {
        println!("{}", serde_json::to_string(&outcomes)?);
    } else {
        if !reverted.is_empty() {
            println!();
        }
        for o in &outcomes {
            println!(
                "{:<14} {}{}",
                o.result,
                o.path,
                o.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default()
            );
        }
    }
    let failed = outcomes
        .iter()
        .any(|o| o.result == "failed" || o.result == "canary failed");
    let conflicts = outcomes.iter().any(|o| o.result == "conflict")
        || reverted
            .iter()
            .any(|r| r.result == "refused" || r.result == "conflict");
    Ok(if failed {
        Exit::Error
    } else if conflicts {
        Exit::Rejected
    } else {
        Exit::Ok
    })
}

fn record(
    ledger: &mut brig_ledger::Ledger<brig_store::Store>,
    who: &str,
    o: &Outcome,
) -> anyhow::Result<()> {
    ledger.append(&[Prepared::new(undo::step_event(who, o))?])?;
    Ok(())
}

fn verify_cmd(a: PlanArgs) -> anyhow::Result<Exit> {
    let Planned {
        dir,
        objects,
        items,
        branches,
    } = make_plan(&a)?;
    let mut checks = plan::verify(&items, &objects)?;
    if a.git_revert {
        // A reverted branch matches when its tree is the tree before the agent.
        for b in branches.iter().filter(|b| !b.commits.is_empty()) {
            checks.push(plan::Check {
                path: format!("{} ({}): tree as before the agent", b.repo, b.branch),
                matches: git::tree_restored(b).map_err(anyhow::Error::msg)?,
                expected: None,
                found: None,
            });
        }
    }
    let bad = checks.iter().filter(|c| !c.matches).count();
    // An incident whose every path is back: its `recovered` step, once.
    let mut ledger = dir.ledger()?;
    let recovered = undo::record_recovered(
        &mut dir.store()?,
        &a.scope.scope(),
        &checks,
        &actor(&None),
        |e| {
            let p = Prepared::new(e).map_err(|e| e.to_string())?;
            ledger
                .append(&[p])
                .map(|r| r[0].index)
                .map_err(|e| e.to_string())
        },
    )?;
    if a.json {
        println!("{}", serde_json::to_string(&checks)?);
    } else {
        for c in &checks {
            println!(
                "{} {}",
                if c.matches { "OK      " } else { "MISMATCH" },
                c.path
            );
        }
        println!(
            "\n{} of {} paths match their pre-agent state",
            checks.len() - bad,
            checks.len()
        );
        if let Some(index) = recovered {
            println!("incident recovered: step recorded (ledger event {index})");
        }
    }
    Ok(if bad == 0 { Exit::Ok } else { Exit::Invalid })
}
