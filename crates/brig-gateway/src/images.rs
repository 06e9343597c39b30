//! Pre-images and post-images around calls that change files (see `brig_rollback::images`).
//!
//! The pre-image is taken while the call is decided, before its record is written ahead and
//! long before it is forwarded, and travels in the `tool.call` event; the post-image is
//! taken when the answer comes back and travels in the `tool.result`. A path whose state
//! cannot be read is named in the event (`preimage_error`) rather than stopping the call:
//! the rollback plan then says it cannot restore that path.

use std::collections::HashMap;
use std::sync::Mutex;

use brig_model::{Action, NewEvent};
use brig_rollback::images::{capture, changed_paths, POST, PRE};
use brig_rollback::objects::Objects;
use brig_store::DataDir;
use serde_json::json;

/// The data directory's object store, and the calls whose answers are awaited.
pub struct Imager {
    objects: Objects,
    awaiting: Mutex<HashMap<(String, String), Vec<String>>>,
}

impl Imager {
    /// The object store under the data directory (`objects/`).
    pub fn open(data: &DataDir) -> Result<Self, brig_rollback::RollbackError> {
        Ok(Imager {
            objects: Objects::open(&data.root().join("objects"))?,
            awaiting: Mutex::new(HashMap::new()),
        })
    }

    /// Records in `call` the state of every path its actions change.
    pub fn before(&self, session: &str, call_id: &str, actions: &[Action], call: &mut NewEvent) {
        let paths = changed_paths(actions);
        if paths.is_empty() {
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
            .insert((session.to_string(), call_id.to_string()), paths);
    }

    /// Records in `result` the state of the paths its call changed.
    pub fn after(&self, session: &str, call_id: &str, result: &mut NewEvent) {
        let paths = self
            .awaiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&(session.to_string(), call_id.to_string()));
        let Some(paths) = paths else { return };
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
}
