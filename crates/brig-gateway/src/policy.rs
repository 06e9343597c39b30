//! The gateway's view of Cedar policy: which facts about a call's targets the policy sees.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use brig_model::{ActionKind, Decision};
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

/// Brig's own files, which no agent action may touch whatever the user's policies say (the
/// guard in front of them, `context.brig_owned`). Every gateway — `brig mcp-proxy` (stdio,
/// HTTP), `brig hook`, `brig serve`'s `/v1/decide`, readiness probes — gathers them here:
///
/// - `data`: the data directory (ledger, keys, objects, the database file);
/// - `config`: the files Brig was started with — the risk register, the policy directory,
///   the rules directory;
/// - `projects`: the directories agents work in (served roots, a hooked project), whose
///   coding-agent hook settings would switch the hooks off;
///
/// and always the running `brig` binary and the user's own hook settings (`~/.claude/…`).
/// Each path is listed as given (made absolute) and with symlinks resolved.
pub fn brig_owned(data: &Path, config: &[&Path], projects: &[PathBuf]) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = vec![data.to_path_buf()];
    paths.extend(config.iter().map(|p| p.to_path_buf()));
    if let Ok(exe) = std::env::current_exe() {
        paths.push(exe);
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    for base in projects.iter().chain(home.as_ref()) {
        for agent in crate::hook::AgentKind::ALL {
            paths.extend(agent.settings_files().iter().map(|f| base.join(f)));
        }
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let mut out = Vec::with_capacity(paths.len() * 2);
    for p in paths {
        let p = cwd.join(p);
        if let Some(r) = resolve(&p) {
            out.push(r);
        }
        out.push(p);
    }
    out.sort();
    out.dedup();
    out
}

/// Does this action take away a Brig-owned path by acting on a directory above it (deleting,
/// moving or locking up the workspace that holds `brig-data`)?
fn takes_away(kind: ActionKind, target: &str, owned: &[PathBuf]) -> bool {
    use ActionKind::*;
    if !matches!(kind, FileDelete | FileMove | FileChmod) || !target.starts_with('/') {
        return false;
    }
    let path = Path::new(target);
    let resolved = resolve(path);
    owned
        .iter()
        .any(|o| o.starts_with(path) || resolved.as_deref().is_some_and(|r| o.starts_with(r)))
}

/// Does this action stop Brig itself: a signal to a `brig` process (by pid, name or
/// `pkill -f` pattern), to every process (`kill -9 -1`), or a stop of its service?
///
/// A pid computed inline is judged by the words that compute it, since the shell is not run:
/// `kill $(pgrep brig)`, `` kill `pidof brig` `` and `kill $(cat brig-data/serve.pid)` stop
/// Brig. A pid passed through a variable or a pipe (`kill $pid`, `pgrep brig | xargs kill`)
/// is not resolved (RELIABILITY.md lists it among the limits).
fn stops_brig(kind: ActionKind, target: &str) -> bool {
    use ActionKind::*;
    if !matches!(kind, ProcKill | ServiceStop | MonitorTamper) {
        return false;
    }
    if let Ok(pid) = target.parse::<i64>() {
        return pid <= 0 || is_brig_process(pid);
    }
    target
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_' | '@' | '.')))
        .map(|w| w.trim_end_matches(".service"))
        .any(|w| w == "brig" || w.starts_with("brig-") || w.starts_with("brig@"))
}

/// Is process `pid` a `brig` (its executable, or its name when the executable cannot be read)?
fn is_brig_process(pid: i64) -> bool {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"));
    if let Ok(exe) = exe {
        let ours = std::env::current_exe()
            .ok()
            .and_then(|e| e.canonicalize().ok());
        return exe.file_name().is_some_and(|n| n == "brig") || ours.is_some_and(|o| o == exe);
    }
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "brig")
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
            let owned = targets.iter().any(|t| inside(t, &self.brig_owned))
                || takes_away(a.action, &a.target, &self.brig_owned)
                || stops_brig(a.action, &a.target);
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

    #[test]
    fn the_directory_above_brigs_files_and_brigs_processes_are_guarded() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().canonicalize().unwrap().join("ws");
        let data = ws.join("brig-data");
        std::fs::create_dir_all(&data).unwrap();
        let own = brig_owned(&data, &[], std::slice::from_ref(&ws));
        assert!(own.contains(&data));
        assert!(own.contains(&ws.join(".claude/settings.json")));
        assert!(own.contains(&std::env::current_exe().unwrap()));
        let ws_ = ws.to_string_lossy();
        assert!(takes_away(ActionKind::FileDelete, &ws_, &own));
        assert!(takes_away(ActionKind::FileMove, &ws_, &own));
        assert!(!takes_away(ActionKind::FileList, &ws_, &own));
        assert!(!takes_away(
            ActionKind::FileDelete,
            &format!("{ws_}/build"),
            &own
        ));
        for t in [
            "brig",
            "/usr/local/bin/brig",
            "brig mcp-proxy",
            "brig-serve.service",
            "-1",
            "$(pgrep brig)",
            "`pidof brig`",
            "$(cat /home/u/brig-data/serve.pid)",
        ] {
            assert!(stops_brig(ActionKind::ProcKill, t), "{t}");
        }
        assert!(stops_brig(ActionKind::ServiceStop, "brig"));
        assert!(!stops_brig(ActionKind::ProcKill, "node"));
        assert!(!stops_brig(ActionKind::ProcKill, "brigade"));
        assert!(!stops_brig(ActionKind::ProcKill, "$(pgrep brigade)"));
        assert!(!stops_brig(ActionKind::FileRead, "brig"));
        // By pid: this process runs the binary a gateway would be (current_exe); a sleep not.
        assert!(stops_brig(
            ActionKind::ProcKill,
            &std::process::id().to_string()
        ));
        let mut sleep = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(!stops_brig(ActionKind::ProcKill, &sleep.id().to_string()));
        sleep.kill().unwrap();
        sleep.wait().unwrap();
    }
}
