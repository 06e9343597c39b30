//! The gateway's view of Cedar policy: which facts about a call's targets the policy sees.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use brig_model::Decision;
use brig_policy::{ActionFacts, PolicyEngine, PolicyError, Request};

use crate::guard::{Call, Policy};

/// Cedar policy, with the two facts the gateway knows about each target: whether it lies in
/// a directory the upstream serves, and whether it is one of Brig's own files.
pub struct CedarPolicy {
    engine: PolicyEngine,
    served: Vec<PathBuf>,
    brig_owned: Vec<PathBuf>,
    /// Where the policies came from, to pick up edits while the proxy runs.
    source: Option<Watched>,
}

/// A policy directory and what it looked like when last loaded.
struct Watched {
    dir: PathBuf,
    fingerprint: Vec<(PathBuf, u64, SystemTime)>,
    checked: Instant,
}

/// How often a running proxy looks for edited policy files.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// Names, sizes and modification times of the policy files: changes when one is edited.
fn fingerprint(dir: &Path) -> Vec<(PathBuf, u64, SystemTime)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "cedar"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((e.path(), m.len(), m.modified().ok()?))
        })
        .collect();
    out.sort();
    out
}

impl CedarPolicy {
    /// Policies from `dir`, or the built-in default when `dir` is `None`. A set that does
    /// not parse or validate is refused (naming file and line): the proxy does not start.
    pub fn load(
        dir: Option<&Path>,
        served: Vec<PathBuf>,
        brig_owned: Vec<PathBuf>,
    ) -> Result<Self, PolicyError> {
        let engine = match dir {
            Some(d) => PolicyEngine::load(d)?,
            None => PolicyEngine::builtin(),
        };
        Ok(CedarPolicy {
            engine,
            served,
            brig_owned,
            source: dir.map(|d| Watched {
                dir: d.to_path_buf(),
                fingerprint: fingerprint(d),
                checked: Instant::now(),
            }),
        })
    }

    /// Reloads the policy directory when a file in it changed (checked at most once a
    /// second). A set that no longer parses or validates is refused: the last good set
    /// stays in force, and the proxy says so on stderr each time it sees the broken set.
    fn reload_if_changed(&mut self) {
        let Some(w) = &mut self.source else { return };
        if w.checked.elapsed() < RELOAD_CHECK {
            return;
        }
        w.checked = Instant::now();
        let now = fingerprint(&w.dir);
        if now == w.fingerprint {
            return;
        }
        w.fingerprint = now;
        match self.engine.reload(&w.dir) {
            Ok(()) => eprintln!("brig mcp-proxy: reloaded policies from {}", w.dir.display()),
            Err(e) => eprintln!(
                "brig mcp-proxy: policies in {} not reloaded, the last good set stays in force: {e}",
                w.dir.display()
            ),
        }
    }
}

/// True when `target` is inside one of `dirs`, lexically or once symlinks are resolved (so
/// a link inside a served directory cannot smuggle in Brig's own files).
fn inside(target: &str, dirs: &[PathBuf]) -> bool {
    let path = Path::new(target);
    if !path.is_absolute() {
        return false;
    }
    let resolved = resolve(path);
    dirs.iter()
        .any(|d| path.starts_with(d) || resolved.as_deref().is_some_and(|r| r.starts_with(d)))
}

/// The canonical path of `p`, or of its nearest existing ancestor joined with the rest.
fn resolve(p: &Path) -> Option<PathBuf> {
    let mut rest = Vec::new();
    let mut cur = p;
    loop {
        if let Ok(c) = cur.canonicalize() {
            return Some(
                rest.iter()
                    .rev()
                    .fold(c, |acc: PathBuf, part| acc.join(part)),
            );
        }
        rest.push(cur.file_name()?.to_owned());
        cur = cur.parent()?;
    }
}

impl Policy for CedarPolicy {
    fn decide(&mut self, call: &Call<'_>) -> Decision {
        self.reload_if_changed();
        let mut req = Request::new(call.agent, call.workflow.unwrap_or(""), call.tool);
        if let Some(task) = call.task {
            req = req.with_task(task);
        }
        for a in call.actions {
            let targets: Vec<&str> = std::iter::once(a.target.as_str())
                .chain(a.dest.as_deref())
                .collect();
            let served = targets.iter().all(|t| inside(t, &self.served));
            let owned = targets.iter().any(|t| inside(t, &self.brig_owned));
            req = req.with_action(
                ActionFacts::new(a.clone())
                    .in_served_dir(served)
                    .brig_owned(owned),
            );
        }
        self.engine.decide(&req).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use brig_model::{Action, ActionKind, Effect};

    #[test]
    fn facts_follow_the_paths() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().canonicalize().unwrap().join("ws");
        let data = tmp.path().canonicalize().unwrap().join("data");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        // A link inside the workspace that points at Brig's data directory.
        std::os::unix::fs::symlink(&data, ws.join("sneaky")).unwrap();
        let mut p = CedarPolicy::load(None, vec![ws.clone()], vec![data.clone()]).unwrap();
        let decide = |p: &mut CedarPolicy, kind, target: PathBuf| {
            let actions = [Action::new(kind, target.to_string_lossy())];
            p.decide(&Call {
                agent: "a",
                workflow: None,
                task: None,
                tool: "t",
                arguments: &serde_json::Value::Null,
                actions: &actions,
            })
            .effect
        };
        assert_eq!(
            decide(&mut p, ActionKind::FileWrite, ws.join("x.md")),
            Effect::Allow
        );
        assert_eq!(
            decide(&mut p, ActionKind::FileRead, PathBuf::from("/etc/passwd")),
            Effect::Deny
        );
        assert_eq!(
            decide(&mut p, ActionKind::FileWrite, data.join("ledger.db")),
            Effect::Deny
        );
        assert_eq!(
            decide(&mut p, ActionKind::FileWrite, ws.join("sneaky/ledger.db")),
            Effect::Deny
        );
    }
}
