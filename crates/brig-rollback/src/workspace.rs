//! Snapshots of a declared workspace around commands whose effects cannot be known
//! beforehand.
//!
//! A shell command's targets cannot all be read from its text (`bash -c "$(cat x)"`, a script
//! on standard input, a program that writes where it likes). So before such a command runs,
//! the workspace is snapshotted — incrementally, so only files whose size, times or inode
//! moved since the previous snapshot are read — and after it answers, snapshotted again. Every
//! path that differs is attributed to that command: its state in the first snapshot is the
//! pre-image, its state in the second the post-image, in the same [`Images`] form the
//! gateway records for calls whose paths it knows.
//!
//! **The window.** Whatever changes the workspace between the two snapshots is attributed
//! to the command, including a person's edit made while it ran; rollback then treats that
//! edit as the agent's. Commands that overlap in time each see the other's changes. Paths
//! outside the workspace are not covered here (the command's parsed targets still are, by
//! their own pre-images).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::images::Images;
use crate::objects::Objects;
use crate::snapshot::{diff, take_except, Snapshot, Stats};
use crate::RollbackError;

/// The workspace roots and the latest snapshot of each.
pub struct Workspace {
    roots: Vec<PathBuf>,
    except: Vec<PathBuf>,
    latest: Mutex<HashMap<PathBuf, Arc<Snapshot>>>,
}

/// The workspace as it was before one command.
#[derive(Clone, Debug)]
pub struct Before {
    snapshots: Vec<Arc<Snapshot>>,
    /// What taking it cost, summed over the roots.
    pub stats: Stats,
}

impl Workspace {
    /// `roots`: the directories to snapshot; `except`: trees under them to leave out.
    pub fn new(roots: Vec<PathBuf>, except: Vec<PathBuf>) -> Self {
        Workspace {
            roots,
            except,
            latest: Mutex::new(HashMap::new()),
        }
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// Snapshots every root, reading only what changed since the latest snapshot (the first
    /// one reads everything).
    pub fn before(&self, objects: &Objects) -> Result<Before, RollbackError> {
        let mut stats = Stats::default();
        let snapshots = self
            .roots
            .iter()
            .map(|root| {
                let (s, st) = self.refresh(root, objects)?;
                stats.paths += st.paths;
                stats.hashed += st.hashed;
                stats.stored += st.stored;
                Ok(s)
            })
            .collect::<Result<_, RollbackError>>()?;
        Ok(Before { snapshots, stats })
    }

    /// What changed since `before`: the pre-image (state in `before`) and post-image (state
    /// now) of every path that differs, by absolute path.
    pub fn after(
        &self,
        before: &Before,
        objects: &Objects,
    ) -> Result<(Images, Images), RollbackError> {
        let (pre, post, _) = self.since(before, objects)?;
        Ok((pre, post))
    }

    /// [`Workspace::after`], and `since` becomes the workspace as it is now: a watcher's
    /// running baseline.
    pub fn advance(
        &self,
        since: &mut Before,
        objects: &Objects,
    ) -> Result<(Images, Images), RollbackError> {
        let (pre, post, now) = self.since(since, objects)?;
        *since = now;
        Ok((pre, post))
    }

    fn since(
        &self,
        before: &Before,
        objects: &Objects,
    ) -> Result<(Images, Images, Before), RollbackError> {
        let (mut pre, mut post) = (Images::new(), Images::new());
        let mut now = Before {
            snapshots: Vec::new(),
            stats: Stats::default(),
        };
        for old in &before.snapshots {
            let (new, stats) = self.refresh(&old.root, objects)?;
            now.stats.paths += stats.paths;
            now.stats.hashed += stats.hashed;
            now.stats.stored += stats.stored;
            for change in diff(old, &new) {
                let rel = change.path();
                let abs = old.root.join(rel).to_string_lossy().into_owned();
                pre.insert(abs.clone(), old.entries.get(rel).cloned());
                post.insert(abs, new.entries.get(rel).cloned());
            }
            now.snapshots.push(new);
        }
        Ok((pre, post, now))
    }

    /// A new snapshot of `root`, incremental from the latest, which it then replaces.
    /// One snapshot at a time per workspace: two would read the same changed files twice.
    fn refresh(
        &self,
        root: &Path,
        objects: &Objects,
    ) -> Result<(Arc<Snapshot>, Stats), RollbackError> {
        let mut latest = self.latest.lock().unwrap_or_else(|p| p.into_inner());
        let previous = latest.get(root).cloned();
        let (s, stats) = take_except(root, previous.as_deref(), objects, &self.except)?;
        let s = Arc::new(s);
        latest.insert(root.to_path_buf(), s.clone());
        Ok((s, stats))
    }
}
