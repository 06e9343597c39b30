#![allow(dead_code)]

use std::path::{Path, PathBuf};

use brig_model::{Action, ActionKind};
use brig_policy::{ActionFacts, Request};

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A request by agent "a1" of workflow "w" through tool "t" with one action.
pub fn one(kind: ActionKind, target: &str, in_served_dir: bool) -> Request {
    Request::new("a1", "w", "t")
        .with_action(ActionFacts::new(Action::new(kind, target)).in_served_dir(in_served_dir))
}

pub fn facts(kind: ActionKind, target: &str) -> ActionFacts {
    ActionFacts::new(Action::new(kind, target))
}

pub fn examples(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../policies")
        .join(name)
}
