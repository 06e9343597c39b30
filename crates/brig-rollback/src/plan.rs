//! Undoing an agent's file changes: the plan, applying it, verifying it.
//!
//! The plan is made from the images the gateway recorded ([`crate::images`]): for each path
//! the agent changed, the state before its *first* change (what to restore) and after its
//! *last* (what it left). The path's state now decides:
//!
//! - now = what the agent left → restore the first pre-image;
//! - now = the first pre-image → already undone, nothing to do;
//! - anything else → **conflict**: someone changed it after the agent. It is never
//!   overwritten; the pre-image is written beside it (`<path>.brig-preimage`) for a person
//!   to merge.
//!
//! Restoring a file writes a temporary file in the same directory, syncs it, sets its mode,
//! and renames it over the path, so the path holds the old or the restored content, never a
//! mix. Items are undone newest change first. Applying twice is harmless: what is already
//! restored is skipped, which is also how an interrupted apply is finished.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::images::Images;
use crate::objects::Objects;
use crate::snapshot::{entry_at, Entry, Kind};
use crate::RollbackError;

/// One call's images, as recorded.
#[derive(Clone, Debug)]
pub struct Touch {
    /// Ledger index of the `tool.call`.
    pub index: u64,
    pub tool: String,
    pub pre: Images,
    /// `None` when the call's answer (and its post-images) was never recorded.
    pub post: Option<Images>,
}

/// What the agent did to a path, first state to last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Deleted,
    Modified,
    Permissions,
    /// Changed and changed back (or never changed).
    Unchanged,
}

/// What applying does with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Restore,
    /// Already in its pre-agent state.
    Nothing,
    /// Changed by someone else after the agent: left alone, pre-image saved beside it.
    Conflict,
}

/// One path to undo.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub path: String,
    pub change: ChangeKind,
    pub action: Action,
    /// Why a conflict is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The state to restore (`null`: the path did not exist).
    pub restore: Option<Entry>,
    /// What the agent left (`None` inside: nothing; absent: not recorded).
    pub left: Option<Option<Entry>>,
    pub current: Option<Entry>,
    /// Ledger indices of the calls that changed it, in order.
    pub calls: Vec<u64>,
    pub tools: Vec<String>,
    /// Unified diff from the current content to the restored one (text files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

/// Two states are the same when kind, content, mode, owner and extended attributes are
/// (times are not restored).
pub fn same(a: &Option<Entry>, b: &Option<Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a.kind == b.kind
                && (a.mode, a.uid, a.gid) == (b.mode, b.uid, b.gid)
                && a.xattrs == b.xattrs
        }
        _ => false,
    }
}

fn change_kind(before: &Option<Entry>, after: &Option<Entry>) -> ChangeKind {
    match (before, after) {
        (None, Some(_)) => ChangeKind::Created,
        (Some(_), None) => ChangeKind::Deleted,
        (Some(b), Some(a)) if b.kind != a.kind => ChangeKind::Modified,
        (Some(_), Some(_)) if !same(before, after) => ChangeKind::Permissions,
        _ => ChangeKind::Unchanged,
    }
}

/// The plan for `touches` (in ledger order), against the paths' state now. The current
/// content of each path is stored in `objects` on the way: evidence of what is about to be
/// replaced.
pub fn plan(touches: &[Touch], objects: &Objects) -> Result<Vec<Item>, RollbackError> {
    let mut items: Vec<Item> = Vec::new();
    for t in touches {
        for (path, pre) in &t.pre {
            // A path missing from the post-images: what the call left is not known.
            let post = t.post.as_ref().and_then(|p| p.get(path).cloned());
            match items.iter_mut().find(|i| &i.path == path) {
                Some(i) => {
                    i.left = post;
                    i.calls.push(t.index);
                    i.tools.push(t.tool.clone());
                }
                None => items.push(Item {
                    path: path.clone(),
                    change: ChangeKind::Unchanged,
                    action: Action::Nothing,
                    reason: None,
                    restore: pre.clone(),
                    left: post,
                    current: None,
                    calls: vec![t.index],
                    tools: vec![t.tool.clone()],
                    diff: None,
                }),
            }
        }
    }
    for i in &mut items {
        i.current = entry_at(Path::new(&i.path), objects)?;
        decide(i);
        if i.action != Action::Nothing {
            i.diff = text_diff(&i.path, &i.current, &i.restore, objects);
        }
    }
    // Newest change first: undoing in reverse order of the agent's changes.
    items.sort_by(|a, b| {
        b.calls
            .last()
            .cmp(&a.calls.last())
            .then(b.path.cmp(&a.path))
    });
    Ok(items)
}

fn decide(i: &mut Item) {
    let last = i.left.clone().unwrap_or_else(|| i.current.clone());
    i.change = change_kind(&i.restore, &last);
    if same(&i.current, &i.restore) {
        i.action = Action::Nothing;
        return;
    }
    match &i.left {
        Some(left) if same(&i.current, left) => i.action = Action::Restore,
        Some(_) => {
            i.action = Action::Conflict;
            i.reason = Some(
                "changed after the agent's last change (by a person or another process)".into(),
            );
        }
        None => {
            i.action = Action::Conflict;
            i.reason = Some(
                "the agent's result was not recorded, so a later change cannot be ruled out".into(),
            );
        }
    }
}

fn content(e: &Option<Entry>, objects: &Objects) -> Option<Vec<u8>> {
    match e {
        Some(Entry {
            kind: Kind::File { object },
            ..
        }) => objects.get(object).ok(),
        None => Some(Vec::new()),
        _ => None,
    }
}

fn text_diff(
    path: &str,
    from: &Option<Entry>,
    to: &Option<Entry>,
    objects: &Objects,
) -> Option<String> {
    let (a, b) = (content(from, objects)?, content(to, objects)?);
    if a == b || a.len() + b.len() > 4 << 20 {
        return None;
    }
    let (a, b) = (String::from_utf8(a).ok()?, String::from_utf8(b).ok()?);
    Some(
        similar::TextDiff::from_lines(&a, &b)
            .unified_diff()
            .header(&format!("now {path}"), &format!("restored {path}"))
            .to_string(),
    )
}

/// What happened to an item when applying.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub path: String,
    pub action: Action,
    /// `restored`, `skipped`, `conflict`, `failed`, `would restore` (dry run).
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Applies `items` in order (the plan's order). `canary`: restore that many first, verify
/// them, and stop if any does not match. `dry_run`: say what would happen, change nothing.
/// `each` sees every outcome as it happens (the caller records it in the ledger).
pub fn apply(
    items: &[Item],
    objects: &Objects,
    canary: Option<usize>,
    dry_run: bool,
    mut each: impl FnMut(&Outcome),
) -> Result<Vec<Outcome>, RollbackError> {
    let mut out = Vec::new();
    let mut restored = 0usize;
    if !dry_run {
        remove_abandoned(items);
    }
    for i in items {
        let o = apply_one(i, objects, dry_run);
        restored += usize::from(o.result == "restored");
        each(&o);
        out.push(o);
        if canary == Some(restored) && restored > 0 && !dry_run {
            let bad = verify(&items_restored(items, &out), objects)?;
            if let Some(b) = bad.iter().find(|v| !v.matches) {
                let o = Outcome {
                    path: b.path.clone(),
                    action: Action::Restore,
                    result: "canary failed".into(),
                    detail: Some(
                        "a restored item does not match its pre-image; stopped before the rest"
                            .into(),
                    ),
                };
                each(&o);
                out.push(o);
                return Ok(out);
            }
        }
    }
    Ok(out)
}

/// The name every temporary copy of a restore starts with.
const RESTORE_PREFIX: &str = ".brig-restore-";

/// Removes, from the directories of `items`, the temporary copies no apply is writing
/// (none holds their lock): what an apply killed mid-write left, which would otherwise stay
/// in the user's tree for good. Best effort: what cannot be read or removed is left.
fn remove_abandoned(items: &[Item]) {
    let dirs: std::collections::BTreeSet<&Path> = items
        .iter()
        .filter_map(|i| Path::new(&i.path).parent())
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with(RESTORE_PREFIX) {
                continue;
            }
            let p = e.path();
            if let Ok(f) = std::fs::File::open(&p) {
                if f.try_lock().is_ok() {
                    let _ = std::fs::remove_file(&p);
                }
            }
        }
    }
}

fn items_restored(items: &[Item], out: &[Outcome]) -> Vec<Item> {
    items
        .iter()
        .filter(|i| {
            out.iter()
                .any(|o| o.path == i.path && o.result == "restored")
        })
        .cloned()
        .collect()
}

fn apply_one(i: &Item, objects: &Objects, dry_run: bool) -> Outcome {
    let outcome = |result: &str, detail: Option<String>| Outcome {
        path: i.path.clone(),
        action: i.action,
        result: result.into(),
        detail,
    };
    match i.action {
        Action::Nothing => outcome("skipped", Some("already in its pre-agent state".into())),
        Action::Conflict if dry_run => outcome("conflict", i.reason.clone()),
        Action::Conflict => match save_beside(i, objects) {
            Ok(Some(p)) => outcome(
                "conflict",
                Some(format!(
                    "{}; left as it is, pre-image saved as {}",
                    i.reason.as_deref().unwrap_or(""),
                    p.display()
                )),
            ),
            Ok(None) => outcome("conflict", i.reason.clone()),
            Err(e) => outcome("failed", Some(e.to_string())),
        },
        Action::Restore if dry_run => outcome("would restore", None),
        Action::Restore => {
            // Re-check right before writing: the plan may be minutes old.
            match entry_at(Path::new(&i.path), objects) {
                Ok(now) if i.left.as_ref().is_some_and(|l| same(&now, l)) => {
                    match restore(&i.path, &i.restore, objects) {
                        Ok(()) => outcome("restored", None),
                        Err(e) => outcome("failed", Some(e.to_string())),
                    }
                }
                Ok(now) if same(&now, &i.restore) => {
                    outcome("skipped", Some("already restored".into()))
                }
                Ok(_) => outcome(
                    "conflict",
                    Some("changed since the plan was made; left as it is".into()),
                ),
                Err(e) => outcome("failed", Some(e.to_string())),
            }
        }
    }
}

/// Puts `state` at `path`.
pub fn restore(path: &str, state: &Option<Entry>, objects: &Objects) -> Result<(), RollbackError> {
    let p = Path::new(path);
    let io = |e: std::io::Error| RollbackError::io(p, e);
    match state {
        None => match std::fs::symlink_metadata(p) {
            Ok(md) if md.is_dir() => std::fs::remove_dir(p).map_err(io),
            Ok(_) => std::fs::remove_file(p).map_err(io),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(e)),
        },
        Some(e) => match &e.kind {
            Kind::Dir => {
                std::fs::create_dir_all(p).map_err(io)?;
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(e.mode & 0o7777))
                    .map_err(io)?;
                set_xattrs(p, &e.xattrs)
            }
            Kind::Symlink { target } => {
                let _ = std::fs::remove_file(p);
                std::os::unix::fs::symlink(target, p).map_err(io)?;
                set_xattrs(p, &e.xattrs)
            }
            Kind::File { object } => write_atomically(p, &objects.get(object)?, e),
        },
    }
}

/// Makes `p`'s extended attributes exactly `want`. Only the `user.` namespace is changed by
/// unprivileged processes; failing to set another (`security.`, `trusted.`) is an error the
/// plan reports, not one it hides.
fn set_xattrs(
    p: &Path,
    want: &std::collections::BTreeMap<String, String>,
) -> Result<(), RollbackError> {
    let io = |e: std::io::Error| RollbackError::io(p, e);
    let have = crate::snapshot::xattrs_of(p)?;
    for name in have.keys().filter(|n| !want.contains_key(*n)) {
        xattr::remove(p, name).map_err(io)?;
    }
    for (name, value) in want {
        if have.get(name) != Some(value) {
            let bytes = hex::decode(value).map_err(|e| io(std::io::Error::other(e)))?;
            xattr::set(p, name, &bytes).map_err(io)?;
        }
    }
    Ok(())
}

fn write_atomically(p: &Path, content: &[u8], e: &Entry) -> Result<(), RollbackError> {
    let mode = e.mode & 0o7777;
    let io = |e: std::io::Error| RollbackError::io(p, e);
    let dir = p.parent().unwrap_or(Path::new("/"));
    std::fs::create_dir_all(dir).map_err(io)?;
    // A directory now where the file was: leave it, as the plan cannot know what is in it.
    let mut tmp = tempfile::Builder::new()
        .prefix(RESTORE_PREFIX)
        .tempfile_in(dir)
        .map_err(io)?;
    // Locked while written: a later apply removes only copies nobody holds (see
    // `remove_abandoned`).
    tmp.as_file().lock().map_err(io)?;
    tmp.write_all(content).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode)).map_err(io)?;
    set_xattrs(tmp.path(), &e.xattrs)?;
    tmp.persist(p).map_err(|e| io(e.error))?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Saves a conflicting item's pre-image beside it, under a name nothing uses.
fn save_beside(i: &Item, objects: &Objects) -> Result<Option<PathBuf>, RollbackError> {
    let Some(
        entry @ Entry {
            kind: Kind::File { object },
            ..
        },
    ) = &i.restore
    else {
        return Ok(None);
    };
    let content = objects.get(object)?;
    for n in 0..1000 {
        let name = if n == 0 {
            format!("{}.brig-preimage", i.path)
        } else {
            format!("{}.brig-preimage.{n}", i.path)
        };
        let p = PathBuf::from(&name);
        if std::fs::symlink_metadata(&p).is_err() {
            write_atomically(&p, &content, entry)?;
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// One path checked after a rollback.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub path: String,
    pub matches: bool,
    pub expected: Option<Entry>,
    pub found: Option<Entry>,
}

/// Re-hashes every item's path against the state it should have been restored to.
pub fn verify(items: &[Item], objects: &Objects) -> Result<Vec<Check>, RollbackError> {
    items
        .iter()
        .map(|i| {
            let found = entry_at(Path::new(&i.path), objects)?;
            Ok(Check {
                path: i.path.clone(),
                matches: same(&found, &i.restore),
                expected: i.restore.clone(),
                found,
            })
        })
        .collect()
}
