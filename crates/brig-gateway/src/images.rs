//! Pre-images and post-images around calls that change files (see `brig_rollback::images`).
//!
//! The pre-image is taken while the call is decided, before its record is written ahead and
//! long before it is forwarded, and travels in the `tool.call` event; the post-image is
//! taken when the answer comes back and travels in the `tool.result`. A path whose state
//! cannot be read is named in the event (`preimage_error`) rather than stopping the call:
//! the rollback plan then says it cannot restore that path.
//!
//! A call that runs a command line is bracketed by snapshots of the workspace
//! (`brig_rollback::workspace`): its `tool.call` names the workspace and what the snapshot
//! read, and a `file.change` event recorded with its answer carries the pre- and post-image
//! of every path the command changed there (beside the images of the paths its text names),
//! with the actions those changes amount to, so the rules judge them as they judge a
//! watcher's.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use brig_model::{Action, NewEvent};
use brig_rollback::images::{capture, changed_paths, with_missing_parents, Images, POST, PRE};
use brig_rollback::objects::Objects;
use brig_rollback::workspace::{Before, Workspace};
use brig_store::DataDir;
use serde_json::{json, Value};

/// The data directory's object store, the workspace, and the calls whose answers are
/// awaited.
pub struct Imager {
    objects: Objects,
    workspace: Option<Workspace>,
    awaiting: Mutex<HashMap<(String, String), Awaiting>>,
}

/// What `after` needs of a call `before` saw.
struct Awaiting {
    paths: Vec<String>,
    workspace: Option<Before>,
}

/// True when the call runs a command line, whose effects its text cannot fully tell.
fn runs_command(actions: &[Action]) -> bool {
    actions
        .iter()
        .any(|a| a.attrs.get("shell") == Some(&Value::Bool(true)))
}

impl Imager {
    /// The object store under the data directory (`objects/`); `workspace`: the directories
    /// snapshotted around command lines (none: no snapshots).
    pub fn open(
        data: &DataDir,
        workspace: &[PathBuf],
    ) -> Result<Self, brig_rollback::RollbackError> {
        let workspace = (!workspace.is_empty()).then(|| {
            let own = data
                .root()
                .canonicalize()
                .unwrap_or_else(|_| data.root().to_path_buf());
            Workspace::new(workspace.to_vec(), vec![own])
        });
        Ok(Imager {
            objects: Objects::open(&data.root().join("objects"))?,
            workspace,
            awaiting: Mutex::new(HashMap::new()),
        })
    }

    /// Records in `call` the state of every path its actions change, and for a command line
    /// snapshots the workspace.
    pub fn before(&self, session: &str, call_id: &str, actions: &[Action], call: &mut NewEvent) {
        // The parents a call would create are changed by it too (and undone with it).
        let paths = with_missing_parents(&changed_paths(actions));
        let command = runs_command(actions);
        let workspace = match (&self.workspace, command) {
            (Some(ws), true) => self.snapshot_before(ws, call),
            _ => None,
        };
        if paths.is_empty() && workspace.is_none() {
            return;
        }
        match capture(&paths, &self.objects) {
            Ok(images) => {
                call.payload.insert(PRE.into(), json!(images));
            }
            Err(e) => {
                call.attrs
                    .insert("preimage_error".into(), json!(e.to_string()));
            }
        }
        self.awaiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                (session.to_string(), call_id.to_string()),
                Awaiting { paths, workspace },
            );
    }

    fn snapshot_before(&self, ws: &Workspace, call: &mut NewEvent) -> Option<Before> {
        let roots: Vec<String> = ws.roots().iter().map(|r| r.display().to_string()).collect();
        call.attrs.insert("workspace".into(), json!(roots));
        match ws.before(&self.objects) {
            Ok(b) => {
                call.attrs.insert(
                    "workspace_snapshot".into(),
                    json!({"paths": b.stats.paths, "read": b.stats.hashed, "stored": b.stats.stored}),
                );
                Some(b)
            }
            Err(e) => {
                call.attrs
                    .insert("workspace_error".into(), json!(e.to_string()));
                None
            }
        }
    }

    /// Records in `result` the state of the paths its call named. For a command line, also
    /// returns what else changed in the workspace since the snapshot before it: pre- and
    /// post-image of every other path that differs, for the caller to record as a
    /// `file.change`.
    pub fn after(
        &self,
        session: &str,
        call_id: &str,
        result: &mut NewEvent,
    ) -> Option<(Images, Images)> {
        let awaiting = self
            .awaiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(session.to_string(), call_id.to_string()));
        let Awaiting { paths, workspace } = awaiting?;
        if !paths.is_empty() {
            match capture(&paths, &self.objects) {
                Ok(images) => {
                    result.payload.insert(POST.into(), json!(images));
                }
                Err(e) => {
                    result
                        .attrs
                        .insert("postimage_error".into(), json!(e.to_string()));
                }
            }
        }
        let (ws, before) = (self.workspace.as_ref()?, workspace?);
        match ws.after(&before, &self.objects) {
            // The paths the call named have their images on its own events already.
            Ok((mut pre, mut post)) => {
                for p in &paths {
                    pre.remove(p);
                    post.remove(p);
                }
                Some((pre, post))
            }
            Err(e) => {
                result
                    .attrs
                    .insert("workspace_error".into(), json!(e.to_string()));
                None
            }
        }
    }
}
