//! Reverting an agent's git commits instead of rewinding the repository's files.
//!
//! When a command the agent ran made commits, the workspace snapshots record the branch's
//! ref file (`.git/refs/heads/<branch>`) before and after, like any other file. Restoring
//! it — the plan's default — rewinds the branch as if the commits never happened, which is
//! exact but rewrites history others may already have pulled. Reverting adds, on top of
//! the branch, one commit undoing each of the agent's (newest first, `git revert`), so the
//! history keeps both what the agent did and its undoing. Brig runs the `git` program for
//! this: the repository's own tool, with its own checks.
//!
//! A revert is refused, with the reason, when the branch is not checked out, when tracked
//! files have uncommitted changes (they would be mixed into the revert), or when the
//! agent's last commit is no longer on the branch. A revert that conflicts is aborted,
//! leaving the repository as it was.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::objects::Objects;
use crate::plan::Item;
use crate::snapshot::{Entry, Kind};

/// One of the agent's commits.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Commit {
    pub sha: String,
    pub subject: String,
}

/// A branch the agent moved, and the commits it added, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct Branch {
    pub repo: String,
    pub branch: String,
    /// Where the branch was before the agent (`None`: the agent created it).
    pub from: Option<String>,
    /// Where the agent left it.
    pub to: Option<String>,
    pub commits: Vec<Commit>,
    /// Why the commits could not be listed, if they could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The repository a path is inside the `.git` directory of, if it is.
pub fn internal_to(path: &str) -> Option<&str> {
    if let Some(repo) = path.strip_suffix("/.git") {
        return Some(repo);
    }
    path.find("/.git/").map(|i| &path[..i])
}

fn sha_in(e: &Option<Entry>, objects: &Objects) -> Option<String> {
    match e {
        Some(Entry {
            kind: Kind::File { object },
            ..
        }) => {
            let text = String::from_utf8(objects.get(object).ok()?).ok()?;
            let sha = text.trim();
            (sha.len() >= 40 && sha.chars().all(|c| c.is_ascii_hexdigit())).then(|| sha.to_string())
        }
        _ => None,
    }
}

/// The branches whose ref files the plan's items show the agent moving.
pub fn branches(items: &[Item], objects: &Objects) -> Vec<Branch> {
    let mut out = Vec::new();
    for i in items {
        let Some(repo) = internal_to(&i.path) else {
            continue;
        };
        let Some(branch) = i.path.strip_prefix(&format!("{repo}/.git/refs/heads/")) else {
            continue;
        };
        let from = sha_in(&i.restore, objects);
        let left = i.left.clone().unwrap_or_else(|| i.current.clone());
        let to = sha_in(&left, objects);
        let mut b = Branch {
            repo: repo.to_string(),
            branch: branch.to_string(),
            from,
            to,
            commits: Vec::new(),
            note: None,
        };
        match (&b.from, &b.to) {
            (Some(from), Some(to)) => match log(Path::new(repo), from, to) {
                Ok(c) => b.commits = c,
                Err(e) => b.note = Some(e),
            },
            (None, Some(_)) => b.note = Some("created by the agent: nothing to revert".into()),
            _ => b.note = Some("deleted by the agent: restore the ref to bring it back".into()),
        }
        out.push(b);
    }
    out
}

fn git(repo: &Path, args: &[&str]) -> Result<String, String> {
    let o = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if o.status.success() {
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    } else {
        Err(format!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// The commits in `from..to`, newest first.
fn log(repo: &Path, from: &str, to: &str) -> Result<Vec<Commit>, String> {
    let text = git(
        repo,
        &["log", "--format=%H%x09%s", &format!("{from}..{to}")],
    )?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(sha, subject)| Commit {
            sha: sha.to_string(),
            subject: subject.to_string(),
        })
        .collect())
}

/// What reverting a branch's agent commits did.
#[derive(Clone, Debug, Serialize)]
pub struct Reverted {
    pub repo: String,
    pub branch: String,
    /// `reverted`, `refused`, `conflict` (aborted), `nothing` (no commits), `would revert`.
    pub result: String,
    pub detail: String,
}

/// Reverts the agent's commits on `b` (newest first), or says why not. The reverts are
/// committed with the repository's configured identity, else as `actor`.
pub fn revert(b: &Branch, dry_run: bool, actor: &str) -> Reverted {
    let out = |result: &str, detail: String| Reverted {
        repo: b.repo.clone(),
        branch: b.branch.clone(),
        result: result.into(),
        detail,
    };
    let (Some(from), Some(to)) = (&b.from, &b.to) else {
        return out("nothing", b.note.clone().unwrap_or_default());
    };
    if b.commits.is_empty() {
        return out("nothing", "no commits of the agent on the branch".into());
    }
    let repo = Path::new(&b.repo);
    if let Err(why) = ready(repo, &b.branch, to) {
        return out("refused", why);
    }
    let range = format!("{from}..{to}");
    if dry_run {
        return out(
            "would revert",
            format!("{} commit(s): git revert {range}", b.commits.len()),
        );
    }
    let (name, email) = (
        format!("user.name={actor}"),
        format!("user.email={actor}@brig.invalid"),
    );
    let mut args = vec!["revert", "--no-edit", &range];
    if git(repo, &["config", "user.email"]).is_err() {
        args.splice(0..0, ["-c", &name, "-c", &email]);
    }
    match git(repo, &args) {
        Ok(_) => {
            let head = git(repo, &["rev-parse", "HEAD"]).unwrap_or_default();
            out(
                "reverted",
                format!(
                    "{} commit(s) reverted; HEAD is now {}",
                    b.commits.len(),
                    head.trim()
                ),
            )
        }
        Err(e) => {
            let _ = git(repo, &["revert", "--abort"]);
            out(
                "conflict",
                format!("{e}; aborted, the repository is as it was"),
            )
        }
    }
}

/// Whether the branch can take a revert now.
fn ready(repo: &Path, branch: &str, to: &str) -> Result<(), String> {
    let head = git(repo, &["symbolic-ref", "--quiet", "--short", "HEAD"])
        .map_err(|_| "HEAD is detached: check out the branch first".to_string())?;
    if head.trim() != branch {
        return Err(format!(
            "{branch} is not checked out (HEAD is {})",
            head.trim()
        ));
    }
    let dirty = git(repo, &["status", "--porcelain", "--untracked-files=no"])?;
    if !dirty.trim().is_empty() {
        return Err(format!(
            "tracked files have uncommitted changes; commit or restore them first:\n{}",
            dirty.trim_end()
        ));
    }
    git(repo, &["merge-base", "--is-ancestor", to, "HEAD"])
        .map_err(|_| format!("the agent's last commit {to} is no longer on {branch}"))?;
    Ok(())
}

/// True when the branch's tree is the one it had before the agent (`from`).
pub fn tree_restored(b: &Branch) -> Result<bool, String> {
    let Some(from) = &b.from else {
        return Ok(false);
    };
    let repo = Path::new(&b.repo);
    let a = git(repo, &["rev-parse", &format!("{from}^{{tree}}")])?;
    let h = git(repo, &["rev-parse", &format!("{}^{{tree}}", b.branch)])?;
    Ok(a.trim() == h.trim())
}
