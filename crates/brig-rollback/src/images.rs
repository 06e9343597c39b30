//! Pre-images and post-images of the paths a tool call changes.
//!
//! Before the gateway forwards a call whose normalized actions change files, it records the
//! state of every path they name (content stored in the object store, or "nothing there");
//! when the answer comes back it records their state again. Both travel in the ledger as
//! payloads of the call's events (`preimages` on the `tool.call`, `postimages` on its
//! `tool.result`): `{"/abs/path": Entry | null}`. Rollback restores the first pre-image of a
//! path and uses the last post-image to tell whether someone changed it since the agent did.

use std::collections::BTreeMap;
use std::path::Path;

use brig_model::{Action, ActionKind};

use crate::objects::Objects;
use crate::snapshot::{entry_at, Entry};
use crate::RollbackError;

/// Payload part names on the call's events.
pub const PRE: &str = "preimages";
pub const POST: &str = "postimages";

/// Path → state (`None`: nothing there).
pub type Images = BTreeMap<String, Option<Entry>>;

/// The absolute paths a call's actions would change: targets of writes, deletions, moves,
/// permission changes and directory creation; destinations of moves, copies and archives.
pub fn changed_paths(actions: &[Action]) -> Vec<String> {
    use ActionKind::*;
    let mut out = Vec::new();
    for a in actions {
        let target = matches!(
            a.action,
            FileWrite | FileDelete | FileMove | FileChmod | DirCreate
        );
        let dest = matches!(a.action, FileMove | FileCopy | ArchiveCreate | BackupCreate);
        if target && a.target.starts_with('/') {
            out.push(a.target.clone());
        }
        if let (true, Some(d)) = (dest, &a.dest) {
            if d.starts_with('/') {
                out.push(d.clone());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `paths` and every missing directory above each of them: a call that creates
/// `a/b/c` when only `a` exists also creates `a/b` (recursive `mkdir`, a write that makes
/// its parents), and undoing it must remove `a/b` too. Sorted, without duplicates.
pub fn with_missing_parents(paths: &[String]) -> Vec<String> {
    let mut out: Vec<String> = paths.to_vec();
    for p in paths {
        let mut up = Path::new(p).parent();
        while let Some(dir) = up {
            if dir.parent().is_none() || std::fs::symlink_metadata(dir).is_ok() {
                break;
            }
            out.push(dir.display().to_string());
            up = dir.parent();
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The state of each path, content stored. A path that cannot be read is an error: a call
/// whose pre-image cannot be taken is one rollback could not undo.
pub fn capture(paths: &[String], objects: &Objects) -> Result<Images, RollbackError> {
    paths
        .iter()
        .map(|p| Ok((p.clone(), entry_at(Path::new(p), objects)?)))
        .collect()
}

/// The actions a set of observed changes amounts to, one per path: created (a directory:
/// `dir.create`; anything else: `file.write`), gone (`file.delete`), only mode or owner
/// changed (`file.chmod`), otherwise `file.write`. `found_by` says how they were seen.
pub fn as_actions(pre: &Images, post: &Images, found_by: &str) -> Vec<Action> {
    use crate::snapshot::Kind;
    pre.iter()
        .map(|(path, before)| {
            let after = post.get(path).cloned().flatten();
            let kind = match (before, &after) {
                (None, Some(a)) if a.kind == Kind::Dir => ActionKind::DirCreate,
                (Some(_), None) => ActionKind::FileDelete,
                (Some(b), Some(a)) if b.kind == a.kind => ActionKind::FileChmod,
                _ => ActionKind::FileWrite,
            };
            let mut a = Action::new(kind, path.clone());
            a.attrs
                .insert("found_by".into(), serde_json::Value::from(found_by));
            a
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn missing_parents_are_part_of_what_a_call_changes() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().display().to_string();
        let deep = format!("{base}/a/b/c.txt");
        let got = super::with_missing_parents(&[deep.clone(), format!("{base}/x.txt")]);
        assert_eq!(
            got,
            vec![
                format!("{base}/a"),
                format!("{base}/a/b"),
                deep,
                format!("{base}/x.txt")
            ]
        );
    }
}
